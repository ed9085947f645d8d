/**
 * ELECTRA (google/electra-*-discriminator and -generator): BERT's post-norm encoder, except that the
 * embeddings (word + token type + absolute position, LayerNorm) are `embedding_size` wide and, when
 * that differs from `hidden_size`, `embeddings_project` maps them to the model width before the
 * first layer (hidden_states[0] is after it). Relative position types are refused by name.
 */
import { acceptOnly, configInt, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { BERT_LAYER_NAMES, parseBertStyleConfig, postNormEncoderLayer, type BertStyleConfig } from './blocks/encoder';
import { bertEmbeddings, positionIds } from './blocks/embeddings';
import { layerWeights } from './blocks/weights';

const PREFIXES = ['electra.', 'discriminator.', 'generator.'];

export interface ElectraConfig extends BertStyleConfig {
  embeddingSize: number;
}

export function parseElectraConfig(c: ModelConfig): ElectraConfig {
  acceptOnly(c, 'position_embedding_type', ['absolute'], 'relative distance embeddings are implemented for bert only');
  acceptOnly(c, 'is_decoder', [false]);
  acceptOnly(c, 'add_cross_attention', [false]);
  const shape = parseBertStyleConfig(c, { eps: 1e-12, act: 'gelu' });
  return { ...shape, embeddingSize: c.embedding_size === undefined ? shape.hidden : configInt(c, 'embedding_size') };
}

export const electra: Family = {
  modelTypes: ['electra'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, embeddingSize, heads, layers, intermediate, maxPositions, eps, act } = parseElectraConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const embed = bertEmbeddings(tensors, {
      width: embeddingSize,
      eps,
      positions: (ids) => positionIds(ids.length),
      project: embeddingSize !== hidden ? { name: 'embeddings_project', out: hidden } : undefined,
    });
    const site = selfSite(1 / Math.sqrt(headDim));
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
      embed,
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `encoder.layer.${i}.`, `l${i}`);
        return postNormEncoderLayer(nn, w, use, site, x, { hidden, heads, headDim, intermediate, eps, act }, BERT_LAYER_NAMES);
      },
    };
  },
};
