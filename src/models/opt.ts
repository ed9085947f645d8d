/**
 * OPT (facebook/opt-125m … opt-66b): a pre-norm causal decoder with LayerNorm, biases on every
 * projection, ReLU MLP (`fc1`, `fc2`) and learned positions whose rows start at offset 2
 * (`embed_positions`, OPTLearnedPositionalEmbedding). q is scaled by 1/√d before q·k (the same
 * product). opt-350m's post-norm layout with `project_in`/`project_out` is refused by name.
 */
import { acceptOnly, configInt, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { attend } from './blocks/attention';
import { causalMaskInput } from './blocks/masks';
import { plainMlp } from './blocks/mlp';
import { toHeadsQkv } from './blocks/qkv';
import { positionIds, sumOfRows } from './blocks/embeddings';
import { layerWeights } from './blocks/weights';
import { lmHead } from './blocks/lmHead';

const PREFIXES = ['model.decoder.', 'decoder.'];
/** OPTLearnedPositionalEmbedding's fixed row offset. */
const POSITION_OFFSET = 2;
/** transformers' OPT LayerNorms use torch's default epsilon; no config key changes it. */
const LAYER_NORM_EPS = 1e-5;

export interface OptConfig {
  hidden: number;
  heads: number;
  layers: number;
  ffnDim: number;
  maxPositions: number;
  act: string;
}

export function parseOptConfig(c: ModelConfig): OptConfig {
  const hidden = configInt(c, 'hidden_size');
  acceptOnly(c, 'do_layer_norm_before', [true], 'the post-norm layout of opt-350m');
  acceptOnly(c, '_remove_final_layer_norm', [false]);
  acceptOnly(c, 'layer_norm_elementwise_affine', [true]);
  acceptOnly(c, 'word_embed_proj_dim', [hidden], 'project_in / project_out between embedding and model width');
  return {
    hidden,
    heads: configInt(c, 'num_attention_heads'),
    layers: configInt(c, 'num_hidden_layers'),
    ffnDim: configInt(c, 'ffn_dim'),
    maxPositions: configInt(c, 'max_position_embeddings'),
    act: String(c.activation_function ?? 'relu'),
  };
}

export const opt: Family = {
  modelTypes: ['opt'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, ffnDim, maxPositions, act } = parseOptConfig(c);
    const headDim = hidden / heads;
    const eps = LAYER_NORM_EPS;
    const tensors = ckpt.scoped(PREFIXES);
    const site = selfSite(1 / Math.sqrt(headDim), [causalMaskInput()]);
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: true }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * ffnDim),
      embed: (ids) => sumOfRows(tensors, [{ table: 'embed_tokens.weight', rows: ids }, { table: 'embed_positions.weight', rows: positionIds(ids.length, POSITION_OFFSET) }]),
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `layers.${i}.`, `l${i}`);
        const h = w.layerNorm('self_attn_layer_norm', hidden, x, eps);
        const proj = (name: string) => w.linear(`self_attn.${name}`, hidden, hidden, h).y;
        const qkv = toHeadsQkv(nn, { q: proj('q_proj'), k: proj('k_proj'), v: proj('v_proj') }, heads, heads, headDim);
        const attn = attend(nn, use, site, qkv, heads, headDim, (context) => w.linear('self_attn.out_proj', hidden, hidden, context));
        const h1 = nn.add(x, attn.y);
        const mlp = plainMlp(nn, w, w.layerNorm('final_layer_norm', hidden, h1, eps), { up: 'fc1', down: 'fc2' }, hidden, ffnDim, act);
        return { hidden: nn.add(h1, mlp), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('final_layer_norm', hidden, x, eps);
      },
      lmHead: lmHead(ckpt.config, tensors, { embedding: 'embed_tokens.weight', tiedByDefault: true }),
    };
  },
};
