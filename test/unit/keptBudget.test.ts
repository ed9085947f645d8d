/** Kept analyses are bounded by what they keep (n·hidden·layers) plus one layer at a time, not by n². */
import * as assert from 'assert';
import { positionInput } from '../../src/engine/architecture';
import { analysisBytes, ANALYSIS_BUDGET_BYTES, maxTokensByMemory } from '../../src/engine/budget';
import { keptBytes, keptTokensByMemory } from '../../src/engine/kept';
import { headsPerChunkFor } from '../../src/engine/model';

/** Llama-3.2-1B's config.json shape and its position inputs (causal mask, rotary tables). */
const LLAMA_1B = { numLayers: 16, numHeads: 32, numKeyValueHeads: 8, headDim: 64, hiddenSize: 2048, maxTokens: 131072 };
const INPUTS = [positionInput('causal_mask', ['n', 'n'], () => new Float32Array()), positionInput('cos', ['n', 64], () => new Float32Array()), positionInput('sin', ['n', 64], () => new Float32Array())];
const GB = 1e9;

describe('kept analysis memory', () => {
  it('Llama-3.2-1B: 4,096 tokens fit in 3 GB kept; the n² budget of analyze stops far earlier', () => {
    const chunk = headsPerChunkFor(LLAMA_1B);
    assert.strictEqual(chunk, 2, 'a 128k-position model runs attention two heads at a time');
    const bytes = keptBytes(LLAMA_1B, INPUTS, chunk, 4096);
    assert.ok(bytes < 3 * GB, `${(bytes / GB).toFixed(2)} GB at 4,096 tokens`);
    const full = { summary: LLAMA_1B, positionShapes: { causal_mask: ['n', 'n'] as const }, layersPerChunk: 1, float16ThresholdBytes: 256 * 1024 * 1024 };
    assert.ok(maxTokensByMemory(full) < 2048, `analyze's limit ${maxTokensByMemory(full)}`);
    assert.ok(analysisBytes(full, 4096) > 4 * ANALYSIS_BUDGET_BYTES);
    assert.ok(keptTokensByMemory(LLAMA_1B, INPUTS, chunk, 3 * GB) >= 4096);
  });

  it('grows with n·hidden·layers plus one layer: doubling the layers adds what they keep, not n² each', () => {
    const n = 2048;
    const one = keptBytes(LLAMA_1B, INPUTS, 2, n);
    const twice = keptBytes({ ...LLAMA_1B, numLayers: 32 }, INPUTS, 2, n);
    assert.strictEqual(twice - one, 16 * n * (LLAMA_1B.hiddenSize + LLAMA_1B.headDim * (32 + 8)) * 4);
  });

  it('is the longest text whose kept analysis fits the budget', () => {
    for (const budget of [0.5 * GB, 2 * GB, 8 * GB]) {
      const n = keptTokensByMemory(LLAMA_1B, INPUTS, 2, budget);
      assert.ok(keptBytes(LLAMA_1B, INPUTS, 2, n) <= budget && keptBytes(LLAMA_1B, INPUTS, 2, n + 1) > budget, `budget ${budget}: ${n}`);
    }
  });

  it('short-context models run every head at once (their graphs are unchanged)', () => {
    assert.strictEqual(headsPerChunkFor({ numHeads: 12, maxTokens: 512 }), 12);
    assert.strictEqual(headsPerChunkFor({ numHeads: 12, maxTokens: 1024 }), 12);
    assert.strictEqual(headsPerChunkFor({ numHeads: 14, maxTokens: 32768 }), 2);
  });
});
