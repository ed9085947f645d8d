/**
 * The encoder and decoder stacks of the BART family (bart, marian, mbart and their relatives), as
 * transformers' modeling_bart / modeling_marian / modeling_mbart write them. What the families
 * share: learned or sinusoidal absolute positions added to the word embeddings (optionally times
 * √d_model, optionally LayerNorm'd: `layernorm_embedding`), attention with biases on q/k/v/out and
 * q scaled by 1/√d, a two-layer MLP (`fc1`, `fc2`) and torch's default LayerNorm epsilon. What the
 * family file chooses (`BartStyle`): post-LN (BART, Marian) or pre-LN with a final `layer_norm` per
 * stack (mBART), the positions, and the decoder's shift-right.
 */
import { acceptOnly, configInt, crossSite, encoderOutput, selfSite, summarize, type Architecture, type AttentionSite, type DecoderStack, type EncoderDecoderArchitecture, type UseInput } from '../../engine/architecture';
import type { Checkpoint, ModelConfig, ScopedTensors } from '../../engine/checkpoint';
import { layerNormRows, type Nn } from '../../engine/onnx/layers';
import { attend } from './attention';
import { positionIds } from './embeddings';
import { causalMaskInput } from './masks';
import { plainMlp } from './mlp';
import { toHeadsQkv } from './qkv';
import { layerWeights, readNumbers, readOptionalNumbers, type LayerWeights } from './weights';
import { lmHead } from './lmHead';

/** nn.LayerNorm's default; no BART-family config key changes it. */
const LAYER_NORM_EPS = 1e-5;
/** BartLearnedPositionalEmbedding's fixed row offset (also mBART's). */
const LEARNED_POSITION_OFFSET = 2;
const SUPPORTED_ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu', 'silu', 'swish'];
const PREFIXES = ['model.', ''];

export interface BartStyle {
  /** mBART: LayerNorm before each sublayer, and a final `layer_norm` after each stack. */
  preNorm: boolean;
  /** `layernorm_embedding` after word + position embeddings (BART, mBART; not Marian). */
  embeddingNorm: boolean;
  /** Learned `embed_positions` (rows offset by 2) or sinusoidal tables computed here (Marian). */
  positions: 'learned' | 'sinusoidal';
  /** The decoder's input ids from the tokenizer's ids for the decoder text. */
  decoderInputIds(labels: number[], config: BartConfig): number[];
}

export interface BartConfig {
  hidden: number;
  encoderLayers: number;
  decoderLayers: number;
  encoderHeads: number;
  decoderHeads: number;
  encoderFfn: number;
  decoderFfn: number;
  act: string;
  maxPositions: number;
  /** √d_model when `scale_embedding`, else 1. */
  embedScale: number;
  padId: number;
  decoderStart: number | undefined;
}

/** Parses the config keys the BART family shares, refusing activations the graph does not implement. */
export function parseBartConfig(c: ModelConfig): BartConfig {
  acceptOnly(c, 'activation_function', SUPPORTED_ACTIVATIONS, `supported: ${SUPPORTED_ACTIVATIONS.join(', ')}`);
  const hidden = configInt(c, 'd_model');
  return {
    hidden,
    encoderLayers: configInt(c, 'encoder_layers'),
    decoderLayers: configInt(c, 'decoder_layers'),
    encoderHeads: configInt(c, 'encoder_attention_heads'),
    decoderHeads: configInt(c, 'decoder_attention_heads'),
    encoderFfn: configInt(c, 'encoder_ffn_dim'),
    decoderFfn: configInt(c, 'decoder_ffn_dim'),
    act: String(c.activation_function ?? 'gelu'),
    maxPositions: configInt(c, 'max_position_embeddings'),
    embedScale: c.scale_embedding === true ? Math.sqrt(hidden) : 1,
    padId: typeof c.pad_token_id === 'number' ? c.pad_token_id : 1,
    decoderStart: typeof c.decoder_start_token_id === 'number' ? c.decoder_start_token_id : undefined,
  };
}

/**
 * Marian's sinusoidal table rows for positions 0..n-1: for dimension pair i, angle p / 10000^(2i/d),
 * sin in column i and cos in column d/2 + i (computed in double, stored as float32, as numpy then
 * torch do).
 */
export function sinusoidalPositions(n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  const half = Math.ceil(dim / 2);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p / 10000 ** ((2 * i) / dim);
      out[p * dim + i] = Math.sin(angle);
      if (half + i < dim) out[p * dim + half + i] = Math.cos(angle);
    }
  }
  return out;
}

interface StackShape {
  name: 'encoder' | 'decoder';
  layers: number;
  heads: number;
  ffn: number;
}

/** A stack's word embedding: its own `embed_tokens`, or the `shared` table tied checkpoints keep. */
function embeddingTableOf(tensors: ScopedTensors, stack: string): string {
  return tensors.has(`${stack}.embed_tokens.weight`) ? `${stack}.embed_tokens.weight` : 'shared.weight';
}

/** word · embedScale + position, then `layernorm_embedding` where the style has one. */
function embedder(tensors: ScopedTensors, cfg: BartConfig, style: BartStyle, stack: string): (ids: number[]) => Float32Array {
  const { hidden, embedScale } = cfg;
  const table = embeddingTableOf(tensors, stack);
  const norm = style.embeddingNorm
    ? { weight: readNumbers(tensors, `${stack}.layernorm_embedding.weight`, [hidden]), bias: readOptionalNumbers(tensors, `${stack}.layernorm_embedding.bias`, [hidden]) }
    : undefined;
  const scale = Math.fround(embedScale);
  return (ids) => {
    const words = tensors.rows(table, ids);
    const positions = style.positions === 'learned' ? tensors.rows(`${stack}.embed_positions.weight`, positionIds(ids.length, LEARNED_POSITION_OFFSET)) : sinusoidalPositions(ids.length, hidden);
    const out = new Float32Array(words.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(Math.fround(words[i] * scale) + positions[i]);
    return norm ? layerNormRows(out, hidden, norm.weight, norm.bias, LAYER_NORM_EPS) : out;
  };
}

/** `self_attn` or `encoder_attn` (keys and values from `keysFrom`): biased projections, q·k / √d. */
function bartAttention(nn: Nn, w: LayerWeights, use: UseInput, site: AttentionSite, name: string, hidden: number, heads: number, x: string, keysFrom: string = x) {
  const headDim = hidden / heads;
  const proj = (p: string, from: string) => w.linear(`${name}.${p}`, hidden, hidden, from).y;
  const qkv = toHeadsQkv(nn, { q: proj('q_proj', x), k: proj('k_proj', keysFrom), v: proj('v_proj', keysFrom) }, heads, heads, headDim);
  return attend(nn, use, site, qkv, heads, headDim, (context) => w.linear(`${name}.out_proj`, hidden, hidden, context));
}

/** A residual sublayer, post-LN `norm(x + f(x))` or pre-LN `x + f(norm(x))`. */
function sublayer(nn: Nn, w: LayerWeights, preNorm: boolean, normName: string, hidden: number, x: string, f: (input: string) => string): string {
  if (preNorm) return nn.add(x, f(w.layerNorm(normName, hidden, x, LAYER_NORM_EPS)));
  return w.layerNorm(normName, hidden, nn.add(x, f(x)), LAYER_NORM_EPS);
}

function stackBase(ckpt: Checkpoint, tensors: ScopedTensors, cfg: BartConfig, style: BartStyle, shape: StackShape, causal: boolean): Omit<Architecture, 'buildLayer' | 'site'> {
  const { hidden } = cfg;
  const attentions = shape.name === 'decoder' ? 2 : 1;
  const final = style.preNorm
    ? (nn: Nn, x: string) => layerWeights(nn, tensors, `${shape.name}.`, `${shape.name}_final`).layerNorm('layer_norm', hidden, x, LAYER_NORM_EPS)
    : undefined;
  return {
    summary: summarize(ckpt.config, { layers: shape.layers, heads: shape.heads, headDim: hidden / shape.heads, hidden, maxTokens: cfg.maxPositions, causal }),
    layerBytes: 4 * (4 * attentions * hidden * hidden + 2 * hidden * shape.ffn),
    embed: embedder(tensors, cfg, style, shape.name),
    ...(final ? { buildFinal: final } : {}),
  };
}

/** Both stacks of a BART-family checkpoint. */
export function createBartStacks(ckpt: Checkpoint, cfg: BartConfig, style: BartStyle): EncoderDecoderArchitecture {
  const { hidden, act } = cfg;
  const tensors = ckpt.scoped(PREFIXES);
  const enc: StackShape = { name: 'encoder', layers: cfg.encoderLayers, heads: cfg.encoderHeads, ffn: cfg.encoderFfn };
  const dec: StackShape = { name: 'decoder', layers: cfg.decoderLayers, heads: cfg.decoderHeads, ffn: cfg.decoderFfn };
  const encoderSite = selfSite(1 / Math.sqrt(hidden / enc.heads));
  const decoderSite = selfSite(1 / Math.sqrt(hidden / dec.heads), [causalMaskInput()]);
  const cross = crossSite(1 / Math.sqrt(hidden / dec.heads));
  const encoded = encoderOutput(hidden);
  const mlp = (nn: Nn, w: LayerWeights, ffn: number) => (x: string) => plainMlp(nn, w, x, { up: 'fc1', down: 'fc2' }, hidden, ffn, act);

  const encoder: Architecture = {
    ...stackBase(ckpt, tensors, cfg, style, enc, false),
    site: () => encoderSite,
    buildLayer(nn, i, x, use) {
      const w = layerWeights(nn, tensors, `encoder.layers.${i}.`, `e${i}`);
      let outputs: ReturnType<typeof bartAttention>['outputs'] | undefined;
      const h = sublayer(nn, w, style.preNorm, 'self_attn_layer_norm', hidden, x, (input) => {
        const attn = bartAttention(nn, w, use, encoderSite, 'self_attn', hidden, enc.heads, input);
        outputs = attn.outputs;
        return attn.y;
      });
      return { hidden: sublayer(nn, w, style.preNorm, 'final_layer_norm', hidden, h, mlp(nn, w, enc.ffn)), ...outputs! };
    },
  };

  const decoder: DecoderStack = {
    ...stackBase(ckpt, tensors, cfg, style, dec, true),
    site: () => decoderSite,
    crossSite: () => cross,
    decoderInputIds: (labels) => style.decoderInputIds(labels, cfg),
    // BART, mBART and Marian: the head is the (shared) decoder embedding, plus final_logits_bias.
    lmHead: lmHead(ckpt.config, tensors, { embedding: embeddingTableOf(tensors, 'decoder'), tiedByDefault: true, width: hidden, logitBias: 'final_logits_bias' }),
    buildLayer(nn, i, x, use) {
      const w = layerWeights(nn, tensors, `decoder.layers.${i}.`, `d${i}`);
      let self: ReturnType<typeof bartAttention>['outputs'] | undefined;
      let crossOutputs: ReturnType<typeof bartAttention>['outputs'] | undefined;
      const h1 = sublayer(nn, w, style.preNorm, 'self_attn_layer_norm', hidden, x, (input) => {
        const attn = bartAttention(nn, w, use, decoderSite, 'self_attn', hidden, dec.heads, input);
        self = attn.outputs;
        return attn.y;
      });
      const h2 = sublayer(nn, w, style.preNorm, 'encoder_attn_layer_norm', hidden, h1, (input) => {
        const attn = bartAttention(nn, w, use, cross, 'encoder_attn', hidden, dec.heads, input, use(encoded));
        crossOutputs = attn.outputs;
        return attn.y;
      });
      return { hidden: sublayer(nn, w, style.preNorm, 'final_layer_norm', hidden, h2, mlp(nn, w, dec.ffn)), ...self!, cross: crossOutputs! };
    },
  };
  return { encoder, decoder };
}

/** transformers' `shift_tokens_right` (BART, Marian): the decoder start token, then `labels[:-1]`. */
export function shiftRight(labels: number[], start: number): number[] {
  return [start, ...labels.slice(0, -1)];
}
