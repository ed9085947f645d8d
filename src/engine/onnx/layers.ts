/**
 * Transformer building blocks expressed as ONNX nodes. Activations are `[n, hidden]` for the token
 * axis and `[heads, n, headDim]` inside attention; `n` stays symbolic so one session serves any
 * text length. Weights are `Weight`s (checkpoint references or graph values) used in the orientation
 * the checkpoint stores them; onnxruntime folds any constant reshaping once at session creation.
 */
import { EngineError } from '../errors';
import { quoted } from '../files';
import { GraphBuilder, MS_DOMAIN, type Weight } from './graph';

/** A family's projection sizes must be the stored weight's: a mismatch is a bug, caught while building. */
function checkDims(w: Weight, dims: number[]): Weight {
  if (typeof w !== 'string' && (w.shape.length !== dims.length || w.shape.some((d, i) => d !== dims[i]))) {
    throw new Error(`weight ${w.name} is [${w.shape.join(', ')}], the graph expects [${dims.join(', ')}]`);
  }
  return w;
}

/** The tensors one attention layer exposes. */
export interface AttentionOutputs {
  /** `[heads, n, n]` softmax probabilities. */
  probs: string;
  /** `[heads, n, n]` logits before softmax (scaled, soft-capped, bias added). */
  logits: string;
  /** `[n, heads * headDim]` weighted sum of values, before the output projection. */
  context: string;
}

export class Nn {
  /**
   * `headsPerChunk`: attention runs over this many heads at a time (`attention` with `split`), so
   * a long text's `[heads, n, n]` scores never exist for every head at once (4,096 tokens on a
   * 32-head model: 2.1 GB per copy). Default: all heads in one go.
   */
  constructor(
    readonly g: GraphBuilder,
    readonly headsPerChunk = Infinity,
  ) {}

  add(a: string, b: string): string {
    return this.g.op('Add', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.g.op('Mul', [a, b]);
  }

  /**
   * x @ Wᵀ + b for a torch Linear weight stored `[out, in]`: onnxruntime's MatMul with transB
   * (`com.microsoft` FusedMatMul), so the weight is used as stored and pre-packed once. Measured on
   * [8192 × 2048] weights at 128 tokens: as fast as MatMul on a pre-transposed weight and about
   * twice as fast as Gemm with transB; folding a Transpose instead doubled the load time.
   * `weightInOut` is the `[in, out]` view (for value norms), built only if asked for.
   */
  linear(x: string, weightOutIn: Weight, outDim: number, inDim: number, bias: Weight | undefined, hint: string): { y: string; weightInOut: string } {
    const w = this.g.use(checkDims(weightOutIn, [outDim, inDim]));
    const product = this.g.op('FusedMatMul', [x, w], { transB: 1 }, hint, MS_DOMAIN);
    const y = bias ? this.g.op('Add', [product, this.g.use(bias)], {}, hint) : product;
    let inOut: string | undefined;
    const g = this.g;
    return {
      y,
      get weightInOut() {
        inOut ??= g.op('Transpose', [w], { perm: [1, 0] }, `${hint}.weight_in_out`);
        return inOut;
      },
    };
  }

  /** x @ W + b for a weight already stored `[in, out]` (GPT-2's Conv1D). */
  linearInOut(x: string, weightInOut: Weight, inDim: number, outDim: number, bias: Weight | undefined, hint: string): { y: string; weightInOut: string } {
    const w = this.g.use(checkDims(weightInOut, [inDim, outDim]));
    const y = this.g.op('MatMul', [x, w], {}, hint);
    return { y: bias ? this.g.op('Add', [y, this.g.use(bias)], {}, hint) : y, weightInOut: w };
  }

  layerNorm(x: string, weight: Weight, bias: Weight | undefined, eps: number, hint: string): string {
    const inputs = [x, this.g.use(weight)];
    if (bias) inputs.push(this.g.use(bias));
    return this.g.op('LayerNormalization', inputs, { axis: -1, epsilon: { float: eps } }, hint);
  }

  /**
   * RMS norm: x / sqrt(mean(x²) + eps) * (offset + w). Gemma stores w so that the scale is (1 + w),
   * T5 and Llama use w itself.
   */
  rmsNorm(x: string, weight: Weight, eps: number, hint: string, offset = 0): string {
    const meanSquare = this.g.op('ReduceMean', [this.g.op('Mul', [x, x]), this.g.int64s([-1])], { keepdims: 1 });
    const rms = this.g.op('Sqrt', [this.g.op('Add', [meanSquare, this.g.scalar(eps)])]);
    const normed = this.g.op('Div', [x, rms]);
    // (offset + w) in float32, as transformers computes it; folded at session creation.
    const w = this.g.use(weight);
    const scale = offset === 0 ? w : this.g.op('Add', [w, this.g.scalar(offset)], {}, `${hint}.scale`);
    return this.g.op('Mul', [normed, scale], {}, hint);
  }

  /** GELU, exact (erf) or with the tanh approximation (GPT-2's "gelu_new", Gemma's "gelu_pytorch_tanh"). */
  gelu(x: string, kind: 'erf' | 'tanh'): string {
    return this.g.op('Gelu', [x], { approximate: kind === 'erf' ? 'none' : 'tanh' });
  }

  /**
   * GPT-2's "gelu_new" (transformers' NewGELUActivation) op by op as torch evaluates it,
   * 0.5·x · (1 + tanh(√(2/π)·(x + 0.044715·x³))), so float32 rounding follows the reference: the
   * fused Gelu kernel rounds differently, which T5 v1.1's unscaled attention logits amplify.
   */
  geluNew(x: string): string {
    const cube = this.g.op('Mul', [this.g.op('Mul', [x, x]), x]);
    const inner = this.g.op('Mul', [this.g.op('Add', [x, this.g.op('Mul', [cube, this.g.scalar(0.044715)])]), this.g.scalar(Math.sqrt(2 / Math.PI))]);
    return this.g.op('Mul', [this.g.op('Mul', [x, this.g.scalar(0.5)]), this.g.op('Add', [this.g.op('Tanh', [inner]), this.g.scalar(1)])]);
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  /** The activation named by a config's `hidden_act`. */
  activation(x: string, name: string): string {
    switch (name) {
      case 'gelu':
        return this.gelu(x, 'erf');
      case 'gelu_new':
        return this.geluNew(x);
      case 'gelu_pytorch_tanh':
      case 'gelu_fast':
        return this.gelu(x, 'tanh');
      case 'silu':
      case 'swish':
        return this.silu(x);
      case 'relu':
        return this.g.op('Relu', [x]);
      default:
        throw new EngineError('unsupported-architecture', `config.json's activation ${quoted(name)} is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, silu, swish, relu).`);
    }
  }

  /** `[n, heads·d]` → `[heads, n, d]`. */
  toHeads(x: string, heads: number, headDim: number): string {
    const shaped = this.g.op('Reshape', [x, this.g.int64s([-1, heads, headDim])]);
    return this.g.op('Transpose', [shaped], { perm: [1, 0, 2] });
  }

  /** `[heads, n, d]` → `[n, heads·d]`. */
  fromHeads(x: string, heads: number, headDim: number): string {
    const t = this.g.op('Transpose', [x], { perm: [1, 0, 2] });
    return this.g.op('Reshape', [t, this.g.int64s([-1, heads * headDim])]);
  }

  /** Grouped-query attention: `[kvHeads, n, d]` → `[kvHeads·groups, n, d]`; query head h uses key/value head ⌊h / groups⌋. */
  repeatKv(x: string, kvHeads: number, groups: number, headDim: number): string {
    if (groups === 1) return x;
    const expanded = this.g.op('Expand', [this.g.op('Unsqueeze', [x, this.g.int64s([1])]), this.g.int64s([kvHeads, groups, 1, 1])]);
    return this.g.op('Reshape', [expanded, this.g.int64s([kvHeads * groups, -1, headDim])]);
  }

  /**
   * Rotary embedding x·cos + rotate_half(x)·sin, with `cos`/`sin` `[n, headDim]` (ones and zeros past
   * the rotary dimensions for partial rotary). rotate_half is a fixed signed permutation, applied as
   * a MatMul with a ±1 matrix: exact, and no slicing in the graph.
   */
  rotary(x: string, cos: string, sin: string, headDim: number, rotaryDim: number): string {
    const half = rotaryDim / 2;
    const r = new Float32Array(headDim * headDim);
    for (let i = 0; i < half; i++) {
      r[(i + half) * headDim + i] = -1; // out[i] = -x[i + half]
      r[i * headDim + i + half] = 1; // out[i + half] = x[i]
    }
    const rotated = this.g.op('MatMul', [x, this.g.weight('rotate_half', r, [headDim, headDim])]);
    return this.g.op('Add', [this.g.op('Mul', [x, cos]), this.g.op('Mul', [rotated, sin])]);
  }

  /**
   * Eager attention as transformers computes it: softmax(q·kᵀ·scale [softcap] + bias)·v.
   * `bias` is an additive `[n, n]` or `[heads, n, n]` term (masks, relative positions).
   */
  attention(q: string, k: string, v: string, scale: number, bias: string | undefined, softcap: number | null, split?: { heads: number; biasHasHeads: boolean }): AttentionOutputs {
    if (split && split.heads > this.headsPerChunk) return this.attentionInChunks(q, k, v, scale, bias, softcap, split);
    let scores = this.g.op('MatMul', [q, this.g.op('Transpose', [k], { perm: [0, 2, 1] })], {}, 'scores');
    if (scale !== 1) scores = this.g.op('Mul', [scores, this.g.scalar(scale)]);
    if (softcap !== null) {
      scores = this.g.op('Mul', [this.g.op('Tanh', [this.g.op('Div', [scores, this.g.scalar(softcap)])]), this.g.scalar(softcap)]);
    }
    if (bias) scores = this.g.op('Add', [scores, bias]);
    const probs = this.g.op('Softmax', [scores], { axis: -1 }, 'probs');
    return { probs, logits: scores, context: this.g.op('MatMul', [probs, v], {}, 'context') };
  }

  /**
   * `attention` head chunk by head chunk, in graph order, so onnxruntime frees one chunk's scores
   * before it computes the next; per head the arithmetic is the same. probs and logits are
   * concatenated only where a graph output asks for them (unused nodes are pruned).
   */
  private attentionInChunks(q: string, k: string, v: string, scale: number, bias: string | undefined, softcap: number | null, split: { heads: number; biasHasHeads: boolean }): AttentionOutputs {
    const sizes: number[] = [];
    for (let h = 0; h < split.heads; h += this.headsPerChunk) sizes.push(Math.min(this.headsPerChunk, split.heads - h));
    const parts = (x: string) => this.g.opN('Split', [x, this.g.int64s(sizes)], sizes.length, { axis: 0 }, 'head_chunk');
    const [qs, ks, vs] = [parts(q), parts(k), parts(v)];
    const biases = bias && split.biasHasHeads ? parts(bias) : undefined;
    const chunks = sizes.map((_, c) => this.attention(qs[c], ks[c], vs[c], scale, biases ? biases[c] : bias, softcap));
    const concat = (values: string[], hint: string) => this.g.op('Concat', values, { axis: 0 }, hint);
    return { probs: concat(chunks.map((c) => c.probs), 'probs'), logits: concat(chunks.map((c) => c.logits), 'logits'), context: concat(chunks.map((c) => c.context), 'context') };
  }

  /**
   * ‖f_h(x_j)‖ = ‖v_j^h W_O^h‖ per head and token (Kobayashi et al. 2020): `v` is `[heads, n, d]`
   * (biases included), `outWeightInOut` the output projection's `[heads·d, out]` initializer, viewed
   * as `[heads, d, out]` without a copy. Computed as √(v G vᵀ) with the per-head Gram matrix
   * G = W_O^h W_O^hᵀ (`[heads, d, d]`): it depends on weights only, so onnxruntime folds it once at
   * load, and each run costs d² instead of d·out per token. Returns `[heads, n]`.
   */
  valueNorms(v: string, outWeightInOut: string, heads: number, headDim: number, outDim: number): string {
    const perHead = this.g.op('Reshape', [outWeightInOut, this.g.int64s([heads, headDim, outDim])]);
    const gram = this.g.op('MatMul', [perHead, this.g.op('Transpose', [perHead], { perm: [0, 2, 1] })], {}, 'value_gram');
    const squared = this.g.op('ReduceSum', [this.g.op('Mul', [this.g.op('MatMul', [v, gram]), v]), this.g.int64s([-1])], { keepdims: 0 });
    // Rounding can push a zero norm a hair below 0; clamp before the square root.
    return this.g.op('Sqrt', [this.g.op('Max', [squared, this.g.scalar(0)])], {}, 'value_norms');
  }
}

/** Row-wise LayerNorm in TypeScript (embedding outputs are tiny; no graph needed). */
export function layerNormRows(x: Float32Array, width: number, weight: Float32Array, bias: Float32Array | undefined, eps: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / width; r++) {
    const row = x.subarray(r * width, (r + 1) * width);
    let mean = 0;
    for (let i = 0; i < width; i++) mean += row[i];
    mean /= width;
    let variance = 0;
    for (let i = 0; i < width; i++) variance += (row[i] - mean) ** 2;
    variance /= width;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < width; i++) out[r * width + i] = (row[i] - mean) * inv * weight[i] + (bias ? bias[i] : 0);
  }
  return out;
}
