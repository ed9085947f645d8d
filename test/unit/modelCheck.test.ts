/**
 * Select Model's checks of a folder (src/commands/modelCheck.ts): refused at pick time for the
 * reasons the engine would refuse it at run time, without quoting the file; Recent marks folders
 * that no longer load and drops those that are gone.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkPickedFolder, checkRecentFolders } from '../../src/commands/modelCheck';
import { buildModelChoices } from '../../src/hub';
import { FIXTURES_ROOT } from '../helpers/fixtures';

describe('Select Model: folder checks', () => {
  let scratch: string;
  const copy = (name: string, config?: (c: Record<string, unknown>) => unknown): string => {
    const folder = path.join(scratch, `${name}-${fs.readdirSync(scratch).length}`);
    fs.cpSync(path.join(FIXTURES_ROOT, name), folder, { recursive: true });
    if (config) {
      const file = path.join(folder, 'config.json');
      fs.writeFileSync(file, JSON.stringify(config(JSON.parse(fs.readFileSync(file, 'utf8')))));
    }
    return folder;
  };
  before(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-modelcheck-'));
  });
  after(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('accepts every reference checkpoint', async () => {
    for (const name of ['bert', 'gpt2', 't5-encoder', 'llama-sharded']) await checkPickedFolder(path.join(FIXTURES_ROOT, name));
  });

  it('refuses an unsupported model_type at pick time, naming it and the supported ones', async () => {
    const folder = copy('bert', (c) => ({ ...c, model_type: 'xlnet' }));
    await assert.rejects(checkPickedFolder(folder), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'unsupported-architecture');
      assert.match(e.message, /Model type "xlnet" .* is not supported\. Supported model types: .*\bbert\b/);
      return true;
    });
  });

  it('never quotes config.json beyond a plain model_type (no planted secret, no prototype keys)', async () => {
    for (const type of ['hf_secret_value with spaces "and quotes"', 'constructor', 'toString', 42, null]) {
      const folder = copy('gpt2', (c) => ({ ...c, model_type: type }));
      await assert.rejects(checkPickedFolder(folder), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'unsupported-architecture', String(type));
        assert.ok(!e.message.includes('hf_secret_value'), e.message);
        return true;
      });
    }
    const notJson = copy('gpt2');
    fs.writeFileSync(path.join(notJson, 'config.json'), 'root:x:0:0:root:/root:/bin/bash');
    await assert.rejects(checkPickedFolder(notJson), (e: Error) => !e.message.includes('root:x') && /not a readable JSON config/.test(e.message));
  });

  it('still refuses pickle-only folders with the conversion command', async () => {
    const folder = copy('gpt2');
    fs.renameSync(path.join(folder, 'model.safetensors'), path.join(folder, 'pytorch_model.bin'));
    await assert.rejects(checkPickedFolder(folder), (e: Error & { code?: string }) => e.code === 'pickle-only');
  });

  it('Recent: folders that no longer load are marked with the reason, folders that are gone are dropped', async () => {
    const good = copy('gpt2');
    const broken = copy('gpt2', (c) => ({ ...c, model_type: 'xlnet' }));
    const gone = path.join(scratch, 'deleted-model');
    const recent = [good, broken, gone, 'openai-community/gpt2'];
    const { problems, gone: dropped } = await checkRecentFolders(recent, (spec) => (spec.startsWith('/') ? spec : undefined));
    assert.deepEqual(dropped, [gone]);
    assert.deepEqual([...problems.keys()], [broken]);
    const choices = buildModelChoices({ current: '', cached: [], recent: recent.filter((s) => s !== gone), suggestions: [], problems });
    const entry = (spec: string) => choices.find((c) => c.section === 'recent' && c.action.kind === 'spec' && c.action.spec === spec)!;
    assert.equal(entry(broken).icon, 'warning');
    assert.match(entry(broken).description!, /no longer loads/);
    assert.match(entry(broken).problem!, /xlnet/);
    assert.equal(entry(good).problem, undefined);
    assert.equal(entry(good).icon, 'folder');
  });
});
