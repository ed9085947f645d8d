/** The headless CLI for encoder-decoders: `--target`, JSON with the three blocks and the decoder tokens; `--target` refused elsewhere. */
import * as assert from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FIXTURES_2_ROOT, FIXTURES_ROOT, maxAbsDiff, openFixture } from '../helpers/fixtures';

const CLI = path.resolve(__dirname, '../../../dist/cli.js');

describe('CLI --target', function () {
  this.timeout(60000);
  it('--target: encoderAttentions, decoderAttentions, crossAttentions and decoderTokens match the reference', () => {
    const fixture = openFixture('mbart', FIXTURES_2_ROOT);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-cli-'));
    try {
      const c = fixture.cases[1];
      const out = path.join(dir, 'out.json');
      execFileSync(process.execPath, [CLI, '--model', fixture.folder, '--text', c.text, '--target', c.decoder_text!, '--json', out], { stdio: 'pipe' });
      const json = JSON.parse(fs.readFileSync(out, 'utf8'));
      assert.deepStrictEqual(json.tokens.map((t: { id: number }) => t.id), c.input_ids);
      assert.deepStrictEqual(json.decoderTokens.map((t: { raw: string }) => t.raw), c.decoder_tokens);
      for (const [key, name] of [['encoderAttentions', 'encoder'], ['decoderAttentions', 'decoder'], ['crossAttentions', 'cross']]) {
        const expected = fixture.expected(`case1.${name}_attentions`);
        assert.deepStrictEqual(json[key].shape, expected.shape, key);
        assert.ok(maxAbsDiff(json[key].data, expected.data) <= 1e-4, key);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fixture.close();
    }
  });

  it('--target on a model without a decoder stack is refused with a clear message', () => {
    const run = spawnSync(process.execPath, [CLI, '--model', path.join(FIXTURES_ROOT, 'gpt2'), '--text', 'hello', '--target', 'x'], { encoding: 'utf8' });
    assert.strictEqual(run.status, 2);
    assert.match(run.stderr, /--target is the decoder text of an encoder-decoder model/);
  });
});
