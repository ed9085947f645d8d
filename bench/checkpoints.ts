/**
 * Seeded random-weight checkpoints with the shapes of real models, written in the Hugging Face
 * layout, so the benchmark measures real-sized work without downloading anything.
 */
import * as fs from 'fs';
import * as path from 'path';
import { seededRandom } from '../src/engine/probe';

export interface BenchModel {
  id: string;
  description: string;
  config: Record<string, unknown>;
  /** Tensor name → shape. */
  tensors: Record<string, number[]>;
  dtype: 'F32' | 'BF16';
  /** Split into shards of at most this many bytes, with model.safetensors.index.json (as the Hub's large models are). */
  shardBytes?: number;
  /** The memory limit the benchmark loads it with, in GB (default: the engine's). */
  memoryLimitGB?: number;
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

/** Tensors of a Llama checkpoint as transformers saves it (no lm_head when tied). */
function llamaTensors(config: Record<string, number | boolean>): Record<string, number[]> {
  const H = config.hidden_size as number, I = config.intermediate_size as number, L = config.num_hidden_layers as number;
  const d = config.head_dim as number, q = (config.num_attention_heads as number) * d, kv = (config.num_key_value_heads as number) * d;
  const V = config.vocab_size as number;
  const tensors: Record<string, number[]> = { 'model.embed_tokens.weight': [V, H] };
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(tensors, {
      [`${p}input_layernorm.weight`]: [H], [`${p}post_attention_layernorm.weight`]: [H],
      [`${p}self_attn.q_proj.weight`]: [q, H], [`${p}self_attn.k_proj.weight`]: [kv, H], [`${p}self_attn.v_proj.weight`]: [kv, H], [`${p}self_attn.o_proj.weight`]: [H, q],
      [`${p}mlp.gate_proj.weight`]: [I, H], [`${p}mlp.up_proj.weight`]: [I, H], [`${p}mlp.down_proj.weight`]: [H, I],
    });
  }
  tensors['model.norm.weight'] = [H];
  if (!config.tie_word_embeddings) tensors['lm_head.weight'] = [V, H];
  return tensors;
}

/** meta-llama/Llama-3.2-1B's config.json (its public values; the transformers_version line left out). */
export function llama32_1b(): BenchModel {
  const config = {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: 128001, head_dim: 64,
    hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 131072, mlp_bias: false,
    model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
    rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
    rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 128256,
  };
  return {
    id: 'llama-3.2-1b', description: 'Llama-3.2-1B shape (its config.json: 16 layers, 2048 hidden, 32/8 heads, vocab 128256, llama3 rope), bf16 on disk (2.5 GB)',
    dtype: 'BF16', config, tensors: llamaTensors(config as unknown as Record<string, number | boolean>),
  };
}

/** meta-llama/Llama-3.1-8B's config.json; 4 shards like the Hub's; loaded with the limit a 16 GB laptop gets by default (8 GB). */
export function llama31_8b(): BenchModel {
  const config = {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: 128001,
    hidden_act: 'silu', hidden_size: 4096, initializer_range: 0.02, intermediate_size: 14336, max_position_embeddings: 131072, mlp_bias: false,
    model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
    rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
    rope_theta: 500000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16', use_cache: true, vocab_size: 128256,
  };
  return {
    id: 'llama-3.1-8b', description: 'Llama-3.1-8B shape (its config.json: 32 layers, 4096 hidden, 32/8 heads, 14336 MLP, vocab 128256), bf16 on disk in 4 shards (16.1 GB), memory limit 8 GB',
    dtype: 'BF16', config, tensors: llamaTensors({ ...config, head_dim: 128 } as unknown as Record<string, number | boolean>), shardBytes: 5e9, memoryLimitGB: 8,
  };
}

/** BART-base's config.json shape (6 + 6 layers, 768 hidden, 12 heads, 1,024 learned positions), float32. */
export function bartBase(): BenchModel {
  const H = 768, I = 3072, L = 6, V = 50265, P = 1024;
  const tensors: Record<string, number[]> = { 'model.shared.weight': [V, H], 'final_logits_bias': [1, V] };
  const linear = (name: string, out: number, inDim: number) => Object.assign(tensors, { [`${name}.weight`]: [out, inDim], [`${name}.bias`]: [out] });
  const norm = (name: string) => Object.assign(tensors, { [`${name}.weight`]: [H], [`${name}.bias`]: [H] });
  for (const stack of ['encoder', 'decoder']) {
    tensors[`model.${stack}.embed_positions.weight`] = [P + 2, H];
    norm(`model.${stack}.layernorm_embedding`);
    for (let l = 0; l < L; l++) {
      const p = `model.${stack}.layers.${l}.`;
      for (const site of stack === 'encoder' ? ['self_attn'] : ['self_attn', 'encoder_attn']) {
        for (const m of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${p}${site}.${m}`, H, H);
        norm(`${p}${site}_layer_norm`);
      }
      linear(`${p}fc1`, I, H);
      linear(`${p}fc2`, H, I);
      norm(`${p}final_layer_norm`);
    }
  }
  return {
    id: 'bart-base', description: 'BART-base shape (6 + 6 layers, 768 hidden, 12 heads, 1,024 positions)', dtype: 'F32', tensors,
    config: {
      model_type: 'bart', architectures: ['BartForConditionalGeneration'], d_model: H, encoder_layers: L, decoder_layers: L, encoder_attention_heads: 12, decoder_attention_heads: 12,
      encoder_ffn_dim: I, decoder_ffn_dim: I, activation_function: 'gelu', max_position_embeddings: P, vocab_size: V, scale_embedding: false, normalize_before: false,
      pad_token_id: 1, bos_token_id: 0, eos_token_id: 2, decoder_start_token_id: 2, is_encoder_decoder: true,
    },
  };
}

/** t5-small's config.json shape (6 + 6 blocks, 512 hidden, 8 heads of 64, relative positions: no length table), float32. */
export function t5Small(): BenchModel {
  const H = 512, I = 2048, L = 6, V = 32128, heads = 8, d = 64;
  const tensors: Record<string, number[]> = { 'shared.weight': [V, H], 'encoder.final_layer_norm.weight': [H], 'decoder.final_layer_norm.weight': [H] };
  for (const stack of ['encoder', 'decoder']) {
    for (let l = 0; l < L; l++) {
      const p = `${stack}.block.${l}.layer.`;
      const sites = stack === 'encoder' ? ['0.SelfAttention'] : ['0.SelfAttention', '1.EncDecAttention'];
      for (const site of sites) for (const m of ['q', 'k', 'v', 'o']) tensors[`${p}${site}.${m}.weight`] = m === 'o' ? [H, heads * d] : [heads * d, H];
      if (l === 0) tensors[`${p}0.SelfAttention.relative_attention_bias.weight`] = [32, heads];
      sites.forEach((_, i) => (tensors[`${p}${i}.layer_norm.weight`] = [H]));
      const ff = sites.length;
      tensors[`${p}${ff}.layer_norm.weight`] = [H];
      tensors[`${p}${ff}.DenseReluDense.wi.weight`] = [I, H];
      tensors[`${p}${ff}.DenseReluDense.wo.weight`] = [H, I];
    }
  }
  return {
    id: 't5-small', description: 't5-small shape (6 + 6 blocks, 512 hidden, 8 heads, relative positions)', dtype: 'F32', tensors,
    config: {
      model_type: 't5', architectures: ['T5ForConditionalGeneration'], d_model: H, d_kv: d, d_ff: I, num_layers: L, num_decoder_layers: L, num_heads: heads,
      relative_attention_num_buckets: 32, relative_attention_max_distance: 128, feed_forward_proj: 'relu', layer_norm_epsilon: 1e-6, vocab_size: V,
      pad_token_id: 0, eos_token_id: 1, decoder_start_token_id: 0, is_encoder_decoder: true, tie_word_embeddings: true,
    },
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
  const random = seededRandom(seed);
  const bytesPer = model.dtype === 'F32' ? 4 : 2;
  const entries = Object.entries(model.tensors).map(([name, shape]) => ({ name, shape, bytes: shape.reduce((a, b) => a * b, 1) * bytesPer }));
  // Consecutive tensors per shard, each shard at most shardBytes (one shard when unset).
  const shards: (typeof entries)[] = [[]];
  let shardSize = 0;
  for (const e of entries) {
    if (model.shardBytes && shardSize + e.bytes > model.shardBytes && shards[shards.length - 1].length > 0) {
      shards.push([]);
      shardSize = 0;
    }
    shards[shards.length - 1].push(e);
    shardSize += e.bytes;
  }
  const names = shards.length === 1 ? ['model.safetensors'] : shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, s) => {
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const e of shard) {
      header[e.name] = { dtype: model.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes] };
      offset += e.bytes;
      weightMap[e.name] = names[s];
    }
    let headerJson = JSON.stringify(header);
    headerJson += ' '.repeat((8 - (headerJson.length % 8)) % 8);
    const fd = fs.openSync(path.join(folder, names[s]), 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(headerJson.length));
    fs.writeSync(fd, len);
    fs.writeSync(fd, headerJson);
    for (const { name, shape } of shard) {
      const count = shape.reduce((a, b) => a * b, 1);
      const isNormWeight = /(LayerNorm|layernorm|ln_\d|ln_f|norm)\.weight$/.test(name);
      if (model.shardBytes) writeFastBf16(fd, count, isNormWeight, random);
      else writeValues(fd, model.dtype, count, isNormWeight, random);
    }
    fs.closeSync(fd);
  });
  if (shards.length > 1) fs.writeFileSync(path.join(folder, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: entries.reduce((a, e) => a + e.bytes, 0) }, weight_map: weightMap }, null, 2));
  fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify(model.config, null, 2));
  fs.writeFileSync(path.join(folder, 'tokenizer.json'), wordLevelTokenizer(Number(model.config.vocab_size)));
  fs.writeFileSync(done, '');
  return folder;
}

/** Norm scales near 1, everything else small and centred (sum of uniforms ≈ normal). */
function writeValues(fd: number, dtype: 'F32' | 'BF16', count: number, isNormWeight: boolean, random: () => number): void {
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = isNormWeight ? 1 : (random() + random() + random() - 1.5) * 0.04;
  if (dtype === 'F32') fs.writeSync(fd, Buffer.from(values.buffer));
  else {
    const u32 = new Uint32Array(values.buffer);
    const bf = new Uint16Array(count);
    for (let i = 0; i < count; i++) bf[i] = u32[i] >>> 16;
    fs.writeSync(fd, Buffer.from(bf.buffer));
  }
}

/**
 * bfloat16 values straight from random bits, for the multi-GB shapes: random sign and mantissa,
 * magnitudes between 2⁻⁸ and 2⁻⁴ (the scale of trained weights); norm scales 1. Written in 64 MB blocks.
 */
function writeFastBf16(fd: number, count: number, isNormWeight: boolean, random: () => number): void {
  const block = new Uint16Array(Math.min(count, 32 * 1024 * 1024));
  let state = (random() * 0xffffffff) >>> 0 || 1;
  for (let done = 0; done < count; done += block.length) {
    const n = Math.min(block.length, count - done);
    for (let i = 0; i < n; i++) {
      if (isNormWeight) { block[i] = 0x3f80; continue; }
      state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
      // sign | exponent 119..122 (2⁻⁸..2⁻⁵ ×1.x) | 7 mantissa bits
      block[i] = ((state >>> 16) & 0x8000) | ((119 + (state & 3)) << 7) | ((state >>> 2) & 0x7f);
    }
    fs.writeSync(fd, block, 0, n * 2);
  }
}

/** Float32 bytes of all weights (the memory target is relative to this). */
export function float32Bytes(model: BenchModel): number {
  return Object.values(model.tensors).reduce((sum, shape) => sum + shape.reduce((a, b) => a * b, 1) * 4, 0);
}
