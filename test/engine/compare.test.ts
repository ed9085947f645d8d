/**
 * Compare With… on real checkpoints, checked against the references transformers computed: the same
 * text under gpt2 and gpt2-scaled (one tokenizer, different weights) gives Δ = reference(B) −
 * reference(A) at every aligned position; another text under one model aligns by the real tokens;
 * a model with another tokenizer is refused.
 */
import * as assert from 'assert';
import * as path from 'path';
import { alignTokens } from '../../src/analysis/align';
import { alignedDifference, compareProblem, headDistances, tokenizerMismatch } from '../../src/analysis/compare';
import { AttentionStack } from '../../src/analysis/tensor';
import type { AttentionModel } from '../../src/engine/model';
import { loadModel } from '../../src/models';
import type { AttentionResult } from '../../src/protocol/types';
import { ATTENTION_TOLERANCE, FIXTURES_2_ROOT, FIXTURES_ROOT, maxAbsDiff, openFixture } from '../helpers/fixtures';

describe('compare on the reference fixtures', function () {
  this.timeout(120000);
  let gpt2: AttentionModel;
  let scaled: AttentionModel;

  before(async () => {
    gpt2 = await loadModel(path.join(FIXTURES_ROOT, 'gpt2'));
    scaled = await loadModel(path.join(FIXTURES_2_ROOT, 'gpt2-scaled'));
  });

  after(async () => {
    await gpt2?.dispose();
    await scaled?.dispose();
  });

  it('the same text under gpt2 and gpt2-scaled: Δ equals the references’ difference at every head', async () => {
    const refA = openFixture('gpt2', FIXTURES_ROOT);
    const refB = openFixture('gpt2-scaled', FIXTURES_2_ROOT);
    try {
      for (const i of [0, 3]) {
        const text = refA.cases[i].text;
        assert.strictEqual(refB.cases[i].text, text);
        const a = await gpt2.analyze(text);
        const b = await scaled.analyze(text);
        assert.strictEqual(compareProblem(a.model, b.model), null);
        assert.strictEqual(tokenizerMismatch({ name: 'gpt2', tokens: a.tokens }, { name: 'gpt2-scaled', tokens: b.tokens }), null);
        const al = alignTokens(a.tokens, b.tokens);
        assert.strictEqual(al.counts.same, a.tokens.length, 'one tokenizer: every token aligned to itself');
        const [layers, heads, n] = a.attentions.shape;
        const ea = refA.expected(`case${i}.attentions`).data;
        const eb = refB.expected(`case${i}.attentions`).data;
        const stackA = new AttentionStack(a.attentions);
        const stackB = new AttentionStack(b.attentions);
        let changed = 0;
        for (let l = 0; l < layers; l++) {
          for (let h = 0; h < heads; h++) {
            const d = alignedDifference(stackA.headMatrix(l, h), stackB.headMatrix(l, h), al.pairs);
            const start = (l * heads + h) * n * n;
            const expected = Float32Array.from({ length: n * n }, (_, k) => eb[start + k] - ea[start + k]);
            const diff = maxAbsDiff(d.delta, expected);
            // Each side is within the fixture tolerance of its reference, so their difference is within twice it.
            assert.ok(diff <= 2 * ATTENTION_TOLERANCE, `case ${i} L${l}H${h}: Δ differs from the references' by ${diff.toExponential(2)}`);
            if (maxAbsDiff(expected, new Float32Array(n * n)) > 1e-3) changed++;
          }
        }
        assert.ok(changed > 0, 'the two checkpoints differ somewhere (otherwise this test could not fail)');
        // Per-head distances from the engine's results agree with those of the references.
        const refStack = (data: Float32Array) => new AttentionStack({ dtype: 'float32', shape: [layers, heads, n, n], buffer: Float32Array.from(data).buffer });
        const ours = headDistances(stackA, stackB, al.pairs, true);
        const theirs = headDistances(refStack(ea), refStack(eb), al.pairs, true);
        for (let k = 0; k < ours.length; k++) assert.ok(Math.abs(ours[k].meanAbs - theirs[k].meanAbs) <= 2 * ATTENTION_TOLERANCE, `head ${k}: mean |Δ| ${ours[k].meanAbs} vs ${theirs[k].meanAbs}`);
      }
    } finally {
      refA.close();
      refB.close();
    }
  });

  it('another text under one model aligns by the real tokens: the changed word is a substitution', async () => {
    // The fixture's vocabulary is tiny (520 entries): "dog", "mat" and "sat" are among its whole words.
    const a = await gpt2.analyze('The dog sat on the mat.');
    const b = await gpt2.analyze('The mat sat on the mat.');
    const al = alignTokens(a.tokens, b.tokens);
    const changed = al.pairs.filter((p) => p.kind === 'substituted');
    assert.deepStrictEqual(changed.map((p) => [a.tokens[p.a].raw, b.tokens[p.b].raw]), [['Ġdog', 'Ġmat']]);
    assert.strictEqual(al.counts.same, a.tokens.length - 1);
    const longer = await gpt2.analyze('The dog sat on the sat mat.');
    const ins = alignTokens(a.tokens, longer.tokens);
    assert.strictEqual(ins.counts.inserted, longer.tokens.length - a.tokens.length);
    assert.ok(ins.counts.inserted > 0);
    assert.strictEqual(ins.counts.same, a.tokens.length);
  });

  it('refuses a model whose tokenizer splits the text differently, naming both', async () => {
    const llama = await loadModel(path.join(FIXTURES_ROOT, 'llama'));
    let b: AttentionResult;
    try {
      b = await llama.analyze('I am making a cake');
    } finally {
      await llama.dispose();
    }
    const a = await gpt2.analyze('I am making a cake');
    assert.strictEqual(compareProblem(a.model, b.model), null, 'same shape: only the tokenizer tells them apart');
    assert.match(tokenizerMismatch({ name: 'gpt2', tokens: a.tokens }, { name: 'llama', tokens: b.tokens })!, /gpt2 and llama tokenize this text differently/);
  });
});
