/**
 * The memory limit and where weights come from: streamed layer groups give the same numbers as a
 * model held whole, a limit too small for one layer is refused with the number to raise, and a
 * read-only checkpoint in the Hugging Face cache layout (snapshot symlinks into blobs/) loads and
 * is left untouched.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EngineError } from '../../src/engine/errors';
import { planMemory, type AttentionModel } from '../../src/engine/model';
import { loadModel } from '../../src/models';
import { ATTENTION_TOLERANCE, checkCase, maxAbsDiff, openFixture } from '../helpers/fixtures';

const TEXT = 'The cat sat on the mat, and the dog lay on the rug.';

async function analyzeAll(model: AttentionModel, onProgress?: (message: string) => void) {
  const result = await model.analyze(TEXT, { hiddenStates: true }, undefined, onProgress);
  const heads = [];
  for (let l = 0; l < result.model.numLayers; l++) heads.push(await model.headVectors(l, 1));
  return { result, heads };
}

describe('memory limit and streaming', function () {
  this.timeout(120000);

  for (const name of ['bert', 'llama3-rope-scaled-bf16', 'qwen2']) {
    it(`${name}: streamed layer groups give attentions identical to the model held whole`, async () => {
      const fixture = openFixture(name);
      const whole = await loadModel(fixture.folder);
      const layerBytes = whole.memory.layerBytes;
      // Room for one warm layer plus building one streamed layer: the rest stream one by one.
      const progress: string[] = [];
      const streamed = await loadModel(fixture.folder, { memoryLimitGB: (2.9 * layerBytes) / 1e9 });
      try {
        assert.strictEqual(whole.memory.warm, whole.memory.groups.length, 'the default limit holds the tiny model whole');
        const layers = whole.summary.numLayers;
        assert.ok(layers >= 2, 'the fixture needs two layers to test streaming');
        assert.strictEqual(streamed.memory.groups.length, layers);
        assert.strictEqual(streamed.memory.warm, 1);
        const a = await analyzeAll(whole);
        const b = await analyzeAll(streamed, (message) => progress.push(message));
        assert.deepStrictEqual(new Float32Array(b.result.attentions.buffer), new Float32Array(a.result.attentions.buffer));
        assert.deepStrictEqual(new Float32Array(b.result.valueNorms.buffer), new Float32Array(a.result.valueNorms.buffer));
        assert.deepStrictEqual(new Float32Array(b.result.hiddenStates!.buffer), new Float32Array(a.result.hiddenStates!.buffer));
        for (let l = 0; l < layers; l++) {
          for (const key of ['q', 'k', 'v'] as const) assert.deepStrictEqual(new Float32Array(b.heads[l][key].buffer), new Float32Array(a.heads[l][key].buffer), `layer ${l} ${key}`);
        }
        assert.ok(progress.some((m) => m === `Layers 2–2 of ${layers}, streaming: the model is larger than the memory limit`), progress.join('\n'));
        // And against the reference itself, not only against the whole model.
        await checkCase(streamed, fixture, 0);
      } finally {
        await whole.dispose();
        await streamed.dispose();
        fixture.close();
      }
    });
  }

  it('refuses a limit below one layer and names the limit to raise', async () => {
    const fixture = openFixture('bert');
    try {
      const whole = await loadModel(fixture.folder);
      const layerBytes = whole.memory.layerBytes;
      await whole.dispose();
      await assert.rejects(loadModel(fixture.folder, { memoryLimitGB: layerBytes / 1e9 }), (err: unknown) => {
        assert.ok(err instanceof EngineError && err.code === 'memory-limit', String(err));
        assert.match(err.message, /Raise attentionInspector\.memoryLimitGB to at least 1\b/);
        assert.strictEqual(err.details.limit, 1);
        return true;
      });
    } finally {
      fixture.close();
    }
  });

  it('plans an 8B-sized model within the limit: warm groups first, the rest streamed', () => {
    const layerBytes = 872e6; // Llama-3.1-8B: 218 M float32 weights per layer
    const plan = planMemory(32, layerBytes, 8e9);
    assert.strictEqual(plan.groups.length, 32);
    assert.ok(plan.warm > 0 && plan.warm < 32);
    assert.ok(plan.warm * layerBytes + 1.5 * layerBytes <= 8e9, 'warm layers plus one build fit the limit');
    const whole = planMemory(32, layerBytes, 40e9);
    assert.strictEqual(whole.warm, whole.groups.length);
    assert.throws(() => planMemory(32, layerBytes, 1e9), /memoryLimitGB to at least 2/);
  });
});

describe('read-only checkpoint in the Hugging Face cache layout', function () {
  this.timeout(120000);

  // The shards lie in two folders (as when a cache is assembled from two places): onnxruntime reads
  // one folder's shards itself, and the engine embeds the other's stored bytes in the graph.
  it('loads from a read-only snapshot of symlinks into blobs/, computes the reference and writes nothing there', async () => {
    const fixture = openFixture('llama-sharded');
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-readonly-'));
    // A repo folder as the Hugging Face cache names it: the engine reads links only inside it.
    const root = path.join(temp, 'models--test--llama-sharded');
    fs.mkdirSync(root);
    const blobs = path.join(root, 'blobs');
    const moreBlobs = path.join(root, 'more-blobs');
    const snapshot = path.join(root, 'snapshots', 'abc123');
    try {
      fs.mkdirSync(blobs);
      fs.mkdirSync(moreBlobs);
      fs.mkdirSync(snapshot, { recursive: true });
      for (const [i, file] of fs.readdirSync(fixture.folder).entries()) {
        if (file.startsWith('expected')) continue;
        const blob = path.join(i % 3 === 0 ? moreBlobs : blobs, `blob${i}`);
        fs.copyFileSync(path.join(fixture.folder, file), blob);
        fs.symlinkSync(path.relative(snapshot, blob), path.join(snapshot, file));
        fs.chmodSync(blob, 0o444);
      }
      for (const dir of [snapshot, path.dirname(snapshot), blobs, moreBlobs, root]) fs.chmodSync(dir, 0o555);
      const listing = () => [blobs, moreBlobs, snapshot].map((d) => fs.readdirSync(d).map((f) => `${f}:${fs.lstatSync(path.join(d, f)).mtimeMs}`).sort().join(','));
      const before = listing();
      const model = await loadModel(snapshot, { memoryLimitGB: 1 });
      try {
        const c = fixture.cases[0];
        const result = await model.analyze(c.text, { textPair: c.text_pair });
        const diff = maxAbsDiff(new Float32Array(result.attentions.buffer), fixture.expected('case0.attentions').data);
        assert.ok(diff <= ATTENTION_TOLERANCE, `attentions differ by ${diff.toExponential(2)}`);
      } finally {
        await model.dispose();
      }
      assert.deepStrictEqual(listing(), before, 'nothing was written into the checkpoint');
    } finally {
      for (const dir of [root, blobs, moreBlobs, path.dirname(snapshot), snapshot]) if (fs.existsSync(dir)) fs.chmodSync(dir, 0o755);
      fs.rmSync(temp, { recursive: true, force: true });
      fixture.close();
    }
  });
});

describe('float32 weight cache', function () {
  this.timeout(120000);

  const entries = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

  // A bf16 checkpoint (the Cast is folded into the cache), a sharded one and a float32 one.
  for (const name of ['llama3-rope-scaled-bf16', 'llama-sharded', 'bert']) {
    it(`${name}: stored precision first, then converted into the cache and mapped from it, computes the reference each time`, async () => {
      const fixture = openFixture(name);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-weight-cache-'));
      const cacheOptions = { weightCacheDir: dir, weightCacheMinBytes: 0 };
      try {
        const plain = await loadModel(fixture.folder, { weightCacheDir: '' });
        const first = await loadModel(fixture.folder, cacheOptions);
        const groups = first.memory.groups.length;
        try {
          assert.strictEqual(plain.weightCache, undefined);
          assert.strictEqual(plain.groupsAwaitingCache, 0);
          assert.strictEqual(first.weightCache?.dir, dir);
          // Nothing is converted at load: the first result must not wait for it.
          assert.deepStrictEqual(entries(dir), [], 'the load converts nothing');
          assert.strictEqual(first.groupsAwaitingCache, groups);
          await checkCase(first, fixture, 0);
          assert.strictEqual(await first.convertWaitingGroups(), groups);
          assert.strictEqual(first.groupsAwaitingCache, 0);
          // The same model, its groups swapped for the converted ones.
          await checkCase(first, fixture, 0);
        } finally {
          await first.dispose();
        }
        const written = entries(dir);
        assert.strictEqual(written.length, groups, 'one entry per layer group');
        assert.ok(written.every((e) => !e.includes('partial')), written.join(', '));
        const second = await loadModel(fixture.folder, cacheOptions);
        try {
          assert.strictEqual(second.groupsAwaitingCache, 0, 'the second load maps every group from the cache');
          assert.deepStrictEqual(entries(dir), written, 'the second load reads the entries the first wrote');
          await checkCase(second, fixture, 0);
          const a = await plain.analyze(TEXT);
          const b = await second.analyze(TEXT);
          const diff = maxAbsDiff(new Float32Array(b.attentions.buffer), new Float32Array(a.attentions.buffer));
          assert.ok(diff <= 1e-6, `cached and uncached attentions differ by ${diff.toExponential(2)}`);
        } finally {
          await Promise.all([plain, second].map((m) => m.dispose()));
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
        fixture.close();
      }
    });
  }

  it('converts an entry again whose data file was cut short; streamed groups never use the cache', async () => {
    const fixture = openFixture('qwen2');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-weight-cache-'));
    try {
      const whole = await loadModel(fixture.folder, { weightCacheDir: '' });
      const limit = { memoryLimitGB: (2.9 * whole.memory.layerBytes) / 1e9, weightCacheDir: dir, weightCacheMinBytes: 0 };
      const expected = new Float32Array((await whole.analyze(TEXT)).attentions.buffer);
      await whole.dispose();
      const streamed = await loadModel(fixture.folder, limit);
      assert.ok(streamed.memory.warm < streamed.memory.groups.length, 'the limit streams');
      assert.strictEqual(streamed.groupsAwaitingCache, streamed.memory.warm, 'only warm groups wait for the cache');
      await streamed.convertWaitingGroups();
      const a = new Float32Array((await streamed.analyze(TEXT)).attentions.buffer);
      assert.ok(maxAbsDiff(a, expected) <= 1e-6);
      await streamed.dispose();
      assert.strictEqual(entries(dir).length, streamed.memory.warm, 'one entry per warm group, none for streamed ones');
      // Damage every entry: each is detected by its size, and the group waits to be converted again.
      for (const entry of entries(dir)) fs.truncateSync(path.join(dir, entry, 'layers.data'), 16);
      const again = await loadModel(fixture.folder, limit);
      try {
        assert.strictEqual(again.groupsAwaitingCache, again.memory.warm);
        assert.deepStrictEqual(new Float32Array((await again.analyze(TEXT)).attentions.buffer), a);
        await again.convertWaitingGroups();
        for (const entry of entries(dir)) assert.ok(fs.statSync(path.join(dir, entry, 'layers.data')).size > 16, `${entry} converted again`);
        assert.deepStrictEqual(new Float32Array((await again.analyze(TEXT)).attentions.buffer), a);
        await checkCase(again, fixture, 0);
      } finally {
        await again.dispose();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fixture.close();
    }
  });

  it('keeps stored precision when the cache folder cannot be written', async () => {
    const fixture = openFixture('llama');
    // A file where the cache folder's parent should be: no folder can be made there (not even by root).
    const blocker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ai-weight-cache-')), 'not-a-folder');
    fs.writeFileSync(blocker, '');
    try {
      const model = await loadModel(fixture.folder, { weightCacheDir: path.join(blocker, 'cache'), weightCacheMinBytes: 0 });
      try {
        assert.ok(model.weightCache);
        const groups = model.groupsAwaitingCache;
        assert.ok(groups > 0);
        assert.strictEqual(await model.convertWaitingGroups(), groups, 'each group is tried once');
        assert.strictEqual(model.groupsAwaitingCache, 0);
        await checkCase(model, fixture, 0);
      } finally {
        await model.dispose();
      }
      assert.deepStrictEqual(fs.readdirSync(path.dirname(blocker)), ['not-a-folder']);
    } finally {
      fs.rmSync(path.dirname(blocker), { recursive: true, force: true });
      fixture.close();
    }
  });
});
