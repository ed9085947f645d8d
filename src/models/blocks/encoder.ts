/**
 * The post-norm encoder layer of BERT and the encoders built like it (ELECTRA, ALBERT, MPNet,
 * DeBERTa-v2): h = LN(x + O(Attn(Q x, K x, V x))); y = LN(h + down(act(up(h)))). Families differ
 * in tensor names and in logit terms computed from q and k (`graphTerms`), not in the layer.
 */
import { configInt, configNumber, type AttentionSite, type LayerOutputs, type UseInput } from '../../engine/architecture';
import type { ModelConfig } from '../../engine/checkpoint';
import type { Nn } from '../../engine/onnx/layers';
import { attend, type HeadsQkv } from './attention';
import { plainMlp } from './mlp';
import { toHeadsQkv } from './qkv';
import type { LayerWeights } from './weights';

/** The checkpoint's names of the layer's projections and norms (below the layer prefix). */
export interface PostNormNames {
  query: string;
  key: string;
  value: string;
  output: string;
  attentionNorm: string;
  up: string;
  down: string;
  outputNorm: string;
}

export const BERT_LAYER_NAMES: PostNormNames = {
  query: 'attention.self.query',
  key: 'attention.self.key',
  value: 'attention.self.value',
  output: 'attention.output.dense',
  attentionNorm: 'attention.output.LayerNorm',
  up: 'intermediate.dense',
  down: 'output.dense',
  outputNorm: 'output.LayerNorm',
};

export interface PostNormShape {
  hidden: number;
  heads: number;
  headDim: number;
  intermediate: number;
  eps: number;
  act: string;
}

/** The BERT-style config keys every such encoder has (`hidden_size`, `num_attention_heads`, …). */
export interface BertStyleConfig {
  hidden: number;
  heads: number;
  layers: number;
  intermediate: number;
  maxPositions: number;
  eps: number;
  act: string;
}

/** Reads the BERT-style keys; `defaults` are the family's transformers defaults for eps and activation. */
export function parseBertStyleConfig(c: ModelConfig, defaults: { eps: number; act: string }): BertStyleConfig {
  return {
    hidden: configInt(c, 'hidden_size'),
    heads: configInt(c, 'num_attention_heads'),
    layers: configInt(c, 'num_hidden_layers'),
    intermediate: configInt(c, 'intermediate_size'),
    maxPositions: configInt(c, 'max_position_embeddings'),
    eps: configNumber(c, defaults.eps, 'layer_norm_eps'),
    act: String(c.hidden_act ?? defaults.act),
  };
}

/**
 * One post-norm encoder layer. `graphTerms(qkv)` returns the `[heads, n, n]` logit terms computed
 * from the layer's q and k (already scaled as the model scales them), in the order `site.graphTerms` names them.
 */
export function postNormEncoderLayer(
  nn: Nn,
  w: LayerWeights,
  use: UseInput,
  site: AttentionSite,
  x: string,
  shape: PostNormShape,
  names: PostNormNames,
  graphTerms: (qkv: HeadsQkv) => string[] = () => [],
): LayerOutputs {
  const { hidden, heads, headDim, intermediate, eps, act } = shape;
  const flat = { q: w.linear(names.query, hidden, hidden, x).y, k: w.linear(names.key, hidden, hidden, x).y, v: w.linear(names.value, hidden, hidden, x).y };
  const qkv = toHeadsQkv(nn, flat, heads, heads, headDim);
  const attn = attend(nn, use, site, qkv, heads, headDim, (context) => w.linear(names.output, hidden, hidden, context), graphTerms(qkv));
  const h = w.layerNorm(names.attentionNorm, hidden, nn.add(attn.y, x), eps);
  const ffn = plainMlp(nn, w, h, { up: names.up, down: names.down }, hidden, intermediate, act);
  return { hidden: w.layerNorm(names.outputNorm, hidden, nn.add(ffn, h), eps), ...attn.outputs };
}
