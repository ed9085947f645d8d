/**
 * Kept analyses on a long text (issue 10's target): 4,096 tokens on the Llama-3.2-1B shape analyze
 * with peak RSS ≤ weights + 3 GB, and any head's exact matrix comes ≤ 1 s after it is asked for.
 * The weights baseline is the RSS once the model is loaded; the peak is the high-water mark from
 * then on (reset through /proc/self/clear_refs, Linux).
 *
 *   node dist/benchKept.js <checkpoint folder> [tokens]     (checkpoints: node dist/bench.js builds them)
 */
import * as fs from 'fs';
import { disableOnnxruntimeTelemetry } from '../src/engine/telemetry';
import { loadModel } from '../src/models';
import { benchText } from './checkpoints';

function statusKb(field: string): number {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.split(/\s+/)[1]) : NaN;
}

async function main(): Promise<void> {
  disableOnnxruntimeTelemetry();
  const [folder, tokensArg] = process.argv.slice(2);
  if (!folder) throw new Error('usage: node dist/benchKept.js <checkpoint folder> [tokens]');
  const n = Number(tokensArg ?? 4096);
  const t0 = performance.now();
  const model = await loadModel(folder);
  const loadMs = performance.now() - t0;
  const weightsMb = statusKb('VmRSS') / 1024;
  fs.writeFileSync('/proc/self/clear_refs', '5');
  const t1 = performance.now();
  let firstSummariesMs = 0;
  const kept = await model.analyzeKept(benchText(n + 16), { truncateTo: n }, undefined, undefined, () => {
    firstSummariesMs ||= performance.now() - t1;
  });
  const analyzeMs = performance.now() - t1;
  const peakAnalyzeMb = statusKb('VmHWM') / 1024;
  const heads: { layer: number; head: number; ms: number }[] = [];
  for (const [layer, head] of [[7, 5], [7, 6], [15, 0], [0, 31]]) {
    const t = performance.now();
    const m = await kept.attention('self', layer, undefined, { from: head, to: head + 1 });
    heads.push({ layer, head, ms: Math.round(performance.now() - t) });
    if (m.length !== kept.tokens.length ** 2) throw new Error('wrong size');
  }
  const peakMb = statusKb('VmHWM') / 1024;
  console.log(JSON.stringify({ folder, tokens: kept.tokens.length, loadMs: Math.round(loadMs), weightsRssMb: Math.round(weightsMb), analyzeMs: Math.round(analyzeMs), firstSummariesMs: Math.round(firstSummariesMs), peakAnalyzeRssMb: Math.round(peakAnalyzeMb), peakRssMb: Math.round(peakMb), overWeightsMb: Math.round(peakMb - weightsMb), bytesHeldMb: Math.round(kept.bytesHeld / 1e6), heads }));
  kept.dispose();
  await model.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
