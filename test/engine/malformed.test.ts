/**
 * Malformed model folders, as a fuzzer and real third-party checkpoints found them: each is
 * refused with an actionable EngineError that never quotes what a file contains, never hangs,
 * and never yields NaN attention drawn as data.
 */
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { AttentionModel } from '../../src/engine/model';
import { loadModel } from '../../src/models';
import { EngineError } from '../../src/engine/errors';
import { FIXTURES_ROOT } from '../helpers/fixtures';
import { editJson, readSafetensors, TempFolders, writeSafetensors, writeSafetensorsRaw } from '../helpers/modelFolders';

async function refused(folder: string, code: string, pattern: RegExp): Promise<EngineError> {
  let model: AttentionModel | undefined;
  try {
    model = await loadModel(folder);
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected an EngineError, got ${(err as Error)?.stack ?? err}`);
    assert.strictEqual(err.code, code, err.message);
    assert.match(err.message, pattern);
    return err;
  }
  await model.dispose();
  return assert.fail(`expected ${code}: ${pattern}`);
}

describe('malformed model folders', function () {
  this.timeout(60000);
  const temp = new TempFolders();
  after(() => temp.removeAll());

  describe('files', () => {
    it('a FIFO named config.json or tokenizer.json is refused at once (no read that blocks forever)', async () => {
      for (const name of ['config.json', 'tokenizer.json', 'model.safetensors']) {
        const dir = temp.copy('bert');
        fs.rmSync(path.join(dir, name));
        execFileSync('mkfifo', [path.join(dir, name)]);
        await refused(dir, 'bad-checkpoint', new RegExp(`${name.replace('.', '\\.')} in .* is not a regular file`));
      }
    });

    it('a link to a device (/dev/zero) is refused, not read whole', async () => {
      const dir = temp.copy('bert');
      fs.rmSync(path.join(dir, 'tokenizer.json'));
      fs.symlinkSync('/dev/zero', path.join(dir, 'tokenizer.json'));
      await refused(dir, 'bad-checkpoint', /outside the model folder/);
    });

    it('a link outside the folder is refused and nothing of the target is quoted', async () => {
      const secret = temp.empty();
      fs.writeFileSync(path.join(secret, 'passwd'), 'root:x:0:0:SECRET-VALUE:/root:/bin/bash\n');
      const dir = temp.copy('bert');
      fs.rmSync(path.join(dir, 'config.json'));
      fs.symlinkSync(path.join(secret, 'passwd'), path.join(dir, 'config.json'));
      const err = await refused(dir, 'bad-checkpoint', /config\.json in .* is a link to a file outside the model folder/);
      assert.doesNotMatch(err.message, /root|SECRET/);
    });

    it('invalid JSON is reported by position, never by quoting the file', async () => {
      const dir = temp.copy('bert');
      fs.writeFileSync(path.join(dir, 'config.json'), 'root:x:0:0:SECRET-VALUE');
      const err = await refused(dir, 'bad-checkpoint', /config\.json in .* is not valid JSON.*Download it again/);
      assert.doesNotMatch(err.message, /root|SECRET/);
    });

    it('a model_type carrying other text is not echoed', async () => {
      const dir = temp.copy('bert');
      editJson(dir, 'config.json', (c) => {
        c.model_type = 'hf_SECRET token value';
      });
      const err = await refused(dir, 'unsupported-architecture', /model_type is not a model type name/);
      assert.doesNotMatch(err.message, /SECRET/);
    });

    it('a folder, a link loop and a missing file get their own messages (no raw EISDIR/ELOOP/ENOENT)', async () => {
      const asFolder = temp.copy('bert');
      fs.rmSync(path.join(asFolder, 'config.json'));
      fs.mkdirSync(path.join(asFolder, 'config.json'));
      await refused(asFolder, 'bad-checkpoint', /config\.json in .* is a folder, not a file/);
      const loop = temp.copy('bert');
      fs.rmSync(path.join(loop, 'tokenizer.json'));
      fs.symlinkSync('tokenizer.json', path.join(loop, 'tokenizer.json'));
      await refused(loop, 'bad-checkpoint', /tokenizer\.json in .* is a symbolic link that loops back on itself/);
      const noTokenizer = temp.copy('bert');
      fs.rmSync(path.join(noTokenizer, 'tokenizer.json'));
      await refused(noTokenizer, 'missing-file', /has no tokenizer\.json/);
    });

    it('a Hugging Face cache snapshot loads through its blob links; a deleted blob asks for a re-download', async () => {
      const cache = temp.empty('ai-cache-');
      const repo = path.join(cache, 'models--org--tiny-bert');
      const snapshot = path.join(repo, 'snapshots', 'abc123');
      fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
      fs.mkdirSync(snapshot, { recursive: true });
      for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) {
        fs.copyFileSync(path.join(FIXTURES_ROOT, 'bert', file), path.join(repo, 'blobs', `blob-${file}`));
        fs.symlinkSync(`../../blobs/blob-${file}`, path.join(snapshot, file));
      }
      const model = await loadModel(snapshot);
      assert.strictEqual((await model.analyze('I am making a cake')).tokens.length, 9);
      await model.dispose();
      fs.rmSync(path.join(repo, 'blobs', 'blob-model.safetensors'));
      await refused(snapshot, 'missing-file', /model\.safetensors in .* is a link to a file that no longer exists .* Download the model again/);
    });
  });

  describe('safetensors, as strictly as the reference library', () => {
    /** A copy of bert whose model.safetensors is rewritten by `edit`. */
    function damaged(edit: (parts: ReturnType<typeof readSafetensors>, file: string) => void): string {
      const dir = temp.copy('bert');
      const file = path.join(dir, 'model.safetensors');
      edit(readSafetensors(file), file);
      return dir;
    }
    const firstTensor = (header: Record<string, any>) => Object.keys(header).filter((k) => k !== '__metadata__').sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0])[0];

    it('refuses trailing bytes after the last tensor', async () => {
      const dir = damaged((p, file) => writeSafetensors(file, { header: p.header, data: Buffer.concat([p.data, Buffer.alloc(4)]) }));
      await refused(dir, 'bad-checkpoint', /4 bytes after the last tensor belong to no tensor/);
    });

    it('refuses a hole between tensors', async () => {
      const dir = damaged((p, file) => {
        for (const [k, v] of Object.entries(p.header)) if (k !== '__metadata__') v.data_offsets = v.data_offsets.map((o: number) => o + 4);
        writeSafetensors(file, { header: p.header, data: Buffer.concat([Buffer.alloc(4), p.data]) });
      });
      await refused(dir, 'bad-checkpoint', /a gap of 4 bytes before tensor/);
    });

    it('refuses overlapping tensors', async () => {
      const dir = damaged((p, file) => {
        const [a, b] = Object.keys(p.header).filter((k) => k !== '__metadata__' && p.header[k].data_offsets[1] - p.header[k].data_offsets[0] === 256);
        p.header[b].data_offsets = [...p.header[a].data_offsets];
        writeSafetensors(file, p);
      });
      await refused(dir, 'bad-checkpoint', /overlaps the tensor before it|a gap of/);
    });

    it('refuses a key named twice', async () => {
      const dir = damaged((p, file) => {
        const name = firstTensor(p.header);
        const text = JSON.stringify(p.header);
        writeSafetensorsRaw(file, `{${JSON.stringify(name)}:${JSON.stringify(p.header[name])},${text.slice(1)}`, p.data);
      });
      await refused(dir, 'bad-checkpoint', /names "bert\.[^"]+" twice/);
    });

    it("refuses a header that does not start with '{' (an off-by-one header length)", async () => {
      const dir = damaged((p, file) => writeSafetensorsRaw(file, ` ${JSON.stringify(p.header)}`, p.data));
      await refused(dir, 'bad-checkpoint', /does not start with '\{'/);
    });

    it('accepts the trailing spaces the reference library pads headers with', async () => {
      const dir = damaged((p, file) => writeSafetensorsRaw(file, `${JSON.stringify(p.header)}       `, p.data));
      const model = await loadModel(dir);
      await model.dispose();
    });

    it('refuses __metadata__ that is not strings to strings, and a header that is not UTF-8', async () => {
      const meta = damaged((p, file) => writeSafetensors(file, { header: { ...p.header, __metadata__: { format: 1 } }, data: p.data }));
      await refused(meta, 'bad-checkpoint', /__metadata__ is not a map of strings to strings/);
      const latin1 = damaged((p, file) => {
        const json = Buffer.from(JSON.stringify({ ...p.header, __metadata__: { note: 'caf\u00e9' } }), 'latin1');
        writeSafetensorsRaw(file, json, p.data);
      });
      await refused(latin1, 'bad-checkpoint', /header is not UTF-8 text/);
    });

    it('refuses a dtype the format does not have (also an Object.prototype name such as toString)', async () => {
      const dir = damaged((p, file) => {
        p.header[firstTensor(p.header)].dtype = 'toString';
        writeSafetensors(file, p);
      });
      await refused(dir, 'bad-checkpoint', /the unknown dtype "toString"/);
    });

    it('refuses an embedding table whose width disagrees with hidden_size, naming it', async () => {
      const dir = temp.copy('llama');
      const file = path.join(dir, 'model.safetensors');
      const p = readSafetensors(file);
      const name = Object.keys(p.header).find((k) => k.endsWith('embed_tokens.weight'))!;
      const [rows, width] = p.header[name].shape;
      p.header[name].shape = [rows * 2, width / 2];
      writeSafetensors(file, p);
      await refused(dir, 'bad-checkpoint', new RegExp(`Tensor "${name.replace(/\./g, '\\.')}" has rows of ${width / 2} values, but config\\.json's hidden size is ${width}`));
    });
  });

  describe('config.json and the shard index', () => {
    const withConfig = (name: string, edit: (c: Record<string, any>) => unknown) => {
      const dir = temp.copy(name);
      editJson(dir, 'config.json', edit);
      return dir;
    };

    it('model_type "constructor" or "toString" is an unsupported type, not an inherited member', async () => {
      for (const type of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
        await refused(withConfig('bert', (c) => { c.model_type = type; }), 'unsupported-architecture', new RegExp(`"${type}" is not supported`));
      }
    });

    it('null, an array or a number as the whole config.json, tokenizer.json or index', async () => {
      await refused(withConfig('bert', () => null), 'bad-checkpoint', /config\.json in .* must hold a JSON object, but it holds null/);
      await refused(withConfig('bert', () => [1]), 'bad-checkpoint', /must hold a JSON object, but it holds an array/);
      const tok = temp.copy('bert');
      fs.writeFileSync(path.join(tok, 'tokenizer.json'), 'null');
      await refused(tok, 'bad-checkpoint', /tokenizer\.json in .* must hold a JSON object/);
      const index = temp.copy('llama-sharded');
      fs.writeFileSync(path.join(index, 'model.safetensors.index.json'), 'null');
      await refused(index, 'bad-checkpoint', /model\.safetensors\.index\.json in .* must hold a JSON object/);
    });

    it('weight_map values that are not file names', async () => {
      const dir = temp.copy('llama-sharded');
      editJson(dir, 'model.safetensors.index.json', (j) => {
        j.weight_map[Object.keys(j.weight_map)[0]] = 7;
      });
      await refused(dir, 'bad-checkpoint', /maps a tensor to something that is not a file name/);
      const traversal = temp.copy('llama-sharded');
      editJson(traversal, 'model.safetensors.index.json', (j) => {
        j.weight_map[Object.keys(j.weight_map)[0]] = '../../etc/x.safetensors';
      });
      await refused(traversal, 'bad-checkpoint', /names an invalid shard/);
    });

    it('heads that do not divide the hidden size (they used to reach BigInt in the graph builder)', async () => {
      await refused(withConfig('bert', (c) => { c.num_attention_heads = 5; }), 'bad-checkpoint', /num_attention_heads \(5\) does not divide hidden_size \(64\)/);
      await refused(withConfig('gpt2', (c) => { c.n_head = 3; }), 'bad-checkpoint', /n_head \(3\) does not divide n_embd/);
      await refused(withConfig('llama', (c) => { c.num_key_value_heads = 3; }), 'bad-checkpoint', /num_key_value_heads \(3\) does not divide num_attention_heads/);
    });

    it('values that would make NaN: rope_theta <= 0, rope factor 0, negative eps, odd or negative rotary fractions', async () => {
      await refused(withConfig('llama', (c) => { c.rope_theta = 0; }), 'bad-checkpoint', /rope_theta is 0, but it must be a number greater than 0/);
      await refused(withConfig('llama3-rope-scaled-bf16', (c) => { c.rope_scaling.factor = 0; }), 'bad-checkpoint', /rope_scaling\.factor is 0/);
      await refused(withConfig('llama', (c) => { c.rms_norm_eps = -1e-6; }), 'bad-checkpoint', /rms_norm_eps is -0\.000001/);
      await refused(withConfig('bert', (c) => { c.layer_norm_eps = 0; }), 'bad-checkpoint', /layer_norm_eps is 0/);
      await refused(withConfig('llama', (c) => { c.partial_rotary_factor = -0.5; }), 'bad-checkpoint', /partial_rotary_factor is -0\.5/);
      await refused(withConfig('llama', (c) => { c.partial_rotary_factor = 0.3; }), 'bad-checkpoint', /rotary dimensions come in pairs/);
      await refused(withConfig('modernbert', (c) => { c.local_attention = -16; }), 'bad-checkpoint', /local_attention is -16/);
      await refused(withConfig('t5-encoder', (c) => { c.relative_attention_max_distance = 8; }), 'bad-checkpoint', /relative_attention_max_distance \(8\) must exceed half of relative_attention_num_buckets/);
    });

    it('a position limit below one token is named, not "handles at most -87 tokens"', async () => {
      const err = await refused(withConfig('roberta', (c) => { c.pad_token_id = 600; }), 'bad-checkpoint', /room for -87 tokens \(check max_position_embeddings and pad_token_id\)/);
      assert.doesNotMatch(err.message, /at most -/);
    });

    it('an unsupported activation is an unsupported-architecture error', async () => {
      await refused(withConfig('bert', (c) => { c.hidden_act = 'quick_gelu'; }), 'unsupported-architecture', /activation "quick_gelu" is not supported/);
    });
  });

  describe('tokenizer.json', () => {
    it('settings the tokenizers library would panic on are refused when loading, saying which', async () => {
      const cases: [(t: Record<string, any>) => void, RegExp][] = [
        [(t) => { t.post_processor.single = [{ SpecialToken: { id: '[UNDEFINED]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }]; }, /template names a special token it does not define/],
        [(t) => { t.normalizer = { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { String: '' }, content: 'x' }] }; }, /Replace normalizer has an empty pattern/],
        [(t) => { t.pre_tokenizer = { type: 'FixedLength', length: 0 }; }, /FixedLength pre-tokenizer has length 0/],
        [(t) => { t.normalizer = { type: 'Precompiled', precompiled_charsmap: 'AAAA' }; }, /damaged character map/],
      ];
      for (const [edit, pattern] of cases) {
        const dir = temp.copy('bert');
        editJson(dir, 'tokenizer.json', edit);
        await refused(dir, 'bad-checkpoint', pattern);
      }
    });

    it("the library's own errors become EngineErrors", async () => {
      const dir = temp.copy('bert');
      editJson(dir, 'tokenizer.json', (t) => {
        t.model = { type: 'NoSuchModel' };
      });
      await refused(dir, 'bad-checkpoint', /tokenizer\.json in .* could not be loaded by the tokenizers library/);
    });
  });

  describe('non-finite results', () => {
    it('NaN planted in a layer weight: the analysis is refused, naming the tensor', async () => {
      const dir = temp.copy('llama');
      const file = path.join(dir, 'model.safetensors');
      const p = readSafetensors(file);
      const name = Object.keys(p.header).find((k) => k.endsWith('layers.1.self_attn.k_proj.weight'))!;
      const [begin] = p.header[name].data_offsets;
      p.data.writeFloatLE(NaN, begin + 8);
      writeSafetensors(file, p);
      const model = await loadModel(dir);
      try {
        await assert.rejects(model.analyze('The cat sat on the mat.'), (err: unknown) => {
          assert.ok(err instanceof EngineError);
          assert.strictEqual(err.code, 'bad-checkpoint');
          assert.match(err.message, new RegExp(`The attention of layer 2 came out as NaN or infinity because tensor "${name.replace(/\./g, '\\.')}" holds NaN`));
          return true;
        });
      } finally {
        await model.dispose();
      }
    });

    it('infinity in the embedding table is caught at load', async () => {
      const dir = temp.copy('gpt2');
      const file = path.join(dir, 'model.safetensors');
      const p = readSafetensors(file);
      const name = Object.keys(p.header).find((k) => k.endsWith('wte.weight'))!;
      p.data.writeFloatLE(Infinity, p.header[name].data_offsets[0]);
      writeSafetensors(file, p);
      await refused(dir, 'bad-checkpoint', new RegExp(`The embedding came out as NaN or infinity because tensor "${name.replace(/\./g, '\\.')}"`));
    });
  });
});
