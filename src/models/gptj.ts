/**
 * GPT-J (EleutherAI/gpt-j-6b and its fine-tunes such as PygmalionAI/pygmalion-6b): GPT-2's names
 * (wte, ln_1, ln_f) with separate bias-free `attn.q_proj/k_proj/v_proj/out_proj`, no absolute
 * positions, and attention and MLP in parallel from one norm: x + Attn(ln_1(x)) + MLP(ln_1(x)).
 * Its rotary embedding differs from GPT-NeoX's: it rotates interleaved pairs (rotate_every_two,
 * dimensions 2i and 2i+1) over the first `rotary_dim` dimensions of each head only.
 */
import { configInt, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { attend } from './blocks/attention';
import { causalMaskInput } from './blocks/masks';
import { plainMlp } from './blocks/mlp';
import { toHeadsQkv } from './blocks/qkv';
import { applyRotary, ropeSettings, rotaryInputs } from './blocks/rope';
import { layerWeights } from './blocks/weights';
import { parseGpt2Shape, type Gpt2Shape } from './gpt2';
import { lmHead } from './blocks/lmHead';

const PREFIXES = ['transformer.'];

export interface GptjConfig extends Gpt2Shape {
  rotaryDim: number;
}

export function parseGptjConfig(c: ModelConfig): GptjConfig {
  const shape = parseGpt2Shape(c, 'gelu_new');
  // rotary_dim null: the whole head.
  return { ...shape, rotaryDim: typeof c.rotary_dim === 'number' ? configInt(c, 'rotary_dim') : shape.hidden / shape.heads };
}

export const gptj: Family = {
  modelTypes: ['gptj'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, maxPositions, inner, eps, act, rotaryDim } = parseGptjConfig(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    // GPT-J's sinusoidal table: θ = 10000, no scaling options.
    const { cos, sin } = rotaryInputs(ropeSettings({}), headDim, rotaryDim, '', 'interleaved');
    const site = selfSite(1 / Math.sqrt(headDim), [causalMaskInput()]);
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: true }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * inner),
      embed: (ids) => tensors.rows('wte.weight', ids),
      site: () => site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `h.${i}.`, `l${i}`);
        const h = w.layerNorm('ln_1', hidden, x, eps);
        const proj = (name: string) => w.linear(`attn.${name}`, hidden, hidden, h).y;
        const rotate = (t: string) => applyRotary(nn, t, use(cos), use(sin), headDim, rotaryDim, 'interleaved');
        const flat = toHeadsQkv(nn, { q: proj('q_proj'), k: proj('k_proj'), v: proj('v_proj') }, heads, heads, headDim);
        const attn = attend(nn, use, site, { q: rotate(flat.q), k: rotate(flat.k), v: flat.v }, heads, headDim, (context) => w.linear('attn.out_proj', hidden, hidden, context));
        const mlp = plainMlp(nn, w, h, { up: 'mlp.fc_in', down: 'mlp.fc_out' }, hidden, inner, act);
        return { hidden: nn.add(nn.add(attn.y, mlp), x), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('ln_f', hidden, x, eps);
      },
      lmHead: lmHead(ckpt.config, tensors, { embedding: 'wte.weight', tiedByDefault: false, bias: 'lm_head.bias' }),
    };
  },
};
