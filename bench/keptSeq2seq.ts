/**
 * Kept encoder-decoder analyses on long texts (issue 10): the time to the first summaries (the
 * encoder's, handed out before the decoder runs), the whole pass, peak RSS over the loaded model,
 * what the analysis holds, and one head view of each block afterwards. The weights baseline is the
 * RSS once the model is loaded; the peak is the high-water mark from then on (reset through
 * /proc/self/clear_refs, Linux).
 *
 *   node dist/benchSeq2seq.js <checkpoint folder> [tokens] [decoder tokens]
 *   node dist/benchSeq2seq.js --write <root>     writes the BART-base and t5-small shaped checkpoints there
 */
import { disableOnnxruntimeTelemetry } from '../src/engine/telemetry';
import { bartBase, benchText, t5Small, writeCheckpoint } from './checkpoints';
import { loadForPeak, statusKb } from './rss';

async function main(): Promise<void> {
  disableOnnxruntimeTelemetry();
  const args = process.argv.slice(2);
  if (args[0] === '--write') {
    for (const model of [bartBase(), t5Small()]) console.log(writeCheckpoint(model, args[1]));
    return;
  }
  const [folder, tokensArg, decoderArg] = args;
  if (!folder) throw new Error('usage: node dist/benchSeq2seq.js <checkpoint folder> [tokens] [decoder tokens]');
  const n = Number(tokensArg ?? 1024);
  const t = Number(decoderArg ?? 64);
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
