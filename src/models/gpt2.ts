/**
 * GPT-2: a pre-norm causal decoder with learned absolute positions (wte + wpe) and LayerNorm
 * (ln_1, ln_2, final ln_f). Its projections are Conv1D modules whose weights are stored `[in, out]`
 * (the transpose of torch Linear), and q, k, v come from one fused `c_attn` projection laid out
 * `[q | k | v]` along the output axis. The original OpenAI checkpoints spell tensor names without
 * the `transformer.` prefix.
 */
import { configInt, configNumber, summarize, type Architecture } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { EngineError } from '../engine/errors';
import { causalMask } from './masks';

const PREFIXES = ['transformer.'];

export function createGpt2(ckpt: Checkpoint): Architecture {
  const c = ckpt.config;
  const hidden = configInt(c, 'n_embd', 'hidden_size');
  const heads = configInt(c, 'n_head', 'num_attention_heads');
  const layers = configInt(c, 'n_layer', 'num_hidden_layers');
  const maxPositions = configInt(c, 'n_positions', 'n_ctx', 'max_position_embeddings');
  // n_inner: null means 4 × hidden.
  const inner = typeof c.n_inner === 'number' ? configInt(c, 'n_inner') : 4 * hidden;
  const eps = configNumber(c, 1e-5, 'layer_norm_epsilon');
  const act = String(c.activation_function ?? 'gelu_new');
  const headDim = hidden / heads;
  if (c.scale_attn_by_inverse_layer_idx === true) {
    // A per-layer 1/(layer+1) factor on the logits: one scale per model cannot describe it.
    throw new EngineError('unsupported-architecture', 'GPT-2 checkpoints with scale_attn_by_inverse_layer_idx = true are not supported yet.');
  }
  // scale_attn_weights = false leaves q·k unscaled.
  const scale = c.scale_attn_weights === false ? 1 : 1 / Math.sqrt(headDim);
  const { tensor: t } = ckpt.scoped(PREFIXES);
  return {
    summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: true }),
    scale,
    softcap: null,
    layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * inner),
    embed(ids) {
      const words = ckpt.rows('wte.weight', PREFIXES, ids);
      const positions = ckpt.rows('wpe.weight', PREFIXES, ids.map((_, i) => i));
      for (let i = 0; i < words.length; i++) words[i] += positions[i];
      return words;
    },
    positionInputs: (n) => ({ causal_mask: causalMask(n) }),
    positionInputShapes: () => ({ causal_mask: ['n', 'n'] }),
    logitBiasInput: () => 'causal_mask',
    buildLayer(nn, i, x, use) {
      const p = `h.${i}.`;
      const conv1d = (name: string, inp: number, out: number, src: string) => nn.linearInOut(src, t(`${p}${name}.weight`, [inp, out]), inp, out, t(`${p}${name}.bias`, [out]), `l${i}.${name}`);
      const norm = (src: string, name: string) => nn.layerNorm(src, t(`${p}${name}.weight`, [hidden]), t(`${p}${name}.bias`, [hidden]), eps, `l${i}.${name}`);
      const qkv = conv1d('attn.c_attn', hidden, 3 * hidden, norm(x, 'ln_1')).y;
      const [qFlat, kFlat, vFlat] = nn.g.opN('Split', [qkv, nn.g.int64s([hidden, hidden, hidden])], 3, { axis: -1 });
      const q = nn.toHeads(qFlat, heads, headDim);
      const k = nn.toHeads(kFlat, heads, headDim);
      const v = nn.toHeads(vFlat, heads, headDim);
      const attn = nn.attention(q, k, v, scale, use('causal_mask'), null);
      const out = conv1d('attn.c_proj', hidden, hidden, nn.fromHeads(attn.context, heads, headDim));
      const h1 = nn.add(x, out.y);
      const mlp = conv1d('mlp.c_proj', inner, hidden, nn.activation(conv1d('mlp.c_fc', hidden, inner, norm(h1, 'ln_2')).y, act));
      return { hidden: nn.add(h1, mlp.y), probs: attn.probs, valueNorms: nn.valueNorms(v, out.weightInOut, heads, headDim, hidden), q, k, v };
    },
    buildFinal(nn, x) {
      return nn.layerNorm(x, t('ln_f.weight', [hidden]), t('ln_f.bias', [hidden]), eps, 'ln_f');
    },
  };
}
