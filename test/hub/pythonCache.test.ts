/**
 * A cache written by hand exactly as huggingface_hub (Python) lays it out: blobs named by hash,
 * snapshot entries as relative symlinks, refs/<branch>. It must be found and used with no network.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listCachedModels, resolveModel } from '../../src/hub';
import { FIXTURES_DIR, FakeHub, fixtureFiles } from './fakeHub';
import { hubOptions, makeTempDir, rejectsWith, removeDir } from './helpers';

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const OTHER_COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';

/** Writes `files` of a fixture into `cache` as Python would have downloaded them. */
function writePythonCache(cache: string, id: string, fixture: string, files: string[], commit: string, refs: string[]): string {
  const repo = join(cache, `models--${id.replace('/', '--')}`);
  const snapshot = join(repo, 'snapshots', commit);
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const file of files) {
    const data = readFileSync(join(FIXTURES_DIR, fixture, file));
    const etag = file.endsWith('.safetensors')
      ? createHash('sha256').update(data).digest('hex')
      : createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
    writeFileSync(join(repo, 'blobs', etag), data);
    symlinkSync(`../../blobs/${etag}`, join(snapshot, file));
  }
  for (const ref of refs) {
    mkdirSync(join(repo, 'refs', ...ref.split('/').slice(0, -1)), { recursive: true });
    writeFileSync(join(repo, 'refs', ...ref.split('/')), commit); // Python writes no newline
  }
  return snapshot;
}

describe('a cache written in the Python layout', () => {
  let cache: string;
  let hub: FakeHub;

  beforeEach(async () => {
    cache = makeTempDir('pycache');
    hub = new FakeHub(); // nothing added: any request it sees is a failure of the test
    await hub.start();
  });
  afterEach(async () => {
    await hub.stop();
    removeDir(cache);
  });

  it('is used as it is, without a single request', async () => {
    const snapshot = writePythonCache(cache, 'someone/bert', 'bert', ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'], COMMIT, ['main']);
    const resolved = await resolveModel('someone/bert', hubOptions(hub.url, cache));
    assert.deepEqual(resolved, { folder: snapshot, name: 'someone/bert', source: `someone/bert@${COMMIT}`, kind: 'hub', repo: 'someone/bert', commit: COMMIT, downloadedBytes: 0 });
    // By commit, and by a nested ref such as refs/pr/3, too.
    assert.equal((await resolveModel(`someone/bert@${COMMIT}`, hubOptions(hub.url, cache))).folder, snapshot);
    writePythonCache(cache, 'someone/bert', 'bert', ['config.json', 'model.safetensors', 'tokenizer.json'], OTHER_COMMIT, ['refs/pr/3']);
    assert.equal((await resolveModel('someone/bert@refs/pr/3', hubOptions(hub.url, cache))).commit, OTHER_COMMIT);
    assert.equal(hub.requests.length, 0);
  });

  it('is found through HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME when no cacheDir is given', async () => {
    const hfHome = join(cache, 'hf-home');
    const snapshot = writePythonCache(join(hfHome, 'hub'), 'someone/gpt2', 'gpt2', ['config.json', 'model.safetensors', 'tokenizer.json'], COMMIT, ['main']);
    const base = { builtinFolder: '/x', hubUrl: hub.url };
    assert.equal((await resolveModel('someone/gpt2', { ...base, env: { HF_HOME: hfHome } })).folder, snapshot);
    assert.equal((await resolveModel('someone/gpt2', { ...base, env: { HF_HUB_CACHE: join(hfHome, 'hub'), HF_HOME: '/nonexistent' } })).folder, snapshot);
    const xdg = join(cache, 'xdg');
    const xdgSnapshot = writePythonCache(join(xdg, 'huggingface', 'hub'), 'someone/gpt2', 'gpt2', ['config.json', 'model.safetensors', 'tokenizer.json'], OTHER_COMMIT, ['main']);
    assert.equal((await resolveModel('someone/gpt2', { ...base, env: { XDG_CACHE_HOME: xdg } })).folder, xdgSnapshot);
    // HF_HOME wins over XDG_CACHE_HOME.
    assert.equal((await resolveModel('someone/gpt2', { ...base, env: { XDG_CACHE_HOME: xdg, HF_HOME: hfHome } })).folder, snapshot);
    assert.equal(hub.requests.length, 0);
  });

  it('is completed from the Hub when Python left it without weights (AutoConfig only)', async () => {
    const id = 'tiny/gpt2';
    const served = new FakeHub();
    served.addRepo(id, { main: fixtureFiles('gpt2') });
    await served.start();
    try {
      const commit = served.commitOf(id);
      writePythonCache(cache, id, 'gpt2', ['config.json'], commit, ['main']);
      // Offline, the incomplete snapshot is reported, not used.
      const error = await rejectsWith(resolveModel(id, hubOptions(served.url, cache, { offline: true })), 'offline-not-cached');
      assert.match(error.message, /is not completely in the Hugging Face cache/);
      assert.equal(served.requests.length, 0);
      // Online, only the missing files are fetched; config.json's blob is reused.
      const resolved = await resolveModel(id, hubOptions(served.url, cache));
      assert.deepEqual(readdirSync(resolved.folder).sort(), ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
      assert.deepEqual(served.requestsOf('resolve').map((r) => r.file).sort(), ['model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    } finally {
      await served.stop();
    }
  });

  it('explains offline what the cached snapshot proves: pickle-only weights, or no tokenizer.json in the repo', async () => {
    const snapshot = writePythonCache(cache, 'someone/old', 'gpt2', ['config.json', 'tokenizer.json'], COMMIT, ['main']);
    writeFileSync(join(snapshot, 'pytorch_model.bin'), 'pickle');
    const pickle = await rejectsWith(resolveModel('someone/old', hubOptions(hub.url, cache, { offline: true })), 'pickle-only');
    assert.ok(pickle.message.includes(snapshot), 'the conversion command names the cached folder');

    writePythonCache(cache, 'someone/slow-tok', 'gpt2', ['config.json', 'model.safetensors'], COMMIT, ['main']);
    const noExist = join(cache, 'models--someone--slow-tok', '.no_exist', COMMIT);
    mkdirSync(noExist, { recursive: true });
    writeFileSync(join(noExist, 'tokenizer.json'), '');
    await rejectsWith(resolveModel('someone/slow-tok', hubOptions(hub.url, cache, { offline: true })), 'no-tokenizer');
    assert.equal(hub.requests.length, 0);
  });

  it('is listed for the picker with revisions, refs, usability and size on disk', async () => {
    writePythonCache(cache, 'someone/bert', 'bert', ['config.json', 'model.safetensors', 'tokenizer.json'], COMMIT, ['main', 'v1']);
    writePythonCache(cache, 'someone/bert', 'bert', ['config.json'], OTHER_COMMIT, []);
    writePythonCache(cache, 'solo', 'gpt2', ['config.json', 'model.safetensors', 'tokenizer.json'], COMMIT, ['main']);
    mkdirSync(join(cache, 'datasets--someone--data', 'snapshots'), { recursive: true });
    mkdirSync(join(cache, '.locks'), { recursive: true });

    const models = await listCachedModels(cache);
    assert.deepEqual(models.map((m) => m.id).sort(), ['solo', 'someone/bert']);
    const bert = models.find((m) => m.id === 'someone/bert')!;
    assert.deepEqual(bert.revisions.map((r) => [r.commit, r.refs, r.usable]), [
      [COMMIT, ['main', 'v1'], true],
      [OTHER_COMMIT, [], false],
    ]);
    assert.match(bert.revisions[1].problem ?? '', /no model weights in safetensors format/);
    const bertDir = join(FIXTURES_DIR, 'bert');
    const expectedSize = ['config.json', 'model.safetensors', 'tokenizer.json'].reduce((sum, f) => sum + readFileSync(join(bertDir, f)).length, 0);
    assert.equal(bert.sizeOnDisk, expectedSize, 'blobs counted once, symlinks not at all');
    assert.deepEqual(await listCachedModels(join(cache, 'does-not-exist')), []);
  });
});
