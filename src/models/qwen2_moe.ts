/**
 * Qwen2-MoE (Qwen/Qwen1.5-MoE-A2.7B, Qwen/Qwen2-57B-A14B): the Qwen2 layer (q/k/v biases) with a
 * mixture-of-experts feed-forward, like Mixtral's but
 * - the router `mlp.gate`'s top-k softmax probabilities are used as they are unless
 *   `norm_topk_prob` renormalises them;
 * - every token also goes through `mlp.shared_expert`, weighted by sigmoid(`mlp.shared_expert_gate` · x).
 * transformers makes layer i dense (a plain `mlp.gate_proj/up_proj/down_proj` of `intermediate_size`)
 * when i is in `mlp_only_layers` or (i+1) is not a multiple of `decoder_sparse_step`; that layout
 * is refused, as is `use_sliding_window`, until a reference pins them down.
 */
import { acceptOnly, configInt, refuseOption, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { createDecoder } from './blocks/decoder';
import { mixtureOfExperts, type MoeSpec } from './blocks/moe';

export interface Qwen2MoeConfig {
  experts: number;
  topK: number;
  normTopK: boolean;
  /** Width of each routed expert (`moe_intermediate_size`) and of the shared expert. */
  expertInner: number;
  sharedInner: number;
}

export function parseQwen2MoeConfig(c: ModelConfig): Qwen2MoeConfig {
  acceptOnly(c, 'decoder_sparse_step', [1], 'dense layers between sparse ones');
  if (Array.isArray(c.mlp_only_layers) && c.mlp_only_layers.length > 0) refuseOption(c, 'mlp_only_layers', 'dense layers in a mixture-of-experts model');
  if (c.num_experts === 0) refuseOption(c, 'num_experts', 'a model without experts');
  acceptOnly(c, 'use_sliding_window', [false], 'sliding-window layers above max_window_layers');
  // transformers 4.48 sizes Qwen2-MoE heads as hidden_size / num_attention_heads and ignores head_dim; a different one is refused, not guessed.
  acceptOnly(c, 'head_dim', [configInt(c, 'hidden_size') / configInt(c, 'num_attention_heads')]);
  return {
    experts: configInt(c, 'num_experts'),
    topK: configInt(c, 'num_experts_per_tok'),
    normTopK: c.norm_topk_prob === true,
    expertInner: configInt(c, 'moe_intermediate_size'),
    sharedInner: configInt(c, 'shared_expert_intermediate_size'),
  };
}

export const qwen2_moe: Family = {
  modelTypes: ['qwen2_moe'],
  create(ckpt) {
    const { experts, topK, normTopK, expertInner, sharedInner } = parseQwen2MoeConfig(ckpt.config);
    const gated = (name: string) => ({ gate: `${name}.gate_proj`, up: `${name}.up_proj`, down: `${name}.down_proj` });
    const spec: MoeSpec = {
      experts,
      topK,
      normalizeTopK: normTopK,
      router: 'mlp.gate',
      expert: (e) => gated(`mlp.experts.${e}`),
      shared: { mlp: gated('mlp.shared_expert'), inner: sharedInner, gate: 'mlp.shared_expert_gate' },
    };
    const hidden = configInt(ckpt.config, 'hidden_size');
    return createDecoder(ckpt, {
      // Qwen2MoeAttention: q/k/v always with biases, o_proj without.
      qkvBias: 'required',
      outputBias: 'none',
      mlp: {
        build: (nn, w, x, config) => mixtureOfExperts(nn, w, x, spec, config.hidden, expertInner, config.act),
        params: experts * (3 * hidden * expertInner + hidden) + 3 * hidden * sharedInner + hidden,
      },
    });
  },
};
