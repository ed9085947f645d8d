/**
 * Analyses the engine keeps (issue 10): views by analysis id are the reference attentions, a view
 * too large for one message comes in row tiles, step by step belongs to the analysis asked about
 * (whatever ran since), and a released model's analyses are gone.
 */
import * as assert from 'assert';
import * as path from 'path';
import { computeQueryStep, maxAbsDifference } from '../../src/analysis/stepByStep';
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
      const kept = await client.analyzeKept(fixture.cases[1].text);
      assert.strictEqual(kept.result, undefined, 'no tensors unless asked for');
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
