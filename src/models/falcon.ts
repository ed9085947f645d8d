/**
 * Falcon (tiiuae/falcon-7b, falcon-40b, falcon-180B, falcon-rw-1b): a pre-norm causal decoder like
 * GPT-NeoX with one fused `query_key_value` projection in one of three layouts and either rotary
 * positions or ALiBi:
 * - `new_decoder_architecture` (40b, 180B): grouped-query, laid out per kv group
 *   `[q × heads/kv, k, v]`; two norms `ln_attn` and `ln_mlp` (or one `input_layernorm` with
 *   `num_ln_in_parallel_attn` 1) feed attention and MLP in parallel;
 * - `multi_query` (7b): `[q heads·d | k d | v d]`, one key/value head; one `input_layernorm` feeds
 *   attention and MLP in parallel;
 * - neither (rw-1b): per head `[heads, 3, d]`, and with `parallel_attn` false attention then MLP.
 * With `alibi`, ALiBi is added to q·k before the 1/√d scaling and there is no rotary. It is applied
 * once, as the model defines it (transformers 4.48's eager path without a head_mask applies it
 * twice; its SDPA path and the original code once).
 */
import { acceptOnly, configInt, configNumber, refuseOption, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { attend, type HeadsQkv } from './blocks/attention';
import { alibiInput, causalMaskInput } from './blocks/masks';
import { plainMlp } from './blocks/mlp';
import { splitConcatenatedQkv, splitGroupedQkv, splitPerHeadQkv, toHeadsQkv } from './blocks/qkv';
import { ropeSettings, ropeUnbounded, rotaryInputs, type RopeSettings } from './blocks/rope';
import { layerWeights } from './blocks/weights';
import { lmHead } from './blocks/lmHead';

const PREFIXES = ['transformer.'];

export interface FalconConfig {
  hidden: number;
  heads: number;
  /** Key/value heads the fused projection holds (1 for multi-query). */
  kvHeads: number;
  layers: number;
  ffnDim: number;
  eps: number;
  act: string;
  qkvLayout: 'grouped' | 'multi-query' | 'per-head';
  /** Norms before the layer: `ln_attn` + `ln_mlp` (2) or `input_layernorm` (1). */
  parallel: { norms: 1 | 2 } | null;
  alibi: boolean;
  rope: RopeSettings;
  maxPositions: number | null;
}

export function parseFalconConfig(c: ModelConfig): FalconConfig {
  const hidden = configInt(c, 'hidden_size');
  const heads = configInt(c, 'num_attention_heads');
  acceptOnly(c, 'apply_residual_connection_post_layernorm', [false], 'the residual taken after the layer norm');
  const newArch = c.new_decoder_architecture === true;
  const parallelAttn = c.parallel_attn !== false;
  // transformers cannot run these combinations either (the layer reads a norm it never made).
  if (newArch && !parallelAttn) refuseOption(c, 'parallel_attn', 'new_decoder_architecture always runs attention and MLP in parallel');
  if (!newArch) acceptOnly(c, 'num_ln_in_parallel_attn', [1], 'two parallel norms exist only with new_decoder_architecture');
  else acceptOnly(c, 'num_ln_in_parallel_attn', [1, 2]);
  const alibi = c.alibi === true;
  const rope = ropeSettings(c);
  return {
    hidden,
    heads,
    kvHeads: newArch ? (typeof c.num_kv_heads === 'number' ? configInt(c, 'num_kv_heads') : heads) : c.multi_query === true ? 1 : heads,
    layers: configInt(c, 'num_hidden_layers'),
    ffnDim: typeof c.ffn_hidden_size === 'number' ? configInt(c, 'ffn_hidden_size') : 4 * hidden,
    eps: configNumber(c, 1e-5, 'layer_norm_epsilon'),
    act: String(c.activation ?? 'gelu'),
    qkvLayout: newArch ? 'grouped' : c.multi_query === true ? 'multi-query' : 'per-head',
    parallel: parallelAttn ? { norms: newArch && c.num_ln_in_parallel_attn !== 1 ? 2 : 1 } : null,
    alibi,
    rope,
    maxPositions: alibi || ropeUnbounded(rope) ? null : configInt(c, 'max_position_embeddings'),
  };
}

export const falcon: Family = {
  modelTypes: ['falcon'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, kvHeads, layers, ffnDim, eps, act, qkvLayout, parallel, alibi, rope, maxPositions } = parseFalconConfig(c);
    const headDim = hidden / heads;
    const qkvDim = (heads + 2 * kvHeads) * headDim;
    const tensors = ckpt.scoped(PREFIXES);
    const { cos, sin } = rotaryInputs(rope, headDim, headDim);
    // Falcon's ALiBi path: softmax((q·k + alibi) / √d + mask), so the bias carries the scale too.
    const scale = 1 / Math.sqrt(headDim);
    const site = selfSite(scale, alibi ? [causalMaskInput(), alibiInput(heads, scale)] : [causalMaskInput()]);
    return {
      summary: summarize(c, { layers, heads, kvHeads, headDim, hidden, maxTokens: maxPositions, causal: true }),
      layerBytes: 4 * (hidden * qkvDim + hidden * hidden + 2 * hidden * ffnDim),
      embed: (ids) => tensors.rows('word_embeddings.weight', ids),
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `h.${i}.`, `l${i}`);
        const norm = (src: string, name: string) => w.layerNorm(name, hidden, src, eps);
        const attnIn = norm(x, parallel?.norms === 2 ? 'ln_attn' : 'input_layernorm');
        const fused = w.linear('self_attention.query_key_value', qkvDim, hidden, attnIn).y;
        let qkv: HeadsQkv =
          qkvLayout === 'grouped'
            ? splitGroupedQkv(nn, fused, kvHeads, heads / kvHeads, headDim)
            : qkvLayout === 'multi-query'
              ? toHeadsQkv(nn, splitConcatenatedQkv(nn, fused, hidden, headDim), heads, 1, headDim)
              : splitPerHeadQkv(nn, fused, heads, headDim);
        if (!alibi) qkv = { q: nn.rotary(qkv.q, use(cos), use(sin), headDim, headDim), k: nn.rotary(qkv.k, use(cos), use(sin), headDim, headDim), v: qkv.v };
        const attn = attend(nn, use, site, qkv, heads, headDim, (context) => w.linear('self_attention.dense', hidden, hidden, context));
        const mlp = (src: string) => plainMlp(nn, w, src, { up: 'mlp.dense_h_to_4h', down: 'mlp.dense_4h_to_h' }, hidden, ffnDim, act);
        if (parallel) {
          const mlpIn = parallel.norms === 2 ? norm(x, 'ln_mlp') : attnIn;
          return { hidden: nn.add(nn.add(mlp(mlpIn), attn.y), x), ...attn.outputs };
        }
        const h1 = nn.add(attn.y, x);
        return { hidden: nn.add(mlp(norm(h1, 'post_attention_layernorm')), h1), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('ln_f', hidden, x, eps);
      },
      lmHead: lmHead(ckpt.config, tensors, { embedding: 'word_embeddings.weight', tiedByDefault: true }),
    };
  },
};
