import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DETECTOR_SCORERS, duplicateTokenPattern, duplicateTokenScore, inductionPattern, inductionScore, probeInductionCeiling } from '../../../src/analysis/heads';
import { allHeadScores, rankHeads } from '../../../src/analysis/patterns';
import { AttentionStack } from '../../../src/analysis/tensor';
import { fixtureResult, float32Tensor, readSafetensors } from './fixture';

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

function matrix(n: number, f: (i: number, j: number) => number): Float32Array {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = f(i, j);
  return a;
}

/**
 * TransformerLens' detection patterns built step by step as head_detector.py builds them (dense
 * tensors: equality mask, diagonal cleared, torch.roll one column right, first column zeroed,
 * torch.tril), independently of the index lists src/analysis/heads.ts builds.
 */
function densePatterns(ids: number[]): { duplicate: number[][]; induction: number[][] } {
  const n = ids.length;
  const eq = ids.map((a) => ids.map((b) => (a === b ? 1 : 0)));
  for (let i = 0; i < n; i++) eq[i][i] = 0;
  const tril = (m: number[][]) => m.map((row, i) => row.map((v, j) => (j <= i ? v : 0)));
  const duplicate = tril(eq);
  const rolled = duplicate.map((row) => row.map((_, j) => row[(j - 1 + n) % n]));
  const induction = tril(rolled.map((row) => row.map((v, j) => (j === 0 ? 0 : v))));
  return { duplicate, induction };
}

function denseScore(a: ArrayLike<number>, n: number, p: number[][]): number {
  let hit = 0;
  let total = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    hit += a[i * n + j] * p[i][j];
    total += a[i * n + j];
  }
  return hit / total;
}

const ones = (p: number[][]) => p.flatMap((row, i) => row.flatMap((v, j) => (v ? [i * p.length + j] : [])));

const BUILTIN = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'builtin-reference');

describe('analysis/heads (TransformerLens head detector scores)', () => {
  it('patterns equal TransformerLens’ dense construction, adjacent repeats and triples included', () => {
    for (const ids of [[5, 1, 2, 3, 1, 2, 3], [7, 7, 7, 2, 7], [1, 2, 3, 4], [0, 9, 8, 9, 8, 0, 9]]) {
      const dense = densePatterns(ids);
      assert.deepStrictEqual([...duplicateTokenPattern(ids)], ones(dense.duplicate), `duplicate ${ids}`);
      assert.deepStrictEqual([...inductionPattern(ids)], ones(dense.induction), `induction ${ids}`);
    }
  });

  it('a perfect induction head on BOS + r + r scores length / n; a duplicate head scores the same on its own pattern', () => {
    const r = [11, 12, 13, 14, 15];
    const ids = [0, ...r, ...r];
    const n = ids.length;
    const L = r.length;
    // Second copy (i > L) looks at the token after the first occurrence (i - L + 1); everything else at BOS.
    const induction = matrix(n, (i, j) => (i > L ? (j === i - L + 1 ? 1 : 0) : j === 0 ? 1 : 0));
    close(inductionScore(induction, n, ids), L / n);
    close(inductionScore(induction, n, ids), probeInductionCeiling(1, L));
    close(duplicateTokenScore(induction, n, ids), 0);
    const duplicate = matrix(n, (i, j) => (i > L ? (j === i - L ? 1 : 0) : j === 0 ? 1 : 0));
    close(duplicateTokenScore(duplicate, n, ids), L / n);
    close(inductionScore(duplicate, n, ids), 0);
    // A previous-token head is neither (on distinct random tokens).
    const previous = matrix(n, (i, j) => (i === 0 ? (j === 0 ? 1 : 0) : j === i - 1 ? 1 : 0));
    close(inductionScore(previous, n, ids), 0);
    close(duplicateTokenScore(previous, n, ids), 0);
  });

  it('uniform causal attention: the score is the pattern’s share of each row, averaged over all n rows', () => {
    const ids = [3, 1, 3, 1];
    const n = 4;
    const a = matrix(n, (i, j) => (j <= i ? 1 / (i + 1) : 0));
    // duplicate: (2,0), (3,1); induction: (2,1), (3,2)
    close(duplicateTokenScore(a, n, ids), (1 / 3 + 1 / 4) / 4);
    close(inductionScore(a, n, ids), (1 / 3 + 1 / 4) / 4);
    // Divides by the matrix's own sum, as TransformerLens does (not by n).
    const scaled = a.map((v) => v * 2);
    close(inductionScore(scaled, n, ids), (1 / 3 + 1 / 4) / 4);
  });

  it('as registry scorers (one head at a time): the same scores for self-attention, NaN for cross-attention', () => {
    const ids = [3, 1, 3, 1];
    const a = matrix(4, (i, j) => (j <= i ? 1 / (i + 1) : 0));
    const [induction, duplicate] = DETECTOR_SCORERS;
    assert.deepStrictEqual(DETECTOR_SCORERS.map((d) => d.key), ['induction', 'duplicateToken']);
    close(induction.score({ probs: a, queries: 4, keys: 4, queryIds: ids, keyIds: ids }), inductionScore(a, 4, ids));
    close(duplicate.score({ probs: a, queries: 4, keys: 4, queryIds: ids, keyIds: ids }), duplicateTokenScore(a, 4, ids));
    // A second text with the same ids array length but other ids is not served a stale pattern.
    const other = [3, 3, 3, 3];
    close(duplicate.score({ probs: a, queries: 4, keys: 4, queryIds: other, keyIds: other }), duplicateTokenScore(a, 4, other));
    assert.ok(Number.isNaN(induction.score({ probs: new Float32Array(8).fill(0.5), queries: 4, keys: 2, queryIds: ids, keyIds: [3, 1] })));
  });

  it('a text that repeats no token gives NaN (no evidence), not 0', () => {
    const a = matrix(3, (i, j) => (j <= i ? 1 / (i + 1) : 0));
    assert.ok(Number.isNaN(inductionScore(a, 3, [1, 2, 3])));
    assert.ok(Number.isNaN(duplicateTokenScore(a, 3, [1, 2, 3])));
    const scores = allHeadScores(new AttentionStack({ dtype: 'float32', shape: [1, 1, 3, 3], buffer: a.buffer as ArrayBuffer }), true, [1, 2, 3]);
    assert.ok(Number.isNaN(scores[0].induction));
    assert.deepStrictEqual(rankHeads(scores, 'induction'), []);
  });

  it('fixtures: every head’s scores equal the dense TransformerLens construction (gpt2, llama, bert)', () => {
    for (const [name, c] of [['gpt2', 3], ['llama', 3], ['bert', 3], ['qwen2', 1]] as const) {
      const r = fixtureResult(name, c);
      const ids = r.tokens.map((t) => t.id);
      const stack = new AttentionStack(r.attentions);
      const dense = densePatterns(ids);
      const scores = allHeadScores(stack, r.model.causal, ids);
      assert.strictEqual(scores.length, stack.layers * stack.heads);
      for (const s of scores) {
        const a = stack.head(s.layer, s.head);
        close(s.induction, denseScore(a, stack.n, dense.induction), 1e-5);
        close(s.duplicateToken, denseScore(a, stack.n, dense.duplicate), 1e-5);
        assert.ok(s.induction >= 0 && s.induction <= 1 && s.duplicateToken >= 0 && s.duplicateToken <= 1);
        assert.ok(Number.isFinite(s.induction), `${name} case ${c} repeats tokens`);
      }
    }
  });

  it('the built-in model’s reference attentions on random words written twice: its two induction heads L3H3 and L3H2 (0-based) rank first', () => {
    const expected = JSON.parse(fs.readFileSync(path.join(BUILTIN, 'expected.json'), 'utf8')) as { cases: { text: string; input_ids: number[] }[] };
    const index = expected.cases.findIndex((c) => c.input_ids.length - new Set(c.input_ids).size >= 15);
    assert.ok(index >= 0, 'the built-in reference has a repeated-words case');
    const ids = expected.cases[index].input_ids;
    const stack = new AttentionStack(float32Tensor(readSafetensors(path.join(BUILTIN, 'expected.safetensors')).get(`case${index}.attentions`)!));
    const ranked = rankHeads(allHeadScores(stack, true, ids), 'induction');
    // On words (several tokens each) L3H2 leads; on random tokens (the probe, test/engine/probe.test.ts) L3H3 does.
    assert.deepStrictEqual(ranked.slice(0, 2).map((s) => `L${s.layer}H${s.head}`).sort(), ['L3H2', 'L3H3'], ranked.slice(0, 4).map((s) => `L${s.layer}H${s.head} ${s.induction.toFixed(3)}`).join(', '));
  });
});
