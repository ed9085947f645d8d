import * as assert from 'assert';
import type { HeadVectors, TensorData } from '../../../src/protocol/types';
import { computeQueryStep, headVectorsProblem, maxAbsDifference } from '../../../src/analysis/stepByStep';

const t = (rows: number[][]): TensorData => ({
  dtype: 'float32',
  shape: [rows.length, rows[0].length],
  buffer: new Float32Array(rows.flat()).buffer,
});

function vectors(extra: Partial<HeadVectors> = {}): HeadVectors {
  return {
    layer: 0,
    head: 0,
    scale: 0.5,
    softcap: null,
    q: t([[1, 0], [2, 2], [0, 1]]),
    k: t([[1, 0], [0, 1], [1, 1]]),
    v: t([[1, 0, 0], [0, 1, 0], [0, 0, 2]]),
    bias: null,
    ...extra,
  };
}

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe('analysis/stepByStep', () => {
  it('scores, scales, softmaxes and sums values', () => {
    const step = computeQueryStep(vectors(), 1); // q = (2,2): dots 2, 2, 4; scaled 1, 1, 2
    assert.deepStrictEqual(step.keys.map((k) => k.dot), [2, 2, 4]);
    assert.deepStrictEqual(step.keys.map((k) => k.scaled), [1, 1, 2]);
    const z = 2 * Math.E + Math.E ** 2;
    const w = [Math.E / z, Math.E / z, Math.E ** 2 / z];
    step.keys.forEach((k, j) => close(k.weight, w[j]));
    close(step.weightSum, 1);
    close(step.output[0], w[0]);
    close(step.output[1], w[1]);
    close(step.output[2], 2 * w[2]);
    close(step.valueNorms[2], 2);
    close(maxAbsDifference(step, w), 0);
    close(maxAbsDifference(step, [w[0] + 0.01, w[1], w[2]]), 0.01);
  });

  it('applies soft-capping before the bias, and a -Infinity mask zeroes a key', () => {
    const bias = t([[0, 0, 0], [0, -Infinity, 0.5], [0, 0, 0]]);
    const step = computeQueryStep(vectors({ softcap: 1, bias }), 1);
    close(step.keys[0].capped, Math.tanh(1));
    close(step.keys[2].capped, Math.tanh(2));
    close(step.keys[2].logit, Math.tanh(2) + 0.5);
    assert.strictEqual(step.keys[1].weight, 0);
    const z = Math.exp(Math.tanh(1)) + Math.exp(Math.tanh(2) + 0.5);
    close(step.keys[0].weight, Math.exp(Math.tanh(1)) / z);
    close(step.weightSum, 1);
  });

  it('checks the shapes it is given', () => {
    assert.strictEqual(headVectorsProblem(vectors(), 3), undefined);
    assert.match(headVectorsProblem(vectors(), 4)!, /3 rows for 4 tokens/);
    assert.match(headVectorsProblem(vectors({ k: t([[1], [1], [1]]) }), 3)!, /differ in width/);
    assert.match(headVectorsProblem(vectors({ bias: t([[0, 0], [0, 0]]) }), 3)!, /bias|rows/);
    assert.match(headVectorsProblem({ ...vectors(), scale: NaN }, 3)!, /scale/);
  });
});
