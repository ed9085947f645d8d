/** Bad input gets a clear, actionable error (and nothing is executed or half-loaded). */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { AttentionModel } from '../../src/engine/model';
import { loadModel } from '../../src/models';
import { EngineError } from '../../src/engine/errors';
import { FIXTURES_ROOT } from '../helpers/fixtures';

const BERT = path.join(FIXTURES_ROOT, 'bert');

/** A copy of a fixture folder that a test may damage. */
function copyFixture(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ai-${name}-`));
  for (const file of fs.readdirSync(path.join(FIXTURES_ROOT, name))) fs.copyFileSync(path.join(FIXTURES_ROOT, name, file), path.join(dir, file));
  for (const file of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, file), 0o644);
  return dir;
}

function writeSafetensors(file: string, header: Record<string, unknown>, data: Buffer): void {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, data]));
}

async function expectEngineError(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<EngineError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected an EngineError, got ${err}`);
    assert.strictEqual(err.code, code, err.message);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('engine refuses bad input clearly', function () {
  this.timeout(60000);
  const temp: string[] = [];
  const tmp = (name: string) => {
    const dir = copyFixture(name);
    temp.push(dir);
    return dir;
  };
  after(() => temp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('refuses a pickle-only folder without reading it, and says how to convert', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-pickle-'));
    temp.push(dir);
    fs.copyFileSync(path.join(BERT, 'config.json'), path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'not really a pickle; must never be opened');
    const err = await expectEngineError(loadModel(dir), 'pickle-only', /arbitrary code/);
    assert.match(err.message, /save_pretrained\(.*safe_serialization=True\)/);
  });

  it('refuses a safetensors file whose header length is impossible', async () => {
    const dir = tmp('bert');
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.writeBigUInt64LE(BigInt(1) << BigInt(40), 0);
    fs.writeFileSync(file, bytes);
    await expectEngineError(loadModel(dir), 'bad-checkpoint', /header length/);
  });

  it('refuses a safetensors file whose header is not JSON', async () => {
    const dir = tmp('bert');
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.write('{{{{', 8);
    fs.writeFileSync(file, bytes);
    await expectEngineError(loadModel(dir), 'bad-checkpoint', /not valid JSON/);
  });

  it('refuses header offsets past the end of the file', async () => {
    const dir = tmp('bert');
    writeSafetensors(path.join(dir, 'model.safetensors'), { 'bert.embeddings.LayerNorm.weight': { dtype: 'F32', shape: [64], data_offsets: [0, 256] } }, Buffer.alloc(16));
    await expectEngineError(loadModel(dir), 'bad-checkpoint', /past the end of the file/);
  });

  it('refuses a truncated file', async () => {
    const dir = tmp('bert');
    const file = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expectEngineError(loadModel(dir), 'bad-checkpoint', /truncated/);
  });

  it('refuses a tensor whose shape disagrees with config.json', async () => {
    const dir = tmp('bert');
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    config.intermediate_size = config.intermediate_size * 2;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    await expectEngineError(loadModel(dir), 'bad-checkpoint', /has shape \[.*\] but config\.json implies/);
  });

  it('refuses an unknown dtype for a tensor the model needs', async () => {
    const dir = tmp('gpt2');
    const original = fs.readFileSync(path.join(dir, 'model.safetensors'));
    const headerLen = Number(original.readBigUInt64LE(0));
    const header = JSON.parse(original.subarray(8, 8 + headerLen).toString());
    const name = Object.keys(header).find((k) => k.endsWith('ln_1.weight'))!;
    const [begin, end] = header[name].data_offsets;
    header[name] = { dtype: 'I32', shape: header[name].shape, data_offsets: [begin, end] };
    writeSafetensors(path.join(dir, 'model.safetensors'), header, original.subarray(8 + headerLen));
    await expectEngineError(loadModel(dir), 'bad-checkpoint', /stored as I32; only F32, F16 and BF16/);
  });

  it('refuses an unsupported model_type and lists the supported ones', async () => {
    const dir = tmp('bert');
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), model_type: 'mamba' }));
    await expectEngineError(loadModel(dir), 'unsupported-architecture', /"mamba" is not supported\. Supported model types: .*bert.*gpt2.*llama.*t5/);
  });

  describe('with a loaded model', () => {
    let model: AttentionModel;
    before(async () => {
      model = await loadModel(BERT);
    });
    after(() => model.dispose());

    it('refuses text longer than the model positions and names the limit', async () => {
      const text = Array.from({ length: 700 }, () => 'cake').join(' ');
      const err = await expectEngineError(model.analyze(text), 'too-long', /at most 512 tokens/);
      assert.strictEqual(err.details.limit, 512);
      assert.ok(err.details.length! > 512);
    });

    it('analyzes the first tokens when asked to truncate', async () => {
      const text = Array.from({ length: 700 }, () => 'cake').join(' ');
      const result = await model.analyze(text, { truncateTo: 512 });
      assert.strictEqual(result.tokens.length, 512);
      assert.deepStrictEqual(result.attentions.shape, [3, 4, 512, 512]);
    });

    it('refuses empty and whitespace-only text', async () => {
      await expectEngineError(model.analyze(''), 'empty-text', /no text to analyze/);
      await expectEngineError(model.analyze(' \n\t '), 'empty-text', /no text to analyze/);
    });

    it('stops a cancelled analysis and stays usable', async () => {
      const controller = new AbortController();
      const running = model.analyze('I am making a cake', {}, controller.signal);
      controller.abort();
      await expectEngineError(running, 'cancelled', /cancelled/);
      const result = await model.analyze('I am making a cake');
      assert.strictEqual(result.tokens.length, 9);
    });
  });
});
