/**
 * Phi (microsoft/phi-1, phi-1_5, phi-2): a causal decoder with one LayerNorm per layer feeding
 * attention and MLP in parallel, x + Attn(ln(x)) + MLP(ln(x)) (GPT-J's layout), biases on every
 * projection, separate `q_proj/k_proj/v_proj` with an output projection called `dense`, partial
 * rotary (rotate_half over the first `partial_rotary_factor` of each head) and a
 * `final_layernorm`. Phi-3 is a different, Llama-style family (phi3.ts). `qk_layernorm` (a LayerNorm
 * on q and k per head) is refused.
 */
import { acceptOnly, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { attend } from './blocks/attention';
import { causalMaskInput } from './blocks/masks';
import { plainMlp } from './blocks/mlp';
import { toHeadsQkv } from './blocks/qkv';
import { parseDecoderConfig, type DecoderConfig } from './blocks/decoder';
import { rotaryInputs } from './blocks/rope';
import { layerWeights } from './blocks/weights';
import { lmHead } from './blocks/lmHead';

const PREFIXES = ['model.'];

export function parsePhiConfig(c: ModelConfig): DecoderConfig {
  acceptOnly(c, 'qk_layernorm', [false], 'a LayerNorm on q and k per head');
  // Llama's config names, LayerNorm's layer_norm_eps; rotary over half of each head unless the config says otherwise.
  return parseDecoderConfig(c, { norm: 'layer', defaultPartialRotary: 0.5, defaultActivation: 'gelu_new' });
}

export const phi: Family = {
  modelTypes: ['phi'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, kvHeads, layers, intermediate, headDim, eps, act, rotaryDim, rope, maxPositions } = parsePhiConfig(c);
    const kvDim = kvHeads * headDim;
    const tensors = ckpt.scoped(PREFIXES);
    const { cos, sin } = rotaryInputs(rope, headDim, rotaryDim);
    const site = selfSite(1 / Math.sqrt(headDim), [causalMaskInput()]);
    return {
      summary: summarize(c, { layers, heads, kvHeads, headDim, hidden, maxTokens: maxPositions, causal: true }),
      layerBytes: 4 * (hidden * (hidden + 2 * kvDim) + hidden * hidden + 2 * hidden * intermediate),
      embed: (ids) => tensors.rows('embed_tokens.weight', ids),
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `layers.${i}.`, `l${i}`);
        const h = w.layerNorm('input_layernorm', hidden, x, eps);
        const flat = { q: w.linear('self_attn.q_proj', heads * headDim, hidden, h).y, k: w.linear('self_attn.k_proj', kvDim, hidden, h).y, v: w.linear('self_attn.v_proj', kvDim, hidden, h).y };
        const qkv = toHeadsQkv(nn, flat, heads, kvHeads, headDim);
        const rotate = (t: string) => nn.rotary(t, use(cos), use(sin), headDim, rotaryDim);
        const attn = attend(nn, use, site, { q: rotate(qkv.q), k: rotate(qkv.k), v: qkv.v }, heads, headDim, (context) => w.linear('self_attn.dense', hidden, heads * headDim, context));
        const mlp = plainMlp(nn, w, h, { up: 'mlp.fc1', down: 'mlp.fc2' }, hidden, intermediate, act);
        return { hidden: nn.add(nn.add(attn.y, mlp), x), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('final_layernorm', hidden, x, eps);
      },
      lmHead: lmHead(ckpt.config, tensors, { embedding: 'embed_tokens.weight', tiedByDefault: false, bias: 'lm_head.bias' }),
    };
  },
};
