import * as assert from 'assert';
import { COLOR_SCALES, DIVERGING_SCALE, LUT_SIZE, UNIT_RANGE, colorLut, colorOf, colorRangeFor, divergingLevel, isColorScaleName, lightness, lutIndex, mapDiverging, scaleStops, toHex } from '../../../src/analysis/colormap';

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

  describe('diverging scale (differences)', () => {
    const lut = colorLut(DIVERGING_SCALE);
    const rgb = (k: number) => [lut[k * 3], lut[k * 3 + 1], lut[k * 3 + 2]];
    const L = (k: number) => lightness(rgb(k));

    it('is centred on 0: zero gets the neutral, lightest level, and ±v mirrored levels', () => {
      assert.strictEqual(divergingLevel(0, 0.5), LUT_SIZE / 2);
      assert.deepStrictEqual(rgb(LUT_SIZE / 2), rgb(LUT_SIZE / 2 - 1));
      const centre = rgb(LUT_SIZE / 2);
      // Neutral: no hue (a grey within rounding), and the lightest colour of the scale.
      assert.ok(Math.max(...centre) - Math.min(...centre) <= 3, `centre ${centre}`);
      for (let k = 0; k < LUT_SIZE; k++) assert.ok(L(k) <= L(LUT_SIZE / 2) + 0.01, `L*[${k}] above the centre`);
      for (const v of [1e-6, 0.01, 0.1, 0.2, 0.25, 0.3333, 0.49, 0.5, 0.7]) {
        assert.strictEqual(divergingLevel(v, 0.5) + divergingLevel(-v, 0.5), LUT_SIZE - 1, `±${v}`);
      }
      assert.strictEqual(divergingLevel(0.5, 0.5), LUT_SIZE - 1);
      assert.strictEqual(divergingLevel(-0.5, 0.5), 0);
      assert.strictEqual(divergingLevel(3, 0.5), LUT_SIZE - 1, 'clamped');
      assert.strictEqual(divergingLevel(NaN, 0.5), LUT_SIZE / 2);
    });

    it('is symmetric in lightness and gets darker steadily away from 0 on both sides', () => {
      for (let k = 0; k < LUT_SIZE / 2; k++) {
        const neg = L(LUT_SIZE / 2 - 1 - k);
        const pos = L(LUT_SIZE / 2 + k);
        assert.ok(Math.abs(neg - pos) < 1.5, `step ${k}: L* ${neg} vs ${pos}`);
        if (k > 0) {
          assert.ok(neg <= L(LUT_SIZE / 2 - k) + 0.35, `negative side not monotonic at ${k}`);
          assert.ok(pos <= L(LUT_SIZE / 2 + k - 1) + 0.35, `positive side not monotonic at ${k}`);
        }
      }
      assert.ok(L(LUT_SIZE / 2) - L(0) > 55, 'ends too light');
    });

    it('tells the sides apart by hue: blue below 0, orange above (blue–yellow axis, visible to red–green colour blindness)', () => {
      const [r0, , b0] = rgb(0);
      const [r1, , b1] = rgb(LUT_SIZE - 1);
      assert.ok(b0 > r0 + 60, `negative end ${rgb(0)} is not blue`);
      assert.ok(r1 > b1 + 60, `positive end ${rgb(LUT_SIZE - 1)} is not orange`);
    });

    it('mapDiverging positions land on the diverging levels; legend in ± with 0 in the middle', () => {
      const block = { rows: 1, cols: 5, data: [-0.4, -0.1, 0, 0.1, 0.2] };
      const c = mapDiverging(block);
      assert.deepStrictEqual(c.range, { min: -0.4, max: 0.4 });
      for (let i = 0; i < 5; i++) assert.strictEqual(lutIndex(c.positions[i], UNIT_RANGE), divergingLevel(block.data[i], 0.4));
      assert.deepStrictEqual(c.ticks.map((t) => t.text), ['+0.4', '0', '−0.4']);
      assert.match(c.short, /±0\.4/);
      assert.match(c.caption, /centred on 0/);
      // All zero: neutral everywhere, a unit range.
      const z = mapDiverging({ rows: 1, cols: 2, data: [0, 0] });
      assert.deepStrictEqual(Array.from(z.positions, (p) => lutIndex(p, UNIT_RANGE)), [128, 128]);
      assert.deepStrictEqual(z.range, { min: -1, max: 1 });
    });

    it('is not offered for attention weights, and its gradient stops include the centre', () => {
      assert.strictEqual(isColorScaleName(DIVERGING_SCALE), false);
      const stops = scaleStops(DIVERGING_SCALE);
      assert.strictEqual(stops.length, 17);
      assert.strictEqual(stops[8], toHex(rgb(128)));
    });
  });
});
