/**
 * Mixtral: the Llama layer with a mixture-of-experts feed-forward (`block_sparse_moe`): the router
 * `gate` picks `num_experts_per_tok` of `num_local_experts` SwiGLU experts (`w1` gate, `w3` up,
 * `w2` down) per token, weights renormalised over the chosen ones.
 */
import { configInt, type Family } from '../engine/architecture';
import { createDecoder, slidingLayersFromConfig } from './blocks/decoder';
import { mixtureOfExperts } from './blocks/moe';

export const mixtral: Family = {
  modelTypes: ['mixtral'],
  create(ckpt) {
    const c = ckpt.config;
    const experts = configInt(c, 'num_local_experts');
    const topK = configInt(c, 'num_experts_per_tok');
    const spec = { experts, topK, normalizeTopK: true, router: 'block_sparse_moe.gate', expert: (e: number) => ({ gate: `block_sparse_moe.experts.${e}.w1`, up: `block_sparse_moe.experts.${e}.w3`, down: `block_sparse_moe.experts.${e}.w2` }) };
    const hidden = configInt(c, 'hidden_size');
    const inner = configInt(c, 'intermediate_size');
    return createDecoder(ckpt, {
      slidingWindow: slidingLayersFromConfig(c, () => true),
      mlp: { build: (nn, w, x, config) => mixtureOfExperts(nn, w, x, spec, config.hidden, config.intermediate, config.act), params: experts * 3 * hidden * inner + experts * hidden },
    });
  },
};
