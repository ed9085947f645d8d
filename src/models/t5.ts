/**
 * T5 encoder self-attention (the encoder stack of T5, T5EncoderModel and T5ForConditionalGeneration
 * checkpoints; the decoder is never built). How it differs from BERT:
 * - no absolute positions: a learned bias per head and relative-position bucket is added to the
 *   logits. Only layer 0 owns the `relative_attention_bias` table; transformers computes the bias
 *   there and passes it on to every later layer, so it is one `[heads, n, n]` position input here;
 * - q·k is not scaled by 1/√d (the scaling is folded into the initialisation);
 * - pre-norm with T5's RMS norm (no mean subtraction, no bias) and a final_layer_norm;
 * - no biases anywhere; the feed-forward is `act(wi(x))` or, for "gated-*" `feed_forward_proj`,
 *   `act(wi_0(x)) · wi_1(x)`, then `wo`.
 */
import { configInt, configNumber, summarize, type Architecture, type PositionInput } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { EngineError } from '../engine/errors';

const PREFIXES = ['encoder.'];
const f = Math.fround;

/**
 * The bucket of a bidirectional relative position (key − query), as transformers'
 * `_relative_position_bucket` computes it: half of the buckets for keys after the query; within
 * each half, exact buckets for distances below `numBuckets / 4` and logarithmic ones up to
 * `maxDistance`. The logarithm runs in float32 steps like torch, so bucket edges agree.
 */
export function relativePositionBucket(relative: number, numBuckets: number, maxDistance: number): number {
  const half = Math.floor(numBuckets / 2);
  const offset = relative > 0 ? half : 0;
  const distance = Math.abs(relative);
  const maxExact = Math.floor(half / 2);
  if (distance < maxExact) return offset + distance;
  const ratio = f(f(Math.log(f(distance / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(ratio * (half - maxExact)));
  return offset + Math.min(large, half - 1);
}

/** `[heads, n, n]` position bias from layer 0's `[numBuckets, heads]` table. */
export function relativePositionBias(table: Float32Array, heads: number, n: number, numBuckets: number, maxDistance: number): PositionInput {
  const data = new Float32Array(heads * n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const bucket = relativePositionBucket(j - i, numBuckets, maxDistance);
      for (let h = 0; h < heads; h++) data[(h * n + i) * n + j] = table[bucket * heads + h];
    }
  }
  return { data, dims: [heads, n, n] };
}

/** `feed_forward_proj` → activation and gating, as T5Config parses it ("gated-gelu" means gelu_new). */
function feedForward(config: Record<string, unknown>): { act: string; gated: boolean } {
  const spec = String(config.feed_forward_proj ?? 'relu');
  const parts = spec.split('-');
  const gated = parts[0] === 'gated';
  if (parts.length > 2 || (parts.length === 2 && !gated)) {
    throw new EngineError('bad-checkpoint', `config.json's feed_forward_proj "${spec}" is not valid: it should be an activation ("relu") or "gated-" and one ("gated-gelu").`);
  }
  const act = spec === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  return { act, gated };
}

export function createT5(ckpt: Checkpoint): Architecture {
  const c = ckpt.config;
  const hidden = configInt(c, 'd_model');
  const heads = configInt(c, 'num_heads');
  const headDim = configInt(c, 'd_kv');
  const layers = configInt(c, 'num_layers');
  const ffDim = configInt(c, 'd_ff');
  const numBuckets = configInt(c, 'relative_attention_num_buckets');
  const maxDistance = configInt(c, 'relative_attention_max_distance');
  const eps = configNumber(c, 1e-6, 'layer_norm_epsilon');
  const { act, gated } = feedForward(c);
  const inner = heads * headDim;
  const { tensor: t, read } = ckpt.scoped(PREFIXES);
  const biasTable = read('block.0.layer.0.SelfAttention.relative_attention_bias.weight', [numBuckets, heads]);
  // The input embedding is `shared` in full T5 checkpoints and `encoder.embed_tokens` when saved alone.
  const embeddingName = ckpt.has('shared.weight', []) ? 'shared.weight' : 'embed_tokens.weight';
  return {
    // Relative positions: no table bounds the length.
    summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: null, causal: false }),
    scale: 1,
    softcap: null,
    layerBytes: 4 * (4 * hidden * inner + (gated ? 3 : 2) * hidden * ffDim),
    embed(ids) {
      return ckpt.rows(embeddingName, PREFIXES, ids);
    },
    positionInputs: (n) => ({ position_bias: relativePositionBias(biasTable, heads, n, numBuckets, maxDistance) }),
    positionInputShapes: () => ({ position_bias: [heads, 'n', 'n'] }),
    logitBiasInput: () => 'position_bias',
    buildLayer(nn, i, x, use) {
      const p = `block.${i}.layer.`;
      const proj = (name: string, out: number, inp: number, src: string) => nn.linear(src, t(`${p}${name}.weight`, [out, inp]), out, inp, undefined, `l${i}.${name}`);
      const norm = (src: string, sub: number) => nn.rmsNorm(src, t(`${p}${sub}.layer_norm.weight`, [hidden]), eps, `l${i}.${sub}.layer_norm`);
      const h = norm(x, 0);
      const q = nn.toHeads(proj('0.SelfAttention.q', inner, hidden, h).y, heads, headDim);
      const k = nn.toHeads(proj('0.SelfAttention.k', inner, hidden, h).y, heads, headDim);
      const v = nn.toHeads(proj('0.SelfAttention.v', inner, hidden, h).y, heads, headDim);
      const attn = nn.attention(q, k, v, 1, use('position_bias'), null);
      const out = proj('0.SelfAttention.o', hidden, inner, nn.fromHeads(attn.context, heads, headDim));
      const h1 = nn.add(x, out.y);
      const ffIn = norm(h1, 1);
      const activated = gated
        ? nn.mul(nn.activation(proj('1.DenseReluDense.wi_0', ffDim, hidden, ffIn).y, act), proj('1.DenseReluDense.wi_1', ffDim, hidden, ffIn).y)
        : nn.activation(proj('1.DenseReluDense.wi', ffDim, hidden, ffIn).y, act);
      const ff = proj('1.DenseReluDense.wo', hidden, ffDim, activated);
      return { hidden: nn.add(h1, ff.y), probs: attn.probs, valueNorms: nn.valueNorms(v, out.weightInOut, heads, headDim, hidden), q, k, v };
    },
    buildFinal(nn, x) {
      return nn.rmsNorm(x, t('final_layer_norm.weight', [hidden]), eps, 'final_layer_norm');
    },
  };
}
