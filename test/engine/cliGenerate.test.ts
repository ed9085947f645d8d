/** The headless CLI's `--generate N`: generated ids and the attentions over prompt + generated tokens match transformers' greedy references. */
import * as assert from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SafetensorsFile, readTensor } from '../../src/engine/safetensors';
import { FIXTURES_2_ROOT, FIXTURES_ROOT, maxAbsDiff } from '../helpers/fixtures';

const CLI = path.resolve(__dirname, '../../../dist/cli.js');

function reference(folder: string) {
  const json = JSON.parse(fs.readFileSync(path.join(folder, 'expected-generate.json'), 'utf8'));
  const file = new SafetensorsFile(path.join(folder, 'expected-generate.safetensors'));
  const tensor = (key: string) => {
    const entry = file.tensors.get(key);
    if (!entry) throw new Error(`no ${key}`);
    return { data: readTensor(entry), shape: entry.shape };
  };
  return { c: json.cases[0], tensor, close: () => file.close() };
}

function runCli(folder: string, text: string, extra: string[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-cli-generate-'));
  try {
    const out = path.join(dir, 'out.json');
    const stdout = execFileSync(process.execPath, [CLI, '--model', folder, '--text', text, '--generate', '8', '--plain-greedy', '--json', out, ...extra], { stdio: 'pipe', encoding: 'utf8' });
    return { json: JSON.parse(fs.readFileSync(out, 'utf8')), stdout };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('CLI --generate', function () {
  this.timeout(120000);
  it('causal LM: generatedTokens are the greedy ids and attentions cover prompt + generated (hf-tiny-2/phi3-longrope crosses original_max_position_embeddings)', () => {
    const folder = path.join(FIXTURES_2_ROOT, 'phi3-longrope');
    const ref = reference(folder);
    try {
      const json = JSON.parse(fs.readFileSync(path.join(folder, 'expected-generate.json'), 'utf8'));
      const c = json.cases[1];
      const { json: out, stdout } = runCli(folder, c.text, []);
      assert.deepStrictEqual(out.generatedTokens.map((t: { id: number }) => t.id), c.new_ids);
      assert.deepStrictEqual(out.tokens.map((t: { id: number }) => t.id), [...c.prompt_ids, ...c.new_ids]);
      const expected = ref.tensor('case1.attentions');
      assert.deepStrictEqual(out.attentions.shape, expected.shape);
      const diff = maxAbsDiff(out.attentions.data, expected.data);
      assert.ok(diff <= 1e-4, `attentions differ by ${diff}`);
      assert.match(stdout, /Generated 8 of 8 tokens greedily/);
      assert.match(stdout, /\(generated\)/);
    } finally {
      ref.close();
    }
  });

  it('encoder-decoder: decoderTokens are the start token + generated ids, with decoderAttentions and crossAttentions over them (hf-tiny-2/bart)', () => {
    const folder = path.join(FIXTURES_2_ROOT, 'bart');
    const ref = reference(folder);
    try {
      const { json: out } = runCli(folder, ref.c.text, []);
      assert.deepStrictEqual(out.decoderTokens.map((t: { id: number }) => t.id), ref.c.decoder_ids);
      assert.deepStrictEqual(out.generatedTokens.map((t: { id: number }) => t.id), ref.c.new_ids);
      assert.deepStrictEqual(out.tokens.map((t: { id: number }) => t.id), ref.c.prompt_ids);
      for (const [key, name] of [['decoderAttentions', 'decoder_attentions'], ['crossAttentions', 'cross_attentions']]) {
        const expected = ref.tensor(`case0.${name}`);
        assert.deepStrictEqual(out[key].shape, expected.shape, key);
        assert.ok(maxAbsDiff(out[key].data, expected.data) <= 1e-4, key);
      }
    } finally {
      ref.close();
    }
  });

  it('refuses an encoder-only model, a bad count and --generate with --target, each with a clear message', () => {
    const bert = spawnSync(process.execPath, [CLI, '--model', path.join(FIXTURES_ROOT, 'bert'), '--text', 'hello', '--generate', '4'], { encoding: 'utf8' });
    assert.strictEqual(bert.status, 1);
    assert.match(bert.stderr, /needs a causal language model .* or an encoder-decoder/);
    const count = spawnSync(process.execPath, [CLI, '--model', path.join(FIXTURES_ROOT, 'gpt2'), '--text', 'hello', '--generate', '0'], { encoding: 'utf8' });
    assert.strictEqual(count.status, 2);
    assert.match(count.stderr, /--generate takes a positive whole number/);
    const target = spawnSync(process.execPath, [CLI, '--model', path.join(FIXTURES_2_ROOT, 't5'), '--text', 'hello', '--generate', '4', '--target', 'x'], { encoding: 'utf8' });
    assert.strictEqual(target.status, 2);
    assert.match(target.stderr, /does not combine with --target/);
  });
});
