/**
 * DistilBERT: BERT's post-norm encoder layer under different names (`q_lin`/`k_lin`/`v_lin`/
 * `out_lin`, `sa_layer_norm`, `ffn.lin1`/`lin2`, `output_layer_norm`), with `dim`/`n_heads`/
 * `n_layers`/`hidden_dim` config keys and no token-type embeddings (segments are ignored).
 * Positions are learned rows from 0; `sinusoidal_pos_embds` checkpoints store their fixed table
 * in the same tensor, so reading it covers both.
 */
import { configInt, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { layerNormRows } from '../engine/onnx/layers';
import { attend } from './blocks/attention';
import { plainMlp } from './blocks/mlp';
import { toHeadsQkv } from './blocks/qkv';
import { positionIds, sumOfRows } from './blocks/embeddings';
import { layerWeights, readNumbers } from './blocks/weights';

const PREFIXES = ['distilbert.'];
/** transformers hard-codes DistilBERT's LayerNorm epsilon; no config key changes it. */
const LAYER_NORM_EPS = 1e-12;

export interface DistilBertConfig {
  hidden: number;
  heads: number;
  layers: number;
  ffnDim: number;
  maxPositions: number;
  act: string;
}

export function parseDistilBertConfig(c: ModelConfig): DistilBertConfig {
  return {
    hidden: configInt(c, 'dim', 'hidden_size'),
    heads: configInt(c, 'n_heads', 'num_attention_heads'),
    layers: configInt(c, 'n_layers', 'num_hidden_layers'),
    ffnDim: configInt(c, 'hidden_dim', 'intermediate_size'),
    maxPositions: configInt(c, 'max_position_embeddings'),
    act: String(c.activation ?? 'gelu'),
  };
}

export const distilbert: Family = {
  modelTypes: ['distilbert'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, ffnDim, maxPositions, act } = parseDistilBertConfig(c);
    const eps = LAYER_NORM_EPS;
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const embLnW = readNumbers(tensors, 'embeddings.LayerNorm.weight', [hidden]);
    const embLnB = readNumbers(tensors, 'embeddings.LayerNorm.bias', [hidden]);
    const site = selfSite(1 / Math.sqrt(headDim));
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * ffnDim),
      embed(ids) {
        const sum = sumOfRows(tensors, [{ table: 'embeddings.word_embeddings.weight', rows: ids }, { table: 'embeddings.position_embeddings.weight', rows: positionIds(ids.length) }]);
        return layerNormRows(sum, hidden, embLnW, embLnB, eps);
      },
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `transformer.layer.${i}.`, `l${i}`);
        const proj = (name: string, src: string) => w.linear(name, hidden, hidden, src, 'required').y;
        const flat = { q: proj('attention.q_lin', x), k: proj('attention.k_lin', x), v: proj('attention.v_lin', x) };
        const attn = attend(nn, use, site, toHeadsQkv(nn, flat, heads, heads, headDim), heads, headDim, (context) => w.linear('attention.out_lin', hidden, hidden, context, 'required'));
        const h1 = w.layerNorm('sa_layer_norm', hidden, nn.add(attn.y, x), eps);
        const ffn = plainMlp(nn, w, h1, { up: 'ffn.lin1', down: 'ffn.lin2' }, hidden, ffnDim, act);
        return { hidden: w.layerNorm('output_layer_norm', hidden, nn.add(ffn, h1), eps), ...attn.outputs };
      },
    };
  },
};
