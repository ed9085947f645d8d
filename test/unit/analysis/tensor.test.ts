import * as assert from 'assert';
import { AttentionStack, decodeFloat16, float16BitsToNumber, tensorProblem, toArrayBuffer } from '../../../src/analysis/tensor';
import { fixtureResult } from './fixture';

/** Round-to-nearest-even float → binary16 for normal and subnormal values (test-side encoder). */
function toHalfBits(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === 0) return sign;
  let exponent = Math.floor(Math.log2(a));
  if (exponent < -14) return sign | Math.round(a / 2 ** -24);
  let mantissa = Math.round((a / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
  }
  return sign | ((exponent + 15) << 10) | mantissa;
}

describe('analysis/tensor: float16', () => {
  it('decodes known bit patterns', () => {
    assert.strictEqual(float16BitsToNumber(0x3c00), 1);
    assert.strictEqual(float16BitsToNumber(0xc000), -2);
    assert.strictEqual(float16BitsToNumber(0x7bff), 65504);
    assert.strictEqual(float16BitsToNumber(0x0001), 2 ** -24);
    assert.strictEqual(float16BitsToNumber(0x0400), 2 ** -14);
    assert.strictEqual(float16BitsToNumber(0x3555), 0.333251953125);
    assert.strictEqual(float16BitsToNumber(0x7c00), Infinity);
    assert.strictEqual(float16BitsToNumber(0xfc00), -Infinity);
    assert.ok(Number.isNaN(float16BitsToNumber(0x7e00)));
    assert.ok(Object.is(float16BitsToNumber(0x8000), -0));
  });

  it('decodes arrays through the table the same as one by one', () => {
    const bits = new Uint16Array([0x3c00, 0x3800, 0x0001, 0x7bff, 0xbc00, 0x2e66]);
    const out = decodeFloat16(bits);
    assert.deepStrictEqual(Array.from(out), Array.from(bits, (b) => Math.fround(float16BitsToNumber(b))));
  });

  it('reads a float16 attention stack like the float32 one, to half precision', () => {
    const result = fixtureResult('bert', 1);
    const f32 = new Float32Array(result.attentions.buffer);
    const bits = Uint16Array.from(f32, toHalfBits);
    const half = new AttentionStack({ dtype: 'float16', shape: result.attentions.shape, buffer: bits.buffer }, 1);
    const full = new AttentionStack(result.attentions);
    for (const [l, h] of [[0, 0], [2, 3], [1, 2], [0, 0]]) {
      const a = half.head(l, h);
      const b = full.head(l, h);
      assert.strictEqual(a.length, b.length);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 2 ** -11 * Math.max(b[i], 2 ** -14), `L${l}H${h}[${i}]`);
    }
  });

  it('refuses tensors whose buffer does not match the shape, saying why', () => {
    const bad = { dtype: 'float32', shape: [1, 1, 2, 2], buffer: new ArrayBuffer(12) };
    assert.match(tensorProblem(bad, 'attentions', 4)!, /12 bytes.*needs 16/);
    assert.match(tensorProblem({ dtype: 'int8', shape: [1], buffer: new ArrayBuffer(1) }, 'x', 1)!, /unsupported dtype/);
    assert.match(tensorProblem({ dtype: 'float32', shape: [4], buffer: new ArrayBuffer(16) }, 'x', 2)!, /2 dimensions/);
    assert.throws(() => new AttentionStack({ dtype: 'float32', shape: [1, 1, 2, 3], buffer: new ArrayBuffer(24) }), /square/);
  });

  it('copies typed-array views out to an exact ArrayBuffer', () => {
    const big = new Uint8Array([9, 1, 2, 3, 4, 9]);
    const buf = toArrayBuffer(big.subarray(1, 5))!;
    assert.deepStrictEqual(Array.from(new Uint8Array(buf)), [1, 2, 3, 4]);
    assert.strictEqual(toArrayBuffer('nope'), undefined);
  });

  it('rejects head indices outside the stack', () => {
    const stack = new AttentionStack(fixtureResult('bert', 0).attentions);
    assert.throws(() => stack.head(3, 0), RangeError);
    assert.throws(() => stack.head(0, 4), RangeError);
  });
});
