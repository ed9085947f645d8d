/**
 * BLOOM (bigscience/bloom-560m … bloom, bloomz): a pre-norm causal decoder like GPT-NeoX, but with
 * ALiBi instead of positions (slope_h · key position added to q·k/√d), a LayerNorm on the word
 * embeddings (`word_embeddings_layernorm`, part of hidden_states[0]), one `query_key_value`
 * projection laid out per head `[heads, 3, d]`, and tanh-approximated GELU. bigscience's own
 * checkpoints store names without the `transformer.` prefix and spell the config `n_embed` /
 * `num_attention_heads`; both spellings are read. `apply_residual_connection_post_layernorm` (the
 * residual taken after the norm) is refused.
 */
import { acceptOnly, configInt, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { layerNormRows } from '../engine/onnx/layers';
import { attend } from './blocks/attention';
import { alibiInput, causalMaskInput } from './blocks/masks';
import { plainMlp } from './blocks/mlp';
import { splitPerHeadQkv } from './blocks/qkv';
import { layerWeights, readNumbers } from './blocks/weights';
import { lmHead } from './blocks/lmHead';

const PREFIXES = ['transformer.'];

export interface BloomConfig {
  hidden: number;
  heads: number;
  layers: number;
  eps: number;
}

export function parseBloomConfig(c: ModelConfig): BloomConfig {
  acceptOnly(c, 'apply_residual_connection_post_layernorm', [false], 'the residual taken after the layer norm');
  // pretraining_tp / slow_but_exact only split the output projections into slices: the same sums.
  return {
    // BloomConfig: n_embed, when given, wins over hidden_size; num_attention_heads / num_hidden_layers over n_head / n_layer.
    hidden: configInt(c, 'n_embed', 'hidden_size'),
    heads: configInt(c, 'num_attention_heads', 'n_head'),
    layers: configInt(c, 'num_hidden_layers', 'n_layer'),
    eps: configNumber(c, 1e-5, 'layer_norm_epsilon'),
  };
}

export const bloom: Family = {
  modelTypes: ['bloom'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, eps } = parseBloomConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const embNorm = { weight: readNumbers(tensors, 'word_embeddings_layernorm.weight', [hidden]), bias: readNumbers(tensors, 'word_embeddings_layernorm.bias', [hidden]) };
    // BloomAttention: baddbmm(alibi, q, kᵀ, beta = 1, alpha = 1/√d), so ALiBi is added after the scaling.
    const site = selfSite(1 / Math.sqrt(headDim), [causalMaskInput(), alibiInput(heads)]);
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: null, causal: true }),
      layerBytes: 4 * (4 * hidden * hidden + 8 * hidden * hidden),
      embed: (ids) => layerNormRows(tensors.rows('word_embeddings.weight', ids), hidden, embNorm.weight, embNorm.bias, eps),
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `h.${i}.`, `l${i}`);
        const qkv = splitPerHeadQkv(nn, w.linear('self_attention.query_key_value', 3 * hidden, hidden, w.layerNorm('input_layernorm', hidden, x, eps)).y, heads, headDim);
        const attn = attend(nn, use, site, qkv, heads, headDim, (context) => w.linear('self_attention.dense', hidden, hidden, context));
        const h1 = nn.add(x, attn.y);
        // BloomGelu is the tanh approximation.
        const mlp = plainMlp(nn, w, w.layerNorm('post_attention_layernorm', hidden, h1, eps), { up: 'mlp.dense_h_to_4h', down: 'mlp.dense_4h_to_h' }, hidden, 4 * hidden, 'gelu_new');
        return { hidden: nn.add(h1, mlp), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('ln_f', hidden, x, eps);
      },
      lmHead: lmHead(ckpt.config, tensors, { embedding: 'word_embeddings.weight', tiedByDefault: true }),
    };
  },
};
