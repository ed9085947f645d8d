/**
 * Kept analyses (issue 10): the pass over a text keeps, per layer, only its input hidden state
 * `[n, hidden]` and the position inputs, never the `[heads, n, n]` probabilities. Each layer's
 * probabilities are formed from the q and k the layer group outputs, head group by head group, in
 * a small weightless "scores" graph (the attention block's own formula), summarised on the spot
 * (pattern scores through the head-scorer registry, value norms, a max-pooled 8-bit thumbnail) and
 * dropped. A layer's exact matrix is recomputed later from its kept input with an attention-only
 * graph: the family's own layer builder, pruned to its norm and q/k projections (GraphBuilder drops
 * every node no output needs, so the MLP and its weights are never loaded). Memory then grows with
 * n·hidden·layers, plus one head group's n² at a time.
 *
 * The same pass serves the full-tensor `analyze` (its sink copies the probabilities instead of
 * summarising them), so both paths form attention the same way.
 */
import * as ort from 'onnxruntime-node';
import type { AttentionBlock, AttentionBlockKind, HeadVectors, ModelSummary, TensorData, TokenInfo } from '../protocol/types';
import { defaultHeadScorers, type HeadScorerRegistry, type ScoredHead } from '../analysis/scorers';
import type { Architecture, AttentionSite, PositionInput } from './architecture';
import type { Checkpoint } from './checkpoint';
import { EngineError } from './errors';
import { firstNonFinite, nonFiniteError } from './finite';
import { GraphBuilder, type BuiltGraph } from './onnx/graph';
import { LayerWaits, stoppedError } from './layerWaits';
import { Nn } from './onnx/layers';
import type { MirrorLayer, MirrorStart } from './keptMirror';

export type Positions = Map<PositionInput, { data: Float32Array; dims: number[] }>;

/** One block's tokens and shape: an `AttentionBlock` without its tensors. */
export type BlockMeta = Omit<AttentionBlock, 'attentions' | 'valueNorms'> & { layers: number; heads: number };

/** Per-head summaries of one layer, computed from its exact probabilities during the pass. */
export interface LayerSummaries {
  block: AttentionBlockKind;
  layer: number;
  heads: number;
  queries: number;
  keys: number;
  /** `[heads, keys]` ‖f_h(x_j)‖ (as AttentionResult.valueNorms). */
  valueNorms: Float32Array;
  /** `[heads]` per scorer key of the registry (previousToken, firstToken, self, entropy, ...). */
  scores: Record<string, Float32Array>;
  /**
   * `[heads, rows, cols]` max-pooled: each cell the largest probability of a block of
   * ⌈queries/THUMBNAIL_SIZE⌉ × ⌈keys/THUMBNAIL_SIZE⌉ values, 8-bit relative to the head's maximum
   * (value ≈ cell/255 · maxima[h]). Square blocks: rows = cols = size (src/analysis/pool.ts maxPool's cells).
   */
  thumbnail: { size: number; rows: number; cols: number; data: Uint8Array; maxima: Float32Array };
}

/** Per-layer q and keys a kept analysis may hold beside its hidden states (so a head's matrix needs no projection). */
export const KEPT_QK_BYTES = 1024 * 1024 * 1024;
/** Position terms a mirrored analysis copies to the view thread at most (a causal mask at 4,096 tokens is 64 MB). */
export const MIRROR_TERMS_BYTES = 128 * 1024 * 1024;
/** Heads whose head-group n² fit this is what one scores run holds (probabilities, logits, one more copy). */
const HEAD_GROUP_BYTES = 192 * 1024 * 1024;
/** Copies of `[h, n, m]` float32 alive in one scores run. */
const SCORES_COPIES = 3;
/** Longest side of a thumbnail (the panel's SUMMARY_THUMBNAIL_CELLS). */
export const THUMBNAIL_SIZE = 48;

/** Bytes one scores run over a `[queries, keys]` matrix holds at most (one head group's copies). */
export function scoresRunBytes(heads: number, queries: number, keys: number): number {
  return SCORES_COPIES * 4 * queries * keys * headsPerGroup(heads, queries, keys);
}

/** Heads per scores run for a `[queries, keys]` matrix. */
export function headsPerGroup(heads: number, queries: number, keys: number): number {
  return Math.max(1, Math.min(heads, Math.floor(HEAD_GROUP_BYTES / (SCORES_COPIES * 4 * queries * keys))));
}

/** What the runner (model.ts) lends the kept pass: its layer groups, sessions and limits. */
export interface KeptRunner {
  readonly summary: ModelSummary;
  readonly arch: Architecture;
  readonly checkpoint: Checkpoint;
  /** Layer groups in order; a group without a session is streamed (built for each run). */
  readonly groups: readonly { layers: number[]; session?: unknown }[];
  runGroup(group: number, hidden: Float32Array, n: number, positions: Positions, fetches: string[]): Promise<ort.InferenceSession.ReturnType>;
  readonly sessions: AttentionSessions;
}

function throwIfCancelled(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineError('cancelled', 'The analysis was cancelled.');
}

/** What a scores graph needs of a site: its scale and soft-cap (the additive terms come as its `bias` input). */
export type ScoresSite = Pick<AttentionSite, 'scale' | 'softcap'>;

/**
 * The weightless scores graphs (one session per site shape): what forms probabilities from given
 * q, k and bias. The engine's attention sessions hold these beside their layer sessions; the view
 * thread (src/worker/viewThread.ts) holds its own, on its own onnxruntime threads.
 */
export class ScoresSessions {
  private readonly scores = new Map<string, ort.InferenceSession>();
  /** Sessions being created, so that the pass and a view asking at once share one (views run beside the pass). */
  private readonly creatingScores = new Map<string, Promise<ort.InferenceSession>>();
  protected disposed = false;

  constructor(protected readonly options: (externalFolder: string | undefined) => ort.InferenceSession.SessionOptions) {}

  /**
   * Probabilities (and what else `want` names) of heads `q`/`k` `[h, n, d]`/`[h, m, d]` with the
   * site's scale, soft-cap and summed additive terms (`[n, m]` or `[h, n, m]`).
   */
  async runScores(site: ScoresSite, want: ScoresOutputs, q: ort.Tensor, k: ort.Tensor, bias: ort.Tensor | undefined): Promise<ort.InferenceSession.ReturnType> {
    const biasRank = bias ? bias.dims.length : 0;
    const key = `${site.scale}:${site.softcap}:${biasRank}:${want}`;
    let session = this.scores.get(key);
    if (!session) {
      let creating = this.creatingScores.get(key);
      if (!creating) {
        creating = (async () => {
          const created = await ort.InferenceSession.create(buildScores(site, biasRank, want), this.options(undefined));
          if (this.disposed) {
            await created.release();
            throw new EngineError('not-loaded', 'The model was closed.');
          }
          this.scores.set(key, created);
          return created;
        })().finally(() => this.creatingScores.delete(key));
        this.creatingScores.set(key, creating);
      }
      session = await creating;
    }
    return session.run({ q, k, ...(bias ? { bias } : {}) });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const sessions = [...this.scores.values()];
    this.scores.clear();
    await Promise.all(sessions.map((s) => s.release()));
  }
}

/**
 * The attention-only sessions: per layer (its norm, q/k and, where step by step asks, v
 * projections; an LRU within a byte budget) and the weightless scores graphs.
 */
export class AttentionSessions extends ScoresSessions {
  private readonly layers = new Map<string, { session: ort.InferenceSession; bytes: number; busy: number }>();
  /** Sessions being created, so that the pass and a view asking at once share one (views run beside the pass). */
  private readonly creatingLayers = new Map<string, Promise<{ session: ort.InferenceSession; bytes: number; busy: number }>>();
  private held = 0;

  constructor(
    private readonly arch: Architecture,
    /** Bytes the layer sessions may hold together (their float32 weights, counted twice for pre-packing). */
    readonly budgetBytes: number,
    options: (externalFolder: string | undefined) => ort.InferenceSession.SessionOptions,
  ) {
    super(options);
  }

  get bytesHeld(): number {
    return this.held;
  }

  /** Runs layer `layer`'s attention-only graph on its input hidden state: q, k (and v) `[heads, n, d]`, terms where the site computes some. */
  async runLayer(layer: number, withValues: boolean, hidden: Float32Array, n: number, positions: Positions): Promise<ort.InferenceSession.ReturnType> {
    const key = `${layer}:${withValues ? 'qkv' : 'qk'}`;
    const entry = await this.layerSession(key, layer, withValues);
    try {
      const feeds: Record<string, ort.Tensor> = { hidden: new ort.Tensor('float32', hidden, [n, this.arch.summary.hiddenSize]) };
      for (const name of entry.session.inputNames) {
        if (name === 'hidden') continue;
        const value = [...positions.entries()].find(([input]) => input.name === name)?.[1];
        if (!value) throw new Error(`no position input ${name}`);
        feeds[name] = new ort.Tensor('float32', value.data, value.dims);
      }
      return await entry.session.run(feeds);
    } finally {
      entry.busy--;
    }
  }

  /** The layer's session, marked busy for the caller (who unmarks it after its run). */
  private async layerSession(key: string, layer: number, withValues: boolean): Promise<{ session: ort.InferenceSession; bytes: number; busy: number }> {
    const entry = this.layers.get(key);
    if (entry) {
      this.layers.delete(key);
      this.layers.set(key, entry);
      entry.busy++;
      return entry;
    }
    // Views run beside the pass: two runs asking for a layer being created share its one session.
    const creating = this.creatingLayers.get(key);
    if (creating) {
      // Marked busy as soon as it exists (the creator's own mark holds it until then).
      return creating.then((e) => {
        e.busy++;
        return e;
      });
    }
    const created = this.createLayer(key, layer, withValues);
    this.creatingLayers.set(key, created);
    const mine = await created.finally(() => this.creatingLayers.delete(key));
    await this.evict(key);
    return mine;
  }

  private async createLayer(key: string, layer: number, withValues: boolean): Promise<{ session: ort.InferenceSession; bytes: number; busy: number }> {
    const built = buildAttentionOnly(this.arch, layer, withValues);
    const session = await ort.InferenceSession.create(built.bytes, this.options(built.externalFolder));
    if (this.disposed) {
      await session.release();
      throw new EngineError('not-loaded', 'The model was closed.');
    }
    // Busy for its creator from the start: no eviction releases it before that run.
    const entry = { session, bytes: 2 * built.weightBytes, busy: 1 };
    this.layers.set(key, entry);
    this.held += entry.bytes;
    return entry;
  }

  /** Least recently used layer sessions go first, never the one just asked for nor one running. */
  private async evict(keep: string): Promise<void> {
    for (const [key, entry] of this.layers) {
      if (this.held <= this.budgetBytes) return;
      if (key === keep || entry.busy > 0) continue;
      this.layers.delete(key);
      this.held -= entry.bytes;
      await entry.session.release();
    }
  }

  override async dispose(): Promise<void> {
    this.disposed = true;
    const sessions = [...this.layers.values()].map((e) => e.session);
    this.layers.clear();
    this.held = 0;
    await Promise.all([...sessions.map((s) => s.release()), super.dispose()]);
  }
}

/**
 * What a scores graph outputs: `probs` (+ `entropy` bits per row for summaries), `sum` (the heads'
 * sum `[n, m]`, for head means, without the probabilities), or `logits` (step by step).
 */
export type ScoresOutputs = 'probs' | 'summary' | 'sum' | 'logits';

/** The attention block's formula (Nn.attention) over given q, k and bias; the context is pruned. */
function buildScores(site: ScoresSite, biasRank: number, want: ScoresOutputs): Uint8Array {
  const g = new GraphBuilder();
  const nn = new Nn(g);
  const q = g.input('q', ['h', 'n', 'd']);
  const k = g.input('k', ['h', 'm', 'd']);
  const bias = biasRank === 0 ? undefined : g.input('bias', biasRank === 2 ? ['n', 'm'] : ['h', 'n', 'm']);
  const attn = nn.attention(q, k, k, site.scale, bias, site.softcap);
  if (want === 'probs' || want === 'summary') g.output('probs', attn.probs, ['h', 'n', 'm']);
  if (want === 'summary') {
    // −Σ p·log₂ p per row; p = 0 adds 0·log(tiny) = 0 (log 0 would make it NaN).
    const logs = g.op('Log', [g.op('Max', [attn.probs, g.scalar(1e-38)])]);
    const nats = g.op('ReduceSum', [g.op('Mul', [attn.probs, logs]), g.int64s([-1])], { keepdims: 0 });
    g.output('entropy', g.op('Mul', [nats, g.scalar(-1 / Math.LN2)]), ['h', 'n']);
  }
  if (want === 'sum') g.output('sum', g.op('ReduceSum', [attn.probs, g.int64s([0])], { keepdims: 0 }), ['n', 'm']);
  if (want === 'logits') g.output('logits', attn.logits, ['h', 'n', 'm']);
  return g.toBytes(`scores_${want}`);
}

/**
 * Layer `layer` of the family, built by its own layer builder but asked only for q and k (and v),
 * and the summed logit terms where the site computes some in the graph: pruning leaves the input
 * norm, those projections, rotary and the terms.
 */
export function buildAttentionOnly(arch: Architecture, layer: number, withValues: boolean): BuiltGraph & { weightBytes: number } {
  const { numHeads, hiddenSize, headDim } = arch.summary;
  const g = new GraphBuilder();
  const nn = new Nn(g);
  const declared = new Set<string>();
  const use = (input: PositionInput) => {
    if (!declared.has(input.name)) {
      g.input(input.name, [...input.dims]);
      declared.add(input.name);
    }
    return input.name;
  };
  const out = arch.buildLayer(nn, layer, g.input('hidden', ['n', hiddenSize]), use);
  const dims = [numHeads, 'n', headDim];
  g.output('q', out.q, dims);
  g.output('k', out.k, dims);
  if (withValues) g.output('v', out.v, dims);
  if (out.terms) g.output('terms', out.terms, [numHeads, 'n', 'n']);
  const built = g.build(`${arch.summary.modelType}_attention_${layer}`);
  return { ...built, weightBytes: g.weightByteLength };
}

/** The rank of the bias siteBias gives a site with these terms: none, `[n, keys]` or `[heads, n, keys]`. */
export function biasRank(terms: readonly { dims: readonly unknown[] }[]): 0 | 2 | 3 {
  return terms.length === 0 ? 0 : terms.some((t) => t.dims.length === 3) ? 3 : 2;
}

/** The site's additive terms summed as the graph sums them (float32, in order): `[n, keys]` or `[heads, n, keys]`; undefined when there are none. */
export function siteBias(site: Pick<AttentionSite, 'terms'>, positions: Positions, heads: number, n: number, keys = n, shared = false): { data: Float32Array; dims: number[] } | undefined {
  const values = site.terms.map((term) => {
    const value = positions.get(term);
    if (!value) throw new Error(`no position input ${term.name}`);
    return value;
  });
  if (values.length === 0) return undefined;
  if (values.length === 1) return values[0];
  const withHeads = values.some((v) => v.dims.length === 3);
  const size = n * keys;
  const length = withHeads ? heads * size : size;
  // Shared where a mirror reads it too (an encoder-decoder stack's sum): onnxruntime gets head groups copied out (forHeadGroups).
  const sum = shared ? new Float32Array(new SharedArrayBuffer(4 * length)) : new Float32Array(length);
  const planes = withHeads ? heads : 1;
  for (const value of values) {
    const own = value.dims.length === 3;
    for (let h = 0; h < planes; h++) {
      const src = own ? value.data.subarray(h * size, (h + 1) * size) : value.data;
      const dst = sum.subarray(h * size, (h + 1) * size);
      for (let i = 0; i < size; i++) dst[i] = Math.fround(dst[i] + src[i]);
    }
  }
  return { data: sum, dims: withHeads ? [heads, n, keys] : [n, keys] };
}

/** q and k `[heads, n, d]` of one layer and what is added to its logits (`[n, n]` or `[heads, n, n]`). */
export interface LayerQk {
  q: Float32Array;
  /** `[heads, n, d]` (`[heads, keys, d]`); empty where `kHeads` gives each query head's keys. */
  k: Float32Array;
  /** Rows of k where they are not q's (a cross site: the encoder's tokens); the bias is then `[.., n, keys]`. Default n. */
  keys?: number;
  /** Each query head's keys `[n, d]` (grouped-query heads share theirs), as a kept analysis holds them. */
  kHeads?: Float32Array[];
  v?: Float32Array;
  bias: { data: Float32Array; dims: number[] } | undefined;
}

/** Heads [from, from + count) of `heads` as one `[count, n, d]` array (a view for one head, unless it lies in shared memory). */
function joinHeads(heads: Float32Array[], from: number, count: number, slab: number): Float32Array {
  if (count === 1) return unshared(heads[from]);
  const out = new Float32Array(count * slab);
  for (let h = 0; h < count; h++) out.set(heads[from + h], h * slab);
  return out;
}

/**
 * A copy of `x` in a SharedArrayBuffer: a kept layer's q and keys, which the engine's view thread
 * (src/worker/viewThread.ts) reads without a copy of its own.
 */
/**
 * The largest head matrix a pass keeps for the head on screen (KeptOptions.keepHead): 4,096 tokens.
 * Longer texts recompute it (their first view is an overview of a recomputed head).
 */
export const KEPT_HEAD_BYTES = 64 * 1024 * 1024;

/** One head's exact probabilities `[n, n]` a pass kept (the head the panel showed last), in shared memory. */
export interface KeptHead {
  layer: number;
  head: number;
  probs: Float32Array;
}

/** The kept head's probabilities (the array itself) where `range` asks for exactly that head of `layer`. */
export function fromKeptHead(kept: KeptHead | undefined, layer: number, range: { from: number; to: number }): Float32Array | undefined {
  return kept && kept.layer === layer && range.from === kept.head && range.to === kept.head + 1 ? kept.probs : undefined;
}

export function sharedCopy(x: Float32Array): Float32Array {
  const copy = new Float32Array(new SharedArrayBuffer(x.byteLength));
  copy.set(x);
  return copy;
}

/** `x`, or a plain copy where it lies in shared memory: onnxruntime-node refuses a tensor over a SharedArrayBuffer ('Invalid argument'). */
export function unshared(x: Float32Array): Float32Array {
  return x.buffer instanceof SharedArrayBuffer ? x.slice() : x;
}

/**
 * Each query head's keys from `k` `[heads, n, d]` (keys repeated per query head for grouped-query
 * attention), copied once per distinct slab into shared memory: heads whose keys are identical share one copy.
 */
export function distinctKeyHeads(k: Float32Array, heads: number, groups: number, slab: number): { kHeads: Float32Array[]; bytes: number } {
  const kHeads: Float32Array[] = [];
  let bytes = 0;
  for (let h = 0; h < heads; h++) {
    const own = k.subarray(h * slab, (h + 1) * slab);
    const first = Math.floor(h / groups) * groups;
    if (first !== h && sameValues(own, kHeads[first])) {
      kHeads.push(kHeads[first]);
      continue;
    }
    kHeads.push(sharedCopy(own));
    bytes += own.byteLength;
  }
  return { kHeads, bytes };
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** What the scores runs need: the head size and sessions holding the scores graphs (the engine's, or the view thread's own). */
export interface ScoresRunner {
  readonly summary: Pick<ModelSummary, 'headDim'>;
  readonly sessions: Pick<ScoresSessions, 'runScores'>;
}

/**
 * Runs the scores graph over heads [from, to) of one layer in head groups, handing each group's
 * output to `each` (its first head, head count, outputs). Cancellation is checked between groups.
 */
export async function forHeadGroups(
  runner: ScoresRunner,
  site: ScoresSite,
  qk: LayerQk,
  n: number,
  range: { from: number; to: number },
  want: ScoresOutputs,
  signal: AbortSignal | undefined,
  each: (first: number, count: number, out: ort.InferenceSession.ReturnType) => void,
): Promise<void> {
  const { headDim } = runner.summary;
  const m = qk.keys ?? n;
  const per = headsPerGroup(range.to - range.from, n, m);
  const slab = n * headDim;
  const keySlab = m * headDim;
  // A bias every head shares (`[n, m]`) is one tensor for all head groups (copied once where it lies in shared memory).
  const shared = qk.bias && qk.bias.dims.length !== 3 ? new ort.Tensor('float32', unshared(qk.bias.data), qk.bias.dims) : undefined;
  for (let h = range.from; h < range.to; h += per) {
    throwIfCancelled(signal);
    const count = Math.min(per, range.to - h);
    const q = new ort.Tensor('float32', unshared(qk.q.subarray(h * slab, (h + count) * slab)), [count, n, headDim]);
    const k = new ort.Tensor('float32', qk.kHeads ? joinHeads(qk.kHeads, h, count, keySlab) : unshared(qk.k.subarray(h * keySlab, (h + count) * keySlab)), [count, m, headDim]);
    const bias = shared ?? (qk.bias ? new ort.Tensor('float32', unshared(qk.bias.data.subarray(h * n * m, (h + count) * n * m)), [count, n, m]) : undefined);
    const out = await runner.sessions.runScores(site, want, q, k, bias);
    try {
      each(h, count, out);
    } finally {
      Object.values(out).forEach((t) => t.dispose?.());
    }
  }
}

/** Heads [from, to) asked of a layer of `heads` heads (default all), checked. */
export function headRange(range: { from: number; to: number } | undefined, heads: number, layer: number): { from: number; to: number } {
  const r = range ?? { from: 0, to: heads };
  if (!Number.isInteger(r.from) || !Number.isInteger(r.to) || r.from < 0 || r.to > heads || r.from >= r.to) {
    throw new EngineError('internal', `No heads ${r.from}–${r.to} in layer ${layer + 1} (${heads} heads).`);
  }
  return r;
}


/** `[to − from, n, keys]` exact probabilities of heads `range` of one layer from its q/k (a fresh array). */
export async function layerProbabilities(runner: ScoresRunner, site: ScoresSite, qk: LayerQk, n: number, range: { from: number; to: number }, signal?: AbortSignal): Promise<Float32Array> {
  const size = n * (qk.keys ?? n);
  const result = new Float32Array((range.to - range.from) * size);
  await forHeadGroups(runner, site, qk, n, range, 'probs', signal, (first, count, out) => {
    result.set((out.probs.data as Float32Array).subarray(0, count * size), (first - range.from) * size);
  });
  return result;
}

/** `[n, keys]` mean over a layer's `heads` heads, summed head group by head group without the probabilities. */
export async function layerHeadMean(runner: ScoresRunner, site: ScoresSite, qk: LayerQk, n: number, heads: number, signal?: AbortSignal): Promise<Float32Array> {
  const size = n * (qk.keys ?? n);
  const sum = new Float64Array(size);
  await forHeadGroups(runner, site, qk, n, { from: 0, to: heads }, 'sum', signal, (_first, _count, out) => {
    const part = out.sum.data as Float32Array;
    for (let i = 0; i < part.length; i++) sum[i] += part[i];
  });
  const mean = new Float32Array(size);
  for (let i = 0; i < size; i++) mean[i] = sum[i] / heads;
  return mean;
}

/** What the pass hands its sink per layer. */
export interface LayerPass {
  layer: number;
  /** This layer's input hidden state `[n, hidden]` (owned by the sink once handed over). */
  input: Float32Array;
  /** `[heads, n]`. */
  valueNorms: Float32Array;
  qk: LayerQk;
}

export interface PassSink {
  /** Which scores outputs the pass should form for every layer (`undefined`: none; the sink reads q/k itself). */
  want: 'probs' | 'summary' | undefined;
  /** One head group's probabilities `[count, n, n]` (and row entropies `[count, n]` for 'summary'). */
  heads?(layer: number, first: number, count: number, probs: Float32Array, entropy: Float32Array | undefined): void;
  /** After a layer's head groups. */
  layerDone(pass: LayerPass, out: ort.InferenceSession.ReturnType): void;
  /** After each group (progress, summaries). */
  groupDone?(layers: number[]): void;
  /** TESTS ONLY (KeptOptions.testHoldAfterGroup): awaited after groupDone. */
  testHold?(layers: number[]): Promise<void>;
}

/**
 * The pass over one text's embedding: layer group after layer group, each layer's probabilities
 * formed from its q and k head group by head group and handed to `sink`. Extra fetches (hidden
 * states, the final norm) are added by the caller.
 */
export async function runPass(
  runner: KeptRunner,
  embedding: Float32Array,
  n: number,
  positions: Positions,
  sink: PassSink,
  extraFetches: (layers: number[]) => string[],
  signal: AbortSignal | undefined,
  onProgress: ((message: string, fraction?: number) => void) | undefined,
): Promise<Float32Array> {
  const { numLayers, numHeads } = runner.summary;
  let hidden = embedding;
  for (const [c, group] of runner.groups.entries()) {
    const range = `${group.layers[0] + 1}–${group.layers[group.layers.length - 1] + 1} of ${numLayers}`;
    onProgress?.(group.session ? `Layers ${range}` : `Layers ${range}, streaming: the model is larger than the memory limit`, c / runner.groups.length);
    throwIfCancelled(signal);
    const last = group.layers[group.layers.length - 1];
    const fetches = group.layers.flatMap((l) => [`hidden_${l}`, `value_norms_${l}`, `q_${l}`, `k_${l}`, ...(runner.arch.site(l).graphTerms.length > 0 ? [`terms_${l}`] : [])]);
    fetches.push(...extraFetches(group.layers));
    const out = await runner.runGroup(c, hidden, n, positions, [...new Set(fetches)]);
    try {
      for (const layer of group.layers) {
        const site = runner.arch.site(layer);
        const norms = out[`value_norms_${layer}`].data as Float32Array;
        if (firstNonFinite(norms) >= 0) throw nonFiniteError(runner.checkpoint, `The value vectors of layer ${layer + 1}`, layer);
        const terms = out[`terms_${layer}`];
        const qk: LayerQk = {
          q: out[`q_${layer}`].data as Float32Array,
          k: out[`k_${layer}`].data as Float32Array,
          bias: terms ? { data: terms.data as Float32Array, dims: [numHeads, n, n] } : siteBias(site, positions, numHeads, n),
        };
        if (sink.want) {
          await forHeadGroups(runner, site, qk, n, { from: 0, to: numHeads }, sink.want, signal, (first, count, scores) => {
            const probs = scores.probs.data as Float32Array;
            if (firstNonFinite(probs) >= 0) throw nonFiniteError(runner.checkpoint, `The attention of layer ${layer + 1}`, layer);
            sink.heads?.(layer, first, count, probs, scores.entropy?.data as Float32Array | undefined);
          });
        }
        sink.layerDone({ layer, input: hidden, valueNorms: norms, qk }, out);
        hidden = out[`hidden_${layer}`].data as Float32Array;
      }
      // The next group's input outlives this group's outputs.
      hidden = new Float32Array(out[`hidden_${last}`].data as Float32Array);
    } finally {
      Object.values(out).forEach((t) => t.dispose?.());
    }
    sink.groupDone?.(group.layers);
    await sink.testHold?.(group.layers);
  }
  return hidden;
}

/**
 * Max-pools heads `[count, queries, keys]` into `[count, rows, cols]` cells at `first` of `into`,
 * 8-bit relative to each head's maximum (`maxima`): a head whose largest weight is 0.02 keeps its shape.
 */
export function poolThumbnails(probs: Float32Array, count: number, queries: number, keys: number, into: LayerSummaries['thumbnail'], first: number): void {
  const rowStep = Math.ceil(queries / into.rows);
  const colStep = Math.ceil(keys / into.cols);
  const cells = new Float32Array(into.rows * into.cols);
  for (let h = 0; h < count; h++) {
    const head = probs.subarray(h * queries * keys, (h + 1) * queries * keys);
    cells.fill(0);
    for (let r = 0; r < into.rows; r++) {
      const cell = cells.subarray(r * into.cols, (r + 1) * into.cols);
      for (let i = r * rowStep; i < Math.min(queries, (r + 1) * rowStep); i++) {
        const row = head.subarray(i * keys, (i + 1) * keys);
        for (let c = 0, j = 0; c < into.cols; c++) {
          let m = cell[c];
          for (const end = Math.min(keys, j + colStep); j < end; j++) if (row[j] > m) m = row[j];
          cell[c] = m;
        }
      }
    }
    let max = 0;
    for (const v of cells) if (v > max) max = v;
    into.maxima[first + h] = max;
    const out = into.data.subarray((first + h) * cells.length, (first + h + 1) * cells.length);
    for (let i = 0; i < cells.length; i++) out[i] = max > 0 ? Math.round((cells[i] / max) * 255) : 0;
  }
}

/** An empty summary for a `[heads, queries, keys]` layer (thumbnail cells of ⌈side/64⌉ values). */
export function emptySummaries(block: AttentionBlockKind, layer: number, heads: number, queries: number, keys: number, valueNorms: Float32Array, scorers: HeadScorerRegistry): LayerSummaries {
  const rows = Math.ceil(queries / Math.ceil(queries / THUMBNAIL_SIZE));
  const cols = Math.ceil(keys / Math.ceil(keys / THUMBNAIL_SIZE));
  return {
    block,
    layer,
    heads,
    queries,
    keys,
    valueNorms,
    scores: Object.fromEntries(scorers.list().map((s) => [s.key, new Float32Array(heads)])),
    thumbnail: { size: Math.max(rows, cols), rows, cols, data: new Uint8Array(heads * rows * cols), maxima: new Float32Array(heads) },
  };
}

/** Scores and thumbnails of heads [first, first + count) of one layer into `summary`. */
export function summarizeHeads(summary: LayerSummaries, scorers: HeadScorerRegistry, first: number, count: number, probs: Float32Array, entropy: Float32Array, causal: boolean, queryIds: readonly number[], keyIds: readonly number[]): void {
  const { queries, keys } = summary;
  for (let h = 0; h < count; h++) {
    const head: ScoredHead = {
      probs: probs.subarray(h * queries * keys, (h + 1) * queries * keys),
      queries,
      keys,
      causal,
      rowEntropyBits: entropy.subarray(h * queries, (h + 1) * queries),
      queryIds,
      keyIds,
    };
    for (const scorer of scorers.list()) summary.scores[scorer.key][first + h] = scorer.score(head);
  }
  poolThumbnails(probs, count, queries, keys, summary.thumbnail, first);
}

/** Row entropies in bits computed here (for tensors the engine already holds). */
export { rowEntropies } from '../analysis/scorers';

/** A block's value norms `[layers, heads, keys]` from its summaries. */
export function blockValueNorms(summaries: readonly Pick<LayerSummaries, 'block' | 'layer' | 'valueNorms'>[], block: AttentionBlockKind, layers: number): Float32Array {
  const own = summaries.filter((s) => s.block === block || (block === 'self' && s.block === 'encoder'));
  if (own.length !== layers) throw new EngineError('internal', `The ${block} attention has ${own.length} of ${layers} layers summarised.`);
  const size = own[0].valueNorms.length;
  const out = new Float32Array(layers * size);
  for (const s of own) out.set(s.valueNorms, s.layer * size);
  return out;
}

/**
 * Runs the pass of `analysis` (handed out before it ran): if the pass fails, the analysis stops
 * (what waits for its layers fails, saying why) and is released; else it gets its cut and timings.
 */
export async function runKeptPass<A extends { stop(err: unknown): void; dispose(): void; truncatedFrom?: number; timings: { tokenizeMs: number; computeMs: number } }>(
  analysis: A,
  pass: () => Promise<unknown>,
  cut: { n: number; fullLength: number },
  times: { t0: number; t1: number },
): Promise<A> {
  try {
    await pass();
  } catch (err) {
    analysis.stop(err);
    analysis.dispose();
    throw err;
  }
  if (cut.n < cut.fullLength) analysis.truncatedFrom = cut.fullLength;
  analysis.timings = { tokenizeMs: times.t1 - times.t0, computeMs: performance.now() - times.t1 };
  return analysis;
}

/** Bytes of a summary (for the LRU). */
export function summaryBytes(s: LayerSummaries): number {
  return s.valueNorms.byteLength + s.thumbnail.data.byteLength + s.thumbnail.maxima.byteLength + Object.values(s.scores).reduce((a, v) => a + v.byteLength, 0);
}

/** What every kept analysis offers (the worker holds these in its LRU). */
export interface KeptAnalysis {
  readonly model: ModelSummary;
  readonly text: string;
  readonly tokens: TokenInfo[];
  readonly blocks: BlockMeta[];
  /** Every layer's summaries, in the order they were computed (also handed to `onSummaries` as they came). */
  readonly summaries: readonly LayerSummaries[];
  readonly truncatedFrom?: number;
  readonly timings: { tokenizeMs: number; computeMs: number };
  /** Encoder-decoders: the decoder text and its tokens (after the model's shift-right). */
  readonly target?: string;
  readonly decoderTokens?: TokenInfo[];
  /** `[layers, heads, keys]` ‖f_h(x_j)‖ of a block (a fresh array). */
  valueNorms(block: AttentionBlockKind): Float32Array;
  /** `[heads, queries, keys]` exact probabilities of one layer, a fresh array; `heads` picks [from, to) (default all). */
  attention(block: AttentionBlockKind, layer: number, signal?: AbortSignal, heads?: { from: number; to: number }): Promise<Float32Array>;
  /** `[queries, keys]` mean over the layer's heads (for layer means, global mean and rollout). */
  headMean(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array>;
  /** q, k, v (and bias, logits) of one head, for this analysis. */
  headVectors(block: AttentionBlockKind, layer: number, head: number): Promise<HeadVectors>;
  /** Bytes this analysis holds (kept hidden states, position inputs, summaries, the last recomputed layer's q/k). */
  readonly bytesHeld: number;
  /**
   * Resolves once `layer` of `block` is computed: at once when it is (or does not exist); rejects
   * when the pass stops before it, the analysis is released, or `signal` aborts. Absent where every
   * layer is there from the start.
   */
  whenComputed?(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<void>;
  dispose(): void;
}

export interface KeptOptions {
  /** Head scorers to run (default: the pattern scores). */
  scorers?: HeadScorerRegistry;
  /**
   * Keep each layer's q and keys too (default true, where they fit KEPT_QK_BYTES and no layer
   * computes logit terms in its graph), so a head's matrix needs no projection; false recomputes
   * them from the hidden state on every request (tests check both ways). Encoder-decoders always
   * keep them: q/k is what they keep of a layer (./keptSeq2seq.ts).
   */
  keepQueriesAndKeys?: boolean;
  /**
   * Called with the analysis before its pass runs: its layers can be asked for as they are computed
   * (`whenComputed`); the worker keeps it under its analysis id from then on. On failure it is released.
   */
  onStart?: (analysis: KeptAnalysis) => void;
  /**
   * The head the panel showed last (it keeps its layer and head for the next text): the pass keeps
   * that head's exact probabilities when it computes them (within KEPT_HEAD_BYTES), so the next
   * text's first view is served without a scores run, while the pass goes on.
   */
  keepHead?: { layer: number; head: number };
  /**
   * TESTS ONLY: awaited after each layer group's summaries were handed out, to hold the pass there
   * (the tests of views served while a pass runs). The product never sets it.
   */
  testHoldAfterGroup?: (layers: number[]) => Promise<void>;
}

/** What the view thread's mirror of `analysis` starts from (src/engine/keptMirror.ts): its tokens, blocks, sites and copied terms. */
export function mirrorStartOf(analysisId: number, alive: Int32Array, analysis: Pick<KeptAnalysis, 'tokens' | 'blocks'>, sites: MirrorStart['sites'], terms: MirrorStart['terms'], texts: { mergeText?: string; targetText?: string }): MirrorStart {
  const { mergeText, targetText } = texts;
  return { type: 'start', analysisId, alive, tokens: analysis.tokens, blocks: analysis.blocks, sites, terms, ...(mergeText !== undefined ? { mergeText } : {}), ...(targetText !== undefined ? { targetText } : {}) };
}

/** A single-stack kept analysis: each layer's input hidden state and the text's position inputs. */
export class KeptSelfAnalysis implements KeptAnalysis {
  readonly summaries: LayerSummaries[] = [];
  readonly blocks: BlockMeta[];
  truncatedFrom?: number;
  timings = { tokenizeMs: 0, computeMs: 0 };
  /**
   * Each layer's q and keys, where the pass kept them (models without graph-computed logit terms,
   * within KEPT_QK_BYTES): a head's matrix then needs only its scores, no projection.
   */
  readonly keptQk: ({ q: Float32Array; kHeads: Float32Array[]; bytes: number } | undefined)[] = [];
  /** Whether the pass keeps every layer's q and keys (set before it starts): the view thread can then mirror it. */
  keepsQk = false;
  /** The head on screen, kept by the pass (KeptOptions.keepHead). */
  shownHead: KeptHead | undefined;
  /** Bytes of the position terms copied for the view thread's mirror (keptMirror.ts). */
  private mirrorBytes = 0;
  /** q/k(/v) of the last layer recomputed, so the next head of that layer needs only its scores. */
  private recent: { layer: number; qk: LayerQk; bytes: number } | undefined;
  private disposed = false;
  /** Requests waiting for a layer the pass has not computed yet. */
  private readonly waits = new LayerWaits();

  constructor(
    private readonly runner: KeptRunner,
    readonly model: ModelSummary,
    readonly text: string,
    readonly tokens: TokenInfo[],
    private readonly layerInputs: Float32Array[],
    private readonly positions: Positions,
  ) {
    const { numLayers, numHeads } = runner.summary;
    this.blocks = [{ kind: 'self', label: 'Self-attention', querySide: 'input', keySide: 'input', queryTokens: tokens, keyTokens: tokens, causal: runner.summary.causal, layers: numLayers, heads: numHeads }];
  }

  get n(): number {
    return this.tokens.length;
  }

  /** Layers computed so far, in order (their summaries are in); all of them once the pass ended. */
  get layersComputed(): number {
    return this.summaries.length;
  }

  whenComputed(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<void> {
    return this.waits.wait(() => block !== 'self' || layer < this.layersComputed || layer >= this.runner.summary.numLayers, signal);
  }

  /** The pass computed more layers (their summaries are in): the requests waiting for them go on. */
  layersAdded(): void {
    this.waits.added();
  }

  /** The pass stopped before its last layer: what waits for a layer not computed fails, saying why. */
  stop(err: unknown): void {
    this.waits.stop(stoppedError(err, this.layersComputed, this.runner.summary.numLayers));
  }

  get bytesHeld(): number {
    let bytes = 0;
    for (const x of this.layerInputs) bytes += x?.byteLength ?? 0;
    for (const v of this.positions.values()) bytes += v.data.byteLength;
    for (const s of this.summaries) bytes += summaryBytes(s);
    for (const qk of this.keptQk) bytes += qk ? qk.q.byteLength + qk.bytes : 0;
    return bytes + (this.recent?.bytes ?? 0) + this.mirrorBytes + (this.shownHead?.probs.byteLength ?? 0);
  }

  /**
   * What the view thread's mirror starts from (src/engine/keptMirror.ts), or undefined where it
   * could not serve this analysis: q/k not kept, or position terms too large to copy
   * (MIRROR_TERMS_BYTES; ALiBi or relative biases on long texts). The terms are posted as copies
   * (onnxruntime cannot read them from shared memory), counted here.
   */
  mirrorStart(analysisId: number, alive: Int32Array, mergeText: string | undefined): MirrorStart | undefined {
    if (!this.keepsQk || this.disposed) return undefined;
    const { numLayers, headDim } = this.runner.summary;
    const sites = Array.from({ length: numLayers }, (_, l) => this.runner.arch.site(l));
    const inputs = [...new Set(sites.flatMap((site) => site.terms))];
    const terms = inputs.map((input) => {
      const value = this.positions.get(input);
      if (!value) throw new Error(`no position input ${input.name}`);
      return { name: input.name, dims: value.dims, data: value.data };
    });
    const bytes = terms.reduce((a, t) => a + t.data.byteLength, 0);
    if (bytes > MIRROR_TERMS_BYTES) return undefined;
    this.mirrorBytes = bytes;
    const mirrorSites = sites.map((site) => ({ scale: site.scale, softcap: site.softcap, terms: site.terms.map((t) => t.name), biasRank: biasRank(site.terms) }));
    return mirrorStartOf(analysisId, alive, this, { self: { headDim, layers: mirrorSites } }, terms, { mergeText });
  }

  /** The layers of `summaries` (just computed) as the mirror gets them: their value norms, their shared q and keys. */
  mirrorLayers(summaries: readonly LayerSummaries[]): MirrorLayer[] {
    return summaries.map((s) => {
      const qk = this.keptQk[s.layer]!;
      const head = this.shownHead?.layer === s.layer ? this.shownHead : undefined;
      return { layer: s.layer, valueNorms: s.valueNorms, q: qk.q, kHeads: qk.kHeads, ...(head ? { head: { head: head.head, probs: head.probs } } : {}) };
    });
  }

  private check(block: AttentionBlockKind, layer: number): void {
    if (this.disposed) throw new EngineError('not-loaded', 'This analysis was released; analyze the text again.');
    if (block !== 'self') throw new EngineError('internal', `A single-stack model has no ${block} attention.`);
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.runner.summary.numLayers) throw new EngineError('internal', `No layer ${layer} in this model.`);
    if (!this.layerInputs[layer]) throw new EngineError('internal', `Layer ${layer + 1} has not been computed yet.`);
  }

  /** q, k (v) and bias of `layer`, recomputed from its kept input (the last one asked for is kept). */
  private async layerQk(layer: number, withValues: boolean): Promise<LayerQk> {
    const kept = this.keptQk[layer];
    if (kept && !withValues) return { q: kept.q, k: new Float32Array(0), kHeads: kept.kHeads, bias: siteBias(this.runner.arch.site(layer), this.positions, this.runner.summary.numHeads, this.n) };
    if (this.recent?.layer === layer && (!withValues || this.recent.qk.v)) return this.recent.qk;
    const { numHeads } = this.runner.summary;
    this.recent = undefined;
    const out = await this.runner.sessions.runLayer(layer, withValues, this.layerInputs[layer], this.n, this.positions);
    const site = this.runner.arch.site(layer);
    const copy = (t: ort.Tensor | undefined) => (t ? new Float32Array(t.data as Float32Array) : undefined);
    const terms = copy(out.terms);
    const qk: LayerQk = { q: copy(out.q)!, k: copy(out.k)!, v: copy(out.v), bias: terms ? { data: terms, dims: [numHeads, this.n, this.n] } : siteBias(site, this.positions, numHeads, this.n) };
    Object.values(out).forEach((t) => t.dispose?.());
    const own = (qk.q.byteLength + qk.k.byteLength + (qk.v?.byteLength ?? 0) + (terms?.byteLength ?? 0)) + (qk.bias && !terms && site.terms.length > 1 ? qk.bias.data.byteLength : 0);
    this.recent = { layer, qk, bytes: own };
    return qk;
  }

  valueNorms(block: AttentionBlockKind): Float32Array {
    return blockValueNorms(this.summaries, block, this.runner.summary.numLayers);
  }

  async attention(block: AttentionBlockKind, layer: number, signal?: AbortSignal, heads?: { from: number; to: number }): Promise<Float32Array> {
    this.check(block, layer);
    const range = headRange(heads, this.runner.summary.numHeads, layer);
    throwIfCancelled(signal);
    const kept = fromKeptHead(this.shownHead, layer, range);
    if (kept) return kept.slice();
    const qk = await this.layerQk(layer, false);
    return layerProbabilities(this.runner, this.runner.arch.site(layer), qk, this.n, range, signal);
  }

  keptHead(block: AttentionBlockKind, layer: number, head: number): Float32Array | undefined {
    return block === 'self' && !this.disposed ? fromKeptHead(this.shownHead, layer, { from: head, to: head + 1 }) : undefined;
  }

  async headMean(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array> {
    this.check(block, layer);
    const qk = await this.layerQk(layer, false);
    return layerHeadMean(this.runner, this.runner.arch.site(layer), qk, this.n, this.runner.summary.numHeads, signal);
  }

  async headVectors(block: AttentionBlockKind, layer: number, head: number): Promise<HeadVectors> {
    this.check(block === 'encoder' ? 'self' : block, layer);
    const { numHeads, headDim } = this.runner.summary;
    if (!Number.isInteger(head) || head < 0 || head >= numHeads) throw new EngineError('internal', `No head ${head} in layer ${layer + 1}.`);
    const qk = await this.layerQk(layer, true);
    const site = this.runner.arch.site(layer);
    const n = this.n;
    let logits: Float32Array | undefined;
    await forHeadGroups(this.runner, site, qk, n, { from: head, to: head + 1 }, 'logits', undefined, (_first, _count, out) => {
      logits = new Float32Array(out.logits.data as Float32Array);
    });
    const slice = (x: Float32Array): TensorData => ({ dtype: 'float32', shape: [n, headDim], buffer: x.slice(head * n * headDim, (head + 1) * n * headDim).buffer });
    const size = n * n;
    const bias = qk.bias ? (qk.bias.dims.length === 3 ? qk.bias.data.slice(head * size, (head + 1) * size) : qk.bias.data.slice()) : undefined;
    const graphTerms = site.graphTerms.length > 0;
    return {
      layer,
      head,
      scale: site.scale,
      softcap: site.softcap,
      q: slice(qk.q),
      k: slice(qk.k),
      v: slice(qk.v!),
      bias: bias ? { dtype: 'float32', shape: [n, n], buffer: bias.buffer as ArrayBuffer } : null,
      ...(graphTerms ? { biasTerms: [...site.terms.map((t) => t.name), ...site.graphTerms] } : {}),
      logits: { dtype: 'float32', shape: [n, n], buffer: logits!.buffer as ArrayBuffer },
    };
  }

  dispose(): void {
    if (!this.disposed && this.waits.pending > 0) this.stop(new EngineError('not-loaded', 'the analysis was released.'));
    this.disposed = true;
    this.waits.release();
    this.layerInputs.length = 0;
    this.summaries.length = 0;
    this.keptQk.length = 0;
    this.shownHead = undefined;
    this.positions.clear();
    this.recent = undefined;
  }
}

export { defaultHeadScorers };

/**
 * Bytes a kept analysis of n tokens needs at its peak: what it keeps (every layer's input, the
 * position inputs) plus one layer at a time (its group outputs, the full pass's head chunks and
 * one scores run).
 */
type KeptShape = Pick<ModelSummary, 'numLayers' | 'numHeads' | 'numKeyValueHeads' | 'headDim' | 'hiddenSize'>;

export function keptBytes(summary: KeptShape, positionInputs: readonly PositionInput[], headsPerChunk: number, n: number): number {
  const { numLayers, numHeads, numKeyValueHeads, headDim, hiddenSize } = summary;
  let positions = 0;
  for (const input of new Set(positionInputs)) positions += 4 * input.dims.reduce<number>((p, d) => p * (d === 'n' ? n : typeof d === 'number' ? d : 1), 1);
  const qk = 4 * numLayers * n * headDim * (numHeads + numKeyValueHeads);
  const kept = 4 * numLayers * n * hiddenSize + positions + (qk <= KEPT_QK_BYTES ? qk : 0);
  const layerOutputs = 4 * n * (3 * numHeads * headDim + 2 * hiddenSize);
  const inGraph = 4 * n * n * 3 * Math.min(numHeads, headsPerChunk);
  const scores = SCORES_COPIES * 4 * n * n * headsPerGroup(numHeads, n, n);
  return kept + layerOutputs + Math.max(inGraph, scores);
}

/** The longest text whose kept analysis fits `budgetBytes`. */
export function keptTokensByMemory(summary: KeptShape, positionInputs: readonly PositionInput[], headsPerChunk: number, budgetBytes: number): number {
  let lo = 0;
  let hi = 1 << 24;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (keptBytes(summary, positionInputs, headsPerChunk, mid) <= budgetBytes) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
