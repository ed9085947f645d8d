/**
 * Kept encoder-decoder analyses on long texts (issue 10): the time to the first summaries (the
 * encoder's, handed out before the decoder runs), the whole pass, peak RSS over the loaded model,
 * what the analysis holds, and one head view of each block afterwards. The weights baseline is the
 * RSS once the model is loaded; the peak is the high-water mark from then on (reset through
 * /proc/self/clear_refs, Linux).
 *
 *   node dist/benchSeq2seq.js <checkpoint folder> [tokens] [decoder tokens]
 *   node dist/benchSeq2seq.js --write <root>     writes the BART-base and t5-small shaped checkpoints there
 *   node dist/benchSeq2seq.js --engine <checkpoint folder> [tokens] [decoder tokens]
 *     through the engine process as the extension runs it: a head of the encoder's layer 0 asked
 *     when the encoder's summaries arrive, while the decoder runs (served by the view thread's mirror,
 *     not behind the decoder's onnxruntime run on the worker's thread).
 */
import * as path from 'path';
import { disableOnnxruntimeTelemetry } from '../src/engine/telemetry';
import { bartBase, benchText, t5Small, writeCheckpoint } from './checkpoints';
import { loadForPeak, statusKb } from './rss';
import { EngineClient } from '../src/worker/engineClient';

/** The encoder's layer-0 head asked right after the encoder's summaries, through the engine process. */
async function encoderViewDuringDecoder(folder: string, n: number, t: number): Promise<void> {
  const client = new EngineClient(path.join(__dirname, 'worker.js'));
  try {
    await client.load(folder, { name: path.basename(folder), source: folder });
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    let passEnded = 0;
    let asked: Promise<void> | undefined;
    const request = (head: number, rowStart: number, rowCount: number) => ({ kind: 'matrix' as const, block: 'encoder' as const, mode: 'head' as const, layer: 0, head, special: 'show' as const, mergeWords: false, rowStart, rowCount });
    const kept = await client.analyzeKept(benchText(n + 16), { truncateTo: n, target: benchText(t) }, {
      onSummaries: (analysisId, info) => {
        if (asked) return;
        timings.encoderSummariesMs = performance.now() - t0;
        const rows = info.tokens.length;
        asked = (async () => {
          let start = performance.now();
          const overview = await client.view(analysisId, { ...request(0, 0, rows), kind: 'overview', cells: 1000 });
          if (overview.kind !== 'overview') throw new Error('not an overview');
          timings.firstViewMs = performance.now() - start;
          timings.firstViewBeforePassEnd = passEnded === 0 ? 1 : 0;
          // Another head's overview: the panel switching heads.
          start = performance.now();
          await client.view(analysisId, { ...request(2, 0, rows), kind: 'overview', cells: 1000 });
          timings.nextViewMs = performance.now() - start;
          // Another head's exact matrix, every row tile of it.
          start = performance.now();
          for (let done = 0; done < rows; ) {
            const tile = await client.view(analysisId, request(3, done, rows - done));
            if (tile.kind !== 'matrix' || tile.rowCount === 0) throw new Error('not a tile');
            done += tile.rowCount;
          }
          timings.headMatrixMs = performance.now() - start;
          timings.headMatrixBeforePassEnd = passEnded === 0 ? 1 : 0;
        })();
      },
    });
    passEnded = performance.now() - t0;
    await asked;
    console.log(JSON.stringify({ folder, tokens: kept.info.tokens.length, decoderTokens: kept.info.decoderTokens?.length, through: 'engine process', passMs: Math.round(passEnded), ...Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])) }));
  } finally {
    await client.dispose();
  }
}

async function main(): Promise<void> {
  disableOnnxruntimeTelemetry();
  const args = process.argv.slice(2);
  if (args[0] === '--write') {
    for (const model of [bartBase(), t5Small()]) console.log(writeCheckpoint(model, args[1]));
    return;
  }
  const engine = args[0] === '--engine';
  const [folder, tokensArg, decoderArg] = engine ? args.slice(1) : args;
  if (!folder) throw new Error('usage: node dist/benchSeq2seq.js <checkpoint folder> [tokens] [decoder tokens]');
  const n = Number(tokensArg ?? 1024);
  const t = Number(decoderArg ?? 64);
  if (engine) return encoderViewDuringDecoder(folder, n, t);
  const { model, loadMs, weightsMb } = await loadForPeak(folder);
  const t1 = performance.now();
  let firstSummariesMs = 0;
  const kept = await model.analyzeKept(benchText(n + 16), { truncateTo: n, target: benchText(t) }, undefined, undefined, () => {
    firstSummariesMs ||= performance.now() - t1;
  });
  const analyzeMs = performance.now() - t1;
  const peakAnalyzeMb = statusKb('VmHWM') / 1024;
  const views: { block: string; layer: number; head: number; ms: number }[] = [];
  for (const block of kept.blocks) {
    const layer = block.layers - 1;
    const t2 = performance.now();
    const m = await kept.attention(block.kind, layer, undefined, { from: 0, to: 1 });
    views.push({ block: block.kind, layer, head: 0, ms: Math.round(performance.now() - t2) });
    if (m.length !== block.queryTokens.length * block.keyTokens.length) throw new Error('wrong size');
  }
  const peakMb = statusKb('VmHWM') / 1024;
  console.log(JSON.stringify({
    folder, tokens: kept.tokens.length, decoderTokens: kept.decoderTokens?.length, loadMs: Math.round(loadMs), weightsRssMb: Math.round(weightsMb), analyzeMs: Math.round(analyzeMs), firstSummariesMs: Math.round(firstSummariesMs),
    peakAnalyzeRssMb: Math.round(peakAnalyzeMb), overWeightsMb: Math.round(peakAnalyzeMb - weightsMb), peakWithViewsMb: Math.round(peakMb), bytesHeldMb: Math.round(kept.bytesHeld / 1e6), views,
  }));
  kept.dispose();
  await model.dispose();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
