/** Model specs, HF_* environment precedence, token lookup, folder checks and the suggestion list. */
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ModelSourceError,
  SUGGESTED_MODELS,
  checkModelFolder,
  checkToken,
  defaultCacheDir,
  defaultHubUrl,
  findToken,
  formatBytes,
  isValidHubId,
  offlineFromEnv,
  parseModelSpec,
  resolveModel,
  tokenFilePath,
} from '../../src/hub';
import { FIXTURES_DIR, FakeHub } from './fakeHub';
import { makeTempDir, rejectsWith, removeDir } from './helpers';

describe('parseModelSpec', () => {
  it('treats an empty setting and "built-in" as the built-in model', () => {
    for (const spec of ['', '   ', 'builtin', 'Built-in']) assert.deepEqual(parseModelSpec(spec), { kind: 'builtin' });
  });

  it('parses hub ids with and without @revision', () => {
    assert.deepEqual(parseModelSpec('openai-community/gpt2'), { kind: 'hub', id: 'openai-community/gpt2', revision: undefined });
    assert.deepEqual(parseModelSpec(' Qwen/Qwen2.5-0.5B@main '), { kind: 'hub', id: 'Qwen/Qwen2.5-0.5B', revision: 'main' });
    assert.deepEqual(parseModelSpec('gpt2@refs/pr/7'), { kind: 'hub', id: 'gpt2', revision: 'refs/pr/7' });
    const sha = 'a'.repeat(40);
    assert.deepEqual(parseModelSpec(`google-bert/bert-base-uncased@${sha}`), { kind: 'hub', id: 'google-bert/bert-base-uncased', revision: sha });
  });

  it('accepts model page URLs', () => {
    assert.deepEqual(parseModelSpec('https://huggingface.co/openai-community/gpt2'), { kind: 'hub', id: 'openai-community/gpt2', revision: undefined });
    assert.deepEqual(parseModelSpec('https://huggingface.co/EleutherAI/pythia-160m/tree/step1000'), { kind: 'hub', id: 'EleutherAI/pythia-160m', revision: 'step1000' });
  });

  it('recognizes folder paths, never mistaking owner/name for one', () => {
    for (const path of ['/models/bert', './bert', '../bert', '~/models/x', 'C:\\models\\bert', 'models\\bert']) {
      assert.deepEqual(parseModelSpec(path), { kind: 'local', path });
    }
    assert.deepEqual(parseModelSpec('file:///tmp/my%20model'), { kind: 'local', path: '/tmp/my model' });
    assert.equal(parseModelSpec('models/bert').kind, 'hub');
  });

  it('rejects malformed ids and revisions with a message saying what is accepted', () => {
    for (const spec of ['a/b/c', 'org//name', '-bad/name', 'org/na me', 'org/name--x', 'org/..']) {
      assert.throws(() => parseModelSpec(spec), (error: unknown) => error instanceof ModelSourceError && error.code === 'invalid-spec' && /Hugging Face model id/.test(error.message), spec);
    }
    for (const spec of ['gpt2@', 'gpt2@../../x', 'gpt2@a b']) {
      assert.throws(() => parseModelSpec(spec), (error: unknown) => error instanceof ModelSourceError && /not a valid revision/.test(error.message), spec);
    }
    assert.equal(isValidHubId('x'.repeat(97)), false);
  });
});

describe('Hugging Face environment', () => {
  const home = '/home/someone';

  it('picks the cache as huggingface_hub does: HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE > HF_HOME > XDG_CACHE_HOME > ~/.cache', () => {
    const all = { HF_HUB_CACHE: '/a/hub', HUGGINGFACE_HUB_CACHE: '/b/hub', HF_HOME: '/c', XDG_CACHE_HOME: '/d' };
    assert.equal(defaultCacheDir(all, home), '/a/hub');
    assert.equal(defaultCacheDir({ ...all, HF_HUB_CACHE: undefined }, home), '/b/hub');
    assert.equal(defaultCacheDir({ HF_HOME: '/c', XDG_CACHE_HOME: '/d' }, home), '/c/hub');
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/d' }, home), '/d/huggingface/hub');
    assert.equal(defaultCacheDir({}, home), '/home/someone/.cache/huggingface/hub');
    assert.equal(defaultCacheDir({ HF_HOME: '~/hf', HF_HUB_CACHE: '' }, home), '/home/someone/hf/hub');
  });

  it('finds the token file under HF_HOME or XDG_CACHE_HOME unless HF_TOKEN_PATH says otherwise', () => {
    assert.equal(tokenFilePath({}, home), '/home/someone/.cache/huggingface/token');
    assert.equal(tokenFilePath({ XDG_CACHE_HOME: '/x' }, home), '/x/huggingface/token');
    assert.equal(tokenFilePath({ HF_HOME: '/h', XDG_CACHE_HOME: '/x' }, home), '/h/token');
    assert.equal(tokenFilePath({ HF_HOME: '/h', HF_TOKEN_PATH: '/t/tok' }, home), '/t/tok');
  });

  it('reads HF_ENDPOINT and the offline switches', () => {
    assert.equal(defaultHubUrl({}), 'https://huggingface.co');
    assert.equal(defaultHubUrl({ HF_ENDPOINT: 'https://hf-mirror.example/' }), 'https://hf-mirror.example');
    for (const value of ['1', 'true', 'YES', 'on']) assert.equal(offlineFromEnv({ HF_HUB_OFFLINE: value }), true, value);
    for (const value of ['0', 'false', '', undefined]) assert.equal(offlineFromEnv({ HF_HUB_OFFLINE: value }), false, String(value));
    assert.equal(offlineFromEnv({ TRANSFORMERS_OFFLINE: '1' }), true);
  });

  it('takes the token from HF_TOKEN first, then the token file', async () => {
    const hfHome = makeTempDir('hfhome');
    try {
      assert.equal(await findToken({ HF_HOME: hfHome }), undefined);
      writeFileSync(join(hfHome, 'token'), 'hf_fromFile123\n');
      assert.deepEqual(await findToken({ HF_HOME: hfHome }), { token: 'hf_fromFile123', source: join(hfHome, 'token') });
      assert.deepEqual(await findToken({ HF_HOME: hfHome, HF_TOKEN: 'hf_fromEnv' }), { token: 'hf_fromEnv', source: 'HF_TOKEN' });
      assert.deepEqual(await findToken({ HF_HOME: hfHome, HUGGING_FACE_HUB_TOKEN: 'hf_legacy' }), { token: 'hf_legacy', source: 'HUGGING_FACE_HUB_TOKEN' });
    } finally {
      removeDir(hfHome);
    }
  });
});

describe('checkToken', () => {
  it('tells a valid token (with its account) from a rejected one and from an unreachable hub', async () => {
    const hub = new FakeHub();
    hub.tokens.set('hf_goodToken123', new Set());
    await hub.start();
    try {
      assert.deepEqual(await checkToken('hf_goodToken123', hub.url), { status: 'valid', account: 'user-goodT' });
      assert.deepEqual(await checkToken('hf_unknown', hub.url), { status: 'rejected' });
      assert.equal(hub.requests[0].authorization, 'Bearer hf_goodToken123');
    } finally {
      await hub.stop();
    }
    const unreachable = await checkToken('hf_goodToken123', hub.url);
    assert.equal(unreachable.status, 'unverified');
    // A fresh connection is refused; a pooled one from before the stop reads as closed.
    assert.match((unreachable as { reason: string }).reason, /^(ECONNREFUSED: connection refused|UND_ERR_SOCKET: connection closed by the other side)$/);
  });
});

describe('local model folders', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir('folder');
  });
  afterEach(() => removeDir(dir));

  it('accepts the fixture checkpoints, single-file and sharded', async () => {
    await checkModelFolder(join(FIXTURES_DIR, 'gpt2'));
    await checkModelFolder(join(FIXTURES_DIR, 'llama-sharded'));
    const resolved = await resolveModel(join(FIXTURES_DIR, 'bert') + '/', { builtinFolder: '/x' });
    assert.deepEqual(resolved, { folder: join(FIXTURES_DIR, 'bert'), name: 'bert', source: join(FIXTURES_DIR, 'bert'), kind: 'local', downloadedBytes: 0 });
    const relative = await resolveModel('./gpt2', { builtinFolder: '/x', baseDir: FIXTURES_DIR });
    assert.equal(relative.folder, join(FIXTURES_DIR, 'gpt2'));
  });

  it('refuses a pickle-only folder, explaining why and how to convert', async () => {
    writeFileSync(join(dir, 'config.json'), '{}');
    writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
    const error = await rejectsWith(checkModelFolder(dir), 'pickle-only');
    assert.match(error.message, /only PyTorch pickle weights \(pytorch_model\.bin\)/);
    assert.match(error.message, /unpickling a file can run arbitrary code/);
    assert.ok(error.message.includes(`python -c "from transformers import AutoModel, AutoTokenizer; src, out = '${dir}', '${dir}-safetensors'; AutoModel.from_pretrained(src).save_pretrained(out, safe_serialization=True); AutoTokenizer.from_pretrained(src).save_pretrained(out)"`), error.message);
    for (const name of ['weights.pt', 'model.ckpt']) {
      const other = join(dir, name.replace('.', '-'));
      mkdirSync(other);
      writeFileSync(join(other, name), 'x');
      assert.match((await rejectsWith(checkModelFolder(other), 'pickle-only')).message, new RegExp(name.replace('.', '\\.')));
    }
  });

  it('names what is missing: folder, config, tokenizer, shards', async () => {
    await rejectsWith(checkModelFolder(join(dir, 'nope')), 'folder-not-found');
    await rejectsWith(checkModelFolder(dir), 'no-safetensors');
    writeFileSync(join(dir, 'model.safetensors'), 'x');
    await rejectsWith(checkModelFolder(dir), 'no-config');
    writeFileSync(join(dir, 'config.json'), '{}');
    const noTokenizer = await rejectsWith(checkModelFolder(dir), 'no-tokenizer');
    assert.match(noTokenizer.message, /AutoTokenizer/);
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    await checkModelFolder(dir);

    const sharded = join(dir, 'sharded');
    mkdirSync(sharded);
    for (const f of ['config.json', 'tokenizer.json', 'model-00001-of-00002.safetensors']) writeFileSync(join(sharded, f), '{}');
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }));
    const missing = await rejectsWith(checkModelFolder(sharded), 'incomplete-weights');
    assert.match(missing.message, /missing 1 of the 2 weight shards its index lists \(model-00002-of-00002\.safetensors\)/);
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../../etc/passwd' } }));
    assert.match((await rejectsWith(checkModelFolder(sharded), 'incomplete-weights')).message, /invalid shard file/);
  });
});

describe('suggested models', () => {
  it('lists each engine family once or more with sizes in decimal units', () => {
    const families = new Set(SUGGESTED_MODELS.map((m) => m.modelType));
    for (const family of ['bert', 'roberta', 'distilbert', 'modernbert', 't5', 'gpt2', 'gpt_neox', 'llama', 'qwen2', 'qwen3', 'gemma2', 'phi3']) {
      assert.ok(families.has(family), family);
    }
    for (const m of SUGGESTED_MODELS) assert.ok(isValidHubId(m.id), m.id);
    assert.equal(formatBytes(440e6), '440 MB');
    assert.equal(formatBytes(2.47e9), '2.47 GB');
    assert.equal(formatBytes(10.5e9), '10.5 GB');
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1.5e9), '1.5 GB');
  });
});
