/**
 * GPT-NeoX (Pythia, GPT-NeoX-20B): a pre-norm causal decoder with LayerNorm and biases. It differs
 * from the Llama layer in three ways:
 * - q, k, v come from one `query_key_value` projection whose outputs are grouped per head,
 *   `[heads, 3, headDim]` (head 0's q, k, v, then head 1's...), not `[q | k | v]`;
 * - rotary positions cover only the first `rotary_pct` of each head's dimensions;
 * - with `use_parallel_residual` (the default) attention and MLP both read the layer input:
 *   x + Attn(ln1(x)) + MLP(ln2(x)); otherwise they run one after the other.
 */
import { configInt, configNumber, summarize, type Architecture } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import type { Weight } from '../engine/onnx/graph';
import type { Nn } from '../engine/onnx/layers';
import { causalMask } from './masks';
import { ropeSettings, rotaryTables } from './rope';

const PREFIXES = ['gpt_neox.'];

/**
 * Splits the per-head interleaved fused projection (rows `[heads, 3, headDim]` of a `[3·hidden, in]`
 * weight, or entries of the bias) into separate q, k, v parts laid out `[heads·headDim, rowSize]`
 * each (`[heads·headDim]` for the bias). Graph ops on a constant: onnxruntime folds them once.
 */
function splitPerHead(nn: Nn, fused: Weight, heads: number, headDim: number, rowSize: number): [string, string, string] {
  const g = nn.g;
  const grouped = g.op('Reshape', [g.use(fused), g.int64s([heads, 3, headDim * rowSize])]);
  const shape = rowSize === 1 ? [heads * headDim] : [heads * headDim, rowSize];
  return [0, 1, 2].map((which) => g.op('Reshape', [g.op('Gather', [grouped, g.int64s([which])], { axis: 1 }), g.int64s(shape)])) as [string, string, string];
}

export function createGptNeox(ckpt: Checkpoint): Architecture {
  const c = ckpt.config;
  const hidden = configInt(c, 'hidden_size');
  const heads = configInt(c, 'num_attention_heads');
  const layers = configInt(c, 'num_hidden_layers');
  const intermediate = configInt(c, 'intermediate_size');
  const eps = configNumber(c, 1e-5, 'layer_norm_eps');
  const act = String(c.hidden_act ?? 'gelu');
  const parallelResidual = c.use_parallel_residual !== false;
  const headDim = hidden / heads;
  // transformers 4 spells the rotary settings rotary_pct / rotary_emb_base; transformers 5 moves them into rope_parameters.
  const ropeParams = (c.rope_parameters ?? {}) as Record<string, unknown>;
  const rotaryFraction = configNumber(ropeParams, configNumber(c, 0.25, 'rotary_pct', 'partial_rotary_factor'), 'partial_rotary_factor');
  const rotaryDim = Math.floor(headDim * rotaryFraction);
  const rope = ropeSettings(c, configNumber(c, 10000, 'rotary_emb_base'));
  const scale = 1 / Math.sqrt(headDim);
  const { tensor: t, optional: opt } = ckpt.scoped(PREFIXES);
  // attention_bias = false (transformers 5) leaves the attention projections without biases.
  return {
    summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: typeof c.max_position_embeddings === 'number' ? c.max_position_embeddings : null, causal: true }),
    scale,
    softcap: null,
    layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * intermediate),
    embed(ids) {
      return ckpt.rows('embed_in.weight', PREFIXES, ids);
    },
    positionInputs(n) {
      const { cos, sin } = rotaryTables(rope, n, headDim, rotaryDim);
      return { cos, sin, causal_mask: causalMask(n) };
    },
    positionInputShapes: () => ({ cos: ['n', headDim], sin: ['n', headDim], causal_mask: ['n', 'n'] }),
    logitBiasInput: () => 'causal_mask',
    buildLayer(nn, i, x, use) {
      const p = `layers.${i}.`;
      const proj = (name: string, out: number, inp: number, src: string) => nn.linear(src, t(`${p}${name}.weight`, [out, inp]), out, inp, opt(`${p}${name}.bias`, [out]), `l${i}.${name}`);
      const norm = (src: string, name: string) => nn.layerNorm(src, t(`${p}${name}.weight`, [hidden]), t(`${p}${name}.bias`, [hidden]), eps, `l${i}.${name}`);
      const h = norm(x, 'input_layernorm');
      const qkvName = `${p}attention.query_key_value`;
      const weights = splitPerHead(nn, t(`${qkvName}.weight`, [3 * hidden, hidden]), heads, headDim, hidden);
      const fusedBias = opt(`${qkvName}.bias`, [3 * hidden]);
      const biases = fusedBias ? splitPerHead(nn, fusedBias, heads, headDim, 1) : undefined;
      const [qFlat, kFlat, vFlat] = ['q', 'k', 'v'].map((name, which) => nn.linear(h, weights[which], hidden, hidden, biases?.[which], `l${i}.attention.${name}`).y);
      const q = nn.rotary(nn.toHeads(qFlat, heads, headDim), use('cos'), use('sin'), headDim, rotaryDim);
      const k = nn.rotary(nn.toHeads(kFlat, heads, headDim), use('cos'), use('sin'), headDim, rotaryDim);
      const v = nn.toHeads(vFlat, heads, headDim);
      const attn = nn.attention(q, k, v, scale, use('causal_mask'), null);
      const out = proj('attention.dense', hidden, hidden, nn.fromHeads(attn.context, heads, headDim));
      const mlp = (src: string) => proj('mlp.dense_4h_to_h', hidden, intermediate, nn.activation(proj('mlp.dense_h_to_4h', intermediate, hidden, src).y, act)).y;
      let next: string;
      if (parallelResidual) {
        next = nn.add(nn.add(mlp(norm(x, 'post_attention_layernorm')), out.y), x);
      } else {
        const h1 = nn.add(out.y, x);
        next = nn.add(mlp(norm(h1, 'post_attention_layernorm')), h1);
      }
      return { hidden: next, probs: attn.probs, valueNorms: nn.valueNorms(v, out.weightInOut, heads, headDim, hidden), q, k, v };
    },
    buildFinal(nn, x) {
      return nn.layerNorm(x, t('final_layer_norm.weight', [hidden]), t('final_layer_norm.bias', [hidden]), eps, 'final_layer_norm');
    },
  };
}
