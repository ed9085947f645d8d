import * as assert from 'assert';
import { LOG_DECADES, colorOf, lutIndex, mapColors, tickText, UNIT_RANGE, colorRangeFor } from '../../../src/analysis/colormap';
import { analyzedUpTo, describeShort, describeWhere, formatWeight, textSlug } from '../../../src/analysis/describe';

describe('analysis/colormap: colour normalisations', () => {
  const block = { rows: 2, cols: 3, data: Float32Array.from([0.9, 0.06, 0.04, 0.5, 0.3, 0.2]) };

  it('linear: the LUT level of each position is the level of the weight itself', () => {
    const m = mapColors(block, 'linear', 'max');
    const range = colorRangeFor(block.data, 'max');
    for (let i = 0; i < 6; i++) assert.strictEqual(lutIndex(m.positions[i], UNIT_RANGE), lutIndex(block.data[i], range));
    assert.deepStrictEqual(m.ticks.map((t) => t.text), ['0.9', '0.45', '0']);
    assert.match(m.caption, /^Linear colour scale: 0 to the largest weight shown \(0\.9\)\.$/);
    assert.match(mapColors(block, 'linear', 'unit').caption, /^Linear colour scale: 0 to 1\.$/);
  });

  it('per row: every row reaches the top colour at its own largest weight', () => {
    const m = mapColors(block, 'row', 'max');
    assert.deepStrictEqual(Array.from(m.positions, (p) => Number(p.toFixed(4))), [1, 0.0667, 0.0444, 1, 0.6, 0.4]);
    assert.deepStrictEqual(colorOf(m.positions[3], UNIT_RANGE, 'viridis'), colorOf(1, UNIT_RANGE, 'viridis'));
    assert.match(m.caption, /each row runs from 0 to its own largest weight/);
  });

  it('log: four decades below the top; weights at or below the floor take the low end', () => {
    const data = Float32Array.from([1, 0.1, 0.01, 0.001, 1e-4, 1e-6]);
    const m = mapColors({ rows: 1, cols: 6, data }, 'log', 'unit');
    assert.strictEqual(LOG_DECADES, 4);
    assert.deepStrictEqual(Array.from(m.positions, (p) => Number(p.toFixed(3))), [1, 0.75, 0.5, 0.25, 0, 0]);
    assert.deepStrictEqual(m.ticks.map((t) => [t.t, t.text]), [[1, '1'], [0.5, '0.01'], [0, '1.0e−4']]);
    assert.match(m.caption, /^Log colour scale: 1\.0e−4 \(and below\) to 1\.$/);
  });

  it('tick texts stay short', () => {
    assert.deepStrictEqual([0, 0.5, 0.0312, 3.8e-5].map(tickText), ['0', '0.5', '0.03', '3.8e−5']);
  });
});

describe('analysis/describe: words on the panel', () => {
  it('weights: six decimals, tiny ones in exponent form', () => {
    assert.deepStrictEqual([0.123456789, 0, 1, 3.8e-6, 9.99e-5, 1e-4].map(formatWeight), ['0.123457', '0.000000', '1.000000', '3.80e-6', '9.99e-5', '0.000100']);
  });

  it('where a selection looks, without repeating the mode', () => {
    assert.strictEqual(describeWhere({ mode: 'head', layer: 2, head: 6 }, 3, 8), 'layer 2, head 6');
    assert.strictEqual(describeWhere({ mode: 'layerMean', layer: 1, head: 6 }, 3, 8), 'layer 1, mean of 8 heads');
    assert.strictEqual(describeWhere({ mode: 'rollout', layer: 2, head: 0 }, 3, 8), 'layers 0–2');
    assert.strictEqual(describeShort({ mode: 'valueWeighted', layer: 0, head: 1 }), 'layer 0, head 1, value-weighted');
  });

  it('a slug of the text for file names, and where a cut text stops', () => {
    assert.strictEqual(textSlug('  The cat — sat on the mat.'), 'the-cat-sat');
    const tokens = [
      { end: -1, special: true, segment: 0 },
      { end: 3, special: false, segment: 0 },
      { end: 7, special: false, segment: 0 },
    ];
    assert.strictEqual(analyzedUpTo('The cat  \n', tokens), null);
    assert.strictEqual(analyzedUpTo('The cat sat on the mat', tokens), 7);
  });
});
