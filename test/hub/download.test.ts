/**
 * resolveModel against a real HTTP server that answers like the Hub: the Python cache layout,
 * offline reuse, faults (dropped connections, corrupt bodies, error statuses), cancel and declines.
 */
import { strict as assert } from 'node:assert';
import { existsSync, lstatSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../src/models';
import { resolveModel, type DownloadProgress } from '../../src/hub';
import { maxAbsDiff, openFixture } from '../helpers/fixtures';
import { FakeHub, fixtureFiles, lfsFile, textFile } from './fakeHub';
import { hubOptions, listTree, makeTempDir, readBytes, readLink, rejectsWith, removeDir, sha256Hex } from './helpers';

const GPT2 = 'tiny/gpt2';
const SHARDED = 'tiny/llama-sharded';
/** Files of the gpt2 fixture the engine needs: everything else in the repo must stay on the server. */
const GPT2_NEEDED = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

describe('hub downloads (fake Hub on 127.0.0.1)', function () {
  this.timeout(30_000);
  let hub: FakeHub;
  let cache: string;

  beforeEach(async () => {
    hub = new FakeHub();
    const gpt2 = fixtureFiles('gpt2');
    // A pickle file and a second safetensors file in the repo must never be downloaded.
    gpt2.set('pytorch_model.bin', lfsFile(Buffer.from('not a real pickle')));
    hub.addRepo(GPT2, { main: gpt2, 'no-prefix': fixtureFiles('gpt2-no-prefix') });
    hub.addRepo(SHARDED, { main: fixtureFiles('llama-sharded') });
    await hub.start();
    cache = makeTempDir('cache');
  });

  afterEach(async () => {
    await hub.stop();
    removeDir(cache);
  });

  it('downloads only what the engine needs, in the Python cache layout', async () => {
    const progress: DownloadProgress[] = [];
    const confirmations: number[] = [];
    const resolved = await resolveModel(GPT2, hubOptions(hub.url, cache, {
      onProgress: (p) => progress.push(p),
      confirmDownload: async (bytes) => {
        confirmations.push(bytes);
        return true;
      },
    }));
    const commit = hub.commitOf(GPT2);
    const repo = join(cache, 'models--tiny--gpt2');
    assert.equal(resolved.folder, join(repo, 'snapshots', commit));
    assert.equal(resolved.name, GPT2);
    assert.equal(resolved.source, `${GPT2}@${commit}`);
    assert.equal(readFileSync(join(repo, 'refs', 'main'), 'utf8'), commit);

    // Snapshot entries are relative symlinks into blobs/, named by sha256 (LFS) or git sha1.
    assert.deepEqual(readdirSync(resolved.folder).sort(), GPT2_NEEDED);
    for (const file of GPT2_NEEDED) {
      const served = hub.fileOf(GPT2, file);
      const entry = join(resolved.folder, file);
      assert.ok(lstatSync(entry).isSymbolicLink(), `${file} is a symlink`);
      const link = readLink(entry);
      assert.ok(link.startsWith('../../blobs/'), `${file} links relatively: ${link}`);
      const blobName = link.slice('../../blobs/'.length);
      if (served.lfs) assert.equal(blobName, sha256Hex(served.data));
      else assert.match(blobName, /^[0-9a-f]{40}$/);
      assert.ok(readBytes(entry).equals(served.data), `${file} has the served bytes`);
    }
    // Optional files absent from the repo are recorded the way Python does.
    assert.ok(existsSync(join(repo, '.no_exist', commit, 'special_tokens_map.json')));
    // No temporary or extra files anywhere in the repo folder.
    const leftovers = listTree(repo).filter((p) => /incomplete|\.tmp$|stale/.test(p));
    assert.deepEqual(leftovers, []);
    assert.equal(readdirSync(join(repo, 'blobs')).length, GPT2_NEEDED.length);

    // The server never had to serve the pickle, the expected-values file or the README.
    const downloaded = [...new Set(hub.requestsOf('resolve').map((r) => r.file))].sort();
    assert.deepEqual(downloaded, GPT2_NEEDED);

    const total = GPT2_NEEDED.reduce((sum, f) => sum + hub.fileOf(GPT2, f).data.length, 0);
    assert.deepEqual(confirmations, [total]);
    assert.equal(resolved.downloadedBytes, total);
    const last = progress[progress.length - 1];
    assert.deepEqual(
      { bytesDone: last.bytesDone, bytesTotal: last.bytesTotal, filesDone: last.filesDone, filesTotal: last.filesTotal },
      { bytesDone: total, bytesTotal: total, filesDone: 4, filesTotal: 4 },
    );
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].filesDone >= progress[i - 1].filesDone);
  });

  it('gives a snapshot the engine loads, with the reference attentions (single file and sharded)', async () => {
    for (const [id, fixtureName] of [[GPT2, 'gpt2'], [SHARDED, 'llama-sharded']]) {
      const resolved = await resolveModel(id, hubOptions(hub.url, cache));
      const fixture = openFixture(fixtureName);
      const model = await loadModel(resolved.folder, resolved);
      try {
        const result = await model.analyze(fixture.cases[0].text);
        const expected = fixture.expected('case0.attentions');
        assert.deepEqual(result.attentions.shape, expected.shape);
        const diff = maxAbsDiff(new Float32Array(result.attentions.buffer), expected.data);
        assert.ok(diff <= 1e-4, `${id}: attentions differ by ${diff}`);
        assert.equal(result.model.source, `${id}@${hub.commitOf(id)}`);
      } finally {
        await model.dispose();
        fixture.close();
      }
    }
  });

  it('downloads every shard listed in the index of a sharded checkpoint (tree listing paginated)', async () => {
    hub.treePageSize = 5;
    const resolved = await resolveModel(SHARDED, hubOptions(hub.url, cache, { tuning: { concurrency: 4 } }));
    const index = JSON.parse(readFileSync(join(resolved.folder, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    const shards = [...new Set(Object.values(index.weight_map))].sort();
    assert.equal(shards.length, 12);
    for (const shard of shards) assert.ok(readBytes(join(resolved.folder, shard)).equals(hub.fileOf(SHARDED, shard).data), shard);
    assert.ok(hub.requestsOf('tree').length > 1, 'the listing spanned several pages');
  });

  it('loads from the cache with no request at all once downloaded (server stopped, offline flag, HF_HUB_OFFLINE)', async () => {
    const first = await resolveModel(GPT2, hubOptions(hub.url, cache));
    const requestsAfterDownload = hub.requests.length;

    // Server running: the cache is used without contacting it.
    const again = await resolveModel(GPT2, hubOptions(hub.url, cache));
    assert.equal(again.folder, first.folder);
    assert.equal(again.downloadedBytes, 0);
    assert.equal(hub.requests.length, requestsAfterDownload, 'no request for a cached model');

    await hub.stop();
    for (const extra of [{}, { offline: true }, { env: { HF_HUB_OFFLINE: '1' } }]) {
      const offline = await resolveModel(GPT2, hubOptions(hub.url, cache, extra));
      assert.equal(offline.folder, first.folder);
    }
  });

  it('refuses to touch the network when offline and the model is not cached', async () => {
    for (const extra of [{ offline: true }, { env: { HF_HUB_OFFLINE: 'true' } }]) {
      const error = await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, cache, extra)), 'offline-not-cached');
      assert.match(error.message, /tiny\/gpt2 is not yet in the Hugging Face cache/);
      assert.match(error.message, /offline/);
    }
    assert.equal(hub.requests.length, 0);
  });

  it('resolves @branch and @commit revisions to their own snapshots', async () => {
    const branch = await resolveModel(`${GPT2}@no-prefix`, hubOptions(hub.url, cache));
    const branchCommit = hub.commitOf(GPT2, 'no-prefix');
    assert.equal(branch.commit, branchCommit);
    assert.equal(branch.name, `${GPT2}@no-prefix`);
    assert.ok(readBytes(join(branch.folder, 'model.safetensors')).equals(hub.fileOf(GPT2, 'model.safetensors', 'no-prefix').data));
    assert.equal(readFileSync(join(cache, 'models--tiny--gpt2', 'refs', 'no-prefix'), 'utf8'), branchCommit);

    const mainCommit = hub.commitOf(GPT2);
    const pinned = await resolveModel(`${GPT2}@${mainCommit}`, hubOptions(hub.url, cache));
    assert.equal(pinned.folder, join(cache, 'models--tiny--gpt2', 'snapshots', mainCommit));
    assert.ok(!readBytes(join(pinned.folder, 'model.safetensors')).equals(readBytes(join(branch.folder, 'model.safetensors'))));
    // A commit is not a ref: no refs/<sha> file.
    assert.deepEqual(readdirSync(join(cache, 'models--tiny--gpt2', 'refs')).sort(), ['no-prefix']);

    // Both revisions now resolve offline.
    await hub.stop();
    assert.equal((await resolveModel(`${GPT2}@no-prefix`, hubOptions(hub.url, cache))).folder, branch.folder);
    assert.equal((await resolveModel(`${GPT2}@${mainCommit}`, hubOptions(hub.url, cache))).folder, pinned.folder);
  });

  it('reports a revision that does not exist', async () => {
    const error = await rejectsWith(resolveModel(`${GPT2}@v9`, hubOptions(hub.url, cache)), 'revision-not-found');
    assert.match(error.message, /Revision "v9" of tiny\/gpt2 does not exist/);
  });

  it('resumes a file after the connection drops mid-transfer', async () => {
    const weights = hub.fileOf(GPT2, 'model.safetensors').data;
    const cut = 300_000;
    hub.addFault({ file: 'model.safetensors', endpoint: 'cdn', times: 1, fault: { kind: 'drop', afterBytes: cut } });
    const resolved = await resolveModel(GPT2, hubOptions(hub.url, cache));
    assert.ok(readBytes(join(resolved.folder, 'model.safetensors')).equals(weights));
    const transfers = hub.requestsOf('cdn', 'model.safetensors');
    assert.equal(transfers.length, 2);
    assert.equal(transfers[0].range, undefined);
    assert.equal(transfers[1].range, `bytes=${cut}-`, 'the second request resumed where the first stopped');
  });

  it('fails cleanly when the connection keeps dropping, then resumes on the next try', async () => {
    const weights = hub.fileOf(GPT2, 'model.safetensors').data;
    // The connection drops after 200 kB, then breaks at once on every retry until attempts run out
    // (maxAttempts 3: the drop with progress, then two failures without).
    hub.addFault({ file: 'model.safetensors', endpoint: 'cdn', times: 1, fault: { kind: 'drop', afterBytes: 200_000 } });
    hub.addFault({ file: 'model.safetensors', endpoint: 'cdn', times: 2, fault: { kind: 'drop', afterBytes: 0 } });
    const error = await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, cache)), 'network');
    assert.match(error.message, /Downloading model\.safetensors failed: the connection broke/);
    assert.match(error.message, /already received are kept and the download resumes from there next time/);
    assert.equal(hub.requestsOf('cdn', 'model.safetensors').length, 3);

    const repo = join(cache, 'models--tiny--gpt2');
    const blobName = sha256Hex(weights);
    // Nothing broken in the final places: no blob, no snapshot entry for the weights, no ref.
    assert.ok(!existsSync(join(repo, 'blobs', blobName)));
    assert.ok(!existsSync(join(repo, 'snapshots', hub.commitOf(GPT2), 'model.safetensors')));
    assert.ok(!existsSync(join(repo, 'refs', 'main')));
    // The partial file is kept beside the blobs for resuming.
    const partial = join(repo, 'blobs', `${blobName}.attention-inspector.incomplete`);
    assert.equal(lstatSync(partial).size, 200_000);

    const before = hub.requests.length;
    const resolved = await resolveModel(GPT2, hubOptions(hub.url, cache));
    assert.ok(readBytes(join(resolved.folder, 'model.safetensors')).equals(weights));
    const resumed = hub.requests.slice(before).filter((r) => r.kind === 'cdn' && r.file === 'model.safetensors');
    assert.deepEqual(resumed.map((r) => r.range), ['bytes=200000-']);
    assert.ok(!existsSync(partial));
  });

  it('restarts from zero when the server ignores the range', async () => {
    const weights = hub.fileOf(GPT2, 'model.safetensors').data;
    hub.addFault({ file: 'model.safetensors', endpoint: 'cdn', times: 1, fault: { kind: 'drop', afterBytes: 100_000 } });
    hub.addFault({ file: 'model.safetensors', endpoint: 'cdn', times: 1, fault: { kind: 'ignore-range' } });
    const resolved = await resolveModel(GPT2, hubOptions(hub.url, cache));
    assert.ok(readBytes(join(resolved.folder, 'model.safetensors')).equals(weights));
  });

  it('reports a corrupted LFS body as a sha256 mismatch and caches nothing of it', async () => {
    hub.addFault({ file: 'model.safetensors', endpoint: 'cdn', fault: { kind: 'corrupt' } });
    const error = await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, cache)), 'integrity');
    assert.match(error.message, /model\.safetensors is corrupt/);
    assert.match(error.message, /sha256/);
    const repo = join(cache, 'models--tiny--gpt2');
    assert.deepEqual(listTree(join(repo, 'blobs')).filter((p) => p.startsWith(sha256Hex(hub.fileOf(GPT2, 'model.safetensors').data))), []);
    assert.ok(!existsSync(join(repo, 'snapshots', hub.commitOf(GPT2), 'model.safetensors')));
    assert.ok(!existsSync(join(repo, 'refs', 'main')));

    // Once the server is healthy the same call succeeds.
    hub.clearFaults();
    await resolveModel(GPT2, hubOptions(hub.url, cache));
  });

  it('verifies files kept in git by their git blob sha1', async () => {
    hub.addFault({ file: 'config.json', endpoint: 'resolve', fault: { kind: 'corrupt' } });
    const error = await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, cache)), 'integrity');
    assert.match(error.message, /config\.json is corrupt/);
    assert.match(error.message, /git-sha1/);
    assert.ok(!existsSync(join(cache, 'models--tiny--gpt2', 'snapshots', hub.commitOf(GPT2), 'config.json')));
  });

  it('explains 401, 403, an invalid token, 404 and 500 answers', async () => {
    const gated = fixtureFiles('gpt2');
    hub.addRepo('org/gated', { main: gated }, 'gated');
    hub.addRepo('org/private', { main: gated }, 'private');
    const token = 'hf_validTokenWithoutAccess000';
    hub.tokens.set(token, new Set());
    const secretToken = 'hf_secretWithAccess1234567890';
    hub.tokens.set(secretToken, new Set(['org/gated', 'org/private']));

    let error = await rejectsWith(resolveModel('org/gated', hubOptions(hub.url, cache)), 'unauthorized');
    assert.match(error.message, /gated or private: accept the licence on the model page \(http:\/\/127\.0\.0\.1:\d+\/org\/gated\) and set a token \(HF_TOKEN or the "Set Hugging Face Token" command\)/);
    assert.match(error.message, /HTTP 401/);

    error = await rejectsWith(resolveModel('org/gated', hubOptions(hub.url, cache, { token })), 'unauthorized');
    assert.match(error.message, /HTTP 403/);
    assert.match(error.message, /the token that was sent has no access/);
    assert.ok(!error.message.includes(token), 'the token never appears in messages');

    error = await rejectsWith(resolveModel('org/private', hubOptions(hub.url, cache)), 'unauthorized');
    assert.match(error.message, /check the id/);

    error = await rejectsWith(resolveModel('org/private', hubOptions(hub.url, cache, { token: 'hf_revokedToken' })), 'invalid-token');
    assert.match(error.message, /rejected the access token/);
    assert.ok(!error.message.includes('hf_revokedToken'));

    error = await rejectsWith(resolveModel('org/missing', hubOptions(hub.url, cache, { token })), 'repo-not-found');
    assert.match(error.message, /Model org\/missing was not found/);

    // With access, the token is sent to the hub and the download works.
    const resolved = await resolveModel('org/gated', hubOptions(hub.url, cache, { token: secretToken }));
    assert.ok(existsSync(join(resolved.folder, 'model.safetensors')));
    assert.ok(hub.requestsOf('resolve').some((r) => r.authorization === `Bearer ${secretToken}`));

    hub.addFault({ endpoint: 'info', fault: { kind: 'status', status: 500 } });
    error = await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, cache)), 'server');
    assert.match(error.message, /answered HTTP 500 while looking up tiny\/gpt2/);
    assert.match(error.message, /try again later/);
  });

  it('sends the token to the hub only, never to the CDN it redirects downloads to', async () => {
    const cdn = new FakeHub(); // another origin serving the same blobs
    cdn.addRepo(GPT2, { main: fixtureFiles('gpt2') });
    await cdn.start();
    try {
      hub.cdnUrl = cdn.url;
      const token = 'hf_tokenForTheHubOnly';
      hub.tokens.set(token, new Set());
      const resolved = await resolveModel(GPT2, hubOptions(hub.url, cache, { token }));
      assert.ok(readBytes(join(resolved.folder, 'model.safetensors')).equals(hub.fileOf(GPT2, 'model.safetensors').data));
      assert.deepEqual(cdn.requests.map((r) => [r.file, r.authorization]), [['model.safetensors', undefined]]);
      assert.ok(hub.requests.every((r) => r.authorization === `Bearer ${token}`));
    } finally {
      await cdn.stop();
    }
  });

  it('says so when the cache folder cannot be written', async () => {
    const blocked = join(cache, 'a-file');
    writeFileSync(blocked, '');
    const error = await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, join(blocked, 'hub'))), 'cache-io');
    assert.match(error.message, /Cannot write to the Hugging Face cache/);
    assert.match(error.message, /HF_HUB_CACHE/);
  });

  it('retries a 500 on a file download, then reports it', async () => {
    hub.addFault({ file: 'model.safetensors', endpoint: 'cdn', fault: { kind: 'status', status: 500 } });
    const error = await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, cache)), 'server');
    assert.match(error.message, /answered HTTP 500 while downloading model\.safetensors/);
    assert.match(error.message, /Tried 3 times/);
    assert.equal(hub.requestsOf('cdn', 'model.safetensors').length, 3, 'maxAttempts requests');
  });

  it('reports an unreachable hub as a network problem', async () => {
    await hub.stop();
    const error = await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, cache)), 'network');
    assert.match(error.message, /Could not reach http:\/\/127\.0\.0\.1:\d+ \((ECONNREFUSED: connection refused|UND_ERR_SOCKET: connection closed by the other side)\) while looking up tiny\/gpt2/);
  });

  it('cancels mid-download and leaves no partial file behind', async () => {
    hub.addFault({ file: 'model.safetensors', endpoint: 'cdn', fault: { kind: 'slow', chunkBytes: 16_384, intervalMs: 20 } });
    const controller = new AbortController();
    let sawBytes = false;
    const pending = resolveModel(GPT2, hubOptions(hub.url, cache, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.file === 'model.safetensors' && p.bytesDone > 0 && !sawBytes) {
          sawBytes = true;
          setTimeout(() => controller.abort(), 100);
        }
      },
    }));
    await rejectsWith(pending, 'cancelled');
    assert.ok(sawBytes, 'cancelled while bytes were arriving');
    const repo = join(cache, 'models--tiny--gpt2');
    const weightsBlob = sha256Hex(hub.fileOf(GPT2, 'model.safetensors').data);
    assert.deepEqual(listTree(join(repo, 'blobs')).filter((p) => p.startsWith(weightsBlob)), [], 'no blob nor partial file');
    assert.ok(!existsSync(join(repo, 'snapshots', hub.commitOf(GPT2), 'model.safetensors')));
    assert.deepEqual(listTree(join(cache, '.locks')).filter((p) => p.endsWith('.lock')), [], 'lock released');
  });

  it('stops before downloading weights when the user declines', async () => {
    let asked = 0;
    await rejectsWith(resolveModel(GPT2, hubOptions(hub.url, cache, { confirmDownload: async () => (asked++, false) })), 'declined');
    assert.equal(asked, 1);
    assert.equal(hub.requestsOf('resolve').length + hub.requestsOf('cdn').length, 0);
  });

  it('refuses a pickle-only repo without downloading it', async () => {
    const files = fixtureFiles('gpt2');
    files.delete('model.safetensors');
    files.delete('expected.safetensors');
    files.set('pytorch_model.bin', lfsFile(Buffer.from('pickle bytes')));
    hub.addRepo('org/pickle-only', { main: files });
    const error = await rejectsWith(resolveModel('org/pickle-only', hubOptions(hub.url, cache)), 'pickle-only');
    assert.match(error.message, /only PyTorch pickle weights \(pytorch_model\.bin\)/);
    assert.match(error.message, /unpickling a file can run arbitrary code/);
    assert.match(error.message, /save_pretrained\(out, safe_serialization=True\)/);
    assert.equal(hub.requestsOf('resolve').length, 0);
  });

  it('refuses a repo without tokenizer.json before downloading weights', async () => {
    const files = fixtureFiles('gpt2');
    files.delete('tokenizer.json');
    files.set('vocab.json', textFile('{}'));
    hub.addRepo('org/slow-tokenizer', { main: files });
    const error = await rejectsWith(resolveModel('org/slow-tokenizer', hubOptions(hub.url, cache)), 'no-tokenizer');
    assert.match(error.message, /has no tokenizer\.json/);
    assert.equal(hub.requestsOf('cdn').length, 0);
  });

  it('accepts a hub URL with a trailing slash and ids pasted as model page URLs', async () => {
    const resolved = await resolveModel(`${hub.url}/${GPT2}/tree/no-prefix`, hubOptions(`${hub.url}/`, cache));
    assert.equal(resolved.commit, hub.commitOf(GPT2, 'no-prefix'));
  });
});
