/**
 * GPTBigCode (bigcode/starcoder, bigcode/gpt_bigcode-santacoder, WizardCoder-15B): GPT-2's layer
 * (wte + wpe, ln_1/ln_2/ln_f, `c_attn`, `c_proj`, `mlp.c_fc`/`mlp.c_proj`) with two differences:
 * the projections are torch Linear modules (`[out, in]` weights, not GPT-2's Conv1D), and with
 * `multi_query` (the default) `c_attn` holds all query heads and one shared key and value head,
 * `[q heads·d | k d | v d]`; without it, q, k, v are laid out per head `[heads, 3, d]`. The fp32
 * upcast options (`attention_softmax_in_fp32`, `scale_attention_softmax_in_fp32`) only change
 * float16 rounding: their scale and unscale cancel.
 */
import { acceptOnly, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { attend } from './blocks/attention';
import { positionIds, sumOfRows } from './blocks/embeddings';
import { causalMaskInput } from './blocks/masks';
import { plainMlp } from './blocks/mlp';
import { splitConcatenatedQkv, splitPerHeadQkv, toHeadsQkv } from './blocks/qkv';
import { layerWeights } from './blocks/weights';
import { parseGpt2Shape, type Gpt2Shape } from './gpt2';
import { lmHead } from './blocks/lmHead';

const PREFIXES = ['transformer.'];

export interface GptBigCodeConfig extends Gpt2Shape {
  multiQuery: boolean;
  scale: number;
}

export function parseGptBigCodeConfig(c: ModelConfig): GptBigCodeConfig {
  const shape = parseGpt2Shape(c, 'gelu_pytorch_tanh');
  acceptOnly(c, 'add_cross_attention', [false], 'cross-attention blocks of an encoder-decoder');
  return { ...shape, multiQuery: c.multi_query !== false, scale: c.scale_attn_weights === false ? 1 : 1 / Math.sqrt(shape.hidden / shape.heads) };
}

export const gpt_bigcode: Family = {
  modelTypes: ['gpt_bigcode'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, maxPositions, inner, eps, act, multiQuery, scale } = parseGptBigCodeConfig(c);
    const headDim = hidden / heads;
    const kvHeads = multiQuery ? 1 : heads;
    const qkvDim = hidden + 2 * kvHeads * headDim;
    const tensors = ckpt.scoped(PREFIXES);
    const site = selfSite(scale, [causalMaskInput()]);
    return {
      summary: summarize(c, { layers, heads, kvHeads, headDim, hidden, maxTokens: maxPositions, causal: true }),
      layerBytes: 4 * (hidden * qkvDim + hidden * hidden + 2 * hidden * inner),
      embed: (ids) => sumOfRows(tensors, [{ table: 'wte.weight', rows: ids }, { table: 'wpe.weight', rows: positionIds(ids.length) }]),
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `h.${i}.`, `l${i}`);
        const fused = w.linear('attn.c_attn', qkvDim, hidden, w.layerNorm('ln_1', hidden, x, eps)).y;
        const qkv = multiQuery ? toHeadsQkv(nn, splitConcatenatedQkv(nn, fused, hidden, headDim), heads, 1, headDim) : splitPerHeadQkv(nn, fused, heads, headDim);
        const attn = attend(nn, use, site, qkv, heads, headDim, (context) => w.linear('attn.c_proj', hidden, hidden, context));
        const h1 = nn.add(x, attn.y);
        const mlp = plainMlp(nn, w, w.layerNorm('ln_2', hidden, h1, eps), { up: 'mlp.c_fc', down: 'mlp.c_proj' }, hidden, inner, act);
        return { hidden: nn.add(h1, mlp), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('ln_f', hidden, x, eps);
      },
      lmHead: lmHead(ckpt.config, tensors, { embedding: 'wte.weight', tiedByDefault: true }),
    };
  },
};
