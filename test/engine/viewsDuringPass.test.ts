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
import type { KeptAnalysis } from '../../src/engine/kept';
import type { AttentionModel } from '../../src/engine/model';
import { loadModel } from '../../src/models';
import type { ViewReply, ViewRequest } from '../../src/protocol/views';
import { EngineClient, EngineRequestError } from '../../src/worker/engineClient';
import { holdFirstGroup, isPending } from '../helpers/passHold';
import { ATTENTION_TOLERANCE, FIXTURES_ROOT, maxAbsDiff, openFixture } from '../helpers/fixtures';

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

function matrixOf(reply: ViewReply): Float32Array {
  assert.strictEqual(reply.kind, 'matrix');
  if (reply.kind !== 'matrix') throw new Error('not a matrix');
  assert.strictEqual(reply.rowStart, 0);
  assert.strictEqual(reply.rowCount, reply.size, 'every row in one reply');
  return new Float32Array(reply.data);
}

/** What a promise came to, caught at once (so a rejection before the test looks at it is not unhandled). */
function outcome<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
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

describe('views during the pass: the engine worker', function () {
  this.timeout(120000);
  const fixture = openFixture('llama');
  let client: EngineClient;
  let limitGB: number;
  const before = process.env[HOLD_ENV];
  beforeEach(async () => {
    const warm = await loadModel(fixture.folder);
    limitGB = (2.9 * warm.memory.layerBytes) / 1e9;
    await warm.dispose();
    // The engine process takes the variable when it starts (on the first request).
    process.env[HOLD_ENV] = String(HOLD_MS);
    client = new EngineClient(WORKER);
    await client.load(fixture.folder, { name: 'llama', source: fixture.folder, memoryLimitGB: limitGB });
    if (before === undefined) delete process.env[HOLD_ENV];
    else process.env[HOLD_ENV] = before;
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
