/**
 * Analyses the engine keeps (issue 10): views by analysis id are the reference attentions, a view
 * too large for one message comes in row tiles, step by step belongs to the analysis asked about
 * (whatever ran since), and a released model's analyses are gone.
 */
import * as assert from 'assert';
import * as path from 'path';
import { allMean, layerMean, rollout } from '../../src/analysis/modes';
import { computeQueryStep, maxAbsDifference } from '../../src/analysis/stepByStep';
import { AttentionStack, type Matrix } from '../../src/analysis/tensor';
import { buildView } from '../../src/analysis/view';
import type { ViewMode } from '../../src/protocol/views';
import { EngineClient, EngineRequestError } from '../../src/worker/engineClient';
import { FIXTURES_ROOT, maxAbsDiff, openFixture } from '../helpers/fixtures';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const signal = () => new AbortController().signal;

describe('kept analyses in the engine worker', function () {
  this.timeout(60000);
  let client: EngineClient;
  beforeEach(() => {
    client = new EngineClient(WORKER);
  });
  afterEach(() => client.dispose());

  it('serves each head as transformers computed it, with summaries for every head first', async () => {
    const fixture = openFixture('bert');
    try {
      const { model } = await client.load(fixture.folder, { name: 'bert', source: fixture.folder });
      const progress: { layersDone: number; tokens: number }[] = [];
      const kept = await client.analyzeKept(fixture.cases[1].text, {}, {
        onSummaries: (_id, info, summaries) => progress.push({ layersDone: summaries[0].layersDone, tokens: info.tokens.length }),
      });
      assert.strictEqual(kept.result, undefined, 'no tensors unless asked for');
      // Progressive: summaries came layer group by layer group, for the same tokens, before the answer.
      assert.ok(progress.length >= 1, 'summaries while the pass ran');
      assert.deepStrictEqual(progress.map((p) => p.tokens), progress.map(() => kept.info.tokens.length));
      assert.ok(progress.every((p, i) => i === 0 || p.layersDone > progress[i - 1].layersDone));
      assert.strictEqual(progress[progress.length - 1].layersDone, model.numLayers);
      const [summary] = kept.summaries;
      assert.strictEqual(summary.scores.length, model.numLayers * model.numHeads);
      const expected = fixture.expected('case1.attentions');
      const n = kept.info.tokens.length;
      for (const [layer, head] of [[0, 0], [model.numLayers - 1, model.numHeads - 1]]) {
        const reply = await client.view(kept.analysisId, { kind: 'matrix', block: 'self', mode: 'head', layer, head, special: 'show', mergeWords: false }, signal());
        assert.strictEqual(reply.kind, 'matrix');
        if (reply.kind !== 'matrix') return;
        assert.strictEqual(reply.rowCount, n);
        const start = (layer * model.numHeads + head) * n * n;
        assert.ok(maxAbsDiff(new Float32Array(reply.data), expected.data.subarray(start, start + n * n)) <= 1e-4);
      }
    } finally {
      fixture.close();
    }
  });

  it('layer mean, global mean and rollout, with special tokens hidden, as computed from transformers\' attentions', async () => {
    const fixture = openFixture('bert');
    try {
      await client.load(fixture.folder, { name: 'bert', source: fixture.folder });
      const kept = await client.analyzeKept(fixture.cases[0].text);
      const expected = fixture.expected('case0.attentions');
      const stack = new AttentionStack({ dtype: 'float32', shape: expected.shape, buffer: Float32Array.from(expected.data).buffer });
      const last = expected.shape[0] - 1;
      const cases: [ViewMode, Matrix][] = [['layerMean', layerMean(stack, 1)], ['allMean', allMean(stack)], ['rollout', rollout(stack, last)]];
      for (const [mode, reference] of cases) {
        const want = buildView(reference, kept.info.tokens, { special: 'hideRenormalize', mergeWords: true }, kept.info.text);
        const reply = await client.view(kept.analysisId, { kind: 'matrix', block: 'self', mode, layer: mode === 'layerMean' ? 1 : last, head: 0, special: 'hideRenormalize', mergeWords: true }, signal());
        assert.strictEqual(reply.kind, 'matrix');
        if (reply.kind !== 'matrix') return;
        assert.deepStrictEqual(reply.items.map((i) => i.label), want.items.map((i) => i.label), mode);
        assert.ok(maxAbsDiff(new Float32Array(reply.data), want.data) <= 1e-4, mode);
      }
    } finally {
      fixture.close();
    }
  });

  it('q, k and v belong to the analysis asked about, even after another text ran', async () => {
    const fixture = openFixture('bert');
    try {
      await client.load(fixture.folder, { name: 'bert', source: fixture.folder });
      const first = await client.analyzeKept(fixture.cases[0].text);
      const second = await client.analyzeKept(fixture.cases[1].text);
      for (const [kept, index] of [[second, 1], [first, 0]] as const) {
        const reply = await client.view(kept.analysisId, { kind: 'headVectors', block: 'self', layer: 1, head: 1 }, signal());
        assert.strictEqual(reply.kind, 'headVectors');
        if (reply.kind !== 'headVectors') return;
        const n = kept.info.tokens.length;
        assert.strictEqual(reply.vectors.q.shape[0], n);
        const expected = fixture.expected(`case${index}.attentions`);
        const heads = expected.shape[1];
        const row = expected.data.subarray(((1 * heads + 1) * n + 2) * n, ((1 * heads + 1) * n + 3) * n);
        assert.ok(maxAbsDifference(computeQueryStep(reply.vectors, 2), row) <= 1e-4);
      }
    } finally {
      fixture.close();
    }
  });

  it('loading another model drops the analyses of the old one, saying so', async () => {
    await client.load(path.join(FIXTURES_ROOT, 'bert'), { name: 'bert', source: 'bert' });
    const kept = await client.analyzeKept('I am making a cake');
    await client.load(path.join(FIXTURES_ROOT, 'gpt2'), { name: 'gpt2', source: 'gpt2' });
    await assert.rejects(
      client.view(kept.analysisId, { kind: 'matrix', block: 'self', mode: 'head', layer: 0, head: 0, special: 'show', mergeWords: false }, signal()),
      (err: unknown) => err instanceof EngineRequestError && /no longer kept/.test(err.message),
    );
  });
});
