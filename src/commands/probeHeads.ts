/**
 * "Probe Heads with Repeated Random Tokens": its parameters, from the command's arguments (tests,
 * keybindings) or the settings. The run itself is ShowAttention.probe (model loading, progress,
 * errors as for a text); the engine builds the sequence (src/engine/probe.ts).
 */
import * as vscode from 'vscode';

export const PROBE_COMMAND = 'attentionInspector.probeHeads';
export const DEFAULT_PROBE = { length: 64, seed: 0 } as const;

const isWhole = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** `{ length, seed }` from the arguments where given and valid, else from the settings, else the defaults. */
export function probeParameters(args: unknown): { length: number; seed: number } {
  const config = vscode.workspace.getConfiguration('attentionInspector.probe');
  const given = typeof args === 'object' && args !== null ? (args as Record<string, unknown>) : {};
  const pick = (key: 'length' | 'seed', min: number, max: number) => {
    if (isWhole(given[key], min, max)) return given[key] as number;
    const setting = config.get<unknown>(key);
    return isWhole(setting, min, max) ? setting : DEFAULT_PROBE[key];
  };
  return { length: pick('length', 2, 2048), seed: pick('seed', 0, 0xffffffff) };
}
