/**
 * MPNet (microsoft/mpnet-base, sentence-transformers' all-mpnet-base-v2): BERT's post-norm layer
 * with MPNet's names (`attention.attn.q/k/v/o`, `attention.LayerNorm`), RoBERTa-style absolute
 * positions from pad_token_id + 1, no token types, and a T5-style bidirectional relative-position
 * bias (`encoder.relative_attention_bias`, `[buckets, heads]`) computed once and added to the
 * logits of every layer. transformers always buckets with 32 buckets and max distance 128;
 * `relative_attention_num_buckets` only sizes the table.
 */
import { configInt, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { EngineError } from '../engine/errors';
import { parseBertStyleConfig, postNormEncoderLayer, type BertStyleConfig, type PostNormNames } from './blocks/encoder';
import { bertEmbeddings, positionIdsSkippingPadding } from './blocks/embeddings';
import { relativeBiasInput } from './blocks/relative';
import { layerWeights, readNumbers } from './blocks/weights';

const PREFIXES = ['mpnet.'];
/** MPNetEncoder.compute_position_bias' fixed bucketing. */
const BUCKETS = 32;
const MAX_DISTANCE = 128;

const LAYER_NAMES: PostNormNames = {
  query: 'attention.attn.q',
  key: 'attention.attn.k',
  value: 'attention.attn.v',
  output: 'attention.attn.o',
  attentionNorm: 'attention.LayerNorm',
  up: 'intermediate.dense',
  down: 'output.dense',
  outputNorm: 'output.LayerNorm',
};

export interface MpnetConfig extends BertStyleConfig {
  paddingIdx: number;
  /** Rows of the bias table (at least the 32 buckets used). */
  tableRows: number;
}

export function parseMpnetConfig(c: ModelConfig): MpnetConfig {
  const tableRows = c.relative_attention_num_buckets === undefined ? BUCKETS : configInt(c, 'relative_attention_num_buckets');
  if (tableRows < BUCKETS) {
    throw new EngineError('bad-checkpoint', `config.json sets relative_attention_num_buckets = ${tableRows}; MPNet always uses ${BUCKETS} buckets, so its table needs at least ${BUCKETS} rows.`);
  }
  return {
    ...parseBertStyleConfig(c, { eps: 1e-12, act: 'gelu' }),
    paddingIdx: configNumber(c, 1, 'pad_token_id'),
    tableRows,
  };
}

export const mpnet: Family = {
  modelTypes: ['mpnet'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, intermediate, maxPositions, eps, act, paddingIdx, tableRows } = parseMpnetConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const embed = bertEmbeddings(tensors, { width: hidden, eps, positions: (ids) => positionIdsSkippingPadding(ids, paddingIdx) });
    const table = readNumbers(tensors, 'encoder.relative_attention_bias.weight', [tableRows, heads]);
    const site = selfSite(1 / Math.sqrt(headDim), [relativeBiasInput('position_bias', table, heads, BUCKETS, MAX_DISTANCE, true)]);
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions - paddingIdx - 1, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
      embed,
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `encoder.layer.${i}.`, `l${i}`);
        return postNormEncoderLayer(nn, w, use, site, x, { hidden, heads, headDim, intermediate, eps, act }, LAYER_NAMES);
      },
    };
  },
};
