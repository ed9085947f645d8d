/**
 * BERT and its derivatives with the same layer layout: RoBERTa, XLM-RoBERTa, CamemBERT.
 * Post-norm encoder: x = LN(x + Attn(x)); x = LN(x + FFN(x)); learned absolute positions and
 * token types. RoBERTa counts positions from padding_idx + 1.
 */
import { configInt, configNumber, summarize, type Architecture } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { layerNormRows } from '../engine/onnx/layers';

const PREFIXES = ['bert.', 'roberta.', 'model.', 'encoder.'];

export function createBert(ckpt: Checkpoint): Architecture {
  const c = ckpt.config;
  const modelType = String(c.model_type);
  const hidden = configInt(c, 'hidden_size');
  const heads = configInt(c, 'num_attention_heads');
  const layers = configInt(c, 'num_hidden_layers');
  const intermediate = configInt(c, 'intermediate_size');
  const maxPositions = configInt(c, 'max_position_embeddings');
  const eps = configNumber(c, 1e-12, 'layer_norm_eps');
  const act = String(c.hidden_act ?? 'gelu');
  const headDim = hidden / heads;
  // RoBERTa-style position ids start after the padding index.
  const robertaPositions = modelType !== 'bert';
  const positionOffset = robertaPositions ? configNumber(c, 1, 'pad_token_id') + 1 : 0;
  const { tensor: t, optional: opt, read } = ckpt.scoped(PREFIXES);
  const embLnW = read('embeddings.LayerNorm.weight', [hidden]);
  const embLnB = read('embeddings.LayerNorm.bias', [hidden]);
  const hasTypes = ckpt.has('embeddings.token_type_embeddings.weight', PREFIXES);
  return {
    summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions - positionOffset, causal: false }),
    scale: 1 / Math.sqrt(headDim),
    softcap: null,
    layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
    embed(ids, typeIds) {
      const n = ids.length;
      const words = ckpt.rows('embeddings.word_embeddings.weight', PREFIXES, ids);
      const positions = ckpt.rows('embeddings.position_embeddings.weight', PREFIXES, ids.map((_, i) => i + positionOffset));
      const types = hasTypes ? ckpt.rows('embeddings.token_type_embeddings.weight', PREFIXES, typeIds.map((x) => x ?? 0)) : undefined;
      const sum = new Float32Array(n * hidden);
      for (let i = 0; i < sum.length; i++) sum[i] = words[i] + (types ? types[i] : 0) + positions[i];
      return layerNormRows(sum, hidden, embLnW, embLnB, eps);
    },
    positionInputs: () => ({}),
    positionInputShapes: () => ({}),
    logitBiasInput: () => undefined,
    buildLayer(nn, i, x) {
      const p = `encoder.layer.${i}.`;
      const proj = (name: string, out: number, inp: number, src: string) => nn.linear(src, t(`${p}${name}.weight`, [out, inp]), out, inp, opt(`${p}${name}.bias`, [out]), `l${i}.${name}`);
      const q = nn.toHeads(proj('attention.self.query', hidden, hidden, x).y, heads, headDim);
      const k = nn.toHeads(proj('attention.self.key', hidden, hidden, x).y, heads, headDim);
      const v = nn.toHeads(proj('attention.self.value', hidden, hidden, x).y, heads, headDim);
      const attn = nn.attention(q, k, v, 1 / Math.sqrt(headDim), undefined, null);
      const out = proj('attention.output.dense', hidden, hidden, nn.fromHeads(attn.context, heads, headDim));
      const h1 = nn.layerNorm(nn.add(out.y, x), t(`${p}attention.output.LayerNorm.weight`, [hidden]), t(`${p}attention.output.LayerNorm.bias`, [hidden]), eps, `l${i}.ln1`);
      const inter = nn.activation(proj('intermediate.dense', intermediate, hidden, h1).y, act);
      const ffn = proj('output.dense', hidden, intermediate, inter);
      const h2 = nn.layerNorm(nn.add(ffn.y, h1), t(`${p}output.LayerNorm.weight`, [hidden]), t(`${p}output.LayerNorm.bias`, [hidden]), eps, `l${i}.ln2`);
      return { hidden: h2, probs: attn.probs, valueNorms: nn.valueNorms(v, out.weightInOut, heads, headDim, hidden), q, k, v };
    },
  };
}
