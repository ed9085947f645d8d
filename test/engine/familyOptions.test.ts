/**
 * Config options a family does not implement are refused by name (never silently ignored): one
 * test per refused option, on a reference checkpoint whose config.json sets it.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EngineError } from '../../src/engine/errors';
import { loadModel } from '../../src/models';
import { FIXTURES_2_ROOT, FIXTURES_ROOT } from '../helpers/fixtures';

/** A copy of `folder`'s files (the engine follows no link out of a model folder) with config.json changed by `patch`. */
function withConfig(folder: string, patch: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-option-'));
  for (const file of fs.readdirSync(folder)) if (file !== 'config.json' && !file.startsWith('expected')) fs.copyFileSync(path.join(folder, file), path.join(dir, file));
  const config = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, ...patch }));
  return dir;
}

/** [fixture folder, config patch (none: the fixture itself sets it), message naming the option]. */
const REFUSED: [string, Record<string, unknown> | null, RegExp][] = [
  [path.join(FIXTURES_2_ROOT, 'bert-relative-key'), { position_embedding_type: 'relative_key' }, /position_embedding_type = "relative_key"/],
  [path.join(FIXTURES_ROOT, 'roberta'), { is_decoder: true }, /is_decoder = true/],
  [path.join(FIXTURES_ROOT, 'bert'), { add_cross_attention: true }, /add_cross_attention = true/],
  [path.join(FIXTURES_ROOT, 'gpt2'), { add_cross_attention: true }, /add_cross_attention = true/],
  [path.join(FIXTURES_ROOT, 'llama'), { rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 128 } }, /rope_scaling\.original_max_position_embeddings = 128/],
  [path.join(FIXTURES_ROOT, 'llama'), { rope_scaling: { rope_type: 'su', factor: 2 } }, /rope_scaling\.rope_type = "su"/],
  [path.join(FIXTURES_ROOT, 'gpt-neox'), { rope_scaling: { rope_type: 'longrope', factor: 2 } }, /rope_scaling\.rope_type = "longrope"/],
  [path.join(FIXTURES_2_ROOT, 'electra'), { position_embedding_type: 'relative_key_query' }, /position_embedding_type = "relative_key_query"/],
  [path.join(FIXTURES_2_ROOT, 'electra'), { is_decoder: true }, /is_decoder = true/],
  [path.join(FIXTURES_2_ROOT, 'electra'), { add_cross_attention: true }, /add_cross_attention = true/],
  [path.join(FIXTURES_2_ROOT, 'albert'), { position_embedding_type: 'relative_key' }, /position_embedding_type = "relative_key"/],
  [path.join(FIXTURES_2_ROOT, 'albert'), { inner_group_num: 2 }, /inner_group_num = 2/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { relative_attention: false }, /relative_attention = false/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { position_biased_input: true }, /position_biased_input = true/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { type_vocab_size: 2 }, /type_vocab_size = 2/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { embedding_size: 32 }, /embedding_size = 32/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { share_att_key: false }, /share_att_key = false/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { share_att_key: undefined }, /does not set share_att_key, so transformers uses its default false/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { conv_kernel_size: 3 }, /conv_kernel_size = 3/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { attention_head_size: 8 }, /attention_head_size = 8/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { norm_rel_ebd: 'batch_norm' }, /norm_rel_ebd = "batch_norm"/],
  [path.join(FIXTURES_2_ROOT, 'deberta-v2'), { pos_att_type: ['p2c', 'c2p', 'p2p'] }, /pos_att_type = \["p2c","c2p","p2p"\]/],
  [path.join(FIXTURES_2_ROOT, 'opt'), { do_layer_norm_before: false }, /do_layer_norm_before = false/],
  [path.join(FIXTURES_2_ROOT, 'opt'), { word_embed_proj_dim: 32 }, /word_embed_proj_dim = 32/],
  [path.join(FIXTURES_2_ROOT, 'opt'), { _remove_final_layer_norm: true }, /_remove_final_layer_norm = true/],
  [path.join(FIXTURES_2_ROOT, 'opt'), { layer_norm_elementwise_affine: false }, /layer_norm_elementwise_affine = false/],
  [path.join(FIXTURES_2_ROOT, 't5'), { feed_forward_proj: 'gated-quick_gelu' }, /feed_forward_proj = "gated-quick_gelu"/],
  [path.join(FIXTURES_2_ROOT, 't5'), { is_decoder: true }, /is_decoder = true/],
  [path.join(FIXTURES_ROOT, 't5-encoder'), { feed_forward_proj: 'tanh' }, /feed_forward_proj = "tanh"/],
  [path.join(FIXTURES_2_ROOT, 'bart'), { activation_function: 'quick_gelu' }, /activation_function = "quick_gelu"/],
  [path.join(FIXTURES_2_ROOT, 'marian'), { activation_function: 'tanh' }, /activation_function = "tanh"/],
  [path.join(FIXTURES_2_ROOT, 'mbart'), { activation_function: 'gelu_10' }, /activation_function = "gelu_10"/],
  [path.join(FIXTURES_2_ROOT, 'qwen2_moe'), { decoder_sparse_step: 2 }, /decoder_sparse_step = 2/],
  [path.join(FIXTURES_2_ROOT, 'qwen2_moe'), { mlp_only_layers: [1] }, /mlp_only_layers = \[1\]/],
  [path.join(FIXTURES_2_ROOT, 'qwen2_moe'), { num_experts: 0 }, /num_experts = 0/],
  [path.join(FIXTURES_2_ROOT, 'qwen2_moe'), { use_sliding_window: true, sliding_window: 4 }, /use_sliding_window = true/],
  [path.join(FIXTURES_2_ROOT, 'qwen2_moe'), { head_dim: 32 }, /head_dim = 32/],
  [path.join(FIXTURES_2_ROOT, 'qwen2_moe'), { rope_scaling: { rope_type: 'longrope', factor: 2 } }, /rope_scaling\.rope_type = "longrope"/],
  [path.join(FIXTURES_2_ROOT, 'stablelm'), { head_dim: 32 }, /head_dim = 32/],
  [path.join(FIXTURES_2_ROOT, 'stablelm'), { rope_scaling: { rope_type: 'longrope', factor: 2 } }, /rope_scaling\.rope_type = "longrope"/],
  [path.join(FIXTURES_2_ROOT, 'olmo'), { clip_qkv: -1 }, /clip_qkv = -1/],
  [path.join(FIXTURES_2_ROOT, 'olmo'), { rope_scaling: { rope_type: 'longrope', factor: 2 } }, /rope_scaling\.rope_type = "longrope"/],
  [path.join(FIXTURES_2_ROOT, 'olmo2'), { rope_scaling: { rope_type: 'longrope', factor: 2 } }, /rope_scaling\.rope_type = "longrope"/],
  [path.join(FIXTURES_2_ROOT, 'cohere'), { rope_scaling: { rope_type: 'longrope', factor: 2 } }, /rope_scaling\.rope_type = "longrope"/],
  [path.join(FIXTURES_2_ROOT, 'granite'), { rope_scaling: { rope_type: 'longrope', factor: 2 } }, /rope_scaling\.rope_type = "longrope"/],
  [path.join(FIXTURES_ROOT, 'llama'), { rope_scaling: { rope_type: 'longrope', short_factor: [1, 1, 1, 1], long_factor: [2, 2, 2, 2] } }, /rope_scaling\.rope_type = "longrope"/],
  [path.join(FIXTURES_2_ROOT, 'phi3-longrope'), { rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [2, 2] } }, /rope_scaling\.short_factor = \[1,1\]/],
  [path.join(FIXTURES_2_ROOT, 'phi3-longrope'), { original_max_position_embeddings: null }, /rope_scaling\.rope_type = "longrope".*without original_max_position_embeddings/],
  [path.join(FIXTURES_2_ROOT, 'bloom'), { apply_residual_connection_post_layernorm: true }, /apply_residual_connection_post_layernorm = true/],
  [path.join(FIXTURES_2_ROOT, 'falcon-rw-alibi'), { apply_residual_connection_post_layernorm: true }, /apply_residual_connection_post_layernorm = true/],
  [path.join(FIXTURES_2_ROOT, 'falcon'), { parallel_attn: false }, /parallel_attn = false/],
  [path.join(FIXTURES_2_ROOT, 'falcon'), { num_ln_in_parallel_attn: 3 }, /num_ln_in_parallel_attn = 3/],
  [path.join(FIXTURES_2_ROOT, 'falcon-mqa'), { num_ln_in_parallel_attn: 2 }, /num_ln_in_parallel_attn = 2/],
  [path.join(FIXTURES_2_ROOT, 'gpt_bigcode'), { add_cross_attention: true }, /add_cross_attention = true/],
  [path.join(FIXTURES_2_ROOT, 'phi'), { qk_layernorm: true }, /qk_layernorm = true/],
];

describe('families refuse config options they do not implement, by name', function () {
  this.timeout(60000);
  const temp: string[] = [];
  after(() => temp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  for (const [folder, patch, message] of REFUSED) {
    it(`${path.basename(folder)}${patch ? ` with ${JSON.stringify(patch)}` : ''}`, async () => {
      const dir = patch ? withConfig(folder, patch) : folder;
      if (patch) temp.push(dir);
      await assert.rejects(loadModel(dir), (err: unknown) => {
        assert.ok(err instanceof EngineError, `expected an EngineError, got ${err}`);
        assert.strictEqual(err.code, 'unsupported-architecture');
        assert.match(err.message, message);
        return true;
      });
    });
  }
});
