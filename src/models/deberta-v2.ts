/**
 * DeBERTa-v2 / DeBERTa-v3 (microsoft/deberta-v3-base …): BERT's post-norm layer (`query_proj`,
 * `key_proj`, `value_proj`) with disentangled attention. Every layer's logits are
 *   (q_i·k_j + c2p + p2c) / √(d·s),  c2p = q_i·Kr[δ(i,j)],  p2c = k_j·Qr[δ(i,j)],
 * where s = 1 + the number of c2p/p2c terms, δ(i,j) = clamp(bucket(i − j) + span, 0, 2·span − 1)
 * (log buckets when `position_buckets` > 0), and Kr / Qr are the layer's own key_proj / query_proj
 * of the shared `encoder.rel_embeddings` (LayerNorm'd with `encoder.LayerNorm` when `norm_rel_ebd`
 * says so; `share_att_key`). No absolute positions, no token types. Computed in the graph (the
 * terms depend on q and k) and declared on the site, so step by step shows them. Options of older
 * v2 checkpoints not implemented here (conv layer, absolute positions, separate position projections)
 * are refused by name.
 */
import { acceptOnly, configNumber, refuseOption, selfSite, summarize, type Family } from '../engine/architecture';
import { EngineError } from '../engine/errors';
import type { ModelConfig } from '../engine/checkpoint';
import type { Nn } from '../engine/onnx/layers';
import { BERT_LAYER_NAMES, parseBertStyleConfig, postNormEncoderLayer, type BertStyleConfig, type PostNormNames } from './blocks/encoder';
import { bertEmbeddings } from './blocks/embeddings';
import { debertaIndexInput, relativeScores } from './blocks/relative';
import { layerWeights } from './blocks/weights';

const PREFIXES = ['deberta.'];

const LAYER_NAMES: PostNormNames = {
  ...BERT_LAYER_NAMES,
  query: 'attention.self.query_proj',
  key: 'attention.self.key_proj',
  value: 'attention.self.value_proj',
};

export interface DebertaV2Config extends BertStyleConfig {
  c2p: boolean;
  p2c: boolean;
  /** `position_buckets` (≤ 0: exact relative positions up to `max_relative_positions`). */
  buckets: number;
  maxRelativePositions: number;
  /** Half the rows of `rel_embeddings` that attention reads. */
  span: number;
  normRelEmbeddings: boolean;
}

/** `pos_att_type` as DebertaV2Config reads it: a list, or a string like "p2c|c2p". */
function positionAttentionTypes(c: ModelConfig): string[] {
  const v = c.pos_att_type;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? v.toLowerCase().split('|').map((x) => x.trim()) : Array.isArray(v) ? v.map(String) : null;
  if (!list || list.some((t) => t !== 'c2p' && t !== 'p2c')) refuseOption(c, 'pos_att_type', 'only c2p and p2c are implemented');
  return list;
}

/**
 * Refuses `key` unless its value, or transformers' default where config.json omits it, is `wanted`
 * (DeBERTa-v2's defaults are the v2 settings this family does not implement).
 */
function requireSetting(c: ModelConfig, key: string, wanted: unknown, fallback: unknown, why: string): void {
  const value = c[key] ?? fallback;
  if (value === wanted) return;
  if (c[key] !== undefined && c[key] !== null) refuseOption(c, key, why);
  throw new EngineError('unsupported-architecture', `config.json does not set ${key}, so transformers uses its default ${JSON.stringify(fallback)}, which Attention Inspector does not implement for deberta-v2 yet (${why}); its attentions would be wrong, so the model is not loaded.`);
}

export function parseDebertaV2Config(c: ModelConfig): DebertaV2Config {
  const shape = parseBertStyleConfig(c, { eps: 1e-7, act: 'gelu' });
  const { hidden, heads, maxPositions } = shape;
  requireSetting(c, 'relative_attention', true, false, 'DeBERTa without relative attention');
  requireSetting(c, 'position_biased_input', false, true, 'absolute position embeddings added to the input');
  requireSetting(c, 'share_att_key', true, false, 'separate pos_key_proj / pos_query_proj');
  acceptOnly(c, 'type_vocab_size', [0], 'token type embeddings');
  acceptOnly(c, 'embedding_size', [hidden], 'embed_proj from embedding_size to hidden_size');
  acceptOnly(c, 'conv_kernel_size', [0], "DeBERTa-v2's convolution layer after the first layer");
  acceptOnly(c, 'attention_head_size', [hidden / heads]);
  acceptOnly(c, 'norm_rel_ebd', ['none', 'layer_norm']);
  const types = positionAttentionTypes(c);
  const given = configNumber(c, -1, 'max_relative_positions');
  const maxRelativePositions = given < 1 ? maxPositions : given;
  const buckets = configNumber(c, -1, 'position_buckets');
  return {
    ...shape,
    c2p: types.includes('c2p'),
    p2c: types.includes('p2c'),
    buckets,
    maxRelativePositions,
    span: buckets > 0 ? buckets : maxRelativePositions,
    normRelEmbeddings: c.norm_rel_ebd === 'layer_norm',
  };
}

export const debertaV2: Family = {
  modelTypes: ['deberta-v2'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, intermediate, eps, act, c2p, p2c, buckets, maxRelativePositions, span, normRelEmbeddings } = parseDebertaV2Config(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    // No absolute positions; type_vocab_size 0, so no token-type table either.
    const embed = bertEmbeddings(tensors, { width: hidden, eps, positions: null });
    const scale = 1 / Math.sqrt(headDim * (1 + Number(c2p) + Number(p2c)));
    const site = selfSite(scale, [], null, [...(c2p ? ['c2p = q_i·Kr[δ(i,j)]·scale'] : []), ...(p2c ? ['p2c = k_j·Qr[δ(i,j)]·scale'] : [])]);
    const relIndex = debertaIndexInput('deberta_rel_index', buckets, maxRelativePositions, span);
    /** The (normalised) relative embeddings `[2·span, hidden]`, once per graph. */
    const relEmbeddings = new WeakMap<Nn, string>();
    const relativeRows = (nn: Nn) => {
      let value = relEmbeddings.get(nn);
      if (value === undefined) {
        const enc = layerWeights(nn, tensors, 'encoder.', 'encoder');
        // The encoder's table has exactly the 2·span rows attention reads.
        const rows = enc.table('rel_embeddings.weight', [2 * span, hidden]);
        value = normRelEmbeddings ? enc.layerNorm('LayerNorm', hidden, rows, eps) : rows;
        relEmbeddings.set(nn, value);
      }
      return value;
    };
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: null, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
      embed,
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `encoder.layer.${i}.`, `l${i}`);
        const disentangled = ({ q, k }: { q: string; k: string }) => {
          const rel = relativeRows(nn);
          const index = use(relIndex);
          // share_att_key: position keys and queries through the layer's own key_proj / query_proj.
          const positions = (name: string) => nn.toHeads(w.linear(name, hidden, hidden, rel).y, heads, headDim);
          const terms: string[] = [];
          if (c2p) terms.push(relativeScores(nn, q, positions(LAYER_NAMES.key), 3, index, heads, 'query'));
          if (p2c) terms.push(relativeScores(nn, k, positions(LAYER_NAMES.query), 3, index, heads, 'key'));
          return terms.map((t) => nn.mul(t, nn.g.scalar(scale)));
        };
        return postNormEncoderLayer(nn, w, use, site, x, { hidden, heads, headDim, intermediate, eps, act }, LAYER_NAMES, disentangled);
      },
    };
  },
};
