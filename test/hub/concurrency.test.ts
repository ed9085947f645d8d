/**
 * Two downloads of one model at once, in one process and in two processes (as two VS Code windows
 * would run them), and the lock that keeps them from writing the same file.
 *
 * The cross-process case forks this very file: with AI_HUB_CHILD set it runs one download and
 * reports the result on stdout instead of defining tests.
 */
import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { resolveModel } from '../../src/hub';
import { acquireLock } from '../../src/hub/lock';
import { FakeHub, fixtureFiles } from './fakeHub';
import { hubOptions, listTree, makeTempDir, readBytes, removeDir } from './helpers';

const ID = 'tiny/llama-sharded';

async function runChild(): Promise<void> {
  const { AI_HUB_URL, AI_HUB_CACHE } = process.env;
  try {
    const resolved = await resolveModel(ID, hubOptions(AI_HUB_URL!, AI_HUB_CACHE!, { tuning: { concurrency: 2 } }));
    process.stdout.write(JSON.stringify({ folder: resolved.folder }));
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error) }));
  }
}

function forkDownload(hubUrl: string, cache: string): Promise<{ folder?: string; error?: string }> {
  return new Promise((done, fail) => {
    const child = fork(__filename, [], {
      env: { ...process.env, AI_HUB_CHILD: '1', AI_HUB_URL: hubUrl, AI_HUB_CACHE: cache },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(`child exited with ${code}: ${out}`))));
  });
}

function checkSnapshot(hub: FakeHub, folder: string): void {
  const names = readdirSync(folder).filter((n) => n.endsWith('.safetensors'));
  assert.equal(names.length, 12);
  for (const name of [...names, 'config.json', 'tokenizer.json', 'model.safetensors.index.json']) {
    assert.ok(readBytes(join(folder, name)).equals(hub.fileOf(ID, name).data), `${name} intact`);
  }
}

if (process.env.AI_HUB_CHILD) {
  void runChild();
} else {
  describe('concurrent downloads of one model', function () {
    this.timeout(60_000);
    let hub: FakeHub;
    let cache: string;

    beforeEach(async () => {
      hub = new FakeHub();
      hub.addRepo(ID, { main: fixtureFiles('llama-sharded') });
      await hub.start();
      // Slow bodies make the two downloads overlap for sure.
      hub.addFault({ endpoint: 'cdn', fault: { kind: 'slow', chunkBytes: 8_192, intervalMs: 5 } });
      cache = makeTempDir('concurrent');
    });
    afterEach(async () => {
      await hub.stop();
      removeDir(cache);
    });

    it('in one process: both succeed and each file is downloaded once', async () => {
      const [a, b] = await Promise.all([
        resolveModel(ID, hubOptions(hub.url, cache, { tuning: { concurrency: 2 } })),
        resolveModel(ID, hubOptions(hub.url, cache, { tuning: { concurrency: 3 } })),
      ]);
      assert.equal(a.folder, b.folder);
      checkSnapshot(hub, a.folder);
      const perFile = new Map<string, number>();
      for (const r of hub.requestsOf('cdn')) perFile.set(r.file!, (perFile.get(r.file!) ?? 0) + 1);
      assert.deepEqual([...new Set(perFile.values())], [1], 'no shard transferred twice');
      assert.deepEqual(listTree(cache).filter((p) => /incomplete|\.lock$|\.tmp$/.test(p)), []);
    });

    it('in two processes: both succeed with intact files', async () => {
      // Slower still, so that the child (which needs a moment to start) joins mid-download.
      hub.clearFaults();
      hub.addFault({ endpoint: 'cdn', fault: { kind: 'slow', chunkBytes: 4_096, intervalMs: 10 } });
      const [parent, child] = await Promise.all([
        resolveModel(ID, hubOptions(hub.url, cache, { tuning: { concurrency: 2 } })),
        forkDownload(hub.url, cache),
      ]);
      assert.equal(child.error, undefined);
      assert.equal(child.folder, parent.folder);
      checkSnapshot(hub, parent.folder);
      assert.equal(hub.requestsOf('info').length, 2, 'both processes found the model incomplete and went to the Hub');
      assert.equal(hub.requestsOf('cdn').length, 12, 'yet each shard was transferred once');
      assert.deepEqual(listTree(cache).filter((p) => /incomplete|\.lock$|\.tmp$/.test(p)), []);
    });
  });

  describe('download lock', () => {
    let dir: string;
    beforeEach(() => {
      dir = makeTempDir('lock');
    });
    afterEach(() => removeDir(dir));

    it('makes a second holder wait until the first releases', async () => {
      const path = join(dir, 'x.lock');
      const first = await acquireLock(path);
      let secondHeld = false;
      const second = acquireLock(path, { pollMs: 10 }).then((lock) => {
        secondHeld = true;
        return lock;
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(secondHeld, false);
      await first.release();
      await (await second).release();
      assert.equal(existsSync(path), false);
    });

    it('takes over a lock left by a process that died, and one not refreshed for too long', async () => {
      const path = join(dir, 'dead.lock');
      mkdirSync(dir, { recursive: true });
      // A pid that cannot exist on Linux (above pid_max).
      writeFileSync(path, JSON.stringify({ pid: 2 ** 30, host: hostname(), nonce: 'dead' }));
      await (await acquireLock(path, { pollMs: 10 })).release();

      const abandoned = join(dir, 'abandoned.lock');
      writeFileSync(abandoned, JSON.stringify({ pid: process.pid, host: 'another-machine', nonce: 'old' }));
      const old = new Date(Date.now() - 60_000);
      utimesSync(abandoned, old, old);
      await (await acquireLock(abandoned, { pollMs: 10, staleMs: 30_000 })).release();
    });

    it('keeps a fresh lock of a live holder and stops waiting on cancel', async () => {
      const path = join(dir, 'live.lock');
      writeFileSync(path, JSON.stringify({ pid: process.pid, host: 'another-machine', nonce: 'live' }));
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      await assert.rejects(acquireLock(path, { pollMs: 10, signal: controller.signal }), /cancelled/);
      assert.ok(existsSync(path), 'the live lock was left alone');
    });
  });
}
