/**
 * Norms that are not one checkpoint weight over the model width: LayerNorm without parameters
 * (OLMo) and LayerNorm over each head's d values with per-head weights and no bias (StableLM's
 * `qk_layernorm`, Cohere's `use_qk_norm`).
 */
import type { Nn } from '../../engine/onnx/layers';

/** Plain LayerNormalization with scale 1 and no bias over the last axis (its required scale input is a constant). */
function unitLayerNorm(nn: Nn, x: string, width: number, eps: number, hint: string): string {
  return nn.g.op('LayerNormalization', [x, nn.g.weight(`${hint}.ones`, new Float32Array(width).fill(1), [width])], { axis: -1, epsilon: { float: eps } }, hint);
}

/** LayerNorm with no learnable weight or bias over the last axis of width `width` (OLMo's OlmoLayerNorm). */
export function parameterFreeLayerNorm(nn: Nn, x: string, width: number, eps: number, hint: string): string {
  return unitLayerNorm(nn, x, width, eps, hint);
}

/**
 * LayerNorm over the last axis of `[heads, n, d]`, each head scaled by its own weights; `scale` is a
 * graph value holding heads·d numbers, head-major (`[heads, d]`, or the heads' `[d]` weights concatenated).
 */
export function perHeadLayerNorm(nn: Nn, x: string, scale: string, heads: number, headDim: number, eps: number, hint: string): string {
  const perHead = nn.g.op('Reshape', [scale, nn.g.int64s([heads, 1, headDim])]);
  return nn.mul(unitLayerNorm(nn, x, headDim, eps, hint), perHead);
}
