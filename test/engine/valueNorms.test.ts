/**
 * ‖f_h(x_j)‖ = ‖(x_j W_V^h + b_V^h) W_O^h‖ (Kobayashi et al. 2020), recomputed here directly from the
 * head's value vectors and the output projection read from the checkpoint, against the engine's
 * value norms (which it computes through a Gram matrix).
 */
import * as assert from 'assert';
import * as path from 'path';
import { Checkpoint } from '../../src/engine/checkpoint';
import { loadModel } from '../../src/models';
import { FIXTURES_ROOT } from '../helpers/fixtures';

/** Output projection of a layer as [out][in] accessors, per family naming and layout. */
const OUTPUT_PROJECTION: Record<string, { name: (l: number) => string; inOut: boolean; prefixes: string[] }> = {
  bert: { name: (l) => `encoder.layer.${l}.attention.output.dense.weight`, inOut: false, prefixes: ['bert.'] },
  llama: { name: (l) => `layers.${l}.self_attn.o_proj.weight`, inOut: false, prefixes: ['model.'] },
  gpt2: { name: (l) => `h.${l}.attn.c_proj.weight`, inOut: true, prefixes: ['transformer.'] },
};

describe('value norms ‖f_h(x_j)‖ match a direct computation', function () {
  this.timeout(60000);
  for (const [fixture, spec] of Object.entries(OUTPUT_PROJECTION)) {
    it(`${fixture}: every layer, head and token`, async () => {
      const folder = path.join(FIXTURES_ROOT, fixture);
      const model = await loadModel(folder);
      const ckpt = Checkpoint.open(folder);
      try {
        const result = await model.analyze('The cat sat on the mat, and the dog lay on the rug.');
        const { numLayers, numHeads, headDim, hiddenSize } = result.model;
        const n = result.tokens.length;
        const norms = new Float32Array(result.valueNorms.buffer);
        let worst = 0;
        for (let l = 0; l < numLayers; l++) {
          const w = ckpt.read(spec.name(l), spec.prefixes);
          const inDim = numHeads * headDim;
          const weight = (o: number, i: number) => (spec.inOut ? w[i * hiddenSize + o] : w[o * inDim + i]);
          for (let h = 0; h < numHeads; h++) {
            const v = new Float32Array((await model.headVectors(l, h)).v.buffer);
            for (let j = 0; j < n; j++) {
              let sum = 0;
              for (let o = 0; o < hiddenSize; o++) {
                let dot = 0;
                for (let x = 0; x < headDim; x++) dot += v[j * headDim + x] * weight(o, h * headDim + x);
                sum += dot * dot;
              }
              const expected = Math.sqrt(sum);
              const got = norms[(l * numHeads + h) * n + j];
              worst = Math.max(worst, Math.abs(got - expected) / Math.max(expected, 1e-6));
            }
          }
        }
        assert.ok(worst < 1e-4, `largest relative difference ${worst.toExponential(2)}`);
      } finally {
        ckpt.close();
        await model.dispose();
      }
    });
  }
});
