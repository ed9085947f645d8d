/**
 * `npm run bench:transfer`: what running the engine in its own process costs. The same bert-base
 * shape analyzes 512 tokens (151 MB of float32 attentions) in this process and through the
 * supervised engine process (EngineClient); the difference of the medians is the cost of crossing
 * the process boundary.
 * Options: --tokens 512 --runs 5 --dir <checkpoint cache, shared with npm run bench>
 */
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'util';
import { loadModel } from '../src/models';
import { replyBuffers, summaryBuffers } from '../src/protocol/views';
import { EngineClient } from '../src/worker/engineClient';
import { benchText, bertBase, writeCheckpoint } from './checkpoints';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tokens: { type: 'string', default: '512' },
      runs: { type: 'string', default: '5' },
      dir: { type: 'string', default: path.join(os.tmpdir(), 'attention-inspector-bench') },
    },
  });
  const runs = Number(values.runs);
  const folder = writeCheckpoint(bertBase(), values.dir!);
  // [CLS] and [SEP] come on top of the words.
  const text = benchText(Number(values.tokens) - 2);

  const inProcess: number[] = [];
  const model = await loadModel(folder);
  let bytes = 0;
  for (let i = 0; i <= runs; i++) {
    const t = performance.now();
    const result = await model.analyze(text);
    if (i > 0) inProcess.push(performance.now() - t);
    bytes = result.attentions.buffer.byteLength + result.valueNorms.buffer.byteLength;
  }
  await model.dispose();

  const crossing: number[] = [];
  const client = new EngineClient(path.resolve(__dirname, '..', '..', '..', 'dist', 'worker.js'));
  await client.load(folder, { name: 'bert-base', source: folder });
  for (let i = 0; i <= runs; i++) {
    const t = performance.now();
    await client.analyze(text);
    if (i > 0) crossing.push(performance.now() - t);
  }
  // Attention on demand (issue 10): what the panel's first screen costs, the summaries and one head.
  const kept: number[] = [];
  const views: number[] = [];
  let firstScreen = 0;
  for (let i = 0; i <= runs; i++) {
    const t = performance.now();
    const analysis = await client.analyzeKept(text);
    const t1 = performance.now();
    const reply = await client.view(analysis.analysisId, { kind: 'matrix', block: 'self', mode: 'head', layer: 0, head: 0, special: 'show', mergeWords: false }, new AbortController().signal);
    if (i > 0) {
      kept.push(t1 - t);
      views.push(performance.now() - t1);
    }
    firstScreen = summaryBuffers(analysis.summaries).reduce((sum, x) => sum + x.byteLength, 0) + replyBuffers(reply).reduce((sum, x) => sum + x.byteLength, 0);
    client.forget(analysis.analysisId);
  }
  await client.dispose();

  const a = median(inProcess), b = median(crossing);
  console.log(`bert-base, ${values.tokens} tokens, ${(bytes / 1e6).toFixed(1)} MB of results, median of ${runs}:`);
  console.log(`  in this process        ${a.toFixed(0)} ms  (${inProcess.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  via the engine process ${b.toFixed(0)} ms  (${crossing.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  crossing the boundary  ${(b - a).toFixed(0)} ms`);
  console.log(`attention on demand: first screen (summaries + head 0.0) ${(firstScreen / 1e6).toFixed(2)} MB posted instead of ${(bytes / 1e6).toFixed(1)} MB`);
  console.log(`  analyze + summaries    ${median(kept).toFixed(0)} ms  (${kept.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  one head view          ${median(views).toFixed(1)} ms  (${views.map((x) => x.toFixed(1)).join(', ')})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
