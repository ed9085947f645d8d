/** The process's memory as Linux reports it (/proc/self/status), for the benchmarks' peak RSS. */
import * as fs from 'fs';
import type { AttentionModel } from '../src/engine/model';
import { loadModel } from '../src/models';

/** A field of /proc/self/status in kB (VmRSS: now, VmHWM: the high-water mark); NaN where there is none. */
export function statusKb(field: string): number {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.split(/\s+/)[1]) : NaN;
}

/** Loads `folder` and measures from there: its load time and RSS (the weights baseline); the high-water mark is reset (Linux). */
export async function loadForPeak(folder: string): Promise<{ model: AttentionModel; loadMs: number; weightsMb: number }> {
  const t0 = performance.now();
  const model = await loadModel(folder);
  const loadMs = performance.now() - t0;
  const weightsMb = statusKb('VmRSS') / 1024;
  fs.writeFileSync('/proc/self/clear_refs', '5');
  return { model, loadMs, weightsMb };
}
