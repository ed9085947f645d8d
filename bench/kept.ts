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
 *
 * With --engine: the same through the engine process as the extension runs it (EngineClient →
 * engineProcess → its view thread, src/worker/viewThread.ts). As soon as the first layer group's
 * summaries arrive, the panel's first view is asked for (layer 0's head as an overview at 1,000
 * cells), then one head of the last computed layer at full precision (every row tile of it), both
 * while the pass runs in the engine worker: each time is from the request to its last reply.
 */
import * as path from 'path';
import { disableOnnxruntimeTelemetry } from '../src/engine/telemetry';
import { loadModel } from '../src/models';
import type { KeptAnalysis } from '../src/engine/kept';
import { ViewServer } from '../src/analysis/viewServer';
import { benchText } from './checkpoints';
import { EngineClient } from '../src/worker/engineClient';
import { TextTokenizer } from '../src/engine/tokenizer';
import { loadForPeak, statusKb } from './rss';

async function main(): Promise<void> {
  disableOnnxruntimeTelemetry();
  const args = process.argv.slice(2);
  const duringPass = args.includes('--during-pass');
  const [folder, tokensArg] = args.filter((a) => !a.startsWith('--'));
  if (!folder) throw new Error('usage: node dist/benchKept.js <checkpoint folder> [tokens] [--during-pass | --engine]');
  const n = Number(tokensArg ?? 4096);
  if (args.includes('--engine')) return viewsThroughEngine(folder, n);
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

/** A bench text of at most `n` tokens (the longest prefix of whole words that fits), with the folder's own tokenizer. */
async function textOfTokens(folder: string, n: number): Promise<string> {
  const tokenizer = TextTokenizer.load(folder);
  const words = benchText(n).split(' ');
  let lo = 1;
  let hi = words.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if ((await tokenizer.encode(words.slice(0, mid).join(' '))).ids.length <= n) lo = mid;
    else hi = mid - 1;
  }
  return words.slice(0, lo).join(' ');
}

/** The panel's first view and a head's exact matrix while the pass runs, through the engine process and its view thread. */
async function viewsThroughEngine(folder: string, n: number): Promise<void> {
  const client = new EngineClient(path.join(__dirname, 'worker.js'));
  try {
    await client.load(folder, { name: path.basename(folder), source: folder });
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    let asked: Promise<void> | undefined;
    let passEnded = 0;
    const request = (layer: number, head: number) => ({ kind: 'matrix' as const, block: 'self' as const, mode: 'head' as const, layer, head, special: 'show' as const, mergeWords: false });
    // Summaries go out during the pass only for a text analyzed whole (a cut text's tokens might differ): one of n tokens.
    const kept = await client.analyzeKept(await textOfTokens(folder, n), {}, {
      onSummaries: (analysisId, _info, summaries) => {
        if (asked) return;
        const done = summaries[0].layersDone;
        timings.summariesMs = performance.now() - t0;
        timings.layersInFirstSummaries = done;
        asked = (async () => {
          let t = performance.now();
          // The head the panel shows first: the one it showed last (layer 0, head 0 in a fresh engine), which the pass kept.
          const overview = await client.view(analysisId, { ...request(0, 0), kind: 'overview', cells: 1000 });
          timings.firstViewMs = performance.now() - t;
          timings.firstViewBeforePassEnd = passEnded === 0 ? 1 : 0;
          if (overview.kind !== 'overview') throw new Error('not an overview');
          // Another head's overview: the panel switching heads.
          t = performance.now();
          await client.view(analysisId, { ...request(0, 2), kind: 'overview', cells: 1000 });
          timings.nextViewMs = performance.now() - t;
          // Every row tile of one head of the last layer computed: its exact matrix.
          t = performance.now();
          let rows = 0;
          while (rows < n) {
            const tile = await client.view(analysisId, { ...request(done - 1, 5), rowStart: rows, rowCount: n - rows });
            if (tile.kind !== 'matrix' || tile.rowCount === 0) throw new Error('not a tile');
            rows += tile.rowCount;
          }
          timings.headMatrixMs = performance.now() - t;
          timings.headMatrixBeforePassEnd = passEnded === 0 ? 1 : 0;
        })();
      },
    });
    passEnded = performance.now() - t0;
    await asked;
    console.log(JSON.stringify({ folder, tokens: kept.info.tokens.length, through: 'engine process, view thread', passMs: Math.round(passEnded), ...Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])) }));
  } finally {
    await client.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
