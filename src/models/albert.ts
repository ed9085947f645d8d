/**
 * ALBERT (albert-base-v2 … albert-xxlarge-v2): BERT's post-norm layer, but
 * - the embeddings (word + token type + absolute position, LayerNorm) are `embedding_size` wide and
 *   `encoder.embedding_hidden_mapping_in` projects them to `hidden_size` (hidden_states[0] is after it);
 * - layers share weights: layer i runs layer group ⌊i / (num_hidden_layers / num_hidden_groups)⌋,
 *   `encoder.albert_layer_groups.{g}.albert_layers.0`, with ALBERT's names (`attention.query`,
 *   `attention.dense`, `attention.LayerNorm`, `ffn`, `ffn_output`, `full_layer_layer_norm`).
 * Groups of more than one layer (`inner_group_num` > 1) return several attentions per layer in
 * transformers and are refused by name, as are relative position types.
 */
import { acceptOnly, configInt, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { EngineError } from '../engine/errors';
import { parseBertStyleConfig, postNormEncoderLayer, type BertStyleConfig, type PostNormNames } from './blocks/encoder';
import { bertEmbeddings, positionIds } from './blocks/embeddings';
import { layerWeights } from './blocks/weights';

const PREFIXES = ['albert.'];

const LAYER_NAMES: PostNormNames = {
  query: 'attention.query',
  key: 'attention.key',
  value: 'attention.value',
  output: 'attention.dense',
  attentionNorm: 'attention.LayerNorm',
  up: 'ffn',
  down: 'ffn_output',
  outputNorm: 'full_layer_layer_norm',
};

export interface AlbertConfig extends BertStyleConfig {
  embeddingSize: number;
  groups: number;
}

export function parseAlbertConfig(c: ModelConfig): AlbertConfig {
  acceptOnly(c, 'position_embedding_type', ['absolute'], 'relative distance embeddings are implemented for bert only');
  acceptOnly(c, 'inner_group_num', [1], 'several layers per group give several attentions per layer');
  const shape = parseBertStyleConfig(c, { eps: 1e-12, act: 'gelu_new' });
  const groups = c.num_hidden_groups === undefined ? 1 : configInt(c, 'num_hidden_groups');
  if (groups > shape.layers) throw new EngineError('bad-checkpoint', `config.json sets num_hidden_groups = ${groups}, more than num_hidden_layers = ${shape.layers}.`);
  return { ...shape, embeddingSize: configInt(c, 'embedding_size'), groups };
}

export const albert: Family = {
  modelTypes: ['albert'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, embeddingSize, heads, layers, groups, intermediate, maxPositions, eps, act } = parseAlbertConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const embed = bertEmbeddings(tensors, { width: embeddingSize, eps, positions: (ids) => positionIds(ids.length), project: { name: 'encoder.embedding_hidden_mapping_in', out: hidden } });
    const site = selfSite(1 / Math.sqrt(headDim));
    // transformers: int(i / (num_hidden_layers / num_hidden_groups)).
    const groupOf = (layer: number) => Math.floor(layer / (layers / groups));
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
      embed,
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `encoder.albert_layer_groups.${groupOf(i)}.albert_layers.0.`, `l${i}`);
        return postNormEncoderLayer(nn, w, use, site, x, { hidden, heads, headDim, intermediate, eps, act }, LAYER_NAMES);
      },
    };
  },
};
