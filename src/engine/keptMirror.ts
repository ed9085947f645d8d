/**
 * The view thread's copy of a kept analysis (issue 10: views never wait for the pass).
 * onnxruntime-node runs a session on the calling thread, so on the engine worker's thread a view of
 * a computed layer waited for the layer group running there (seconds on a 1B model). The engine
 * worker feeds the view thread what its KeptSelfAnalysis holds as the pass computes it — tokens and
 * blocks at the start, then per layer group its value norms and its kept q and per-query-head keys,
 * which live in SharedArrayBuffers (nothing is copied; the worker's analysis counts their bytes) —
 * and the view thread serves a head or a head mean from them with its own scores sessions.
 * Encoder-decoders (KeptSeq2seqAnalysis) are mirrored the same way, block by block: the encoder's
 * self block, the decoder's self and cross blocks (decoder queries × encoder keys), each layer with
 * its q, k and its stack's shared additive terms (T5's relative bias, the causal mask).
 *
 * Only analyses whose q/k the pass keeps are mirrored (KeptSelfAnalysis.keepsQk; encoder-decoders
 * always keep theirs); what a mirror
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

/** One layer's scores site as the mirror needs it: scale, soft-cap, the names of its additive position terms and the rank of their sum. */
export interface MirrorSite extends ScoresSite {
  /** Terms posted at the start (MirrorStart.terms); empty where each layer brings its bias (MirrorLayer.bias). */
  terms: string[];
  /** Rank of the bias its scores graph takes: none, `[n, m]`, or `[heads, n, m]` (the sessions warmed up front). */
  biasRank: 0 | 2 | 3;
}

/** What the worker hands the view thread when a mirrored analysis's pass starts. */
export interface MirrorStart {
  type: 'start';
  analysisId: number;
  /** Shared flag, 1 while the worker keeps the analysis: set to 0 the moment it forgets it (no message to wait for). */
  alive: Int32Array;
  tokens: TokenInfo[];
  /** Its blocks: one self block, or an encoder-decoder's encoder, decoder and cross blocks. */
  blocks: BlockMeta[];
  /** Per block: the head size of its stack and each layer's site. */
  sites: Partial<Record<AttentionBlockKind, { headDim: number; layers: MirrorSite[] }>>;
  /** The position inputs the sites add to their logits (`[n, n]` or `[heads, n, n]`), copied once (single-stack). */
  terms: { name: string; dims: number[]; data: Float32Array }[];
  /** The view server's word-merging text (undefined for a sentence pair) and decoder text. */
  mergeText?: string;
  targetText?: string;
}

/** One computed layer of a block: its value norms and its kept q, keys (SharedArrayBuffer-backed). */
export interface MirrorLayer {
  /** Default 'self'. */
  block?: AttentionBlockKind;
  layer: number;
  valueNorms: Float32Array;
  q: Float32Array;
  /** Each query head's keys (single-stack, grouped-query heads share theirs), or `k` `[heads, keys, d]`. */
  kHeads?: Float32Array[];
  k?: Float32Array;
  /** Key rows where they are not the queries' (a cross block: the encoder's tokens). */
  keys?: number;
  /** The layer's summed additive terms, shared (an encoder-decoder stack's, one array for all its layers); else from `terms`. */
  bias?: { data: Float32Array; dims: number[] };
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

/** A mirrored analysis (single-stack or encoder-decoder), served by the view thread's own view server and scores sessions. */
export class MirrorKeptAnalysis implements ServedAnalysis {
  readonly tokens: TokenInfo[];
  readonly blocks: BlockMeta[];
  /** Its buffers are the worker's analysis's (shared) or counted there: nothing to count twice. */
  readonly bytesHeld = 0;
  /** Per block kind, its computed layers. */
  private readonly layers = new Map<AttentionBlockKind, MirrorLayer[]>();
  private readonly sites = new Map<AttentionBlockKind, (ScoresSite & { terms: PositionInput[] })[]>();
  private readonly runners = new Map<AttentionBlockKind, ScoresRunner & { sessions: ScoresSessions }>();
  private readonly positions: Positions = new Map();
  private readonly waits: LayerWaits;
  private disposed = false;

  constructor(private readonly start: MirrorStart, sessions: ScoresSessions) {
    this.tokens = start.tokens;
    this.blocks = start.blocks;
    this.waits = new LayerWaits();
    // siteBias looks its terms up by input: one stand-in per name (the worker computed their values).
    const inputs = new Map<string, PositionInput>();
    for (const term of start.terms) {
      const input: PositionInput = { name: term.name, dims: term.dims, compute: () => term.data };
      inputs.set(term.name, input);
      this.positions.set(input, { data: term.data, dims: term.dims });
    }
    for (const [kind, own] of Object.entries(start.sites) as [AttentionBlockKind, { headDim: number; layers: MirrorSite[] }][]) {
      this.sites.set(kind, own.layers.map((site) => ({ ...site, terms: site.terms.map((name) => inputs.get(name)!) })));
      this.runners.set(kind, { summary: { headDim: own.headDim }, sessions });
      this.layers.set(kind, []);
    }
  }

  /**
   * Creates the scores sessions its views will run (a head, a head mean) on a one-token input, so
   * that the first view after the first summaries pays no session creation.
   */
  async warm(): Promise<void> {
    const seen = new Set<string>();
    for (const [kind, own] of Object.entries(this.start.sites) as [AttentionBlockKind, { headDim: number; layers: MirrorSite[] }][]) {
      const { headDim } = own;
      for (const site of own.layers) {
        const rank = site.biasRank;
        const key = `${site.scale}:${site.softcap}:${rank}:${headDim}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const one = () => new ort.Tensor('float32', new Float32Array(headDim), [1, 1, headDim]);
        const tinyBias = rank === 0 ? undefined : new ort.Tensor('float32', new Float32Array(1), rank === 2 ? [1, 1] : [1, 1, 1]);
        for (const want of ['probs', 'sum'] as const) {
          const out = await this.runners.get(kind)!.sessions.runScores(site, want, one(), one(), tinyBias);
          Object.values(out).forEach((t) => t.dispose?.());
        }
      }
    }
  }

  /** Whether the worker still keeps it. */
  get alive(): boolean {
    return !this.disposed && Atomics.load(this.start.alive, 0) === 1;
  }

  /** The block a view names ('self' is an encoder-decoder's encoder, as in its kept analysis). */
  private meta(block: AttentionBlockKind): BlockMeta | undefined {
    return this.blocks.find((b) => b.kind === block) ?? (block === 'self' ? this.blocks.find((b) => b.kind === 'encoder') : undefined);
  }

  private computed(kind: AttentionBlockKind): number {
    return this.layers.get(kind)?.length ?? 0;
  }

  /** Layers of the stacks computed so far (a decoder layer's cross block counts with it). */
  get layersComputed(): number {
    return this.blocks.filter((b) => b.kind !== 'cross').reduce((a, b) => a + this.computed(b.kind), 0);
  }

  private get numLayers(): number {
    return this.blocks.filter((b) => b.kind !== 'cross').reduce((a, b) => a + b.layers, 0);
  }

  add(layers: MirrorLayer[]): void {
    if (this.disposed) return;
    for (const l of layers) this.layers.get(l.block ?? 'self')![l.layer] = l;
    this.waits.added();
  }

  stop(error: EngineErrorInfo): void {
    this.waits.stop(stoppedError(new EngineError(error.code, error.message), this.layersComputed, this.numLayers));
  }

  whenComputed(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<void> {
    const meta = this.meta(block);
    return this.waits.wait(() => !meta || layer < this.computed(meta.kind) || layer >= meta.layers, signal);
  }

  /** The block's layer, checked: its shape, site, scores runner and q/k. */
  private layer(block: AttentionBlockKind, layer: number) {
    if (this.disposed) throw new EngineError('not-loaded', 'This analysis was released; analyze the text again.');
    const meta = this.meta(block);
    if (!meta) throw new EngineError('internal', this.blocks.length === 1 ? `A single-stack model has no ${block} attention.` : `This analysis has no ${block} attention.`);
    const of = meta.kind === 'self' ? '' : ` of the ${meta.kind} attention`;
    if (!Number.isInteger(layer) || layer < 0 || layer >= meta.layers) throw new EngineError('internal', `No layer ${layer}${of} in this model.`);
    const kept = this.layers.get(meta.kind)![layer];
    if (!kept) throw new EngineError('internal', `Layer ${layer + 1}${of} has not been computed yet.`);
    const site = this.sites.get(meta.kind)![layer];
    const rows = meta.queryTokens.length;
    const keys = kept.keys ?? rows;
    const qk: LayerQk = { q: kept.q, k: kept.k ?? new Float32Array(0), kHeads: kept.kHeads, ...(kept.keys !== undefined ? { keys: kept.keys } : {}), bias: kept.bias ?? siteBias(site, this.positions, meta.heads, rows, keys) };
    return { meta, kept, site, rows, qk, runner: this.runners.get(meta.kind)! };
  }

  async attention(block: AttentionBlockKind, layer: number, signal?: AbortSignal, heads?: { from: number; to: number }): Promise<Float32Array> {
    const { meta, site, rows, qk, runner } = this.layer(block, layer);
    const range = headRange(heads, meta.heads, layer);
    return this.keptHead(block, layer, range.from, range.to)?.slice() ?? layerProbabilities(runner, site, qk, rows, range, signal);
  }

  keptHead(block: AttentionBlockKind, layer: number, head: number, to = head + 1): Float32Array | undefined {
    const kept = block === 'self' && !this.disposed ? this.layers.get('self')?.[layer]?.head : undefined;
    return fromKeptHead(kept && { layer, ...kept }, layer, { from: head, to });
  }

  async headMean(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array> {
    const { meta, site, rows, qk, runner } = this.layer(block, layer);
    return layerHeadMean(runner, site, qk, rows, meta.heads, signal);
  }

  valueNorms(block: AttentionBlockKind): Float32Array {
    const meta = this.meta(block);
    if (!meta) throw new EngineError('internal', `This analysis has no ${block} attention.`);
    const own = (this.layers.get(meta.kind) ?? []).filter(Boolean);
    return blockValueNorms(own.map((l) => ({ block: meta.kind, layer: l.layer, valueNorms: l.valueNorms })), meta.kind, meta.layers);
  }

  headVectors(): Promise<HeadVectors> {
    // Step by step needs v, which only the worker's analysis recomputes: the view thread forwards it.
    return Promise.reject(new EngineError('internal', 'Step by step is served by the engine worker.'));
  }

  dispose(): void {
    if (!this.disposed && this.waits.pending > 0) this.waits.stop(stoppedError(new EngineError('not-loaded', 'the analysis was released.'), this.layersComputed, this.numLayers));
    this.disposed = true;
    this.waits.release();
    this.layers.clear();
    this.positions.clear();
  }
}
