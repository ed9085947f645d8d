import * as assert from 'assert';
import { alignTokens, type AlignedPair } from '../../../src/analysis/align';
import {
  alignedDifference,
  COMPARE_MAX_BYTES,
  compareBytes,
  compareProblem,
  compareSizeProblem,
  compareView,
  describeSources,
  differenceStats,
  headDistances,
  pairLabels,
  pairsWithoutSpecial,
  rankByDistance,
  tokenizerMismatch,
} from '../../../src/analysis/compare';
import { AttentionStack, type Matrix } from '../../../src/analysis/tensor';
import type { ModelSummary, TokenInfo } from '../../../src/protocol/types';

const m = (rows: number[][]): Matrix => ({ size: rows.length, data: Float32Array.from(rows.flat()) });
const same = (pairs: [number, number][]): AlignedPair[] => pairs.map(([a, b]) => ({ a, b, kind: 'same' }));
const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-7) => {
  assert.strictEqual(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
};

function model(patch: Partial<ModelSummary> = {}): ModelSummary {
  return { name: 'm', source: 'm', modelType: 'gpt2', numLayers: 2, numHeads: 2, numKeyValueHeads: 2, headDim: 4, hiddenSize: 8, maxTokens: 64, causal: true, ...patch };
}

function token(id: number, raw: string, special = false): TokenInfo {
  return { id, raw, display: raw, start: 0, end: 0, special, segment: 0 };
}

describe('analysis/compare', () => {
  it('Δ = B − A over identical positions', () => {
    const a = m([[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]);
    const b = m([[1, 0, 0], [0.9, 0.1, 0], [0.6, 0.2, 0.2]]);
    const d = alignedDifference(a, b, same([[0, 0], [1, 1], [2, 2]]));
    assert.strictEqual(d.size, 3);
    close(d.delta, [0, 0, 0, 0.4, -0.4, 0, 0.4, -0.1, -0.3], 1e-6);
    close(d.a, Array.from(a.data));
    close(d.b, Array.from(b.data));
  });

  it('Δ over an alignment with an insertion picks the partners, not the same indices', () => {
    // A: "the cat sat" (3 tokens), B: "the black cat sat" (4 tokens); B's token 1 has no partner.
    const a = m([[1, 0, 0], [0.3, 0.7, 0], [0.1, 0.2, 0.7]]);
    const b = m([
      [1, 0, 0, 0],
      [0.5, 0.5, 0, 0],
      [0.2, 0.4, 0.4, 0],
      [0.1, 0.1, 0.3, 0.5],
    ]);
    const al = alignTokens([token(1, 'the'), token(2, 'cat'), token(3, 'sat')], [token(1, 'the'), token(9, 'black'), token(2, 'cat'), token(3, 'sat')]);
    const d = alignedDifference(a, b, al.pairs);
    // Aligned B rows/cols are 0, 2, 3.
    close(d.b, [1, 0, 0, 0.2, 0.4, 0, 0.1, 0.3, 0.5]);
    close(d.delta, [0, 0, 0, 0.2 - 0.3, 0.4 - 0.7, 0, 0, 0.3 - 0.2, 0.5 - 0.7], 1e-6);
  });

  it('mean and max |Δ| over the pairs a causal model lets attend', () => {
    const a = m([[1, 0], [0.5, 0.5]]);
    const b = m([[1, 0], [0.8, 0.2]]);
    // Pairs (0,0), (1,0), (1,1): |Δ| 0, 0.3, 0.3 → mean 0.2; the masked (0,1) is left out.
    const causal = differenceStats(a, b, same([[0, 0], [1, 1]]), true);
    assert.ok(Math.abs(causal.meanAbs - 0.2) < 1e-6, String(causal.meanAbs));
    assert.ok(Math.abs(causal.maxAbs - 0.3) < 1e-6);
    assert.strictEqual(causal.count, 3);
    // Bidirectional: all four pairs count.
    const full = differenceStats(a, b, same([[0, 0], [1, 1]]), false);
    assert.ok(Math.abs(full.meanAbs - 0.15) < 1e-6, String(full.meanAbs));
    assert.strictEqual(full.count, 4);
    assert.deepStrictEqual(differenceStats(a, b, [], true), { meanAbs: 0, maxAbs: 0, count: 0 });
  });

  it('head distances per head, and the ranking puts the most changed head first', () => {
    // 2 layers × 2 heads of 2×2 matrices; only L1 H0 differs much, L0 H1 a little.
    const heads = (rows: number[][][]) => ({ dtype: 'float32' as const, shape: [2, 2, 2, 2], buffer: Float32Array.from(rows.flat(2)).buffer });
    const id = [[1, 0], [0, 1]];
    const a = new AttentionStack(heads([id, id, id, id]));
    const b = new AttentionStack(heads([id, [[1, 0], [0.1, 0.9]], [[0, 1], [1, 0]], id]));
    const d = headDistances(a, b, same([[0, 0], [1, 1]]), false);
    assert.deepStrictEqual(d.map((x) => [x.layer, x.head]), [[0, 0], [0, 1], [1, 0], [1, 1]]);
    close(d.map((x) => x.meanAbs), [0, 0.05, 1, 0], 1e-6);
    close(d.map((x) => x.maxAbs), [0, 0.1, 1, 0], 1e-6);
    assert.deepStrictEqual(rankByDistance(d).map((x) => `L${x.layer}H${x.head}`), ['L1H0', 'L0H1', 'L0H0', 'L1H1']);
    const other = new AttentionStack({ dtype: 'float32', shape: [1, 2, 2, 2], buffer: new Float32Array(8).buffer });
    assert.throws(() => headDistances(a, other, [], false), /2×2 stack with a 1×2/);
  });

  it('special tokens can be left out of the pairs', () => {
    const pairs = same([[0, 0], [1, 1], [2, 2]]);
    const a = [token(0, '<s>', true), token(1, 'a'), token(2, 'b')];
    const b = [token(0, '<s>', true), token(1, 'a'), token(3, 'c')];
    assert.deepStrictEqual(pairsWithoutSpecial(pairs, a, b).map((p) => p.a), [1, 2]);
  });

  it('refuses encoder-decoders, different shapes and causal against bidirectional, by name', () => {
    assert.strictEqual(compareProblem(model({ name: 'a' }), model({ name: 'b' })), null);
    assert.match(compareProblem(model({ name: 't5' , decoder: { numLayers: 2, numHeads: 2, headDim: 4, maxTokens: null } }), model())!, /t5 is an encoder-decoder/);
    assert.match(compareProblem(model({ name: 'small' }), model({ name: 'big', numLayers: 4 }))!, /small has 2 layers × 2 heads and big has 4 × 2/);
    assert.match(compareProblem(model({ name: 'x' }), model({ name: 'y', causal: false }))!, /x is causal and y is not/);
  });

  it('same text under two models: tokenizers must agree, else a clear refusal naming the first difference', () => {
    const t = [token(5, 'Hello'), token(6, 'Ġworld')];
    assert.strictEqual(tokenizerMismatch({ name: 'a', tokens: t }, { name: 'b', tokens: [...t] }), null);
    const msg = tokenizerMismatch({ name: 'gpt2', tokens: t }, { name: 'llama', tokens: [token(5, 'Hello'), token(7, '▁world'), token(8, '!')] });
    assert.match(msg!, /gpt2 and llama tokenize this text differently \(2 and 3 tokens; token 1 is “Ġworld” \(id 6\) and “▁world” \(id 7\)\)/);
    assert.match(msg!, /needs the same tokenizer/);
    assert.match(tokenizerMismatch({ name: 'a', tokens: t }, { name: 'b', tokens: t.slice(0, 1) })!, /token 1 is “Ġworld” \(id 6\) and nothing/);
  });

  it('describes both sources, naming what differs', () => {
    assert.strictEqual(describeSources({ model: 'gpt2', text: 'The cat sat' }, { model: 'gpt2-ft', text: 'The cat sat' }), 'B gpt2-ft − A gpt2 on “The cat sat”');
    assert.strictEqual(describeSources({ model: 'gpt2', text: 'The cat sat' }, { model: 'gpt2', text: 'The dog sat' }), 'gpt2: B “The dog sat” − A “The cat sat”');
    assert.match(describeSources({ model: 'a', text: 'x' }, { model: 'b', text: 'y' }), /^B b “y” − A a “x”$/);
    assert.match(describeSources({ model: 'a', text: 'word '.repeat(20) }, { model: 'a', text: 'y' }), /“word word .*…”/);
  });

  it('labels substituted positions with both tokens', () => {
    const labels = pairLabels([{ a: 0, b: 0, kind: 'same' }, { a: 1, b: 1, kind: 'substituted' }], (i) => ['the', 'cat'][i], (j) => ['the', 'dog'][j]);
    assert.deepStrictEqual(labels, ['the', 'cat→dog']);
  });
});

describe('analysis/compare: compareView', () => {
  it('serves B − A for a selection with its pairs and the ± limit, special tokens in or out', () => {
    const tokens = [token(0, '<s>', true), token(1, 'a'), token(2, 'b')];
    const a = m([[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.2, 0.6]]);
    const b = m([[1, 0, 0], [0.7, 0.3, 0], [0.1, 0.5, 0.4]]);
    const alignment = alignTokens(tokens, tokens);
    const all = compareView({ tokens, matrix: a }, { tokens, matrix: b }, alignment, false);
    assert.strictEqual(all.size, 3);
    assert.ok(Math.abs(all.limit - 0.3) < 1e-6, String(all.limit));
    const without = compareView({ tokens, matrix: a }, { tokens, matrix: b }, alignment, true);
    assert.deepStrictEqual(without.pairs.map((p) => p.a), [1, 2]);
    close(without.delta, [0.3 - 0.5, 0, 0.5 - 0.2, 0.4 - 0.6], 1e-6);
    assert.ok(Math.abs(without.limit - 0.3) < 1e-6);
    assert.strictEqual(compareView({ tokens, matrix: a }, { tokens, matrix: a }, alignment, false).limit, 1, 'all zero: a unit limit');
  });
});

describe('compareSizeProblem', () => {
  it('lets through what fits and refuses what does not, naming the token count that fits', () => {
    // 12 × 12 heads (gpt2 small): 4 · 144 · n² bytes a side; two sides fit while 2 · 576 · n² ≤ 256 MiB, n ≤ 482.
    const side = (tokens: number) => ({ layers: 12, heads: 12, tokens });
    assert.strictEqual(compareBytes(side(10)), 4 * 144 * 100);
    assert.strictEqual(compareSizeProblem(side(482), side(482)), null);
    const problem = compareSizeProblem(side(483), side(483));
    assert.ok(problem, 'over the bound');
    assert.match(problem, /483 and 483 tokens need 257 MB, more than its 256 MB/);
    assert.match(problem, /at most about 482 tokens/);
    // The fitted count is the largest that passes, on both sides.
    assert.strictEqual(compareSizeProblem(side(482), side(482), COMPARE_MAX_BYTES), null);
    assert.ok(2 * compareBytes(side(483)) > COMPARE_MAX_BYTES && 2 * compareBytes(side(482)) <= COMPARE_MAX_BYTES);
    // A long B next to a short A is refused too.
    assert.ok(compareSizeProblem(side(10), side(700)));
  });
});
