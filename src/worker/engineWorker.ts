/**
 * The engine's worker thread. It owns the loaded model (kept warm between requests) and runs one
 * operation at a time (load, analyze, generate, probe); a newer analyze cancels an older one, and
 * matrices go back to the host as transferred ArrayBuffers. Views of kept analyses are served
 * beside that queue (./viewScheduler.ts): a layer the running pass has computed can be seen at once.
 * Most views are not even asked here: the engine process's view thread (./viewThread.ts) serves
 * those of single-stack analyses from their q/k, which this thread shares with it as its passes
 * compute them, so they never wait for an onnxruntime run here; it hands on the others.
 */
import { parentPort, workerData, type MessagePort } from 'worker_threads';
import type { HostToWorker, WorkerToHost } from '../protocol/worker';
import { EngineError, toErrorInfo } from '../engine/errors';
import type { AttentionModel } from '../engine/model';
import { loadModel } from '../models';
import { resultBuffers, type AnalyzeOptions, type AttentionResult } from '../protocol/types';
import { summaryBuffers } from '../protocol/views';
import { FullResultKept, analysisInfo } from '../analysis/fullResultKept';
import { fullResultOf } from '../analysis/fullResult';
import { ViewServer } from '../analysis/viewServer';
import { KeptAnalyses, type Kept } from './keptAnalyses';
import { blockSummaries } from './engineSummaries';
import { answerView, headShown, ViewScheduler } from './viewScheduler';
import { KeptSelfAnalysis, type KeptAnalysis as EngineKeptAnalysis, type KeptOptions, type LayerSummaries } from '../engine/kept';
import type { MirrorFeed, MirrorRequest } from '../engine/keptMirror';
import { KeptSeq2seqAnalysis } from '../engine/keptSeq2seq';
import type { KeptAnalysis } from '../protocol/kept';
import type { AnalysisInfo } from '../protocol/views';

if (!parentPort) throw new Error('engineWorker must run in a worker thread');
const port = parentPort;

let model: AttentionModel | undefined;
let modelFolder: string | undefined;
let modelLimit: number | undefined;
/** Operations on the model run one after another. */
let queue: Promise<unknown> = Promise.resolve();
const controllers = new Map<number, AbortController>();
let latestAnalyze: number | undefined;
/** The request whose pass makes each analysis id (waiting or running): forgetting that analysis cancels it. */
const passes = new Map<number, number>();
/**
 * The engine process's view thread (viewThread.ts), when there is one: it serves the views of the
 * analyses mirrored to it (their q/k shared), so that they never wait for a pass running here.
 */
const viewThread: MessagePort | undefined = workerData?.viewPort;
/** Mirrored analyses: the shared flag that tells the view thread at once that one is no longer kept. */
const mirrored = new Map<number, Int32Array>();
/** Kept analyses: a quarter of the memory limit (default 2 GB), the newest always. */
const kept = new KeptAnalyses(() => (modelLimit ? (modelLimit * 1024 ** 3) / 4 : 2 * 1024 ** 3), undefined, (analysisId) => {
  const alive = mirrored.get(analysisId);
  if (!alive) return;
  Atomics.store(alive, 0, 0);
  mirrored.delete(analysisId);
  toViewThread({ type: 'drop', analysisId });
});

function toViewThread(feed: MirrorFeed): void {
  viewThread?.postMessage(feed);
}

/** Mirrors a kept analysis (single-stack whose pass keeps its q/k, or encoder-decoder) into the view thread, from the start of its pass. */
function mirror(analysisId: number, analysis: KeptAnalysis, mergeText: string | undefined): void {
  if (!viewThread || !(analysis instanceof KeptSelfAnalysis || analysis instanceof KeptSeq2seqAnalysis)) return;
  const alive = new Int32Array(new SharedArrayBuffer(4));
  alive[0] = 1;
  const start = analysis.mirrorStart(analysisId, alive, mergeText);
  if (!start) return;
  mirrored.set(analysisId, alive);
  toViewThread(start);
}

/** Asks of the view thread: resolved when it answers `settled`. */
const settling = new Map<number, () => void>();
let nextSettle = 1;

/** Resolves once the views in flight in the view thread have settled (they end on the model that made their analysis). */
function viewThreadSettled(): Promise<void> {
  if (!viewThread) return Promise.resolve();
  const id = nextSettle++;
  return new Promise((resolve) => {
    settling.set(id, resolve);
    toViewThread({ type: 'settle', id });
  });
}

/**
 * The head the panel showed last. The panel keeps its layer and head for the next text, so the next
 * pass keeps that head's probabilities as it computes them: that text's first view needs no scores run.
 */
let headOnScreen = { layer: 0, head: 0 };

/** The kept analysis the model's last-run state (its inputs, for q, k, v) belongs to. */
let modelLastRun: number | undefined;
/** Views run beside the queue; releasing the model waits for those in flight. */
const views = new ViewScheduler();
/** While the model is released: views that arrive meanwhile wait for it (and then find their analysis gone). */
let releasing: Promise<void> | undefined;
/** Set by 'dispose': the views it stops say the model was closed. */
let closing = false;
/**
 * TESTS ONLY: milliseconds the kept pass waits after each layer group, so that the worker tests can
 * ask for views while a pass runs. Never set by the extension.
 */
const testHoldMs = Number(process.env.ATTENTION_INSPECTOR_TEST_HOLD_AFTER_GROUP_MS) || 0;
/**
 * TESTS ONLY: milliseconds this thread is kept busy, synchronously, after the first layer group (as
 * a long onnxruntime run keeps it), so that the tests can check that views do not wait for it.
 * Never set by the extension.
 */
const testBlockMs = Number(process.env.ATTENTION_INSPECTOR_TEST_BLOCK_AFTER_GROUP_MS) || 0;

/** The TESTS ONLY hooks between layer groups, from the variables above. */
function testHooks(): Pick<KeptOptions, 'testHoldAfterGroup'> {
  if (testHoldMs <= 0 && testBlockMs <= 0) return {};
  return {
    testHoldAfterGroup: async (layers) => {
      if (testBlockMs > 0 && layers[0] === 0) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, testBlockMs);
        post({ type: 'log', message: `TESTS ONLY: the engine worker's thread was blocked for ${testBlockMs} ms after layer group 1` });
      }
      if (testHoldMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, testHoldMs));
    },
  };
}
/**
 * Cancellation flags shared with the host: slot id % size holds the id of a cancelled request. The
 * engine checks them between steps, so a cancel is seen at once even while this thread is busy
 * and its message queue unread.
 */
const cancelFlags: Int32Array | undefined = workerData?.cancelFlags ? new Int32Array(workerData.cancelFlags) : undefined;

function cancelledByHost(id: number): boolean {
  return cancelFlags !== undefined && Atomics.load(cancelFlags, id % cancelFlags.length) === id;
}

/** Progress for request `id` that also notices a cancel set in the shared flags. */
function progressFor(id: number): (text: string, fraction?: number) => void {
  return (text, fraction) => {
    if (cancelledByHost(id)) controllers.get(id)?.abort();
    post({ type: 'progress', id, message: text, fraction });
  };
}

function post(message: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function enqueue(id: number, work: (signal: AbortSignal) => Promise<void>): void {
  const controller = new AbortController();
  controllers.set(id, controller);
  // Cancelled while it waits its turn (behind a long pass): answered at once, so that the host,
  // which ends an engine that does not answer a cancel in time, does not end this one; skipped when its turn comes.
  let started = false;
  let answered = false;
  const cancelWaiting = () => {
    if (started) return;
    answered = true;
    post({ type: 'error', id, error: toErrorInfo(new EngineError('cancelled', 'Cancelled before it started.')) });
  };
  controller.signal.addEventListener('abort', cancelWaiting, { once: true });
  queue = queue
    .then(async () => {
      started = true;
      controller.signal.removeEventListener('abort', cancelWaiting);
      if (answered) return;
      if (controller.signal.aborted) throw new EngineError('cancelled', 'Cancelled before it started.');
      await work(controller.signal);
    })
    .catch((err) => post({ type: 'error', id, error: toErrorInfo(err) }))
    .finally(() => {
      controllers.delete(id);
      passes.forEach((request, analysisId) => request === id && passes.delete(analysisId));
      scheduleIdleWork();
    });
}

/**
 * Idle work: a model that uses the weight cache converts its warm layer groups into it one at a
 * time once no request has come for IDLE_MS, so that later analyses run faster. The conversion runs
 * on a thread of its own and only the swap of sessions waits its turn in the queue: a request never
 * waits for a conversion.
 */
const IDLE_MS = 2000;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

function scheduleIdleWork(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  if (!model || model.groupsAwaitingCache === 0) return;
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    const m = model;
    if (!m) return;
    if (controllers.size > 0) return scheduleIdleWork();
    const start = performance.now();
    m.convertNextGroup()
      .then((next) => {
        if (!next) return;
        queue = queue
          .then(async () => {
            if (model !== m) return;
            await next.install();
            const left = m.groupsAwaitingCache;
            post({ type: 'log', message: `${m.summary.name}: ${next.description} ${next.converted ? 'converted to float32 into the weight cache' : 'left at stored precision (the weight cache cannot be written)'} in ${((performance.now() - start) / 1000).toFixed(1)} s${left > 0 ? `; ${left} groups to go` : '; later analyses use the float32 weights'}` });
          })
          .catch(() => undefined);
        return queue;
      })
      .catch(() => undefined)
      .finally(() => scheduleIdleWork());
  }, IDLE_MS);
  idleTimer.unref?.();
}

async function release(): Promise<void> {
  const done = (async () => {
    // Views in flight end on the model that made their analysis; then it goes, and its analyses with it.
    await Promise.all([views.settled(), viewThreadSettled()]);
    kept.clear();
    modelLastRun = undefined;
    const old = model;
    model = undefined;
    modelFolder = undefined;
    await old?.dispose();
  })();
  const gate = done.then(
    () => undefined,
    () => undefined,
  );
  releasing = gate;
  try {
    await done;
  } finally {
    if (releasing === gate) releasing = undefined;
  }
}

/** A kept entry for `analysis`, served by `server`. */
function entryFor(analysis: KeptAnalysis, text: string, options: AnalyzeOptions, server: ViewServer): Kept {
  // Kept analyses run step by step from their own state (an encoder-decoder's from its own chunk inputs), beside the queue.
  return { analysis, server, text, options, stepByStepRunsModel: !(analysis instanceof KeptSelfAnalysis || analysis instanceof KeptSeq2seqAnalysis) };
}

/**
 * Keeps a result under `analysisId`. Its q, k, v come from the model's last-run state, so when that
 * belongs to another analysis the text is analyzed again first: step by step always shows the
 * analysis on screen, whatever ran since.
 */
function keep(analysisId: number, result: AttentionResult, text: string, options: AnalyzeOptions, rerun: (m: AttentionModel, result: AttentionResult) => Promise<unknown> = (m) => m.analyze(text, options)) {
  const vectors = async (block: Parameters<AttentionModel['headVectors']>[2], layer: number, head: number) => {
    if (!model) throw new EngineError('not-loaded', 'No model is loaded.');
    if (modelLastRun !== analysisId) {
      await rerun(model, result);
      modelLastRun = analysisId;
    }
    return model.headVectors(layer, head, block);
  };
  const analysis = new FullResultKept(result, vectors);
  const pair = options.textPair !== undefined;
  const entry = entryFor(analysis, text, options, new ViewServer(analysis, { mergeText: pair ? undefined : result.text, targetText: result.target }));
  kept.add(analysisId, entry);
  return entry;
}

/**
 * What the analysis will be, before the pass: its tokens and blocks, so the panel can show summaries
 * while the pass runs. Undefined when the tokens might differ from the pass's (a cut text).
 */
async function earlyInfo(m: AttentionModel, text: string, options: AnalyzeOptions): Promise<AnalysisInfo | undefined> {
  if (options.truncateTo !== undefined || m.summary.decoder) return undefined;
  try {
    const { tokens } = await m.tokenize(text, options.textPair);
    if (tokens.length === 0 || (m.summary.maxTokens !== null && tokens.length > m.summary.maxTokens)) return undefined;
    const s = m.summary;
    const block = { kind: 'self' as const, label: 'Self-attention', querySide: 'input' as const, keySide: 'input' as const, queryTokens: tokens, keyTokens: tokens, causal: s.causal, layers: s.numLayers, heads: s.numHeads };
    return { model: s, text, tokens, blocks: [block], timings: { tokenizeMs: 0, computeMs: 0 } };
  } catch {
    return undefined;
  }
}

/** What the panel is told of a kept analysis: its model, texts, tokens and blocks. */
function infoOf(analysis: EngineKeptAnalysis): AnalysisInfo {
  return {
    model: analysis.model,
    text: analysis.text,
    tokens: analysis.tokens,
    blocks: analysis.blocks,
    timings: analysis.timings,
    ...(analysis.truncatedFrom !== undefined ? { truncatedFrom: analysis.truncatedFrom } : {}),
    ...(analysis.target !== undefined ? { target: analysis.target } : {}),
    ...(analysis.decoderTokens ? { decoderTokens: analysis.decoderTokens } : {}),
  };
}

/** Answers a kept full result: its summaries (and its tensors when asked). */
async function postKeptResult(message: { id: number; withTensors?: boolean }, analysisId: number, result: AttentionResult, entry: ReturnType<typeof keep>, signal: AbortSignal): Promise<void> {
  const summaries = await entry.server.summaries(signal);
  const info = analysisInfo(result);
  // The kept entry serves its views from these tensors: they are copied to the host, not transferred
  // (transferring detached them, and every later view of a layer out of the view server's cache failed).
  if (message.withTensors) post({ type: 'analyzed', id: message.id, analysisId, info, summaries, result }, summaryBuffers(summaries));
  else post({ type: 'analyzed', id: message.id, analysisId, info, summaries }, summaryBuffers(summaries));
}

/**
 * Runs a request whose whole result is kept (the probe, a generation): superseding like analyze,
 * answered with the full result, or kept under `analysisId` with `rerun` for step by step.
 */
function keptFullResult(
  message: { id: number; analysisId?: number; withTensors?: boolean },
  run: (m: AttentionModel, signal: AbortSignal) => Promise<AttentionResult>,
  rerun: (m: AttentionModel, result: AttentionResult) => Promise<unknown>,
  /** Whether `run` leaves the model's last-run state (q, k, v) to its result; a generation runs its own sessions. */
  runSetsLastRun: boolean,
): void {
  if (latestAnalyze !== undefined) controllers.get(latestAnalyze)?.abort();
  latestAnalyze = message.id;
  enqueue(message.id, async (signal) => {
    if (!model) throw new EngineError('not-loaded', 'No model is loaded.');
    const result = await run(model, signal);
    const analysisId = message.analysisId;
    modelLastRun = runSetsLastRun ? analysisId : undefined;
    if (analysisId === undefined) {
      post({ type: 'result', id: message.id, result }, resultBuffers(result));
      return;
    }
    await postKeptResult(message, analysisId, result, keep(analysisId, result, result.text, {}, rerun), signal);
  });
  if (message.analysisId !== undefined) passes.set(message.analysisId, message.id);
}

port.on('message', (message: HostToWorker) => {
  switch (message.type) {
    case 'cancel':
      controllers.get(message.id)?.abort();
      break;
    case 'load':
      enqueue(message.id, async (signal) => {
        if (model && modelFolder === message.folder && modelLimit === message.memoryLimitGB) {
          post({ type: 'loaded', id: message.id, model: model.summary, loadMs: 0 });
          return;
        }
        await release();
        const start = performance.now();
        model = await loadModel(message.folder, { name: message.name, source: message.source, memoryLimitGB: message.memoryLimitGB }, progressFor(message.id), signal);
        modelFolder = message.folder;
        modelLimit = message.memoryLimitGB;
        post({ type: 'loaded', id: message.id, model: model.summary, loadMs: performance.now() - start });
      });
      break;
    case 'analyze':
      // A newer text supersedes the one still running or waiting.
      if (latestAnalyze !== undefined) controllers.get(latestAnalyze)?.abort();
      latestAnalyze = message.id;
      enqueue(message.id, async (signal) => {
        if (!model) throw new EngineError('not-loaded', 'No model is loaded.');
        const analysisId = message.analysisId;
        // Encoder-decoders are always kept (their tensors stay here, the panel asks for views of
        // each block); single-stack models keep per-layer state unless the full result is asked for.
        const seq2seq = model.summary.decoder !== undefined;
        if (analysisId !== undefined && (seq2seq || !message.withTensors)) {
          // The engine keeps per-layer state, not n² tensors: long texts are limited by positions and that memory.
          // Each layer group's summaries go out as soon as they are computed: the panel's model view fills in.
          const done: LayerSummaries[] = [];
          const early = await earlyInfo(model, message.text, message.options);
          const pair = message.options.textPair !== undefined;
          let started: EngineKeptAnalysis | undefined;
          const onStart = (analysis: EngineKeptAnalysis) => {
            // Kept from the start of its pass: the views of the layers computed so far are served while the rest runs.
            started = analysis;
            const mergeText = pair ? undefined : message.text;
            kept.add(analysisId, entryFor(analysis, message.text, message.options, new ViewServer(analysis, { mergeText, targetText: analysis.target })));
            mirror(analysisId, analysis, mergeText);
          };
          let analysis: Awaited<ReturnType<AttentionModel['analyzeKept']>>;
          try {
            analysis = await model.analyzeKept(message.text, message.options, signal, progressFor(message.id), (group) => {
              done.push(...group);
              // An encoder-decoder's blocks (decoder tokens after the shift-right) are known once its pass began.
              const info = early ?? (seq2seq && started ? infoOf(started) : undefined);
              if (info) {
                const summaries = blockSummaries(done, info.blocks);
                post({ type: 'summaries', id: message.id, analysisId, info, summaries }, summaryBuffers(summaries));
              }
              // Between group runs (this thread's JS runs now): the view thread serves these layers from here on.
              // After their summaries, so that the host has them before any view of these layers is answered.
              if ((started instanceof KeptSelfAnalysis || started instanceof KeptSeq2seqAnalysis) && mirrored.has(analysisId) && kept.peek(analysisId)?.analysis === started) toViewThread({ type: 'layers', analysisId, layers: started.mirrorLayers(group) });
            }, { onStart, keepHead: headOnScreen, ...testHooks() });
          } catch (err) {
            // A pass that stopped keeps nothing (its waiting views have failed, saying why; the view thread's too).
            if (started && kept.peek(analysisId)?.analysis === started) {
              if (mirrored.has(analysisId)) toViewThread({ type: 'stopped', analysisId, error: toErrorInfo(err) });
              kept.forget(analysisId);
            }
            throw err;
          }
          // Kept at the end where the engine had nothing to hand out at the start; one the host forgot meanwhile stays forgotten.
          const serverOf = () => new ViewServer(analysis, { mergeText: pair ? undefined : analysis.text, targetText: analysis.target });
          if (!started) kept.add(analysisId, entryFor(analysis, message.text, message.options, serverOf()));
          // It holds all it keeps now: older analyses make room within the budget.
          if (kept.has(analysisId)) kept.fit(analysisId);
          const info = infoOf(analysis);
          const summaries = blockSummaries(analysis.summaries, analysis.blocks);
          if (!message.withTensors) {
            post({ type: 'analyzed', id: message.id, analysisId, info, summaries }, summaryBuffers(summaries));
            return;
          }
          // The host's test API also wants the tensors: each block's, from the kept analysis.
          const server = kept.peek(analysisId)?.server ?? serverOf();
          const result = await fullResultOf(info, summaries, async (block) => {
            const reply = await server.serve({ kind: 'tensor', block }, signal);
            if (reply.kind !== 'tensor') throw new EngineError('internal', 'The view server answered a tensor request with something else.');
            return reply.tensor;
          });
          const copies = blockSummaries(analysis.summaries, analysis.blocks);
          post({ type: 'analyzed', id: message.id, analysisId, info, summaries: copies, result }, [...summaryBuffers(copies), ...resultBuffers(result)]);
          return;
        }
        const result = await model.analyze(message.text, message.options, signal, progressFor(message.id));
        modelLastRun = analysisId;
        if (analysisId === undefined) {
          // Every block's buffers, each once (blocks share the first block's buffers with `attentions`).
          post({ type: 'result', id: message.id, result }, resultBuffers(result));
          return;
        }
        await postKeptResult(message, analysisId, result, keep(analysisId, result, message.text, message.options), signal);
      });
      if (message.analysisId !== undefined) passes.set(message.analysisId, message.id);
      break;
    case 'generate':
      // A generated result is kept as a full result (like the probe's); step by step analyzes its ids again (generation runs its own sessions).
      keptFullResult(message, (m, signal) => m.generate(message.text, message.options, signal, progressFor(message.id)), (m, result) => m.rerunGenerated(result), false);
      break;
    case 'probe':
      // The probe's few hundred tokens are kept as a full result (like an encoder-decoder's), and run again for step by step.
      keptFullResult(message, (m, signal) => m.analyzeProbe(message.length, message.seed, signal, progressFor(message.id)), (m) => m.analyzeProbe(message.length, message.seed), true);
      break;
    case 'view':
      serveView(message);
      break;
    case 'forget': {
      // Nobody will look at it: a pass still making it stops (its request is answered as cancelled).
      const pass = passes.get(message.analysisId);
      if (pass !== undefined) controllers.get(pass)?.abort();
      kept.forget(message.analysisId);
      break;
    }
    case 'headVectors':
      enqueue(message.id, async () => {
        if (!model) throw new EngineError('not-loaded', 'No model is loaded.');
        const vectors = await model.headVectors(message.layer, message.head, message.block);
        const transfer = [vectors.q.buffer, vectors.k.buffer, vectors.v.buffer];
        if (vectors.bias) transfer.push(vectors.bias.buffer);
        if (vectors.logits) transfer.push(vectors.logits.buffer);
        post({ type: 'headVectors', id: message.id, vectors }, transfer);
      });
      break;
    case 'dispose':
      closing = true;
      for (const c of controllers.values()) c.abort();
      enqueue(message.id, async () => {
        try {
          await release();
        } finally {
          closing = false;
        }
        post({ type: 'disposed', id: message.id });
      });
      break;
  }
});

type ViewMessage = Extract<HostToWorker, { type: 'view' }>;

/**
 * A view of a kept analysis, served beside the queue (waiting for its layers while that analysis's
 * pass runs). Step by step of an analysis whose q, k, v need the model run again waits its turn in
 * the queue instead. Cancelled with `cancel` and the request id.
 */
function serveView(message: ViewMessage): void {
  headOnScreen = headShown(message.request) ?? headOnScreen;
  if (message.request.kind === 'headVectors' && kept.peek(message.analysisId)?.stepByStepRunsModel) {
    enqueue(message.id, (signal) => answerKept(message, signal));
    return;
  }
  const controller = new AbortController();
  controllers.set(message.id, controller);
  const start = () =>
    answerKept(message, controller.signal)
      .catch((err) => {
        const closed = closing && controller.signal.aborted;
        post({ type: 'error', id: message.id, error: closed ? { code: 'not-loaded', message: 'The model was closed while this view was being computed.' } : toErrorInfo(err) });
      })
      .finally(() => controllers.delete(message.id));
  // Started at once (so that a release begun later waits for it), or after a release under way.
  if (releasing) void releasing.then(start);
  else void start();
}

function answerKept(message: ViewMessage, signal: AbortSignal): Promise<void> {
  const entry = kept.get(message.analysisId);
  if (!entry) return Promise.reject(new EngineError('not-loaded', 'This analysis is no longer kept by the engine (another model was loaded, or newer analyses took its memory): run Show Attention again.'));
  return answerView(views, message, entry, signal, post);
}

// The view thread's requests: views it does not serve, uses of what it serves, settled views.
viewThread?.on('message', (message: MirrorRequest) => {
  if (message.type === 'touch') {
    // A view served there is a use of the analysis here (the LRU).
    kept.get(message.analysisId);
    if (message.head) headOnScreen = message.head;
    return;
  }
  if (message.type === 'settled') {
    settling.get(message.id)?.();
    settling.delete(message.id);
    return;
  }
  // Cancelled before it got here (the host's cancel came straight to this thread): answered at once.
  if (cancelledByHost(message.message.id)) post({ type: 'error', id: message.message.id, error: { code: 'cancelled', message: 'The view was cancelled.' } });
  else serveView(message.message);
});
