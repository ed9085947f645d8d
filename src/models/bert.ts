/**
 * BERT and its derivatives with the same layer layout: RoBERTa, XLM-RoBERTa, CamemBERT.
 * Post-norm encoder: x = LN(x + Attn(x)); x = LN(x + FFN(x)); learned absolute positions and
 * token types. RoBERTa counts positions from padding_idx + 1.
 * `position_embedding_type: "relative_key_query"` adds no absolute positions; instead every layer's
 * logits are (q·k + q·D[i−j] + k·D[i−j]) / √d with its own `attention.self.distance_embedding` D
 * (rows i − j + max_position_embeddings − 1), computed in the graph.
 */
import { acceptOnly, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { BERT_LAYER_NAMES, parseBertStyleConfig, postNormEncoderLayer, type BertStyleConfig } from './blocks/encoder';
import { bertEmbeddings, positionIds } from './blocks/embeddings';
import { relativeIndexInput, relativeScores } from './blocks/relative';
import { layerWeights } from './blocks/weights';

const PREFIXES = ['bert.', 'roberta.', 'model.', 'encoder.'];

export interface BertConfig extends BertStyleConfig {
  /** RoBERTa-style position ids start after the padding index. */
  positionOffset: number;
  /** relative_key_query: distance-embedding terms in the logits instead of absolute positions. */
  relativeKeyQuery: boolean;
}

export function parseBertConfig(c: ModelConfig): BertConfig {
  // relative_key (the q·D term alone) has no reference fixture yet, so it stays refused.
  acceptOnly(c, 'position_embedding_type', ['absolute', 'relative_key_query']);
  // A decoder BERT (causal mask, cross-attention) is not implemented.
  acceptOnly(c, 'is_decoder', [false]);
  acceptOnly(c, 'add_cross_attention', [false]);
  return {
    ...parseBertStyleConfig(c, { eps: 1e-12, act: 'gelu' }),
    positionOffset: String(c.model_type) !== 'bert' ? configNumber(c, 1, 'pad_token_id') + 1 : 0,
    relativeKeyQuery: c.position_embedding_type === 'relative_key_query',
  };
}

export const bert: Family = {
  modelTypes: ['bert', 'roberta', 'xlm-roberta', 'camembert'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, intermediate, maxPositions, eps, act, positionOffset, relativeKeyQuery } = parseBertConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const embed = bertEmbeddings(tensors, { width: hidden, eps, positions: relativeKeyQuery ? null : (ids) => positionIds(ids.length, positionOffset) });
    const scale = 1 / Math.sqrt(headDim);
    const site = relativeKeyQuery ? selfSite(scale, [], null, ['q·D[i−j]·scale', 'k·D[i−j]·scale']) : selfSite(scale);
    const distanceRow = relativeIndexInput('distance_row', (i, j) => i - j + maxPositions - 1);
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions - positionOffset, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate + (relativeKeyQuery ? (2 * maxPositions - 1) * headDim : 0)),
      embed,
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `encoder.layer.${i}.`, `l${i}`);
        const relativeTerms = ({ q, k }: { q: string; k: string }) => {
          if (!relativeKeyQuery) return [];
          const table = w.table('attention.self.distance_embedding.weight', [2 * maxPositions - 1, headDim]);
          const index = use(distanceRow);
          return [q, k].map((x, s) => nn.mul(relativeScores(nn, x, table, 2, index, heads, s === 0 ? 'query' : 'key'), nn.g.scalar(scale)));
        };
        return postNormEncoderLayer(nn, w, use, site, x, { hidden, heads, headDim, intermediate, eps, act }, BERT_LAYER_NAMES, relativeTerms);
      },
    };
  },
};
