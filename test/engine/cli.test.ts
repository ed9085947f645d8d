/**
 * The command line (dist/cli.js) as a user runs it, in its own process: the extension's model specs
 * (built-in, folders, Hub ids with @revision from a local fake Hub, the cache, --offline), .npy
 * output against the transformers reference, the panel's head scores, and no onnxruntime telemetry.
 */
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { headScores } from '../../src/analysis/patterns';
import { FakeHub, fixtureFiles } from '../hub/fakeHub';
import { ATTENTION_TOLERANCE, FIXTURES_ROOT, maxAbsDiff, openFixture } from '../helpers/fixtures';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const BENCH = path.join(ROOT, 'dist', 'bench.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/**
 * The environment of a user's shell: none of CI's variables (onnxruntime's telemetry switches itself
 * off when `CI` is set, which would hide it in CI), no ORT_DISABLE_TELEMETRY from the test runner, no
 * HF_* variables of the developer, a throwaway HOME.
 */
function userEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'CI' || key === 'ORT_DISABLE_TELEMETRY' || key.startsWith('HF_') || key.startsWith('HUGGING') || key === 'XDG_CACHE_HOME') continue;
    env[key] = value;
  }
  return { ...env, HOME: home, ...extra };
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr, pid: child.pid! }));
  });
}

function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.subarray(0, 6).toString('latin1'), '\x93NUMPY');
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  assert.match(header, /'descr': '<f4'/);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').filter((s) => s.trim()).map(Number);
  const body = bytes.subarray(10 + headerLength);
  return { shape, data: new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)) };
}

function mktemp(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ai-cli-${label}-`));
}

describe('CLI', function () {
  this.timeout(120_000);
  const temps: string[] = [];
  const temp = (label: string) => {
    const dir = mktemp(label);
    temps.push(dir);
    return dir;
  };
  after(() => temps.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  describe('privacy: no onnxruntime telemetry without CI in the environment', () => {
    it('the CLI writes no /tmp/mat-debug-<pid>.log and no ~/.cache/Microsoft', async () => {
      const home = temp('home');
      const r = await run(CLI, ['--text', 'The cat sat on the mat.'], userEnv(home));
      assert.equal(r.code, 0, r.stderr);
      for (const dir of new Set(['/tmp', os.tmpdir()])) {
        const log = path.join(dir, `mat-debug-${r.pid}.log`);
        const existed = fs.existsSync(log);
        fs.rmSync(log, { force: true });
        assert.ok(!existed, `onnxruntime wrote ${log}`);
      }
      assert.ok(!fs.existsSync(path.join(home, '.cache', 'Microsoft')), `onnxruntime wrote ${path.join(home, '.cache', 'Microsoft')}`);
    });

    it('the benchmark (parent and per-model child processes) writes no ~/.cache/Microsoft', async () => {
      const home = temp('home');
      const r = await run(BENCH, ['--models', 'builtin', '--lengths', '8', '--runs', '1', '--dir', temp('bench')], userEnv(home));
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!fs.existsSync(path.join(home, '.cache', 'Microsoft')), 'onnxruntime wrote ~/.cache/Microsoft');
    });
    it('a test file run by hand (`mocha --no-config`, the engine as a library) writes no ~/.cache/Microsoft', async () => {
      const home = temp('home');
      // The test runner sets ORT_DISABLE_TELEMETRY; a developer running one file with mocha does not.
      const mocha = path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
      const r = await run(mocha, ['--no-config', '--timeout', '60000', path.join(ROOT, 'out', 'test', 'engine', 'builtinModel.test.js')], userEnv(home));
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(!fs.existsSync(path.join(home, '.cache', 'Microsoft')), 'onnxruntime wrote ~/.cache/Microsoft');
    });
  });

  describe('model specs like the extension setting', () => {
    const id = 'gpt2';
    let hub: FakeHub;
    let commit: string;
    let cache: string;
    const fixture = openFixture('gpt2');
    const text = fixture.cases[0].text;
    before(async () => {
      hub = new FakeHub();
      hub.addRepo(id, { main: fixtureFiles('gpt2') });
      await hub.start();
      commit = hub.commitOf(id);
      cache = temp('cache');
    });
    after(async () => {
      fixture.close();
      await hub.stop();
    });
    const hubEnv = () => userEnv(temp('home'), { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache });

    it('a one-part Hub id with @commit from HF_ENDPOINT into the cache, with --npy equal to transformers', async () => {
      const npy = path.join(temp('out'), 'attn.npy');
      const r = await run(CLI, ['--model', `${id}@${commit}`, '--text', text, '--npy', npy], hubEnv());
      assert.equal(r.code, 0, r.stderr);
      assert.ok(hub.requestsOf('resolve').length > 0, 'downloaded from the fake Hub');
      assert.ok(fs.existsSync(path.join(cache, 'models--gpt2', 'snapshots', commit, 'config.json')), 'in the Hugging Face cache layout');
      assert.match(r.stdout, new RegExp(`from gpt2@${commit}`));
      const expected = fixture.expected('case0.attentions');
      const got = readNpy(npy);
      assert.deepEqual(got.shape, expected.shape);
      assert.ok(maxAbsDiff(got.data, expected.data) <= ATTENTION_TOLERANCE);
    });

    it('--first N gives transformers\' attentions of the first N tokens (what Copy as Python\'s input_ids[:, :N] computes)', async () => {
      const npy = path.join(temp('out'), 'first.npy');
      const full = fixture.expected('case0.attentions');
      const [layers, heads, total] = full.shape;
      const n = total - 2;
      const r = await run(CLI, ['--model', `${id}@${commit}`, '--offline', '--text', text, '--first', String(n), '--npy', npy], hubEnv());
      assert.equal(r.code, 0, r.stderr);
      const got = readNpy(npy);
      assert.deepEqual(got.shape, [layers, heads, n, n]);
      // Causal attention of a prefix is the top-left block of the full text's attention.
      const block = new Float32Array(layers * heads * n * n);
      for (let m = 0; m < layers * heads; m++) {
        for (let i = 0; i < n; i++) block.set(full.data.subarray((m * total + i) * total, (m * total + i) * total + n), (m * n + i) * n);
      }
      assert.ok(maxAbsDiff(got.data, block) <= ATTENTION_TOLERANCE);
    });

    it('--offline loads the cached model by its commit with no request to the Hub', async () => {
      const before = hub.requests.length;
      const r = await run(CLI, ['--model', `${id}@${commit}`, '--offline', '--text', text], hubEnv());
      assert.equal(r.code, 0, r.stderr);
      assert.equal(hub.requests.length, before, 'no request');
    });

    it('--offline refuses a model that is not cached, saying so', async () => {
      const r = await run(CLI, ['--model', 'someone/not-cached', '--offline', '--text', text], hubEnv());
      assert.equal(r.code, 1);
      assert.match(r.stderr, /offline-not-cached/);
    });

    it('builtin, and a folder path', async () => {
      const builtin = await run(CLI, ['--model', 'builtin', '--text', 'Hello'], userEnv(temp('home')));
      assert.equal(builtin.code, 0, builtin.stderr);
      assert.match(builtin.stdout, /^Built-in tiny model \(llama\)/);
      const folder = await run(CLI, ['--model', path.join(FIXTURES_ROOT, 'bert'), '--text', 'Hello'], userEnv(temp('home')));
      assert.equal(folder.code, 0, folder.stderr);
      assert.match(folder.stdout, /\(bert\)/);
    });
  });

  it('prints the head scores the panel computes (src/analysis/patterns.ts), for --first N tokens', async () => {
    const npy = path.join(temp('out'), 'attn.npy');
    const r = await run(CLI, ['--text', 'one two three four five six seven eight', '--first', '6', '--heads', '--npy', npy], userEnv(temp('home')));
    assert.equal(r.code, 0, r.stderr);
    const { shape, data } = readNpy(npy);
    const [layers, heads, n] = shape;
    assert.equal(n, 6, 'only the first 6 tokens');
    let lines = 0;
    for (const line of r.stdout.split('\n')) {
      const m = /^\s+L(\d+) H(\d+): previous (\S+)\s+first (\S+)\s+self (\S+)\s+entropy (\S+) \((\S+) bits\)/.exec(line);
      if (!m) continue;
      lines++;
      const [layer, head] = [Number(m[1]), Number(m[2])];
      const want = headScores(data.subarray((layer * heads + head) * n * n, (layer * heads + head + 1) * n * n), n, true);
      assert.deepEqual(m.slice(3).map(Number), [want.previousToken, want.firstToken, want.self, want.entropy, want.entropyBits].map((v) => Number(v.toFixed(3))), line);
    }
    assert.equal(lines, layers * heads);
  });

  it('--select L:H writes only those heads, read from --file: JSON keeps its keys, NumPy [k, n, n], both equal to transformers', async () => {
    const fixture = openFixture('bert');
    try {
      const dir = temp('select');
      const file = path.join(dir, 'text.txt');
      fs.writeFileSync(file, fixture.cases[0].text);
      const json = path.join(dir, 'out.json');
      const npy = path.join(dir, 'out.npy');
      const r = await run(CLI, ['--model', path.join(FIXTURES_ROOT, 'bert'), '--file', file, '--select', '1:2,0:0', '--json', json, '--npy', npy], userEnv(temp('home')));
      assert.equal(r.code, 0, r.stderr);
      const expected = fixture.expected('case0.attentions');
      const [, heads, n] = expected.shape;
      const head = (l: number, h: number) => expected.data.subarray((l * heads + h) * n * n, (l * heads + h + 1) * n * n);
      const want = new Float32Array(2 * n * n);
      want.set(head(1, 2), 0);
      want.set(head(0, 0), n * n);
      const out = JSON.parse(fs.readFileSync(json, 'utf8'));
      for (const key of ['model', 'text', 'tokens', 'attentions', 'valueNorms', 'headScores']) assert.ok(key in out, `JSON has ${key}`);
      assert.deepEqual(out.attentions.shape, [2, n, n]);
      assert.deepEqual(out.select, [{ layer: 1, head: 2 }, { layer: 0, head: 0 }]);
      assert.ok(maxAbsDiff(Float32Array.from(out.attentions.data), want) <= ATTENTION_TOLERANCE);
      const got = readNpy(npy);
      assert.deepEqual(got.shape, [2, n, n]);
      assert.ok(maxAbsDiff(got.data, want) <= ATTENTION_TOLERANCE);
    } finally {
      fixture.close();
    }
  });

  it('--select refuses malformed pairs and heads the model does not have, saying what it has', async () => {
    const bad = await run(CLI, ['--text', 'Hello there', '--select', '1-2'], userEnv(temp('home')));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--select takes layer:head pairs/);
    const missing = await run(CLI, ['--text', 'Hello there', '--select', '0:0,9:0', '--npy', path.join(temp('out'), 'x.npy')], userEnv(temp('home')));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--select 9:0: .* has 4 layers \(0–3\) of 8 heads \(0–7\)/);
  });
});
