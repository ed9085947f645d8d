/**
 * GPT-NeoX (Pythia, GPT-NeoX-20B): a pre-norm causal decoder with LayerNorm and biases. It differs
 * from the Llama layer in three ways:
 * - q, k, v come from one `query_key_value` projection whose outputs are grouped per head,
 *   `[heads, 3, headDim]` (head 0's q, k, v, then head 1's...), not `[q | k | v]`;
 * - rotary positions cover only the first `rotary_pct` of each head's dimensions;
 * - with `use_parallel_residual` (the default) attention and MLP both read the layer input:
 *   x + Attn(ln1(x)) + MLP(ln2(x)); otherwise they run one after the other.
 */
import { configInt, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { attend } from './blocks/attention';
import { causalMaskInput } from './blocks/masks';
import { plainMlp } from './blocks/mlp';
import { splitPerHeadQkv } from './blocks/qkv';
import { ropeSettings, rotaryInputs, type RopeSettings } from './blocks/rope';
import { layerWeights } from './blocks/weights';
import { lmHead } from './blocks/lmHead';

const PREFIXES = ['gpt_neox.'];

export interface GptNeoxConfig {
  hidden: number;
  heads: number;
  layers: number;
  intermediate: number;
  eps: number;
  act: string;
  parallelResidual: boolean;
  rotaryDim: number;
  rope: RopeSettings;
  maxPositions: number | null;
}

export function parseGptNeoxConfig(c: ModelConfig): GptNeoxConfig {
  const hidden = configInt(c, 'hidden_size');
  const heads = configInt(c, 'num_attention_heads');
  // transformers 4 spells the rotary settings rotary_pct / rotary_emb_base; transformers 5 moves them into rope_parameters.
  const ropeParams = (c.rope_parameters ?? {}) as Record<string, unknown>;
  const rotaryFraction = configNumber(ropeParams, configNumber(c, 0.25, 'rotary_pct', 'partial_rotary_factor'), 'partial_rotary_factor');
  return {
    hidden,
    heads,
    layers: configInt(c, 'num_hidden_layers'),
    intermediate: configInt(c, 'intermediate_size'),
    eps: configNumber(c, 1e-5, 'layer_norm_eps'),
    act: String(c.hidden_act ?? 'gelu'),
    parallelResidual: c.use_parallel_residual !== false,
    rotaryDim: Math.floor((hidden / heads) * rotaryFraction),
    rope: ropeSettings(c, configNumber(c, 10000, 'rotary_emb_base')),
    maxPositions: typeof c.max_position_embeddings === 'number' ? c.max_position_embeddings : null,
  };
}

export const gpt_neox: Family = {
  modelTypes: ['gpt_neox'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, intermediate, eps, act, parallelResidual, rotaryDim, rope, maxPositions } = parseGptNeoxConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const { cos, sin } = rotaryInputs(rope, headDim, rotaryDim);
    const site = selfSite(1 / Math.sqrt(headDim), [causalMaskInput()]);
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: true }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
      embed: (ids) => tensors.rows('embed_in.weight', ids),
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `layers.${i}.`, `l${i}`);
        const norm = (src: string, name: string) => w.layerNorm(name, hidden, src, eps);
        // attention_bias = false (transformers 5) leaves the attention projections without biases.
        const fused = splitPerHeadQkv(nn, w.linear('attention.query_key_value', 3 * hidden, hidden, norm(x, 'input_layernorm')).y, heads, headDim);
        const qkv = { q: nn.rotary(fused.q, use(cos), use(sin), headDim, rotaryDim), k: nn.rotary(fused.k, use(cos), use(sin), headDim, rotaryDim), v: fused.v };
        const attn = attend(nn, use, site, qkv, heads, headDim, (context) => w.linear('attention.dense', hidden, hidden, context));
        const mlp = (src: string) => plainMlp(nn, w, src, { up: 'mlp.dense_h_to_4h', down: 'mlp.dense_4h_to_h' }, hidden, intermediate, act);
        let next: string;
        if (parallelResidual) {
          next = nn.add(nn.add(mlp(norm(x, 'post_attention_layernorm')), attn.y), x);
        } else {
          const h1 = nn.add(attn.y, x);
          next = nn.add(mlp(norm(h1, 'post_attention_layernorm')), h1);
        }
        return { hidden: next, ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('final_layer_norm', hidden, x, eps);
      },
      lmHead: lmHead(ckpt.config, tensors, { embedding: 'embed_in.weight', untied: 'embed_out.weight', tiedByDefault: false }),
    };
  },
};
