/**
 * Kept analyses on a long text (issue 10's target): 4,096 tokens on the Llama-3.2-1B shape analyze
 * with peak RSS ≤ weights + 3 GB, and any head's exact matrix comes ≤ 1 s after it is asked for.
 * The weights baseline is the RSS once the model is loaded; the peak is the high-water mark from
 * then on (reset through /proc/self/clear_refs, Linux).
 *
 *   node dist/benchKept.js <checkpoint folder> [tokens]     (checkpoints: node dist/bench.js builds them)
 *
 * With --during-pass: views while the pass runs instead (issue 10, progressive). As soon as layer
 * 1's summaries are out, one head of layer 1 is asked for twice, the engine recomputing that head
 * alone and then the head view as the worker serves it (its view server asks for that head alone
 * when the layer is larger than its layer cache);
 * each time is from the request to the answer, with the rest of the pass still running beside it.
 */
import { disableOnnxruntimeTelemetry } from '../src/engine/telemetry';
import { loadModel } from '../src/models';
import type { KeptAnalysis } from '../src/engine/kept';
import { ViewServer } from '../src/analysis/viewServer';
import { benchText } from './checkpoints';
import { loadForPeak, statusKb } from './rss';

async function main(): Promise<void> {
  disableOnnxruntimeTelemetry();
  const args = process.argv.slice(2);
  const duringPass = args.includes('--during-pass');
  const [folder, tokensArg] = args.filter((a) => !a.startsWith('--'));
  if (!folder) throw new Error('usage: node dist/benchKept.js <checkpoint folder> [tokens] [--during-pass]');
  const n = Number(tokensArg ?? 4096);
  if (duringPass) return viewsDuringPass(folder, n);
  const { model, loadMs, weightsMb } = await loadForPeak(folder);
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

/** One head of layer 1 while the pass over `n` tokens runs: the engine's head alone, then the worker's head view. */
async function viewsDuringPass(folder: string, n: number): Promise<void> {
  const model = await loadModel(folder);
  const layer = 1;
  const head = Math.min(5, model.summary.numHeads - 1);
  let started: KeptAnalysis | undefined;
  let passEnded = 0;
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  let asked: Promise<void> | undefined;
  const pass = model.analyzeKept(benchText(n + 16), { truncateTo: n }, undefined, undefined, (group) => {
    if (asked || !group.some((s) => s.layer >= layer)) return;
    const analysis = started!;
    asked = (async () => {
      timings.summariesMs = performance.now() - t0;
      let t = performance.now();
      const alone = await analysis.attention('self', layer, undefined, { from: head, to: head + 1 });
      timings.headAloneMs = performance.now() - t;
      timings.headAloneBeforePassEnd = passEnded === 0 ? 1 : 0;
      t = performance.now();
      const reply = await new ViewServer(analysis).serve({ kind: 'matrix', block: 'self', mode: 'head', layer, head, special: 'show', mergeWords: false });
      timings.headViewMs = performance.now() - t;
      timings.headViewBeforePassEnd = passEnded === 0 ? 1 : 0;
      if (alone.length !== analysis.tokens.length ** 2 || reply.kind !== 'matrix') throw new Error('wrong view');
    })();
  }, { onStart: (analysis) => (started = analysis) });
  const kept = await pass;
  passEnded = performance.now() - t0;
  await asked;
  console.log(JSON.stringify({ folder, tokens: kept.tokens.length, layer, head, passMs: Math.round(passEnded), ...Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])) }));
  kept.dispose();
  await model.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
