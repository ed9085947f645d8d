import * as assert from 'assert';
import { allHeadScores, headScores, rankHeads, type HeadScores } from '../../../src/analysis/patterns';
import { AttentionStack } from '../../../src/analysis/tensor';
import { fixtureResult } from './fixture';

function matrix(n: number, f: (i: number, j: number) => number): Float32Array {
  const a = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = f(i, j);
  return a;
}

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe('analysis/patterns', () => {
  it('identity: all self, focused', () => {
    const s = headScores(matrix(5, (i, j) => (i === j ? 1 : 0)), 5, false);
    close(s.self, 1);
    close(s.previousToken, 0);
    close(s.firstToken, 0);
    close(s.entropy, 0);
    close(s.entropyBits, 0);
  });

  it('previous-token head (row 0 attends to itself)', () => {
    const s = headScores(matrix(6, (i, j) => (i === 0 ? (j === 0 ? 1 : 0) : j === i - 1 ? 1 : 0)), 6, true);
    close(s.previousToken, 1);
    close(s.self, 1 / 6);
    close(s.firstToken, 1 / 5); // only row 1's previous token is the first token
  });

  it('sink head: everything on the first token', () => {
    const s = headScores(matrix(4, (_, j) => (j === 0 ? 1 : 0)), 4, false);
    close(s.firstToken, 1);
    close(s.entropy, 0);
  });

  it('uniform rows have entropy 1 (bidirectional) and causal uniform rows too', () => {
    const n = 8;
    const bi = headScores(matrix(n, () => 1 / n), n, false);
    close(bi.entropy, 1, 1e-6);
    close(bi.entropyBits, 3, 1e-5);
    const causal = headScores(matrix(n, (i, j) => (j <= i ? 1 / (i + 1) : 0)), n, true);
    close(causal.entropy, 1, 1e-6);
    // The same causal rows judged against all n keys would look focused: normalisation matters.
    assert.ok(headScores(matrix(n, (i, j) => (j <= i ? 1 / (i + 1) : 0)), n, false).entropy < 0.8);
  });

  it('a single token has no previous or first token to speak of', () => {
    const s = headScores(new Float32Array([1]), 1, true);
    assert.ok(Number.isNaN(s.previousToken));
    close(s.self, 1);
  });

  it('scores every head of a fixture in layer-major order, within [0, 1]', () => {
    const r = fixtureResult('gpt2', 0);
    const stack = new AttentionStack(r.attentions);
    const scores = allHeadScores(stack, true);
    assert.strictEqual(scores.length, stack.layers * stack.heads);
    assert.deepStrictEqual([scores[1].layer, scores[1].head], [0, 1]);
    for (const s of scores) for (const k of ['previousToken', 'firstToken', 'self', 'entropy'] as const) assert.ok(s[k] >= 0 && s[k] <= 1 + 1e-6, `${k}=${s[k]}`);
    // Independent check of one head's previous-token score.
    const a = stack.head(1, 1);
    const n = stack.n;
    let sum = 0;
    for (let i = 1; i < n; i++) sum += a[i * n + i - 1];
    close(scores[stack.heads + 1].previousToken, sum / (n - 1), 1e-6);
  });

  it('ranks and filters heads, ties in layer/head order', () => {
    const mk = (layer: number, head: number, self: number): HeadScores => ({
      layer, head, self, previousToken: 0, firstToken: 0, entropy: 0, entropyBits: 0, induction: NaN, duplicateToken: NaN,
    });
    const scores = [mk(0, 0, 0.2), mk(0, 1, 0.9), mk(1, 0, 0.5), mk(1, 1, 0.9)];
    assert.deepStrictEqual(rankHeads(scores, 'self').map((s) => `${s.layer}.${s.head}`), ['0.1', '1.1', '1.0', '0.0']);
    assert.deepStrictEqual(rankHeads(scores, 'self', { ascending: true, min: 0.3 }).map((s) => `${s.layer}.${s.head}`), ['1.0', '0.1', '1.1']);
    assert.deepStrictEqual(rankHeads(scores, 'self', { max: 0.5 }).length, 2);
  });
});
