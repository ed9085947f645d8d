/**
 * T5 (t5-small … t5-11b v1.0, google/t5-v1_1-*, flan-t5, T5EncoderModel): an encoder-decoder whose
 * encoder stack alone is also a checkpoint (T5EncoderModel; then only the encoder is built). How
 * it differs from BERT:
 * - no absolute positions: a learned bias per head and relative-position bucket is added to the
 *   self-attention logits. Only block 0 of each stack owns a `relative_attention_bias` table;
 *   transformers computes the bias there and passes it on to every later block, so it is one
 *   `[heads, n, n]` logit term per stack (bidirectional buckets in the encoder, causal ones in the
 *   decoder). Cross-attention (`EncDecAttention`) has no position bias;
 * - q·k is not scaled by 1/√d (the scaling is folded into the initialisation);
 * - pre-norm with T5's RMS norm (no mean subtraction, no bias) and a final_layer_norm per stack;
 * - no biases anywhere; the feed-forward is `act(wi(x))` (v1.0) or, for "gated-*"
 *   `feed_forward_proj` (v1.1, flan-t5), `act(wi_0(x)) · wi_1(x)`, then `wo`;
 * - decoder inputs: `[decoder_start_token_id] + labels[:-1]`.
 */
import { acceptOnly, configInt, configNumber, crossSite, encoderOutput, refuseOption, selfSite, summarize, type Architecture, type AttentionSite, type DecoderStack, type Family, type UseInput } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import type { Nn } from '../engine/onnx/layers';
import type { ModelConfig } from '../engine/checkpoint';
import { EngineError } from '../engine/errors';
import { attend } from './blocks/attention';
import { gatedMlp, plainMlp } from './blocks/mlp';
import { toHeadsQkv } from './blocks/qkv';
import { causalMaskInput } from './blocks/masks';
import { relativeBiasInput } from './blocks/relative';
import { layerWeights, readNumbers, type LayerWeights } from './blocks/weights';
import { lmHead } from './blocks/lmHead';


export interface T5Config {
  hidden: number;
  heads: number;
  headDim: number;
  layers: number;
  decoderLayers: number;
  decoderStart: number;
  ffDim: number;
  numBuckets: number;
  maxDistance: number;
  eps: number;
  act: string;
  gated: boolean;
}

const SUPPORTED_ACTIVATIONS = ['relu', 'gelu', 'gelu_new', 'silu', 'swish'];

/** `feed_forward_proj` → activation and gating, as T5Config parses it ("gated-gelu" means gelu_new). */
function feedForward(config: ModelConfig): { act: string; gated: boolean } {
  const spec = String(config.feed_forward_proj ?? 'relu');
  const parts = spec.split('-');
  const gated = parts[0] === 'gated';
  if (parts.length > 2 || (parts.length === 2 && !gated)) {
    throw new EngineError('bad-checkpoint', `config.json's feed_forward_proj "${spec}" is not valid: it should be an activation ("relu") or "gated-" and one ("gated-gelu").`);
  }
  const act = spec === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  if (!SUPPORTED_ACTIVATIONS.includes(act)) refuseOption(config, 'feed_forward_proj', `supported activations: ${SUPPORTED_ACTIVATIONS.join(', ')}`);
  return { act, gated };
}

export function parseT5Config(c: ModelConfig): T5Config {
  // A decoder-only use of the stacks (T5 as a causal LM) is not a T5 checkpoint layout we build.
  acceptOnly(c, 'is_decoder', [false]);
  const layers = configInt(c, 'num_layers');
  return {
    hidden: configInt(c, 'd_model'),
    heads: configInt(c, 'num_heads'),
    headDim: configInt(c, 'd_kv'),
    layers,
    decoderLayers: typeof c.num_decoder_layers === 'number' ? configInt(c, 'num_decoder_layers') : layers,
    decoderStart: typeof c.decoder_start_token_id === 'number' ? c.decoder_start_token_id : typeof c.pad_token_id === 'number' ? c.pad_token_id : 0,
    ffDim: configInt(c, 'd_ff'),
    numBuckets: configInt(c, 'relative_attention_num_buckets'),
    maxDistance: configInt(c, 'relative_attention_max_distance'),
    eps: configNumber(c, 1e-6, 'layer_norm_epsilon'),
    ...feedForward(c),
  };
}

/** The input embedding: `shared` in full T5 checkpoints, `<stack>.embed_tokens` when a stack is saved alone. */
function embeddingTable(ckpt: Checkpoint, stack: string): string {
  return ckpt.has('shared.weight', []) ? 'shared.weight' : `${stack}embed_tokens.weight`;
}

/** Self-attention (`SelfAttention`) or cross-attention (`EncDecAttention`, keys and values from the encoder). */
function t5Attention(nn: Nn, w: LayerWeights, use: UseInput, site: AttentionSite, cfg: T5Config, name: string, x: string, keysFrom: string = x) {
  const { hidden, heads, headDim } = cfg;
  const inner = heads * headDim;
  const proj = (p: string, from: string) => w.linear(`${name}.${p}`, inner, hidden, from, 'none').y;
  const qkv = toHeadsQkv(nn, { q: proj('q', x), k: proj('k', keysFrom), v: proj('v', keysFrom) }, heads, heads, headDim);
  return attend(nn, use, site, qkv, heads, headDim, (context) => w.linear(`${name}.o`, hidden, inner, context, 'none'));
}

function t5FeedForward(nn: Nn, w: LayerWeights, cfg: T5Config, sub: number, x: string): string {
  const { hidden, ffDim, eps, act, gated } = cfg;
  const ffIn = w.rmsNorm(`${sub}.layer_norm`, hidden, x, eps);
  const ff = gated
    ? gatedMlp(nn, w, ffIn, { gate: `${sub}.DenseReluDense.wi_0`, up: `${sub}.DenseReluDense.wi_1`, down: `${sub}.DenseReluDense.wo` }, hidden, ffDim, act)
    : plainMlp(nn, w, ffIn, { up: `${sub}.DenseReluDense.wi`, down: `${sub}.DenseReluDense.wo` }, hidden, ffDim, act);
  return nn.add(x, ff);
}

function layerBytes(cfg: T5Config, attentions: number): number {
  const inner = cfg.heads * cfg.headDim;
  return 4 * (4 * attentions * cfg.hidden * inner + (cfg.gated ? 3 : 2) * cfg.hidden * cfg.ffDim);
}

/** The encoder stack: bidirectional relative bias, self-attention and feed-forward per block. */
function encoderStack(ckpt: Checkpoint, cfg: T5Config): Architecture {
  const c = ckpt.config;
  const { hidden, heads, headDim, layers, numBuckets, maxDistance, eps } = cfg;
  const tensors = ckpt.scoped(['encoder.']);
  const table = readNumbers(tensors, 'block.0.layer.0.SelfAttention.relative_attention_bias.weight', [numBuckets, heads]);
  const site = selfSite(1, [relativeBiasInput('position_bias', table, heads, numBuckets, maxDistance)]);
  const embedding = embeddingTable(ckpt, '');
  return {
    // Relative positions: no table bounds the length.
    summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: null, causal: false }),
    layerBytes: layerBytes(cfg, 1),
    embed: (ids) => tensors.rows(embedding, ids),
    site: () => site,
    buildLayer(nn, i, x, use) {
      const w = layerWeights(nn, tensors, `block.${i}.layer.`, `l${i}`);
      const attn = t5Attention(nn, w, use, site, cfg, '0.SelfAttention', w.rmsNorm('0.layer_norm', hidden, x, eps));
      return { hidden: t5FeedForward(nn, w, cfg, 1, nn.add(x, attn.y)), ...attn.outputs };
    },
    buildFinal(nn, x) {
      return layerWeights(nn, tensors, '', 'final').rmsNorm('final_layer_norm', hidden, x, eps);
    },
  };
}

/** The decoder stack: causal relative bias and mask, self-attention, cross-attention, feed-forward per block. */
function decoderStack(ckpt: Checkpoint, cfg: T5Config): DecoderStack {
  const c = ckpt.config;
  const { hidden, heads, headDim, decoderLayers, numBuckets, maxDistance, eps, decoderStart } = cfg;
  const tensors = ckpt.scoped(['decoder.']);
  const table = readNumbers(tensors, 'block.0.layer.0.SelfAttention.relative_attention_bias.weight', [numBuckets, heads]);
  const self = selfSite(1, [relativeBiasInput('position_bias', table, heads, numBuckets, maxDistance, false), causalMaskInput()]);
  const cross = crossSite(1);
  const encoded = encoderOutput(hidden);
  const embedding = embeddingTable(ckpt, 'decoder.');
  return {
    summary: summarize(c, { layers: decoderLayers, heads, headDim, hidden, maxTokens: null, causal: true }),
    layerBytes: layerBytes(cfg, 2),
    embed: (ids) => tensors.rows(embedding, ids),
    site: () => self,
    crossSite: () => cross,
    decoderInputIds: (labels) => [decoderStart, ...labels.slice(0, -1)],
    buildLayer(nn, i, x, use) {
      const w = layerWeights(nn, tensors, `block.${i}.layer.`, `d${i}`);
      const attn = t5Attention(nn, w, use, self, cfg, '0.SelfAttention', w.rmsNorm('0.layer_norm', hidden, x, eps));
      const h1 = nn.add(x, attn.y);
      const crossAttn = t5Attention(nn, w, use, cross, cfg, '1.EncDecAttention', w.rmsNorm('1.layer_norm', hidden, h1, eps), use(encoded));
      return { hidden: t5FeedForward(nn, w, cfg, 2, nn.add(h1, crossAttn.y)), ...attn.outputs, cross: crossAttn.outputs };
    },
    buildFinal(nn, x) {
      return layerWeights(nn, tensors, '', 'final').rmsNorm('final_layer_norm', hidden, x, eps);
    },
    // T5ForConditionalGeneration scales the decoder output by d_model^-0.5 when the head is the tied embedding.
    lmHead: lmHead(c, tensors, { embedding, tiedByDefault: true, width: hidden, inputScale: (tied) => (tied ? hidden ** -0.5 : 1) }),
  };
}

export const t5: Family = {
  modelTypes: ['t5'],
  create(ckpt) {
    const cfg = parseT5Config(ckpt.config);
    const architectures = Array.isArray(ckpt.config.architectures) ? ckpt.config.architectures : [];
    // T5EncoderModel checkpoints hold the encoder only.
    const encoderOnly = architectures.includes('T5EncoderModel') || !ckpt.has('decoder.block.0.layer.0.SelfAttention.q.weight', []);
    const encoder = encoderStack(ckpt, cfg);
    return encoderOnly ? encoder : { encoder, decoder: decoderStack(ckpt, cfg) };
  },
};
