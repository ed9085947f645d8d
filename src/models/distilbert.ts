/**
 * DistilBERT: BERT's post-norm encoder layer under different names (`q_lin`/`k_lin`/`v_lin`/
 * `out_lin`, `sa_layer_norm`, `ffn.lin1`/`lin2`, `output_layer_norm`), with `dim`/`n_heads`/
 * `n_layers`/`hidden_dim` config keys and no token-type embeddings (segments are ignored).
 * Positions are learned rows from 0; `sinusoidal_pos_embds` checkpoints store their fixed table
 * in the same tensor, so reading it covers both.
 */
import { configInt, summarize, type Architecture } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { layerNormRows } from '../engine/onnx/layers';

const PREFIXES = ['distilbert.'];
/** transformers hard-codes DistilBERT's LayerNorm epsilon; no config key changes it. */
const LAYER_NORM_EPS = 1e-12;

export function createDistilBert(ckpt: Checkpoint): Architecture {
  const c = ckpt.config;
  const hidden = configInt(c, 'dim', 'hidden_size');
  const heads = configInt(c, 'n_heads', 'num_attention_heads');
  const layers = configInt(c, 'n_layers', 'num_hidden_layers');
  const ffnDim = configInt(c, 'hidden_dim', 'intermediate_size');
  const maxPositions = configInt(c, 'max_position_embeddings');
  const eps = LAYER_NORM_EPS;
  const act = String(c.activation ?? 'gelu');
  const headDim = hidden / heads;
  const { tensor: t, read } = ckpt.scoped(PREFIXES);
  const embLnW = read('embeddings.LayerNorm.weight', [hidden]);
  const embLnB = read('embeddings.LayerNorm.bias', [hidden]);
  return {
    summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: false }),
    scale: 1 / Math.sqrt(headDim),
    softcap: null,
    layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * ffnDim),
    embed(ids) {
      const words = ckpt.rows('embeddings.word_embeddings.weight', PREFIXES, ids);
      const positions = ckpt.rows('embeddings.position_embeddings.weight', PREFIXES, ids.map((_, i) => i));
      const sum = new Float32Array(words.length);
      for (let i = 0; i < sum.length; i++) sum[i] = words[i] + positions[i];
      return layerNormRows(sum, hidden, embLnW, embLnB, eps);
    },
    positionInputs: () => ({}),
    positionInputShapes: () => ({}),
    logitBiasInput: () => undefined,
    buildLayer(nn, i, x) {
      const p = `transformer.layer.${i}.`;
      const proj = (name: string, out: number, inp: number, src: string) => nn.linear(src, t(`${p}${name}.weight`, [out, inp]), out, inp, t(`${p}${name}.bias`, [out]), `l${i}.${name}`);
      const norm = (src: string, name: string) => nn.layerNorm(src, t(`${p}${name}.weight`, [hidden]), t(`${p}${name}.bias`, [hidden]), eps, `l${i}.${name}`);
      const q = nn.toHeads(proj('attention.q_lin', hidden, hidden, x).y, heads, headDim);
      const k = nn.toHeads(proj('attention.k_lin', hidden, hidden, x).y, heads, headDim);
      const v = nn.toHeads(proj('attention.v_lin', hidden, hidden, x).y, heads, headDim);
      const attn = nn.attention(q, k, v, 1 / Math.sqrt(headDim), undefined, null);
      const out = proj('attention.out_lin', hidden, hidden, nn.fromHeads(attn.context, heads, headDim));
      const h1 = norm(nn.add(out.y, x), 'sa_layer_norm');
      const ffn = proj('ffn.lin2', hidden, ffnDim, nn.activation(proj('ffn.lin1', ffnDim, hidden, h1).y, act));
      const h2 = norm(nn.add(ffn.y, h1), 'output_layer_norm');
      return { hidden: h2, probs: attn.probs, valueNorms: nn.valueNorms(v, out.weightInOut, heads, headDim, hidden), q, k, v };
    },
  };
}
