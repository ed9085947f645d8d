/**
 * The attention block every family shares: softcap(q·kᵀ·scale) + Σ site terms → softmax → ·v →
 * output projection, and the layer's outputs (probabilities, raw logits, value norms, q/k/v).
 * Written once here so that no family repeats it.
 */
import type { AttentionSite, LayerOutputs, UseInput } from '../../engine/architecture';
import { kvCacheHook } from '../../engine/kvCache';
import type { Nn } from '../../engine/onnx/layers';
import type { Projection } from './weights';

export interface HeadsQkv {
  /** `[heads, n, d]` per query head; keys and values already repeated for grouped-query attention. */
  q: string;
  k: string;
  v: string;
}

/**
 * Runs attention at `site` and projects the context with `output` (from `heads·headDim` to the
 * model width). `graphTerms` are logit terms the layer computes in the graph (`[heads, n, n]`,
 * already scaled as the model scales them), added with the site's terms. For a cross site, k and v
 * come from the encoder output. `graphTerms` must match what the site declares (`site.graphTerms`).
 * Returns the projected output and everything the layer exposes except `hidden`.
 */
export function attend(nn: Nn, use: UseInput, site: AttentionSite, qkv: HeadsQkv, heads: number, headDim: number, output: (context: string) => Projection, graphTerms: readonly string[] = []): { y: string; outputs: Omit<LayerOutputs, 'hidden'> } {
  if (graphTerms.length !== site.graphTerms.length) throw new Error(`the site declares ${site.graphTerms.length} graph-computed logit terms (${site.graphTerms.join(', ')}), the layer gives ${graphTerms.length}`);
  let bias: string | undefined;
  for (const term of [...site.terms.map(use), ...graphTerms]) bias = bias === undefined ? term : nn.add(bias, term);
  const biasHasHeads = graphTerms.length > 0 || site.terms.some((t) => t.dims.length === 3 && t.dims[0] !== 1);
  // A generation graph attends over cached keys and values too (src/engine/kvCache.ts).
  const { k, v } = (site.kind === 'self' && kvCacheHook(nn)?.extend(qkv.k, qkv.v)) || qkv;
  const attn = nn.attention(qkv.q, k, v, site.scale, bias, site.softcap, { heads, biasHasHeads });
  const out = output(nn.fromHeads(attn.context, heads, headDim));
  return {
    y: out.y,
    outputs: {
      probs: attn.probs,
      logits: attn.logits,
      ...(graphTerms.length > 0 && bias !== undefined ? { terms: bias } : {}),
      valueNorms: nn.valueNorms(v, out.weightInOut, heads, headDim, out.outDim),
      q: qkv.q,
      k,
      v,
    },
  };
}
