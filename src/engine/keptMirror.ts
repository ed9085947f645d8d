/**
 * The view thread's copy of a single-stack kept analysis (issue 10: views never wait for the pass).
 * onnxruntime-node runs a session on the calling thread, so on the engine worker's thread a view of
 * a computed layer waited for the layer group running there (seconds on a 1B model). The engine
 * worker feeds the view thread what its KeptSelfAnalysis holds as the pass computes it — tokens and
 * blocks at the start, then per layer group its value norms and its kept q and per-query-head keys,
 * which live in SharedArrayBuffers (nothing is copied; the worker's analysis counts their bytes) —
 * and the view thread serves a head or a head mean from them with its own scores sessions.
 *
 * Only analyses whose q/k the pass keeps are mirrored (KeptSelfAnalysis.keepsQk); what a mirror
 * cannot answer (step by step needs v) goes to the engine worker as before.
 */
import type { AttentionBlockKind, EngineErrorInfo, HeadVectors, TokenInfo } from '../protocol/types';
import type { ViewRequest } from '../protocol/views';
import type { KeptAnalysis as ServedAnalysis } from '../protocol/kept';
import type { PositionInput } from './architecture';
import * as ort from 'onnxruntime-node';
import { EngineError } from './errors';
import { blockValueNorms, fromKeptHead, headRange, layerHeadMean, layerProbabilities, siteBias, type BlockMeta, type LayerQk, type Positions, type ScoresRunner, type ScoresSessions, type ScoresSite } from './kept';
import { LayerWaits, stoppedError } from './layerWaits';

/** One layer's scores site as the mirror needs it: scale, soft-cap and the names of its additive position terms. */
export interface MirrorSite extends ScoresSite {
  terms: string[];
}

/** What the worker hands the view thread when a mirrored analysis's pass starts. */
export interface MirrorStart {
  type: 'start';
  analysisId: number;
  /** Shared flag, 1 while the worker keeps the analysis: set to 0 the moment it forgets it (no message to wait for). */
  alive: Int32Array;
  tokens: TokenInfo[];
  blocks: BlockMeta[];
  numHeads: number;
  headDim: number;
  sites: MirrorSite[];
  /** The position inputs the sites add to their logits (`[n, n]` or `[heads, n, n]`), copied once. */
  terms: { name: string; dims: number[]; data: Float32Array }[];
  /** The view server's word-merging text (undefined for a sentence pair). */
  mergeText?: string;
}

/** One computed layer: its value norms and its kept q, keys (SharedArrayBuffer-backed). */
export interface MirrorLayer {
  layer: number;
  valueNorms: Float32Array;
  q: Float32Array;
  kHeads: Float32Array[];
  /** The head on screen, where the pass kept it in this layer (KeptOptions.keepHead): the next text's first view. */
  head?: { head: number; probs: Float32Array };
}

/** The engine worker → view thread feed (a MessageChannel between the two threads). */
export type MirrorFeed =
  | MirrorStart
  /** After a layer group: its layers, in order. */
  | { type: 'layers'; analysisId: number; layers: MirrorLayer[] }
  /** The pass stopped before its last layer (cancelled, superseded, failed). */
  | { type: 'stopped'; analysisId: number; error: EngineErrorInfo }
  /** The worker no longer keeps it (forgotten, evicted, model released). */
  | { type: 'drop'; analysisId: number }
  /** The model is about to be released: answer `settled` once the views in flight have settled. */
  | { type: 'settle'; id: number };

/** The view thread → engine worker messages on the same channel. */
export type MirrorRequest =
  /** A view the mirror cannot serve (or of an analysis it does not mirror): the worker answers the host itself. */
  | { type: 'view'; message: { type: 'view'; id: number; analysisId: number; request: ViewRequest } }
  /** A view was served from the mirror: the worker's LRU counts it as a use. */
  | { type: 'touch'; analysisId: number; head?: { layer: number; head: number } }
  /** The views in flight when `settle` came have settled. */
  | { type: 'settled'; id: number };

/** A mirrored analysis, served by the view thread's own view server and scores sessions. */
export class MirrorKeptAnalysis implements ServedAnalysis {
  readonly tokens: TokenInfo[];
  readonly blocks: BlockMeta[];
  /** Its buffers are the worker's analysis's (shared) or counted there: nothing to count twice. */
  readonly bytesHeld = 0;
  private readonly layers: MirrorLayer[] = [];
  private readonly sites: (ScoresSite & { terms: PositionInput[] })[];
  private readonly positions: Positions = new Map();
  private readonly runner: ScoresRunner & { sessions: ScoresSessions };
  private readonly waits: LayerWaits;
  private disposed = false;

  constructor(private readonly start: MirrorStart, sessions: ScoresSessions) {
    this.tokens = start.tokens;
    this.blocks = start.blocks;
    this.runner = { summary: { headDim: start.headDim }, sessions };
    this.waits = new LayerWaits();
    // siteBias looks its terms up by input: one stand-in per name (the worker computed their values).
    const inputs = new Map<string, PositionInput>();
    for (const term of start.terms) {
      const input: PositionInput = { name: term.name, dims: term.dims, compute: () => term.data };
      inputs.set(term.name, input);
      this.positions.set(input, { data: term.data, dims: term.dims });
    }
    this.sites = start.sites.map((site) => ({ ...site, terms: site.terms.map((name) => inputs.get(name)!) }));
  }

  /**
   * Creates the scores sessions its views will run (a head, a head mean) on a one-token input, so
   * that the first view after the first summaries pays no session creation.
   */
  async warm(): Promise<void> {
    const { headDim } = this.start;
    const seen = new Set<string>();
    for (const site of this.sites) {
      // The rank siteBias gives its sum: none, [n, n], or [heads, n, n] when any term has heads.
      const rank = site.terms.length === 0 ? 0 : site.terms.some((t) => t.dims.length === 3) ? 3 : 2;
      const key = `${site.scale}:${site.softcap}:${rank}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const one = () => new ort.Tensor('float32', new Float32Array(headDim), [1, 1, headDim]);
      const tinyBias = rank === 0 ? undefined : new ort.Tensor('float32', new Float32Array(1), rank === 2 ? [1, 1] : [1, 1, 1]);
      for (const want of ['probs', 'sum'] as const) {
        const out = await this.runner.sessions.runScores(site, want, one(), one(), tinyBias);
        Object.values(out).forEach((t) => t.dispose?.());
      }
    }
  }

  /** Whether the worker still keeps it. */
  get alive(): boolean {
    return !this.disposed && Atomics.load(this.start.alive, 0) === 1;
  }

  get layersComputed(): number {
    return this.layers.length;
  }

  private get numLayers(): number {
    return this.start.sites.length;
  }

  add(layers: MirrorLayer[]): void {
    for (const l of layers) this.layers[l.layer] = l;
    this.waits.added();
  }

  stop(error: EngineErrorInfo): void {
    this.waits.stop(stoppedError(new EngineError(error.code, error.message), this.layersComputed, this.numLayers));
  }

  whenComputed(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<void> {
    return this.waits.wait(() => block !== 'self' || layer < this.layersComputed || layer >= this.numLayers, signal);
  }

  private layerQk(block: AttentionBlockKind, layer: number): LayerQk {
    if (this.disposed) throw new EngineError('not-loaded', 'This analysis was released; analyze the text again.');
    if (block !== 'self') throw new EngineError('internal', `A single-stack model has no ${block} attention.`);
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.numLayers) throw new EngineError('internal', `No layer ${layer} in this model.`);
    const kept = this.layers[layer];
    if (!kept) throw new EngineError('internal', `Layer ${layer + 1} has not been computed yet.`);
    return { q: kept.q, k: new Float32Array(0), kHeads: kept.kHeads, bias: siteBias(this.sites[layer], this.positions, this.start.numHeads, this.tokens.length) };
  }

  async attention(block: AttentionBlockKind, layer: number, signal?: AbortSignal, heads?: { from: number; to: number }): Promise<Float32Array> {
    const qk = this.layerQk(block, layer);
    const range = headRange(heads, this.start.numHeads, layer);
    return this.keptHead(block, layer, range.from, range.to)?.slice() ?? layerProbabilities(this.runner, this.sites[layer], qk, this.tokens.length, range, signal);
  }

  keptHead(block: AttentionBlockKind, layer: number, head: number, to = head + 1): Float32Array | undefined {
    const kept = block === 'self' && !this.disposed ? this.layers[layer]?.head : undefined;
    return fromKeptHead(kept && { layer, ...kept }, layer, { from: head, to });
  }

  async headMean(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array> {
    return layerHeadMean(this.runner, this.sites[layer], this.layerQk(block, layer), this.tokens.length, this.start.numHeads, signal);
  }

  valueNorms(block: AttentionBlockKind): Float32Array {
    return blockValueNorms(this.layers.filter(Boolean).map((l) => ({ block: 'self' as const, layer: l.layer, valueNorms: l.valueNorms })), block, this.numLayers);
  }

  headVectors(): Promise<HeadVectors> {
    // Step by step needs v, which only the worker's analysis recomputes: the view thread forwards it.
    return Promise.reject(new EngineError('internal', 'Step by step is served by the engine worker.'));
  }

  dispose(): void {
    if (!this.disposed && this.waits.pending > 0) this.waits.stop(stoppedError(new EngineError('not-loaded', 'the analysis was released.'), this.layersComputed, this.numLayers));
    this.disposed = true;
    this.waits.release();
    this.layers.length = 0;
    this.positions.clear();
  }
}
