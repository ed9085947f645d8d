/**
 * T5 encoder self-attention (the encoder stack of T5, T5EncoderModel and T5ForConditionalGeneration
 * checkpoints; the decoder is never built). How it differs from BERT:
 * - no absolute positions: a learned bias per head and relative-position bucket is added to the
 *   logits. Only layer 0 owns the `relative_attention_bias` table; transformers computes the bias
 *   there and passes it on to every later layer, so it is one `[heads, n, n]` logit term here;
 * - q·k is not scaled by 1/√d (the scaling is folded into the initialisation);
 * - pre-norm with T5's RMS norm (no mean subtraction, no bias) and a final_layer_norm;
 * - no biases anywhere; the feed-forward is `act(wi(x))` or, for "gated-*" `feed_forward_proj`,
 *   `act(wi_0(x)) · wi_1(x)`, then `wo`.
 */
import { configInt, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { EngineError } from '../engine/errors';
import { attend } from './blocks/attention';
import { gatedMlp, plainMlp } from './blocks/mlp';
import { toHeadsQkv } from './blocks/qkv';
import { relativeBiasInput } from './blocks/relative';
import { layerWeights, readNumbers } from './blocks/weights';

const PREFIXES = ['encoder.'];

export interface T5Config {
  hidden: number;
  heads: number;
  headDim: number;
  layers: number;
  ffDim: number;
  numBuckets: number;
  maxDistance: number;
  eps: number;
  act: string;
  gated: boolean;
}

/** `feed_forward_proj` → activation and gating, as T5Config parses it ("gated-gelu" means gelu_new). */
function feedForward(config: ModelConfig): { act: string; gated: boolean } {
  const spec = String(config.feed_forward_proj ?? 'relu');
  const parts = spec.split('-');
  const gated = parts[0] === 'gated';
  if (parts.length > 2 || (parts.length === 2 && !gated)) {
    throw new EngineError('bad-checkpoint', `config.json's feed_forward_proj "${spec}" is not valid: it should be an activation ("relu") or "gated-" and one ("gated-gelu").`);
  }
  const act = spec === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  return { act, gated };
}

export function parseT5Config(c: ModelConfig): T5Config {
  return {
    hidden: configInt(c, 'd_model'),
    heads: configInt(c, 'num_heads'),
    headDim: configInt(c, 'd_kv'),
    layers: configInt(c, 'num_layers'),
    ffDim: configInt(c, 'd_ff'),
    numBuckets: configInt(c, 'relative_attention_num_buckets'),
    maxDistance: configInt(c, 'relative_attention_max_distance'),
    eps: configNumber(c, 1e-6, 'layer_norm_epsilon'),
    ...feedForward(c),
  };
}

export const t5: Family = {
  modelTypes: ['t5'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, headDim, layers, ffDim, numBuckets, maxDistance, eps, act, gated } = parseT5Config(c);
    const inner = heads * headDim;
    const tensors = ckpt.scoped(PREFIXES);
    const table = readNumbers(tensors, 'block.0.layer.0.SelfAttention.relative_attention_bias.weight', [numBuckets, heads]);
    const site = selfSite(1, [relativeBiasInput('position_bias', table, heads, numBuckets, maxDistance)]);
    // The input embedding is `shared` in full T5 checkpoints and `encoder.embed_tokens` when saved alone.
    const embeddingName = ckpt.has('shared.weight', []) ? 'shared.weight' : 'embed_tokens.weight';
    return {
      // Relative positions: no table bounds the length.
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: null, causal: false }),
      layerBytes: 4 * (4 * hidden * inner + (gated ? 3 : 2) * hidden * ffDim),
      embed: (ids) => tensors.rows(embeddingName, ids),
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `block.${i}.layer.`, `l${i}`);
        const h = w.rmsNorm('0.layer_norm', hidden, x, eps);
        const proj = (name: string) => w.linear(`0.SelfAttention.${name}`, inner, hidden, h, 'none').y;
        const attn = attend(nn, use, site, toHeadsQkv(nn, { q: proj('q'), k: proj('k'), v: proj('v') }, heads, heads, headDim), heads, headDim, (context) => w.linear('0.SelfAttention.o', hidden, inner, context, 'none'));
        const h1 = nn.add(x, attn.y);
        const ffIn = w.rmsNorm('1.layer_norm', hidden, h1, eps);
        const ff = gated
          ? gatedMlp(nn, w, ffIn, { gate: '1.DenseReluDense.wi_0', up: '1.DenseReluDense.wi_1', down: '1.DenseReluDense.wo' }, hidden, ffDim, act)
          : plainMlp(nn, w, ffIn, { up: '1.DenseReluDense.wi', down: '1.DenseReluDense.wo' }, hidden, ffDim, act);
        return { hidden: nn.add(h1, ff), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').rmsNorm('final_layer_norm', hidden, x, eps);
      },
    };
  },
};
