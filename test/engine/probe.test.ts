/**
 * "Probe Heads with Repeated Random Tokens" in the engine: the seeded sequence (special tokens of the
 * tokenizer around r + r, r drawn from the ordinary vocabulary), analyzed from its ids, and the heads
 * it finds. The built-in model's induction heads are known from its training script
 * (tools/builtin-model/head_patterns.txt: L3H3 0.55, L3H2 0.33, 0-based as the panel names heads).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { probeInductionCeiling } from '../../src/analysis/heads';
import { allHeadScores, rankHeads } from '../../src/analysis/patterns';
import { AttentionStack } from '../../src/analysis/tensor';
import type { AttentionModel } from '../../src/engine/model';
import { drawDistinct, repeatedRandomTokens, seededRandom } from '../../src/engine/probe';
import { loadModel } from '../../src/models';
import type { AttentionResult } from '../../src/protocol/types';
import { EngineClient } from '../../src/worker/engineClient';
import { FIXTURES_ROOT } from '../helpers/fixtures';

const REPO = path.resolve(__dirname, '../../..');
const BUILTIN = path.join(REPO, 'media', 'builtin-model');

function ranking(result: AttentionResult): string[] {
  const scores = allHeadScores(new AttentionStack(result.attentions), result.model.causal, result.tokens.map((t) => t.id));
  return rankHeads(scores, 'induction').map((s) => `L${s.layer}H${s.head}`);
}

describe('repeated-random-tokens probe', function () {
  this.timeout(60000);

  it('draws distinct ids, the same for the same seed and others for another', () => {
    const pool = Array.from({ length: 100 }, (_, i) => i + 10);
    const a = drawDistinct(pool, 40, seededRandom(7));
    assert.strictEqual(new Set(a).size, 40);
    assert.ok(a.every((id) => pool.includes(id)));
    assert.deepStrictEqual(drawDistinct(pool, 40, seededRandom(7)), a);
    assert.notDeepStrictEqual(drawDistinct(pool, 40, seededRandom(8)), a);
    // The generator is uniform enough that every value of a small pool turns up.
    const seen = new Set<number>();
    for (let s = 0; s < 50; s++) seen.add(drawDistinct(pool, 1, seededRandom(s))[0]);
    assert.ok(seen.size > 25, `${seen.size} of 50 draws distinct`);
  });

  it('refuses lengths and seeds out of range, and a probe longer than the model takes, with the length that fits', () => {
    const pool = Array.from({ length: 100 }, (_, i) => i);
    const frame = { prefix: [1], suffix: [2] };
    assert.throws(() => repeatedRandomTokens(pool, frame, 1, 0, 1000), /from 2 to/);
    assert.throws(() => repeatedRandomTokens(pool, frame, 10, -1, 1000), /seed/);
    assert.throws(() => repeatedRandomTokens(pool, frame, 101, 0, 1000), /only 100 ordinary tokens/);
    assert.throws(() => repeatedRandomTokens(pool, frame, 50, 0, 60), /at most 60\. Use a length of at most 29/);
    const { ids, info } = repeatedRandomTokens(pool, frame, 29, 3, 60);
    assert.strictEqual(ids.length, 60);
    assert.deepStrictEqual(info, { length: 29, seed: 3, prefix: 1, suffix: 1, vocabularyDrawn: 100 });
  });

  describe('the built-in model', () => {
    let model: AttentionModel;
    before(async () => {
      model = await loadModel(BUILTIN, { name: 'built-in' });
    });
    after(async () => model?.dispose());

    it('BOS + r + r from the ordinary vocabulary, tokens spelled and placed in the probe text', async () => {
      const result = await model.analyzeProbe(64, 0);
      const ids = result.tokens.map((t) => t.id);
      const tokenizer = JSON.parse(fs.readFileSync(path.join(BUILTIN, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number }[] };
      const added = new Set(tokenizer.added_tokens.map((t) => t.id));
      assert.strictEqual(ids.length, 129);
      assert.strictEqual(ids[0], 0, '<|begin_of_text|> first, as for any text');
      assert.ok(result.tokens[0].special);
      const half = ids.slice(1, 65);
      assert.deepStrictEqual(ids.slice(65), half);
      assert.strictEqual(new Set(half).size, 64);
      assert.ok(half.every((id) => !added.has(id)), 'no added or special token drawn');
      assert.deepStrictEqual(result.probe, { length: 64, seed: 0, prefix: 1, suffix: 0, vocabularyDrawn: 8192 - added.size });
      for (const t of result.tokens.slice(1)) assert.strictEqual(result.text.slice(t.start, t.end), t.display);
      assert.deepStrictEqual((await model.analyzeProbe(64, 0)).tokens.map((t) => t.id), ids, 'seeded: the same sequence again');
    });

    it('ranks L3H3 then L3H2 first by induction score, for several seeds and lengths', async () => {
      for (const [length, seed] of [[64, 0], [64, 1], [32, 2], [100, 12345]]) {
        const result = await model.analyzeProbe(length, seed);
        const ranked = ranking(result);
        assert.deepStrictEqual(ranked.slice(0, 2), ['L3H3', 'L3H2'], `length ${length} seed ${seed}: ${ranked.slice(0, 4).join(', ')}`);
        const scores = allHeadScores(new AttentionStack(result.attentions), true, result.tokens.map((t) => t.id));
        const top = scores.find((s) => s.layer === 3 && s.head === 3)!;
        // A clear induction head: most of what it can reach (the ceiling is length / n on r + r).
        assert.ok(top.induction > 0.5 * probeInductionCeiling(1, length), `L3H3 ${top.induction}`);
      }
    });
  });

  it('runs on causal and encoder fixtures with their special tokens (gpt2: none; bert: [CLS] … [SEP])', async () => {
    for (const [name, prefix, suffix] of [['gpt2', 0, 0], ['bert', 1, 1]] as const) {
      const model = await loadModel(path.join(FIXTURES_ROOT, name), { name });
      try {
        const result = await model.analyzeProbe(12, 5);
        assert.strictEqual(result.probe?.prefix, prefix, name);
        assert.strictEqual(result.probe?.suffix, suffix, name);
        assert.strictEqual(result.tokens.length, prefix + 24 + suffix);
        assert.strictEqual(result.attentions.shape[3], result.tokens.length);
        assert.ok(result.tokens.slice(0, prefix).every((t) => t.special) && result.tokens.slice(prefix, prefix + 24).every((t) => !t.special));
      } finally {
        await model.dispose();
      }
    }
  });
});

describe('the probe through the engine worker (kept, summaries, views)', function () {
  this.timeout(60000);
  let client: EngineClient;
  before(() => {
    client = new EngineClient(path.resolve(__dirname, '../../../dist/worker.js'));
  });
  after(() => client.dispose());

  it('is kept like a text: its summaries rank L3H3 and L3H2 first by induction, and the exact matrix is served', async () => {
    await client.load(BUILTIN, { name: 'built-in', source: BUILTIN });
    const kept = await client.probeKept(64, 0);
    assert.deepStrictEqual(kept.info.probe, { length: 64, seed: 0, prefix: 1, suffix: 0, vocabularyDrawn: 8190 });
    const scores = kept.summaries[0].scores;
    assert.deepStrictEqual(rankHeads(scores as never, 'induction').slice(0, 2).map((s) => `L${s.layer}H${s.head}`), ['L3H3', 'L3H2']);
    // The same scores as from the full tensor the engine serves (the summaries are not a second formula).
    const reply = await client.view(kept.analysisId, { kind: 'tensor', block: 'self' });
    assert.ok(reply.kind === 'tensor');
    const full = allHeadScores(new AttentionStack(reply.tensor), true, kept.info.tokens.map((t) => t.id));
    for (const [k, s] of scores.entries()) {
      assert.strictEqual(s.induction, full[k].induction);
      assert.strictEqual(s.duplicateToken, full[k].duplicateToken);
    }
  });

  it('a text’s analysis kept by the engine pass: its summaries carry the same induction and duplicate-token scores as its tensor', async () => {
    const text = 'support instru return operation email mapping sight title ear screen support instru return operation email mapping sight title ear screen';
    const kept = await client.analyzeKept(text);
    const reply = await client.view(kept.analysisId, { kind: 'tensor', block: 'self' });
    assert.ok(reply.kind === 'tensor');
    const full = allHeadScores(new AttentionStack(reply.tensor), true, kept.info.tokens.map((t) => t.id));
    const scores = kept.summaries[0].scores;
    assert.strictEqual(scores.length, full.length);
    for (const [k, s] of scores.entries()) {
      assert.ok(Math.abs(s.induction - full[k].induction) <= 1e-6, `${k}: ${s.induction} vs ${full[k].induction}`);
      assert.ok(Math.abs(s.duplicateToken - full[k].duplicateToken) <= 1e-6, `${k}: ${s.duplicateToken} vs ${full[k].duplicateToken}`);
    }
    assert.deepStrictEqual(rankHeads(scores as never, 'induction').slice(0, 2).map((s) => `L${s.layer}H${s.head}`).sort(), ['L3H2', 'L3H3']);
  });
});
