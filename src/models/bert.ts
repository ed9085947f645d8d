/**
 * BERT and its derivatives with the same layer layout: RoBERTa, XLM-RoBERTa, CamemBERT.
 * Post-norm encoder: x = LN(x + Attn(x)); x = LN(x + FFN(x)); learned absolute positions and
 * token types. RoBERTa counts positions from padding_idx + 1.
 */
import { acceptOnly, configInt, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { layerNormRows } from '../engine/onnx/layers';
import { attend } from './blocks/attention';
import { plainMlp } from './blocks/mlp';
import { toHeadsQkv } from './blocks/qkv';
import { positionIds, sumOfRows } from './blocks/embeddings';
import { layerWeights, readNumbers } from './blocks/weights';

const PREFIXES = ['bert.', 'roberta.', 'model.', 'encoder.'];

export interface BertConfig {
  hidden: number;
  heads: number;
  layers: number;
  intermediate: number;
  maxPositions: number;
  eps: number;
  act: string;
  /** RoBERTa-style position ids start after the padding index. */
  positionOffset: number;
}

export function parseBertConfig(c: ModelConfig): BertConfig {
  // relative_key / relative_key_query add distance-embedding terms to the logits: not implemented yet.
  acceptOnly(c, 'position_embedding_type', ['absolute']);
  // A decoder BERT (causal mask, cross-attention) is not implemented.
  acceptOnly(c, 'is_decoder', [false]);
  acceptOnly(c, 'add_cross_attention', [false]);
  return {
    hidden: configInt(c, 'hidden_size'),
    heads: configInt(c, 'num_attention_heads'),
    layers: configInt(c, 'num_hidden_layers'),
    intermediate: configInt(c, 'intermediate_size'),
    maxPositions: configInt(c, 'max_position_embeddings'),
    eps: configNumber(c, 1e-12, 'layer_norm_eps'),
    act: String(c.hidden_act ?? 'gelu'),
    positionOffset: String(c.model_type) !== 'bert' ? configNumber(c, 1, 'pad_token_id') + 1 : 0,
  };
}

export const bert: Family = {
  modelTypes: ['bert', 'roberta', 'xlm-roberta', 'camembert'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, intermediate, maxPositions, eps, act, positionOffset } = parseBertConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const embLnW = readNumbers(tensors, 'embeddings.LayerNorm.weight', [hidden]);
    const embLnB = readNumbers(tensors, 'embeddings.LayerNorm.bias', [hidden]);
    const hasTypes = tensors.has('embeddings.token_type_embeddings.weight');
    const site = selfSite(1 / Math.sqrt(headDim));
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions - positionOffset, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
      embed(ids, typeIds) {
        const parts = [{ table: 'embeddings.word_embeddings.weight', rows: ids }];
        if (hasTypes) parts.push({ table: 'embeddings.token_type_embeddings.weight', rows: typeIds.map((x) => x ?? 0) });
        parts.push({ table: 'embeddings.position_embeddings.weight', rows: positionIds(ids.length, positionOffset) });
        return layerNormRows(sumOfRows(tensors, parts), hidden, embLnW, embLnB, eps);
      },
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `encoder.layer.${i}.`, `l${i}`);
        const flat = { q: w.linear('attention.self.query', hidden, hidden, x).y, k: w.linear('attention.self.key', hidden, hidden, x).y, v: w.linear('attention.self.value', hidden, hidden, x).y };
        const attn = attend(nn, use, site, toHeadsQkv(nn, flat, heads, heads, headDim), heads, headDim, (context) => w.linear('attention.output.dense', hidden, hidden, context));
        const h1 = w.layerNorm('attention.output.LayerNorm', hidden, nn.add(attn.y, x), eps);
        const ffn = plainMlp(nn, w, h1, { up: 'intermediate.dense', down: 'output.dense' }, hidden, intermediate, act);
        return { hidden: w.layerNorm('output.LayerNorm', hidden, nn.add(ffn, h1), eps), ...attn.outputs };
      },
    };
  },
};
