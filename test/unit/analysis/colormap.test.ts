import * as assert from 'assert';
import { COLOR_SCALES, LUT_SIZE, colorLut, colorOf, colorRangeFor, lightness, lutIndex, toHex } from '../../../src/analysis/colormap';

describe('analysis/colormap', () => {
  for (const name of COLOR_SCALES) {
    it(`${name}: lightness rises steadily from one end to the other`, () => {
      const lut = colorLut(name);
      const L: number[] = [];
      for (let k = 0; k < LUT_SIZE; k++) L.push(lightness([lut[k * 3], lut[k * 3 + 1], lut[k * 3 + 2]]));
      // Monotonic up to 8-bit rounding.
      for (let k = 1; k < LUT_SIZE; k++) assert.ok(L[k] >= L[k - 1] - 0.35, `${name}: L*[${k}]=${L[k]} < L*[${k - 1}]=${L[k - 1]}`);
      // Perceptually uniform: every tenth of the scale adds about the same lightness.
      const steps: number[] = [];
      for (let d = 0; d < 10; d++) steps.push(L[Math.round(((d + 1) * (LUT_SIZE - 1)) / 10)] - L[Math.round((d * (LUT_SIZE - 1)) / 10)]);
      const mean = steps.reduce((a, b) => a + b, 0) / steps.length;
      for (const s of steps) assert.ok(Math.abs(s - mean) < 0.35 * mean, `${name}: uneven step ${s} vs mean ${mean}`);
      assert.ok(L[LUT_SIZE - 1] - L[0] > 70, `${name}: range of lightness too small`);
    });
  }

  it('ends are the published end colours', () => {
    assert.strictEqual(toHex(colorOf(0, { min: 0, max: 1 }, 'viridis')), '#440154');
    assert.strictEqual(toHex(colorOf(1, { min: 0, max: 1 }, 'viridis')), '#fde725');
  });

  it('clamps values into the range and maps NaN low', () => {
    const r = { min: 0, max: 0.5 };
    assert.strictEqual(lutIndex(-1, r), 0);
    assert.strictEqual(lutIndex(0.5, r), LUT_SIZE - 1);
    assert.strictEqual(lutIndex(2, r), LUT_SIZE - 1);
    assert.strictEqual(lutIndex(0.25, r), 128);
    assert.strictEqual(lutIndex(NaN, r), 0);
    assert.strictEqual(lutIndex(0.3, { min: 0, max: 0 }), 0);
  });

  it('ranges: unit or the largest value shown', () => {
    assert.deepStrictEqual(colorRangeFor([0.1, 0.4, 0.2], 'max'), { min: 0, max: 0.4 });
    assert.deepStrictEqual(colorRangeFor([0.1, 0.4], 'unit'), { min: 0, max: 1 });
    assert.deepStrictEqual(colorRangeFor([0, 0], 'max'), { min: 0, max: 1 });
  });
});
