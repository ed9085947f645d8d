/**
 * Seeded random-weight checkpoints with the shapes of real models, written in the Hugging Face
 * layout, so the benchmark measures real-sized work without downloading anything.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface BenchModel {
  id: string;
  description: string;
  config: Record<string, unknown>;
  /** Tensor name → shape. */
  tensors: Record<string, number[]>;
  dtype: 'F32' | 'BF16';
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function bertBase(): BenchModel {
  const H = 768, I = 3072, L = 12, V = 30522;
  const tensors: Record<string, number[]> = {
    'bert.embeddings.word_embeddings.weight': [V, H],
    'bert.embeddings.position_embeddings.weight': [512, H],
    'bert.embeddings.token_type_embeddings.weight': [2, H],
    'bert.embeddings.LayerNorm.weight': [H],
    'bert.embeddings.LayerNorm.bias': [H],
  };
  for (let l = 0; l < L; l++) {
    const p = `bert.encoder.layer.${l}.`;
    for (const m of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) Object.assign(tensors, { [`${p}${m}.weight`]: [H, H], [`${p}${m}.bias`]: [H] });
    Object.assign(tensors, {
      [`${p}attention.output.LayerNorm.weight`]: [H], [`${p}attention.output.LayerNorm.bias`]: [H],
      [`${p}intermediate.dense.weight`]: [I, H], [`${p}intermediate.dense.bias`]: [I],
      [`${p}output.dense.weight`]: [H, I], [`${p}output.dense.bias`]: [H],
      [`${p}output.LayerNorm.weight`]: [H], [`${p}output.LayerNorm.bias`]: [H],
    });
  }
  return {
    id: 'bert-base', description: 'bert-base (12 layers, 768 hidden, 12 heads)', dtype: 'F32', tensors,
    config: { model_type: 'bert', hidden_size: H, num_attention_heads: 12, num_hidden_layers: L, intermediate_size: I, max_position_embeddings: 512, type_vocab_size: 2, vocab_size: V, layer_norm_eps: 1e-12, hidden_act: 'gelu' },
  };
}

export function gpt2Small(): BenchModel {
  const H = 768, L = 12, V = 50257;
  const tensors: Record<string, number[]> = { 'transformer.wte.weight': [V, H], 'transformer.wpe.weight': [1024, H], 'transformer.ln_f.weight': [H], 'transformer.ln_f.bias': [H] };
  for (let l = 0; l < L; l++) {
    const p = `transformer.h.${l}.`;
    Object.assign(tensors, {
      [`${p}ln_1.weight`]: [H], [`${p}ln_1.bias`]: [H], [`${p}ln_2.weight`]: [H], [`${p}ln_2.bias`]: [H],
      [`${p}attn.c_attn.weight`]: [H, 3 * H], [`${p}attn.c_attn.bias`]: [3 * H],
      [`${p}attn.c_proj.weight`]: [H, H], [`${p}attn.c_proj.bias`]: [H],
      [`${p}mlp.c_fc.weight`]: [H, 4 * H], [`${p}mlp.c_fc.bias`]: [4 * H],
      [`${p}mlp.c_proj.weight`]: [4 * H, H], [`${p}mlp.c_proj.bias`]: [H],
    });
  }
  return {
    id: 'gpt2-small', description: 'GPT-2 small (12 layers, 768 hidden, 12 heads)', dtype: 'F32', tensors,
    config: { model_type: 'gpt2', n_embd: H, n_head: 12, n_layer: L, n_positions: 1024, vocab_size: V, layer_norm_epsilon: 1e-5, activation_function: 'gelu_new' },
  };
}

export function qwen25Half(): BenchModel {
  const H = 896, I = 4864, L = 24, heads = 14, kv = 2, d = 64, V = 16384;
  const tensors: Record<string, number[]> = { 'model.embed_tokens.weight': [V, H], 'model.norm.weight': [H] };
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(tensors, {
      [`${p}input_layernorm.weight`]: [H], [`${p}post_attention_layernorm.weight`]: [H],
      [`${p}self_attn.q_proj.weight`]: [heads * d, H], [`${p}self_attn.q_proj.bias`]: [heads * d],
      [`${p}self_attn.k_proj.weight`]: [kv * d, H], [`${p}self_attn.k_proj.bias`]: [kv * d],
      [`${p}self_attn.v_proj.weight`]: [kv * d, H], [`${p}self_attn.v_proj.bias`]: [kv * d],
      [`${p}self_attn.o_proj.weight`]: [H, heads * d],
      [`${p}mlp.gate_proj.weight`]: [I, H], [`${p}mlp.up_proj.weight`]: [I, H], [`${p}mlp.down_proj.weight`]: [H, I],
    });
  }
  return {
    id: 'qwen2.5-0.5b', description: 'Qwen2.5-0.5B shape (24 layers, 896 hidden, 14/2 heads, vocab shrunk to 16384), bf16 on disk', dtype: 'BF16', tensors,
    config: { model_type: 'qwen2', hidden_size: H, intermediate_size: I, num_hidden_layers: L, num_attention_heads: heads, num_key_value_heads: kv, max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000, vocab_size: V, tie_word_embeddings: true, hidden_act: 'silu' },
  };
}

/** One word per token: "w1 w2 …" tokenizes to exactly that many tokens on every architecture. */
function wordLevelTokenizer(vocabSize: number): string {
  const vocab: Record<string, number> = { '[UNK]': 0 };
  for (let i = 1; i < Math.min(vocabSize, 4096); i++) vocab[`w${i}`] = i;
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 0, content: '[UNK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null, pre_tokenizer: { type: 'WhitespaceSplit' }, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '[UNK]' },
  });
}

export function benchText(tokens: number): string {
  return Array.from({ length: tokens }, (_, i) => `w${(i * 7919) % 4000 + 1}`).join(' ');
}

/** Writes the checkpoint (once; reused if present) and returns its folder. */
export function writeCheckpoint(model: BenchModel, root: string, seed = 1234): string {
  const folder = path.join(root, model.id);
  const done = path.join(folder, '.complete');
  if (fs.existsSync(done)) return folder;
  fs.mkdirSync(folder, { recursive: true });
  const random = mulberry32(seed);
  const bytesPer = model.dtype === 'F32' ? 4 : 2;
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of Object.entries(model.tensors)) {
    const size = shape.reduce((a, b) => a * b, 1) * bytesPer;
    header[name] = { dtype: model.dtype, shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let headerJson = JSON.stringify(header);
  headerJson += ' '.repeat((8 - (headerJson.length % 8)) % 8);
  const fd = fs.openSync(path.join(folder, 'model.safetensors'), 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerJson.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, headerJson);
  for (const [name, shape] of Object.entries(model.tensors)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const isNormWeight = /(LayerNorm|layernorm|ln_\d|ln_f|norm)\.weight$/.test(name);
    const values = new Float32Array(count);
    // Norm scales near 1, everything else small and centred (sum of uniforms ≈ normal).
    for (let i = 0; i < count; i++) values[i] = isNormWeight ? 1 : (random() + random() + random() - 1.5) * 0.04;
    if (model.dtype === 'F32') fs.writeSync(fd, Buffer.from(values.buffer));
    else {
      const u32 = new Uint32Array(values.buffer);
      const bf = new Uint16Array(count);
      for (let i = 0; i < count; i++) bf[i] = u32[i] >>> 16;
      fs.writeSync(fd, Buffer.from(bf.buffer));
    }
  }
  fs.closeSync(fd);
  fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify(model.config, null, 2));
  fs.writeFileSync(path.join(folder, 'tokenizer.json'), wordLevelTokenizer(Number(model.config.vocab_size)));
  fs.writeFileSync(done, '');
  return folder;
}

/** Float32 bytes of all weights (the memory target is relative to this). */
export function float32Bytes(model: BenchModel): number {
  return Object.values(model.tensors).reduce((sum, shape) => sum + shape.reduce((a, b) => a * b, 1) * 4, 0);
}
