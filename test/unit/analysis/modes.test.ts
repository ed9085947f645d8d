import * as assert from 'assert';
import {
  AttentionStack,
  ValueNormStack,
  type Matrix,
} from '../../../src/analysis/tensor';
import {
  ModeComputer,
  RolloutCache,
  allMean,
  layerMean,
  multiply,
  multiplySteps,
  renormalizeRows,
  rollout,
  rolloutFactor,
  valueWeighted,
} from '../../../src/analysis/modes';
import { fixtureResult } from './fixture';

function stackOf(layers: number[][][][]): AttentionStack {
  const L = layers.length;
  const H = layers[0].length;
  const n = layers[0][0].length;
  const data = new Float32Array(layers.flat(3));
  return new AttentionStack({ dtype: 'float32', shape: [L, H, n, n], buffer: data.buffer });
}

function rows(m: Matrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < m.size; i++) out.push(Array.from(m.data.subarray(i * m.size, (i + 1) * m.size)));
  return out;
}

function assertClose(actual: number[][], expected: number[][], tol = 1e-6) {
  assert.strictEqual(actual.length, expected.length);
  actual.forEach((row, i) =>
    row.forEach((v, j) => assert.ok(Math.abs(v - expected[i][j]) <= tol, `[${i}][${j}] ${v} vs ${expected[i][j]}`)),
  );
}

function assertRowsSumToOne(m: Matrix, tol = 1e-5) {
  rows(m).forEach((r, i) => {
    const s = r.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(s - 1) < tol, `row ${i} sums to ${s}`);
  });
}

describe('analysis/modes', () => {
  // Two layers, two heads, two tokens; chosen so that the two layer factors do not commute.
  const A = [
    [
      [[1, 0], [0.5, 0.5]],
      [[1, 0], [0.1, 0.9]],
    ],
    [
      [[0.2, 0.8], [0, 1]],
      [[0.6, 0.4], [0, 1]],
    ],
  ];

  it('means heads of a layer and all heads', () => {
    const s = stackOf(A);
    assertClose(rows(layerMean(s, 0)), [[1, 0], [0.3, 0.7]]);
    assertClose(rows(layerMean(s, 1)), [[0.4, 0.6], [0, 1]]);
    assertClose(rows(allMean(s)), [[0.7, 0.3], [0.15, 0.85]]);
  });

  it('rollout: 0.5·A + 0.5·I per layer, later layers multiplied on the left', () => {
    const s = stackOf(A);
    // Layer 0 factor: 0.5·[[1,0],[.3,.7]] + 0.5·I = [[1,0],[.15,.85]]
    assertClose(rows(rolloutFactor(s, 0)), [[1, 0], [0.15, 0.85]]);
    assertClose(rows(rollout(s, 0)), [[1, 0], [0.15, 0.85]]);
    // Layer 1 factor: [[.7,.3],[0,1]]; rollout = F1·F0 = [[.7+.045, .255],[.15,.85]]
    assertClose(rows(rollout(s, 1)), [[0.745, 0.255], [0.15, 0.85]]);
    // The other order would give [[.7,.3],[.105,.895]]: make sure that is not what we computed.
    assert.ok(Math.abs(rows(rollout(s, 1))[1][0] - 0.105) > 0.01);
  });

  it('rollout of a real model: rows sum to 1 at every layer and differ from the raw mean', () => {
    const s = new AttentionStack(fixtureResult('gpt2', 1).attentions);
    for (let l = 0; l < s.layers; l++) assertRowsSumToOne(rollout(s, l));
    // Causal inputs keep a causal rollout: nothing above the diagonal.
    const r = rollout(s, s.layers - 1);
    for (let i = 0; i < r.size; i++) for (let j = i + 1; j < r.size; j++) assert.strictEqual(r.data[i * r.size + j], 0);
  });

  it('rollout in steps: progress rises below 1 and the result equals the direct computation', () => {
    // 3 layers at 70 tokens: products of 70 rows yield after each 32-row block.
    const n70 = 70;
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const data = new Float32Array(3 * n70 * n70);
    for (let r = 0; r < 3 * n70; r++) {
      const row = data.subarray(r * n70, (r + 1) * n70);
      row.forEach((_, j) => (row[j] = rand()));
      const sum = row.reduce((a, b) => a + b, 0);
      row.forEach((v, j) => (row[j] = v / sum));
    }
    const s = new AttentionStack({ dtype: 'float32', shape: [3, 1, n70, n70], buffer: data.buffer });
    const cache = new RolloutCache(s);
    const steps = cache.steps(2);
    const progress: number[] = [];
    let r = steps.next();
    while (!r.done) {
      progress.push(r.value);
      r = steps.next();
    }
    assert.strictEqual(progress.length, 4); // two 32-row yields in each of the two products
    assert.ok(progress.every((p, i) => p > 0 && p < 1 && (i === 0 || p > progress[i - 1])), progress.join(', '));
    assert.deepStrictEqual(Array.from(r.value.data), Array.from(rollout(s, 2).data));
    assert.ok(cache.has(2) && cache.has(0));
    // Long inputs yield between blocks of rows.
    const n = 100;
    const eye = { size: n, data: new Float32Array(n * n).map((_, k) => (k % (n + 1) === 0 ? 1 : 0)) };
    const gen = multiplySteps(eye, eye, 10);
    let yields = 0;
    let g = gen.next();
    while (!g.done) {
      yields++;
      g = gen.next();
    }
    assert.strictEqual(yields, 9);
    assert.deepStrictEqual(Array.from(g.value.data), Array.from(eye.data));
  });

  it('multiplies matrices in the usual order', () => {
    const a = { size: 2, data: new Float32Array([1, 2, 3, 4]) };
    const b = { size: 2, data: new Float32Array([0, 1, 1, 0]) };
    assert.deepStrictEqual(Array.from(multiply(a, b).data), [2, 1, 4, 3]);
  });

  it('renormalises rows and leaves empty rows at zero', () => {
    const m = renormalizeRows({ size: 2, data: new Float32Array([1, 3, 0, 0]) });
    assert.deepStrictEqual(Array.from(m.data), [0.25, 0.75, 0, 0]);
  });

  it('value-weighted: α_ij·‖f(x_j)‖ renormalised per row', () => {
    const s = stackOf([[[[0.5, 0.5], [1, 0]]]]);
    const norms = new ValueNormStack({ dtype: 'float32', shape: [1, 1, 2], buffer: new Float32Array([1, 3]).buffer });
    assertClose(rows(valueWeighted(s, norms, 0, 0)), [[0.25, 0.75], [1, 0]]);
  });

  it('computes every mode on a fixture with rows summing to 1', () => {
    const result = fixtureResult('bert', 0);
    const computer = new ModeComputer(new AttentionStack(result.attentions), new ValueNormStack(result.valueNorms));
    for (const mode of ['head', 'layerMean', 'allMean', 'rollout', 'valueWeighted'] as const) {
      const m = computer.compute({ mode, layer: 2, head: 1 });
      assert.strictEqual(m.size, result.tokens.length);
      assertRowsSumToOne(m);
    }
    assert.strictEqual(computer.needsWork({ mode: 'rollout', layer: 2, head: 0 }), false);
    assert.strictEqual(new ModeComputer(computer.stack, undefined).needsWork({ mode: 'rollout', layer: 1, head: 0 }), true);
    // Cached results are the same object.
    assert.strictEqual(computer.compute({ mode: 'layerMean', layer: 1, head: 0 }), computer.compute({ mode: 'layerMean', layer: 1, head: 3 }));
  });

  it('explains that value-weighted needs value norms', () => {
    const computer = new ModeComputer(stackOf(A), undefined);
    assert.throws(() => computer.compute({ mode: 'valueWeighted', layer: 0, head: 0 }), /value norms/);
  });
});
