/**
 * Views during the pass (issue 10, "progressive"): a kept analysis answers for the layers its pass
 * has computed while the rest still runs, a view of a layer not computed yet waits for it (and fails,
 * saying why, when the pass stops first), and views of an older analysis do not wait behind a newer
 * pass. The pass is held between layer groups by the engine's test hook (KeptOptions
 * testHoldAfterGroup; in the worker ATTENTION_INSPECTOR_TEST_HOLD_AFTER_GROUP_MS), on the llama
 * fixture streamed one layer per group. Every matrix is checked against transformers' attentions.
 */
import * as assert from 'assert';
import * as path from 'path';
import { EngineError } from '../../src/engine/errors';
import { ViewServer } from '../../src/analysis/viewServer';
import { ScoresSessions, type KeptAnalysis, type KeptSelfAnalysis, type LayerSummaries } from '../../src/engine/kept';
import type { KeptSeq2seqAnalysis } from '../../src/engine/keptSeq2seq';
import { MirrorKeptAnalysis } from '../../src/engine/keptMirror';
import type { AttentionModel } from '../../src/engine/model';
import { loadModel } from '../../src/models';
import type { ViewReply, ViewRequest } from '../../src/protocol/views';
import { EngineClient, EngineRequestError } from '../../src/worker/engineClient';
import { holdFirstGroup, isPending } from '../helpers/passHold';
import { ATTENTION_TOLERANCE, FIXTURES_2_ROOT, FIXTURES_ROOT, maxAbsDiff, openFixture, type Fixture } from '../helpers/fixtures';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const HOLD_ENV = 'ATTENTION_INSPECTOR_TEST_HOLD_AFTER_GROUP_MS';
/** Long enough that a view asked for when a group's summaries arrive is answered well before the next group. */
const HOLD_MS = 1000;

const headRequest = (layer: number, head: number): ViewRequest => ({ kind: 'matrix', block: 'self', mode: 'head', layer, head, special: 'show', mergeWords: false });

/** `[n, n]` of one head of the reference `[layers, heads, n, n]`. */
function referenceHead(data: Float32Array, heads: number, n: number, layer: number, head: number): Float32Array {
  const start = (layer * heads + head) * n * n;
  return data.subarray(start, start + n * n);
}

/** A matrix reply's data, every one of its `rows` rows (default square: as many as its keys) in it. */
function matrixOf(reply: ViewReply, rows?: number): Float32Array {
  assert.strictEqual(reply.kind, 'matrix');
  if (reply.kind !== 'matrix') throw new Error('not a matrix');
  assert.strictEqual(reply.rowStart, 0);
  assert.strictEqual(reply.rowCount, rows ?? reply.size, 'every row in one reply');
  return new Float32Array(reply.data);
}

/** The shared "still kept" flag the worker hands a mirror, set. */
function keptFlag(): Int32Array {
  const alive = new Int32Array(new SharedArrayBuffer(4));
  alive[0] = 1;
  return alive;
}

/** What a promise came to, caught at once (so a rejection before the test looks at it is not unhandled). */
function outcome<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}


/** An engine process started with the TESTS ONLY variable `name` set to `ms`, once `load` has loaded its model. */
async function engineWith(name: string, ms: number, log: ((line: string) => void) | undefined, load: (client: EngineClient) => Promise<unknown>): Promise<EngineClient> {
  const before = process.env[name];
  // The engine process takes the variable when it starts (on the first request).
  process.env[name] = String(ms);
  try {
    const client = new EngineClient(WORKER, log);
    await load(client);
    return client;
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/**
 * An engine process with the llama fixture loaded one layer per group (room for one warm layer
 * plus building one streamed), started with the TESTS ONLY variable `name` set to `ms`.
 */
async function testEngine(fixture: Fixture, name: string, ms: number, log?: (line: string) => void): Promise<EngineClient> {
  const warm = await loadModel(fixture.folder);
  const limitGB = (2.9 * warm.memory.layerBytes) / 1e9;
  await warm.dispose();
  return engineWith(name, ms, log, (client) => client.load(fixture.folder, { name: 'llama', source: fixture.folder, memoryLimitGB: limitGB }));
}

describe('views during the pass: the engine', function () {
  this.timeout(120000);
  const fixture = openFixture('llama');
  let model: AttentionModel;
  before(async () => {
    const warm = await loadModel(fixture.folder);
    const layerBytes = warm.memory.layerBytes;
    await warm.dispose();
    // Room for one warm layer plus building one streamed layer: one layer per group.
    model = await loadModel(fixture.folder, { memoryLimitGB: (2.9 * layerBytes) / 1e9 });
  });
  after(async () => {
    await model?.dispose();
    fixture.close();
  });

  it('serves layer 0 while the pass is held after it; a later layer waits for the pass to reach it', async () => {
    assert.deepStrictEqual(model.memory.groups, [[0], [1], [2]], 'one layer per group');
    const c = fixture.cases[0];
    const expected = fixture.expected('case0.attentions');
    const [, heads, n] = expected.shape;
    let started: KeptAnalysis | undefined;
    const hold = holdFirstGroup();
    const pass = model.analyzeKept(c.text, {}, undefined, undefined, undefined, { onStart: (analysis) => (started = analysis), testHoldAfterGroup: hold.hook });
    let passDone = false;
    void pass.then(() => (passDone = true), () => undefined);
    assert.deepStrictEqual(await hold.reached, [0]);
    assert.ok(started, 'the analysis exists before its pass ends');
    assert.strictEqual(started.tokens.length, n);
    // Layer 0 is computed: its exact matrix now, the pass still held.
    await started.whenComputed!('self', 0);
    const during = await started.attention('self', 0, undefined, { from: 1, to: 2 });
    assert.strictEqual(passDone, false, 'answered before the pass finished');
    assert.ok(maxAbsDiff(during, referenceHead(expected.data, heads, n, 0, 1)) <= ATTENTION_TOLERANCE);
    const mean = await started.headMean('self', 0);
    assert.strictEqual(mean.length, n * n);
    // Layer 2 is not: refused directly, and its wait is pending until the pass gets there.
    await assert.rejects(started.attention('self', 2), /Layer 3 has not been computed yet/);
    const waiting = started.whenComputed!('self', 2);
    assert.ok(await isPending(waiting), 'layer 2 waits for the pass');
    hold.release();
    await waiting;
    const kept = await pass;
    assert.strictEqual(kept, started, 'the analysis handed out at the start is the one kept');
    const last = await kept.attention('self', 2, undefined, { from: 3, to: 4 });
    assert.ok(maxAbsDiff(last, referenceHead(expected.data, heads, n, 2, 3)) <= ATTENTION_TOLERANCE);
    // The same matrix after the pass as during it.
    assert.deepStrictEqual(await kept.attention('self', 0, undefined, { from: 1, to: 2 }), during);
    kept.dispose();
  });

  it('a wait for a layer fails, saying why, when the pass is cancelled first; a cancelled wait stops alone', async () => {
    const controller = new AbortController();
    let started: KeptAnalysis | undefined;
    let waiting: Promise<{ error?: unknown }> | undefined;
    let gaveUp: Promise<{ error?: unknown }> | undefined;
    const pass = model.analyzeKept(fixture.cases[0].text, {}, controller.signal, undefined, undefined, {
      onStart: (analysis) => (started = analysis),
      testHoldAfterGroup: async (layers) => {
        if (layers[0] !== 0) return;
        waiting = outcome(started!.whenComputed!('self', 2));
        const own = new AbortController();
        gaveUp = outcome(started!.whenComputed!('self', 1, own.signal));
        own.abort();
        controller.abort();
      },
    });
    await assert.rejects(pass, (err: unknown) => err instanceof EngineError && err.code === 'cancelled');
    const gave = (await gaveUp!).error;
    assert.ok(gave instanceof EngineError && gave.code === 'cancelled' && /view was cancelled/.test(gave.message), String(gave));
    const stopped = (await waiting!).error;
    assert.ok(stopped instanceof EngineError && /stopped after 1 of 3 layers: The analysis was cancelled/.test(stopped.message), String(stopped));
    await assert.rejects(started!.whenComputed!('self', 2), /stopped after 1 of 3 layers/);
  });
});

describe("views during the pass: the view thread's mirror of a kept analysis", function () {
  this.timeout(120000);
  // A causal mask (gpt2), grouped-query keys shared between heads (llama), soft-capped logits and sliding windows (gemma2), a bidirectional encoder without terms (bert).
  for (const name of ['gpt2', 'llama', 'gemma2', 'bert']) {
    it(`${name}: every head and head mean served from what the worker hands the view thread equals transformers' attentions`, async () => {
      const fixture = openFixture(name);
      const model = await loadModel(fixture.folder);
      const sessions = new ScoresSessions(() => ({ intraOpNumThreads: 1 }));
      try {
        const c = fixture.cases[0];
        const expected = fixture.expected('case0.attentions');
        const [layers, heads, n] = expected.shape;
        const alive = keptFlag();
        let mirror: MirrorKeptAnalysis | undefined;
        let started: KeptSelfAnalysis | undefined;
        const kept = await model.analyzeKept(c.text, { textPair: c.text_pair }, undefined, undefined, (group) => {
          mirror!.add(started!.mirrorLayers(group));
        }, {
          onStart: (analysis) => {
            started = analysis as KeptSelfAnalysis;
            const start = started.mirrorStart(7, alive, c.text);
            assert.ok(start, 'the analysis is mirrored');
            mirror = new MirrorKeptAnalysis(start, sessions);
          },
        });
        assert.strictEqual(kept, started);
        assert.strictEqual(mirror!.layersComputed, layers);
        // The q and keys are shared with the worker's analysis, not copied: it counts them, the mirror nothing.
        assert.ok(started!.keptQk.every((qk) => qk!.q.buffer instanceof SharedArrayBuffer && qk!.kHeads.every((k) => k.buffer instanceof SharedArrayBuffer)));
        assert.strictEqual(mirror!.bytesHeld, 0);
        for (let layer = 0; layer < layers; layer++) {
          const all = await mirror!.attention('self', layer);
          const mean = await mirror!.headMean('self', layer);
          const referenceMean = new Float32Array(n * n);
          for (let head = 0; head < heads; head++) {
            const reference = referenceHead(expected.data, heads, n, layer, head);
            assert.ok(maxAbsDiff(all.subarray(head * n * n, (head + 1) * n * n), reference) <= ATTENTION_TOLERANCE, `layer ${layer} head ${head}`);
            reference.forEach((v, i) => (referenceMean[i] += v / heads));
          }
          assert.ok(maxAbsDiff(mean, referenceMean) <= ATTENTION_TOLERANCE, `layer ${layer}'s mean`);
        }
        assert.deepStrictEqual(mirror!.valueNorms('self'), kept.valueNorms('self'));
        await assert.rejects(mirror!.attention('self', 0, undefined, { from: heads, to: heads + 1 }), /No heads/);
        mirror!.dispose();
        await assert.rejects(mirror!.attention('self', 0), /released/);
        kept.dispose();
      } finally {
        await sessions.dispose();
        await model.dispose();
        fixture.close();
      }
    });
  }
});

describe("views during the pass: the view thread's mirror of an encoder-decoder", function () {
  this.timeout(120000);
  const BLOCK_KEYS = { encoder: 'encoder_attentions', decoder: 'decoder_attentions', cross: 'cross_attentions' } as const;
  // A stack sum of relative bias and causal mask shared as the pass keeps it, the encoder's relative bias copied once (t5); learned positions, a causal mask only (bart, marian).
  const variants = [
    { name: 'bart', options: {} },
    { name: 't5', options: {} },
    { name: 't5', options: { stackLayersPerChunk: 1 } },
    { name: 'marian', options: {} },
  ];
  for (const { name, options } of variants) {
    const label = options.stackLayersPerChunk ? ', one layer per stack chunk' : '';
    it(`${name}${label}: every block, layer, head and head mean served from what the worker hands the view thread equals transformers' attentions`, async () => {
      const fixture = openFixture(name, FIXTURES_2_ROOT);
      const model = await loadModel(fixture.folder, options);
      const sessions = new ScoresSessions(() => ({ intraOpNumThreads: 1 }));
      try {
        const c = fixture.cases[0];
        const alive = keptFlag();
        let mirror: MirrorKeptAnalysis | undefined;
        let started: KeptSeq2seqAnalysis | undefined;
        const chunks: LayerSummaries[][] = [];
        const kept = await model.analyzeKept(c.text, { target: c.decoder_text }, undefined, undefined, (chunk) => {
          chunks.push(chunk);
          // Each stack chunk's layers are served once they come, and only they (encoder first).
          const before = mirror!.layersComputed;
          const layers = started!.mirrorLayers(chunk);
          // Shared with the worker's analysis (onnxruntime cannot read them there: each view copies its head group out).
          const shared = (x: Float32Array | undefined) => x === undefined || x.buffer instanceof SharedArrayBuffer;
          assert.ok(layers.every((l) => shared(l.q) && shared(l.k) && l.k!.length > 0 && shared(l.bias?.data)), 'q, k and terms in shared memory');
          mirror!.add(layers);
          assert.strictEqual(mirror!.layersComputed, before + chunk.filter((s) => s.block !== 'cross').length);
        }, {
          onStart: (analysis) => {
            started = analysis as KeptSeq2seqAnalysis;
            const start = started.mirrorStart(7, alive, c.text);
            assert.ok(start, 'the analysis is mirrored');
            mirror = new MirrorKeptAnalysis(start, sessions);
            assert.strictEqual(mirror.layersComputed, 0);
          },
        });
        assert.strictEqual(kept, started);
        if (options.stackLayersPerChunk) assert.ok(chunks.length >= 4 && chunks[0].every((s) => s.block === 'encoder' && s.layer === 0), `${chunks.length} chunks`);
        assert.strictEqual(mirror!.bytesHeld, 0);
        for (const block of ['encoder', 'decoder', 'cross'] as const) {
          const expected = fixture.expected(`case0.${BLOCK_KEYS[block]}`);
          const [layers, heads, rows, keys] = expected.shape;
          const size = rows * keys;
          assert.deepStrictEqual(mirror!.valueNorms(block), kept.valueNorms(block));
          for (let layer = 0; layer < layers; layer++) {
            await mirror!.whenComputed(block, layer);
            const all = await mirror!.attention(block, layer);
            assert.strictEqual(all.length, heads * size, `${block} layer ${layer}: [${heads}, ${rows}, ${keys}]`);
            const mean = await mirror!.headMean(block, layer);
            const referenceMean = new Float32Array(size);
            for (let head = 0; head < heads; head++) {
              const reference = expected.data.subarray((layer * heads + head) * size, (layer * heads + head + 1) * size);
              assert.ok(maxAbsDiff(all.subarray(head * size, (head + 1) * size), reference) <= ATTENTION_TOLERANCE, `${block} layer ${layer} head ${head}`);
              const one = await mirror!.attention(block, layer, undefined, { from: head, to: head + 1 });
              assert.ok(maxAbsDiff(one, reference) <= ATTENTION_TOLERANCE, `${block} layer ${layer} head ${head} alone`);
              reference.forEach((v, i) => (referenceMean[i] += v / heads));
            }
            assert.ok(maxAbsDiff(mean, referenceMean) <= ATTENTION_TOLERANCE, `${block} layer ${layer}'s mean`);
          }
        }
        // 'self' names the encoder, as in the worker's analysis.
        assert.deepStrictEqual(await mirror!.attention('self', 0), await mirror!.attention('encoder', 0));
        await assert.rejects(mirror!.headVectors(), /served by the engine worker/);
        mirror!.dispose();
        await assert.rejects(mirror!.attention('cross', 0), /released/);
        kept.dispose();
      } finally {
        await sessions.dispose();
        await model.dispose();
        fixture.close();
      }
    });
  }

  it("a layer's wait resolves when its stack chunk reaches the mirror, not before; the pass stopping fails it, saying why", async () => {
    const fixture = openFixture('t5', FIXTURES_2_ROOT);
    const model = await loadModel(fixture.folder, { stackLayersPerChunk: 1 });
    const sessions = new ScoresSessions(() => ({ intraOpNumThreads: 1 }));
    try {
      const c = fixture.cases[0];
      let mirror: MirrorKeptAnalysis | undefined;
      let started: KeptSeq2seqAnalysis | undefined;
      const controller = new AbortController();
      let early: boolean | undefined;
      let late: Promise<{ error?: unknown }> | undefined;
      const pass = model.analyzeKept(c.text, { target: c.decoder_text }, controller.signal, undefined, (chunk) => mirror!.add(started!.mirrorLayers(chunk)), {
        onStart: (analysis) => {
          started = analysis as KeptSeq2seqAnalysis;
          mirror = new MirrorKeptAnalysis(started.mirrorStart(1, keptFlag(), c.text)!, sessions);
        },
        testHoldAfterGroup: async (layers) => {
          if (layers[0] !== 0 || early !== undefined) return;
          // After the encoder's layer 0: it is served, the decoder's layer 0 and the cross block wait.
          late = outcome(mirror!.whenComputed('cross', 0));
          early = await isPending(mirror!.whenComputed('decoder', 0));
          await mirror!.whenComputed('encoder', 0);
          await assert.rejects(mirror!.attention('cross', 0), /Layer 1 of the cross attention has not been computed yet/);
          mirror!.stop({ code: 'cancelled', message: 'The analysis was cancelled.' });
          controller.abort();
        },
      });
      await assert.rejects(pass, /cancelled/);
      assert.strictEqual(early, true, "the decoder's layer 0 waited");
      const stopped = (await late!).error;
      assert.ok(stopped instanceof EngineError && /stopped after 1 of \d+ layers: The analysis was cancelled/.test(stopped.message), String(stopped));
      mirror!.dispose();
    } finally {
      await sessions.dispose();
      await model.dispose();
      fixture.close();
    }
  });
});

describe('views during the pass: the head on screen, kept by the next pass', function () {
  this.timeout(120000);
  it("the pass keeps the exact probabilities of the head asked for (the panel's layer and head), and both the analysis and its mirror serve that head from them without a scores run", async () => {
    const fixture = openFixture('llama');
    const model = await loadModel(fixture.folder);
    try {
      const c = fixture.cases[1];
      const expected = fixture.expected('case1.attentions');
      const [layers, heads, n] = expected.shape;
      const alive = keptFlag();
      // Scores sessions that refuse to run: what the mirror serves without them came from the pass.
      const refusing = { runScores: () => Promise.reject(new Error('a scores run')) } as unknown as ScoresSessions;
      let mirror: MirrorKeptAnalysis | undefined;
      let started: KeptSelfAnalysis | undefined;
      const kept = (await model.analyzeKept(c.text, {}, undefined, undefined, (group) => mirror!.add(started!.mirrorLayers(group)), {
        keepHead: { layer: 1, head: 2 },
        onStart: (analysis) => {
          started = analysis as KeptSelfAnalysis;
          mirror = new MirrorKeptAnalysis(started.mirrorStart(3, alive, c.text)!, refusing);
        },
      })) as KeptSelfAnalysis;
      const head = kept.shownHead!;
      assert.deepStrictEqual({ layer: head.layer, head: head.head }, { layer: 1, head: 2 });
      assert.ok(head.probs.buffer instanceof SharedArrayBuffer, 'in shared memory: the view thread reads it without a copy');
      const reference = referenceHead(expected.data, heads, n, 1, 2);
      assert.ok(maxAbsDiff(head.probs, reference) <= ATTENTION_TOLERANCE, "the kept head is transformers' head");
      const fromMirror = await mirror!.attention('self', 1, undefined, { from: 2, to: 3 });
      assert.deepStrictEqual(fromMirror, head.probs.slice());
      assert.strictEqual(mirror!.keptHead('self', 1, 2), head.probs, "the view server reads the kept array itself (it copies what it hands out)");
      assert.strictEqual(kept.keptHead('self', 1, 2), head.probs);
      assert.strictEqual(mirror!.keptHead('self', 1, 1), undefined);
      // The view server of the view thread (a layer larger than its cache: one head at a time) serves that head's views from it.
      const server = new ViewServer(mirror!, { mergeText: c.text, layerCacheBytes: 1 });
      const view = { block: 'self' as const, mode: 'head' as const, layer: 1, head: 2, special: 'show' as const, mergeWords: false };
      assert.ok(maxAbsDiff(matrixOf(await server.serve({ kind: 'matrix', ...view })), reference) <= ATTENTION_TOLERANCE);
      const overview = await server.serve({ kind: 'overview', ...view, cells: 4 * n });
      assert.ok(overview.kind === 'overview' && maxAbsDiff(new Float32Array(overview.data), reference) <= ATTENTION_TOLERANCE);
      assert.deepStrictEqual(head.probs.slice(), fromMirror, 'the kept array is unchanged by the views served from it');
      await assert.rejects(server.serve({ kind: 'matrix', ...view, head: 1 }), /a scores run/);
      assert.notStrictEqual(fromMirror.buffer, head.probs.buffer, 'a fresh array: the view server may change it');
      // Any other head, layer or range of heads needs a scores run.
      await assert.rejects(mirror!.attention('self', 1, undefined, { from: 1, to: 2 }), /a scores run/);
      await assert.rejects(mirror!.attention('self', 0, undefined, { from: 2, to: 3 }), /a scores run/);
      await assert.rejects(mirror!.attention('self', 1, undefined, { from: 2, to: 4 }), /a scores run/);
      assert.deepStrictEqual(await kept.attention('self', 1, undefined, { from: 2, to: 3 }), head.probs.slice());
      // Counted once, by the worker's analysis.
      const withHead = kept.bytesHeld;
      kept.shownHead = undefined;
      assert.strictEqual(withHead - kept.bytesHeld, 4 * n * n);
      assert.ok(layers > 1);
      kept.dispose();
    } finally {
      await model.dispose();
      fixture.close();
    }
  });
});

describe('views during the pass: the engine worker', function () {
  this.timeout(120000);
  const fixture = openFixture('llama');
  let client: EngineClient;
  beforeEach(async () => {
    client = await testEngine(fixture, HOLD_ENV, HOLD_MS);
  });
  afterEach(() => client.dispose());
  after(() => fixture.close());

  it("answers a head of layer 0 while the same analysis's pass runs, and a later layer once the pass reaches it", async () => {
    const expected = fixture.expected('case1.attentions');
    const [layers, heads, n] = expected.shape;
    const events: string[] = [];
    let early: Promise<Float32Array> | undefined;
    let later: Promise<Float32Array> | undefined;
    const signal = new AbortController().signal;
    const kept = await client.analyzeKept(fixture.cases[1].text, {}, {
      onSummaries: (analysisId, _info, summaries) => {
        events.push(`summaries ${summaries[0].layersDone}`);
        if (early) return;
        early = client.view(analysisId, headRequest(0, 2), signal).then((reply) => {
          events.push('layer 0 view');
          return matrixOf(reply);
        });
        later = client.view(analysisId, headRequest(layers - 1, 1), signal).then((reply) => {
          events.push('last layer view');
          return matrixOf(reply);
        });
      },
    });
    events.push('analyzed');
    const first = await early!;
    const last = await later!;
    assert.deepStrictEqual(events.slice(0, 3), ['summaries 1', 'layer 0 view', 'summaries 2'], `layer 0 was answered during the pass, held after each group (${events.join(', ')})`);
    assert.ok(events.indexOf('last layer view') > events.indexOf(`summaries ${layers}`), `the last layer once computed (${events.join(', ')})`);
    assert.ok(events.indexOf('layer 0 view') < events.indexOf('analyzed'));
    assert.ok(maxAbsDiff(first, referenceHead(expected.data, heads, n, 0, 2)) <= ATTENTION_TOLERANCE);
    assert.ok(maxAbsDiff(last, referenceHead(expected.data, heads, n, layers - 1, 1)) <= ATTENTION_TOLERANCE);
    // After the pass: the same matrix as during it.
    assert.deepStrictEqual(matrixOf(await client.view(kept.analysisId, headRequest(0, 2), signal)), first);
  });

  it('answers a view of an older analysis while a newer pass runs, not behind it', async () => {
    const expected = fixture.expected('case0.attentions');
    const [, heads, n] = expected.shape;
    const older = await client.analyzeKept(fixture.cases[0].text);
    const events: string[] = [];
    const newer = client.analyzeKept(fixture.cases[1].text).then((r) => {
      events.push('newer analyzed');
      return r;
    });
    const reply = await client.view(older.analysisId, headRequest(1, 3), new AbortController().signal);
    events.push('older view');
    await newer;
    assert.deepStrictEqual(events, ['older view', 'newer analyzed']);
    assert.ok(maxAbsDiff(matrixOf(reply), referenceHead(expected.data, heads, n, 1, 3)) <= ATTENTION_TOLERANCE);
  });

  it('a view waiting for a layer fails clearly when a newer text supersedes the pass; its cancel stays part of the protocol', async () => {
    let waiting: Promise<{ error?: unknown }> | undefined;
    let cancelled: Promise<{ error?: unknown }> | undefined;
    const controller = new AbortController();
    const first = outcome(client.analyzeKept(fixture.cases[0].text, {}, {
      onSummaries: (analysisId) => {
        if (waiting) return;
        waiting = outcome(client.view(analysisId, headRequest(2, 0), new AbortController().signal));
        cancelled = outcome(client.view(analysisId, headRequest(2, 1), controller.signal));
        controller.abort();
      },
    }));
    while (!waiting) await new Promise((resolve) => setTimeout(resolve, 20));
    const second = client.analyzeKept(fixture.cases[1].text);
    const superseded = (await first).error;
    assert.ok(superseded instanceof EngineRequestError && superseded.info.code === 'cancelled', String(superseded));
    const gaveUp = (await cancelled!).error;
    assert.ok(gaveUp instanceof EngineRequestError && gaveUp.info.code === 'cancelled', String(gaveUp));
    const stopped = (await waiting).error;
    assert.ok(stopped instanceof EngineRequestError && /stopped after 1 of 3 layers/.test(stopped.message), String(stopped));
    const kept = await second;
    const expected = fixture.expected('case1.attentions');
    const [, heads, n] = expected.shape;
    assert.ok(maxAbsDiff(matrixOf(await client.view(kept.analysisId, headRequest(2, 0), new AbortController().signal)), referenceHead(expected.data, heads, n, 2, 0)) <= ATTENTION_TOLERANCE);
  });

  it('forgetting an analysis whose pass still runs stops that pass (answered as cancelled); the engine goes on', async () => {
    let forgotten = false;
    const pass = outcome(client.analyzeKept(fixture.cases[0].text, {}, {
      onSummaries: (analysisId, _info, summaries) => {
        assert.strictEqual(summaries[0].layersDone, 1, 'no group after the first: the forget stopped the pass while it was held');
        if (forgotten) return;
        forgotten = true;
        client.forget(analysisId);
      },
    }));
    const stopped = (await pass).error;
    assert.ok(stopped instanceof EngineRequestError && stopped.info.code === 'cancelled', `the forgotten pass stopped: ${String(stopped)}`);
    const expected = fixture.expected('case1.attentions');
    const [, heads, n] = expected.shape;
    const kept = await client.analyzeKept(fixture.cases[1].text);
    assert.ok(maxAbsDiff(matrixOf(await client.view(kept.analysisId, headRequest(1, 0), new AbortController().signal)), referenceHead(expected.data, heads, n, 1, 0)) <= ATTENTION_TOLERANCE);
  });

  it('a step-by-step request waiting behind a pass (a probe re-runs the model for it) answers its cancel at once, not when the pass ends', async () => {
    const probe = await client.probeKept(8, 0);
    // The host's timers for cancels the engine has not answered yet (it ends an engine that leaves one unanswered).
    const stopping = (client as unknown as { stopping: Map<number, unknown> }).stopping;
    const unanswered = () => stopping.size;
    const events: string[] = [];
    const pass = client.analyzeKept(fixture.cases[1].text).then(() => events.push('pass ended'));
    const controller = new AbortController();
    const vectors = outcome(client.view(probe.analysisId, { kind: 'headVectors', block: 'self', layer: 0, head: 0 }, controller.signal));
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort();
    assert.strictEqual(unanswered(), 1, 'the cancel was sent');
    while (unanswered() > 0 && events.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    events.push(unanswered() === 0 ? 'cancel answered' : 'cancel unanswered');
    await pass;
    assert.deepStrictEqual(events, ['cancel answered', 'pass ended']);
    const gaveUp = (await vectors).error;
    assert.ok(gaveUp instanceof EngineRequestError && gaveUp.info.code === 'cancelled', String(gaveUp));
  });

  it('releasing the model while a view waits for its layer fails that view, saying so, and the engine stays usable', async () => {
    let waiting: Promise<{ error?: unknown }> | undefined;
    const pass = outcome(client.analyzeKept(fixture.cases[0].text, {}, {
      onSummaries: (analysisId) => {
        waiting ??= outcome(client.view(analysisId, headRequest(2, 0), new AbortController().signal));
      },
    }));
    while (!waiting) await new Promise((resolve) => setTimeout(resolve, 20));
    await client.release();
    const closed = (await waiting).error;
    assert.ok(closed instanceof EngineRequestError && closed.info.code === 'not-loaded' && /model was closed while this view/.test(closed.message), String(closed));
    assert.ok((await pass).error instanceof EngineRequestError);
    await client.load(fixture.folder, { name: 'llama', source: fixture.folder });
    const expected = fixture.expected('case0.attentions');
    const [, heads, n] = expected.shape;
    const kept = await client.analyzeKept(fixture.cases[0].text);
    assert.ok(maxAbsDiff(matrixOf(await client.view(kept.analysisId, headRequest(2, 0), new AbortController().signal)), referenceHead(expected.data, heads, n, 2, 0)) <= ATTENTION_TOLERANCE);
  });

  it('loading another model lets the views in flight finish first, then drops the old analyses', async () => {
    const expected = fixture.expected('case0.attentions');
    const [, heads, n] = expected.shape;
    const kept = await client.analyzeKept(fixture.cases[0].text);
    const signal = new AbortController().signal;
    const inFlight = client.view(kept.analysisId, headRequest(2, 2), signal);
    const gpt2 = path.join(FIXTURES_ROOT, 'gpt2');
    const loaded = client.load(gpt2, { name: 'gpt2', source: gpt2 });
    assert.ok(maxAbsDiff(matrixOf(await inFlight), referenceHead(expected.data, heads, n, 2, 2)) <= ATTENTION_TOLERANCE, 'the view in flight was answered on its model');
    await loaded;
    await assert.rejects(client.view(kept.analysisId, headRequest(0, 0), signal), /no longer kept/);
  });
});

describe("views during the pass: the engine process's view thread", function () {
  this.timeout(120000);
  const BLOCK_ENV = 'ATTENTION_INSPECTOR_TEST_BLOCK_AFTER_GROUP_MS';
  /** How long the worker's thread is kept busy after layer group 1, as a long onnxruntime run keeps it. */
  const BLOCK_MS = 4000;
  const fixture = openFixture('llama');
  let client: EngineClient;
  const events: string[] = [];
  beforeEach(async () => {
    events.length = 0;
    client = await testEngine(fixture, BLOCK_ENV, BLOCK_MS, (line) => {
      if (/TESTS ONLY: the engine worker's thread was blocked/.test(line)) events.push('worker unblocked');
    });
  });
  afterEach(() => client.dispose());
  after(() => fixture.close());

  it("answers layer 0's head and head mean while the worker's thread is busy inside the pass; a later layer and step by step wait for it", async () => {
    const expected = fixture.expected('case1.attentions');
    const [layers, heads, n] = expected.shape;
    const signal = new AbortController().signal;
    let asked: Promise<[Float32Array, Float32Array, Float32Array, unknown, ViewReply]> | undefined;
    const kept = await client.analyzeKept(fixture.cases[1].text, {}, {
      onSummaries: (analysisId, _info, summaries) => {
        events.push(`summaries ${summaries[0].layersDone}`);
        if (asked) return;
        const track = <T>(label: string, p: Promise<T>) => p.then((v) => (events.push(label), v));
        asked = Promise.all([
          track('head of layer 0', client.view(analysisId, headRequest(0, 2), signal).then(matrixOf)),
          track('mean of layer 0', client.view(analysisId, { kind: 'matrix', block: 'self', mode: 'layerMean', layer: 0, head: 0, special: 'show', mergeWords: false }, signal).then(matrixOf)),
          track('head of the last layer', client.view(analysisId, headRequest(layers - 1, 1), signal).then(matrixOf)),
          track('step by step of layer 0', client.view(analysisId, { kind: 'headVectors', block: 'self', layer: 0, head: 2 }, signal)),
          // A long text's first view is an overview of its head.
          track('overview of layer 0', client.view(analysisId, { kind: 'overview', block: 'self', mode: 'head', layer: 0, head: 2, special: 'show', mergeWords: false, cells: 4 }, signal)),
        ]);
      },
    });
    const [head, mean, last, , overview] = await asked!;
    const at = (label: string) => events.indexOf(label);
    // The view thread answers from the layers the worker handed it, while the worker's own thread is busy.
    assert.ok(at('head of layer 0') >= 0 && at('head of layer 0') < at('worker unblocked'), `the head came before the worker was free (${events.join(', ')})`);
    assert.ok(at('mean of layer 0') < at('worker unblocked'), `the head mean too (${events.join(', ')})`);
    assert.ok(at('overview of layer 0') < at('worker unblocked'), `and the overview (${events.join(', ')})`);
    // A layer not computed waits for the pass; step by step needs v, which the worker recomputes.
    assert.ok(at('head of the last layer') > at(`summaries ${layers}`), `the last layer once computed (${events.join(', ')})`);
    assert.ok(at('step by step of layer 0') > at('worker unblocked'), `step by step is the worker's (${events.join(', ')})`);
    assert.ok(maxAbsDiff(head, referenceHead(expected.data, heads, n, 0, 2)) <= ATTENTION_TOLERANCE);
    assert.ok(maxAbsDiff(last, referenceHead(expected.data, heads, n, layers - 1, 1)) <= ATTENTION_TOLERANCE);
    const referenceMean = new Float32Array(n * n);
    for (let h = 0; h < heads; h++) referenceHead(expected.data, heads, n, 0, h).forEach((v, i) => (referenceMean[i] += v / heads));
    assert.ok(maxAbsDiff(mean, referenceMean) <= ATTENTION_TOLERANCE);
    // The overview's row maxima are the head's own.
    assert.ok(overview.kind === 'overview');
    const rowMax = new Float32Array(overview.rowMax);
    const reference = referenceHead(expected.data, heads, n, 0, 2);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(rowMax[i] - Math.max(...reference.subarray(i * n, (i + 1) * n))) <= ATTENTION_TOLERANCE, `row ${i}'s maximum`);
    // The same head after the pass, and once the host forgot the analysis, neither thread has it.
    assert.deepStrictEqual(matrixOf(await client.view(kept.analysisId, headRequest(0, 2), signal)), head);
    client.forget(kept.analysisId);
    await assert.rejects(client.view(kept.analysisId, headRequest(0, 2), signal), /no longer kept/);
  });
});

describe("views during the pass: the engine process's view thread, encoder-decoders", function () {
  this.timeout(120000);
  /** How long the worker's thread is kept busy after each stack's first chunk, as a long onnxruntime run keeps it. */
  const BLOCK_MS = 3000;
  const fixture = openFixture('t5', FIXTURES_2_ROOT);
  after(() => fixture.close());

  it("answers an encoder layer-0 head while the worker's thread is busy after the encoder (equal to the reference); the cross block once the decoder ran", async () => {
    const events: string[] = [];
    const client = await engineWith('ATTENTION_INSPECTOR_TEST_BLOCK_AFTER_GROUP_MS', BLOCK_MS, (line) => {
      if (/TESTS ONLY: the engine worker's thread was blocked/.test(line)) events.push('worker unblocked');
    }, (c) => c.load(fixture.folder, { name: 't5', source: fixture.folder }));
    try {
      const c = fixture.cases[0];
      const signal = new AbortController().signal;
      const view = (block: 'encoder' | 'cross', layer: number, head: number): ViewRequest => ({ kind: 'matrix', block, mode: 'head', layer, head, special: 'show', mergeWords: false });
      let asked: Promise<[Float32Array, Float32Array]> | undefined;
      let chunks = 0;
      const kept = await client.analyzeKept(c.text, { target: c.decoder_text }, {
        onSummaries: (analysisId) => {
          events.push(`summaries ${++chunks}`);
          if (asked) return;
          const track = <T>(label: string, p: Promise<T>) => p.then((v) => (events.push(label), v));
          asked = Promise.all([track('encoder head', client.view(analysisId, view('encoder', 0, 1), signal).then(matrixOf)), track('cross head', client.view(analysisId, view('cross', 0, 1), signal).then((r) => matrixOf(r, c.decoder_input_ids!.length)))]);
        },
      });
      const [encoder, cross] = await asked!;
      const at = (label: string) => events.indexOf(label);
      assert.ok(at('encoder head') > at('summaries 1') && at('encoder head') < at('worker unblocked'), `the encoder's head came while the worker was busy (${events.join(', ')})`);
      assert.ok(at('cross head') > at('summaries 2'), `the cross block once the decoder was computed (${events.join(', ')})`);
      const reference = (key: string, layer: number, head: number) => {
        const ref = fixture.expected(key);
        const [, heads, rows, keys] = ref.shape;
        return ref.data.subarray((layer * heads + head) * rows * keys, (layer * heads + head + 1) * rows * keys);
      };
      assert.ok(maxAbsDiff(encoder, reference('case0.encoder_attentions', 0, 1)) <= ATTENTION_TOLERANCE);
      assert.ok(maxAbsDiff(cross, reference('case0.cross_attentions', 0, 1)) <= ATTENTION_TOLERANCE);
      // Step by step is still the worker's, and once forgotten neither thread has it.
      const vectors = await client.view(kept.analysisId, { kind: 'headVectors', block: 'encoder', layer: 0, head: 1 }, signal);
      assert.strictEqual(vectors.kind, 'headVectors');
      client.forget(kept.analysisId);
      await assert.rejects(client.view(kept.analysisId, view('encoder', 0, 1), signal), /no longer kept/);
    } finally {
      client.dispose();
    }
  });
});
