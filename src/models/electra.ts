/**
 * ELECTRA (google/electra-*-discriminator and -generator): BERT's post-norm encoder, except that the
 * embeddings (word + token type + absolute position, LayerNorm) are `embedding_size` wide and, when
 * that differs from `hidden_size`, `embeddings_project` maps them to the model width before the
 * first layer (hidden_states[0] is after it). Relative position types are refused by name.
 */
import { acceptOnly, configInt, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { layerNormRows } from '../engine/onnx/layers';
import { BERT_LAYER_NAMES, postNormEncoderLayer } from './blocks/encoder';
import { positionIds, projectRows, sumOfRows } from './blocks/embeddings';
import { layerWeights, readNumbers } from './blocks/weights';

const PREFIXES = ['electra.', 'discriminator.', 'generator.'];

export interface ElectraConfig {
  hidden: number;
  embeddingSize: number;
  heads: number;
  layers: number;
  intermediate: number;
  maxPositions: number;
  eps: number;
  act: string;
}

export function parseElectraConfig(c: ModelConfig): ElectraConfig {
  acceptOnly(c, 'position_embedding_type', ['absolute'], 'relative distance embeddings are implemented for bert only');
  acceptOnly(c, 'is_decoder', [false]);
  acceptOnly(c, 'add_cross_attention', [false]);
  const hidden = configInt(c, 'hidden_size');
  return {
    hidden,
    embeddingSize: c.embedding_size === undefined ? hidden : configInt(c, 'embedding_size'),
    heads: configInt(c, 'num_attention_heads'),
    layers: configInt(c, 'num_hidden_layers'),
    intermediate: configInt(c, 'intermediate_size'),
    maxPositions: configInt(c, 'max_position_embeddings'),
    eps: configNumber(c, 1e-12, 'layer_norm_eps'),
    act: String(c.hidden_act ?? 'gelu'),
  };
}

export const electra: Family = {
  modelTypes: ['electra'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, embeddingSize, heads, layers, intermediate, maxPositions, eps, act } = parseElectraConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const embLnW = readNumbers(tensors, 'embeddings.LayerNorm.weight', [embeddingSize]);
    const embLnB = readNumbers(tensors, 'embeddings.LayerNorm.bias', [embeddingSize]);
    const project =
      embeddingSize !== hidden
        ? { weight: readNumbers(tensors, 'embeddings_project.weight', [hidden, embeddingSize]), bias: readNumbers(tensors, 'embeddings_project.bias', [hidden]) }
        : undefined;
    const hasTypes = tensors.has('embeddings.token_type_embeddings.weight');
    const site = selfSite(1 / Math.sqrt(headDim));
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
      embed(ids, typeIds) {
        const parts = [{ table: 'embeddings.word_embeddings.weight', rows: ids }];
        if (hasTypes) parts.push({ table: 'embeddings.token_type_embeddings.weight', rows: typeIds.map((x) => x ?? 0) });
        parts.push({ table: 'embeddings.position_embeddings.weight', rows: positionIds(ids.length) });
        const embedded = layerNormRows(sumOfRows(tensors, parts), embeddingSize, embLnW, embLnB, eps);
        return project ? projectRows(embedded, embeddingSize, project.weight, project.bias, hidden) : embedded;
      },
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `encoder.layer.${i}.`, `l${i}`);
        return postNormEncoderLayer(nn, w, use, site, x, { hidden, heads, headDim, intermediate, eps, act }, BERT_LAYER_NAMES);
      },
    };
  },
};
