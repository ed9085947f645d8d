/** The token limit counts everything that grows with n², not only the attentions kept. */
import * as assert from 'assert';
import fc from 'fast-check';
import { analysisBytes, ANALYSIS_BUDGET_BYTES, maxTokensByMemory, type BudgetShape } from '../../src/engine/budget';

const FLOAT16_THRESHOLD = 256 * 1024 * 1024;

describe('analysis memory budget', () => {
  it('is the longest text that fits, for any model shape', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 128 }), fc.integer({ min: 1, max: 128 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom(0, 1, 2), (layers, heads, perChunk, planes) => {
        const positionShapes: BudgetShape['positionShapes'] = {};
        if (planes >= 1) positionShapes.causal_mask = ['n', 'n'];
        if (planes >= 2) positionShapes.position_bias = [heads, 'n', 'n'];
        positionShapes.cos = ['n', 64];
        const shape: BudgetShape = { summary: { numLayers: layers, numHeads: heads }, positionShapes, layersPerChunk: perChunk, float16ThresholdBytes: FLOAT16_THRESHOLD };
        const n = maxTokensByMemory(shape);
        assert.ok(n >= 1);
        assert.ok(analysisBytes(shape, n) <= ANALYSIS_BUDGET_BYTES);
        assert.ok(analysisBytes(shape, n + 1) > ANALYSIS_BUDGET_BYTES, `n + 1 = ${n + 1} would fit too`);
      }),
      { seed: 1414, numRuns: 200 },
    );
  });

  it("a 3-layer T5 (8 heads) stops well before 7,580 tokens, where it peaked at 5.5 GB: its [heads, n, n] bias and each layer's float32 outputs count", () => {
    const t5: BudgetShape = { summary: { numLayers: 3, numHeads: 8 }, positionShapes: { position_bias: [8, 'n', 'n'] }, layersPerChunk: 3, float16ThresholdBytes: FLOAT16_THRESHOLD };
    const keptOnly = Math.floor(Math.sqrt(ANALYSIS_BUDGET_BYTES / 2 / (3 * 8)));
    const n = maxTokensByMemory(t5);
    assert.ok(keptOnly > 6000, `counting kept attentions alone allowed ${keptOnly}`);
    assert.ok(n < 3000, `limit ${n}`);
    assert.ok(analysisBytes(t5, 7580) > 4 * ANALYSIS_BUDGET_BYTES / 2);
  });
});
