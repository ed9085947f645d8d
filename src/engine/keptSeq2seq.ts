/**
 * Kept encoder-decoder analyses (issue 10): what the pass over the texts keeps is, per layer, the q
 * and k of the encoder's self site, the decoder's self site and the cross site (decoder queries,
 * per query head the encoder keys), the stacks' additive terms once each (T5's relative position
 * bias, the causal mask), and per stack chunk its input hidden state for step by step. Never the
 * probabilities: the pass summarises each layer from the scores graph as the single-stack pass does
 * (./kept.ts), and a view forms a layer's probabilities again from its q/k with the same graph.
 * Memory then grows with n·d per head per layer, plus the stacks' shared terms.
 */
import type { AttentionBlockKind, HeadVectors, ModelSummary, TokenInfo } from '../protocol/types';
import type { ArchSummary, AttentionSite, PositionInput } from './architecture';
import { EngineError } from './errors';
import { biasRank, blockValueNorms, headRange, layerHeadMean, layerProbabilities, MIRROR_TERMS_BYTES, mirrorStartOf, scoresRunBytes, sharedCopy, summaryBytes, THUMBNAIL_SIZE, type BlockMeta, type forHeadGroups, type KeptAnalysis, type LayerQk, type LayerSummaries, type Positions } from './kept';
import type { MirrorLayer, MirrorStart } from './keptMirror';
import { LayerWaits, stoppedError } from './layerWaits';

export type Seq2seqBlock = 'encoder' | 'decoder' | 'cross';

/** One stack's run over its text: what step by step needs to run a chunk of it again. */
export interface StackState {
  /** The stack's tokens. */
  n: number;
  /** The encoder's tokens (the cross sites' keys) for the decoder; 0 for the encoder. */
  keys: number;
  /** Each chunk's input hidden state, pushed as the pass reaches the chunk. */
  chunkInputs: Float32Array[];
  /** The stack's position inputs (and, for the decoder, the encoder output). */
  positions: Positions;
  /** Each site's additive terms summed once for the run (shared by every layer of the site). */
  biases: Map<AttentionSite, LayerQk['bias']>;
}

/** What a kept encoder-decoder analysis borrows from its runner (./encoderDecoder.ts). */
export interface Seq2seqKeptRunner {
  site(block: AttentionBlockKind, layer: number): AttentionSite;
  scores(block: AttentionBlockKind): Parameters<typeof forHeadGroups>[0];
  headVectors(runs: { encoder?: StackState; decoder?: StackState }, block: AttentionBlockKind, layer: number, head: number): Promise<HeadVectors>;
}

export class KeptSeq2seqAnalysis implements KeptAnalysis {
  readonly summaries: LayerSummaries[] = [];
  truncatedFrom?: number;
  timings = { tokenizeMs: 0, computeMs: 0 };
  /** Per block, each layer's q and k (and the site's shared terms) as the pass computed them. */
  private readonly layers: Record<Seq2seqBlock, LayerQk[]> = { encoder: [], decoder: [], cross: [] };
  /** Layers of each block computed so far (their summaries are in). */
  private readonly computed: Record<Seq2seqBlock, number> = { encoder: 0, decoder: 0, cross: 0 };
  private readonly runs: { encoder?: StackState; decoder?: StackState } = {};
  private readonly waits = new LayerWaits();
  private disposed = false;
  /**
   * Mirrored into the view thread (mirrorStart): the shared copies of the terms a site takes as they
   * are (a position input the stack's graphs are fed, which onnxruntime cannot read from shared memory).
   */
  private mirrorTerms: Map<Float32Array, Float32Array> | undefined;

  constructor(
    private readonly runner: Seq2seqKeptRunner,
    readonly model: ModelSummary,
    readonly text: string,
    readonly tokens: TokenInfo[],
    readonly target: string,
    readonly decoderTokens: TokenInfo[],
    readonly blocks: BlockMeta[],
  ) {}

  /** A stack's run began (its chunk inputs are pushed as it goes). */
  started(stack: 'encoder' | 'decoder', run: StackState): void {
    if (!this.disposed) this.runs[stack] = run;
  }

  /** A layer's q/k, copied out of onnxruntime's outputs; its bias is the stack's shared one. A released analysis keeps nothing more. */
  keepLayer(block: Seq2seqBlock, layer: number, qk: LayerQk): void {
    if (!this.disposed) this.layers[block][layer] = qk;
  }

  /** A chunk's summaries are in: its layers are computed, and the views waiting for them go on. */
  summariesAdded(done: readonly LayerSummaries[]): void {
    if (this.disposed) return;
    this.summaries.push(...done);
    for (const s of done) {
      const block = s.block as Seq2seqBlock;
      this.computed[block] = Math.max(this.computed[block], s.layer + 1);
    }
    this.waits.added();
  }

  private meta(block: AttentionBlockKind): BlockMeta & { kind: Seq2seqBlock } {
    const kind = block === 'self' ? 'encoder' : block;
    const meta = this.blocks.find((b) => b.kind === kind);
    if (!meta) throw new EngineError('internal', `This analysis has no ${block} attention.`);
    return meta as BlockMeta & { kind: Seq2seqBlock };
  }

  whenComputed(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<void> {
    const meta = this.blocks.find((b) => b.kind === (block === 'self' ? 'encoder' : block));
    return this.waits.wait(() => !meta || layer >= meta.layers || layer < this.computed[meta.kind as Seq2seqBlock], signal);
  }

  /** The pass stopped before its last layer: what waits for a layer not computed fails, saying why. */
  stop(err: unknown): void {
    const total = this.blocks.filter((b) => b.kind !== 'cross').reduce((a, b) => a + b.layers, 0);
    this.waits.stop(stoppedError(err, this.computed.encoder + this.computed.decoder, total));
  }

  /** The block's layer, checked: its shape, site and q/k. */
  private layer(block: AttentionBlockKind, layer: number) {
    if (this.disposed) throw new EngineError('not-loaded', 'This analysis was released; analyze the text again.');
    const meta = this.meta(block);
    if (!Number.isInteger(layer) || layer < 0 || layer >= meta.layers) throw new EngineError('internal', `No layer ${layer} in the ${meta.kind} attention.`);
    if (layer >= this.computed[meta.kind]) throw new EngineError('internal', `Layer ${layer + 1} of the ${meta.kind} attention has not been computed yet.`);
    return { meta, kind: meta.kind, qk: this.layers[meta.kind][layer], site: this.runner.site(meta.kind, layer), rows: meta.queryTokens.length };
  }

  async attention(block: AttentionBlockKind, layer: number, signal?: AbortSignal, heads?: { from: number; to: number }): Promise<Float32Array> {
    const { meta, kind, qk, site, rows } = this.layer(block, layer);
    return layerProbabilities(this.runner.scores(kind), site, qk, rows, headRange(heads, meta.heads, layer), signal);
  }

  async headMean(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array> {
    const { meta, kind, qk, site, rows } = this.layer(block, layer);
    return layerHeadMean(this.runner.scores(kind), site, qk, rows, meta.heads, signal);
  }

  valueNorms(block: AttentionBlockKind): Float32Array {
    const meta = this.meta(block);
    return blockValueNorms(this.summaries, meta.kind, meta.layers);
  }

  async headVectors(block: AttentionBlockKind, layer: number, head: number): Promise<HeadVectors> {
    const { kind } = this.layer(block, layer);
    return this.runner.headVectors(this.runs, kind, layer, head);
  }

  /** Each block's sites as the view thread's mirror gets them. */
  private mirrorSites(): MirrorStart['sites'] {
    const sites: MirrorStart['sites'] = {};
    for (const meta of this.blocks) {
      const kind = meta.kind as Seq2seqBlock;
      const layers = Array.from({ length: meta.layers }, (_, l) => this.runner.site(kind, l));
      sites[kind] = { headDim: this.runner.scores(kind).summary.headDim, layers: layers.map((site) => ({ scale: site.scale, softcap: site.softcap, terms: [], biasRank: biasRank(site.terms) })) };
    }
    return sites;
  }

  /**
   * What the view thread's mirror starts from (src/engine/keptMirror.ts), or undefined where the
   * terms a site takes as they are (T5's relative bias on a long text) would need more than
   * MIRROR_TERMS_BYTES copied into shared memory. The q/k and summed terms are shared as the pass
   * keeps them; the layers follow per stack chunk (mirrorLayers).
   */
  mirrorStart(analysisId: number, alive: Int32Array, mergeText: string | undefined): MirrorStart | undefined {
    if (this.disposed) return undefined;
    let copied = 0;
    const seen = new Set<unknown>();
    for (const meta of this.blocks) {
      const keys = meta.keyTokens.length;
      const rows = meta.queryTokens.length;
      for (let l = 0; l < meta.layers; l++) {
        const site = this.runner.site(meta.kind, l);
        if (site.terms.length !== 1 || seen.has(site.terms[0])) continue;
        seen.add(site.terms[0]);
        copied += 4 * site.terms[0].dims.reduce<number>((p, d) => p * (d === 'n' ? rows : d === 'm' ? keys : Number(d)), 1);
      }
    }
    if (copied > MIRROR_TERMS_BYTES) return undefined;
    this.mirrorTerms = new Map();
    return mirrorStartOf(analysisId, alive, this, this.mirrorSites(), [], { mergeText, targetText: this.target });
  }

  /** The layers of `summaries` (a stack chunk's, just computed) as the mirror gets them: value norms, shared q, k and terms. */
  mirrorLayers(summaries: readonly LayerSummaries[]): MirrorLayer[] {
    const terms = this.mirrorTerms;
    if (!terms || this.disposed) return [];
    return summaries.map((s) => {
      const block = s.block as Seq2seqBlock;
      const qk = this.layers[block][s.layer];
      let bias = qk.bias;
      if (bias && !(bias.data.buffer instanceof SharedArrayBuffer)) {
        let shared = terms.get(bias.data);
        if (!shared) terms.set(bias.data, (shared = sharedCopy(bias.data)));
        bias = { data: shared, dims: bias.dims };
      }
      return { block, layer: s.layer, valueNorms: s.valueNorms, q: qk.q, k: qk.k, ...(qk.keys !== undefined ? { keys: qk.keys } : {}), ...(bias ? { bias } : {}) };
    });
  }

  /** q/k of every layer, the stacks' position inputs and shared terms (each array once), the mirror's copies of terms, chunk inputs, summaries. */
  get bytesHeld(): number {
    const arrays = new Set<Float32Array>();
    for (const layers of Object.values(this.layers)) {
      for (const qk of layers) {
        arrays.add(qk.q).add(qk.k);
        if (qk.bias) arrays.add(qk.bias.data);
      }
    }
    for (const run of Object.values(this.runs)) {
      if (!run) continue;
      run.chunkInputs.forEach((x) => arrays.add(x));
      for (const v of run.positions.values()) arrays.add(v.data);
      for (const b of run.biases.values()) if (b) arrays.add(b.data);
    }
    for (const copy of this.mirrorTerms?.values() ?? []) arrays.add(copy);
    let bytes = 0;
    for (const a of arrays) bytes += a.byteLength;
    for (const s of this.summaries) bytes += summaryBytes(s);
    return bytes;
  }

  dispose(): void {
    if (!this.disposed && this.waits.pending > 0) this.stop(new EngineError('not-loaded', 'the analysis was released.'));
    this.disposed = true;
    this.waits.release();
    this.summaries.length = 0;
    for (const layers of Object.values(this.layers)) layers.length = 0;
    this.runs.encoder = undefined;
    this.runs.decoder = undefined;
    this.mirrorTerms?.clear();
  }
}

type StackShape = Pick<ArchSummary, 'numLayers' | 'numHeads' | 'headDim' | 'hiddenSize'>;

/** What the memory of a kept encoder-decoder analysis is counted from. */
export interface Seq2seqShape {
  encoder: StackShape;
  decoder: StackShape;
  encoderInputs: readonly PositionInput[];
  decoderInputs: readonly PositionInput[];
  /** The distinct sites of each stack (the decoder's self and cross sites). */
  encoderSites: readonly AttentionSite[];
  decoderSites: readonly AttentionSite[];
  encoderChunks: number;
  decoderChunks: number;
  layersPerChunk: number;
  headsPerChunk: number;
}

/** Float32 bytes of position inputs for `n` tokens (and `m` encoder tokens). */
function inputBytes(inputs: readonly PositionInput[], n: number, m: number): number {
  let bytes = 0;
  for (const input of new Set(inputs)) bytes += 4 * input.dims.reduce<number>((p, d) => p * (d === 'n' ? n : d === 'm' ? m : d), 1);
  return bytes;
}

/** The sums of sites with several terms, kept once per site (one term is its position input itself). */
function summedTermBytes(sites: readonly AttentionSite[], heads: number, rows: number, keys: number): number {
  let bytes = 0;
  for (const site of sites) if (site.terms.length > 1) bytes += 4 * rows * keys * (site.terms.some((t) => t.dims.length === 3) ? heads : 1);
  return bytes;
}

/**
 * Bytes a kept encoder-decoder analysis of `n` text and `t` decoder tokens needs at its peak: what
 * it keeps (q/k of every layer, position inputs and the stacks' shared terms, chunk inputs,
 * summaries) plus one step at a time (a chunk's fetched outputs and the attention inside its running
 * layer, or one scores run).
 */
export function keptSeq2seqBytes(shape: Seq2seqShape, n: number, t: number): number {
  const { encoder: e, decoder: d, layersPerChunk } = shape;
  const qk = 4 * (e.numLayers * e.numHeads * e.headDim * 2 * n + d.numLayers * d.numHeads * d.headDim * (3 * t + n));
  const inputs = inputBytes(shape.encoderInputs, n, 0) + inputBytes(shape.decoderInputs, t, n) + summedTermBytes(shape.encoderSites, e.numHeads, n, n) + summedTermBytes(shape.decoderSites, d.numHeads, t, t);
  const chunkInputs = 4 * (shape.encoderChunks * n * e.hiddenSize + (shape.decoderChunks * t + n) * d.hiddenSize);
  const cells = THUMBNAIL_SIZE * THUMBNAIL_SIZE;
  const summaries = e.numLayers * e.numHeads * (4 * (n + 8) + cells) + d.numLayers * d.numHeads * (4 * (t + n + 16) + 2 * cells);
  // Inside the running layer: its head chunk's logits and probabilities, and (attention in head chunks) a split copy of per-head terms.
  const inGraph = (sites: readonly AttentionSite[], heads: number, rows: number, keys: number, termRows: number) => {
    const split = shape.headsPerChunk < heads && sites.some((site) => site.terms.some((term) => term.dims.length === 3)) ? 4 * heads * termRows * termRows : 0;
    return 4 * 3 * Math.min(heads, shape.headsPerChunk) * rows * keys + split;
  };
  const encoderStep = 4 * layersPerChunk * n * (3 * e.numHeads * e.headDim + e.hiddenSize) + inGraph(shape.encoderSites, e.numHeads, n, n, n);
  const decoderStep = 4 * layersPerChunk * (t * (4 * d.numHeads * d.headDim + d.hiddenSize) + 2 * n * d.numHeads * d.headDim) + inGraph(shape.decoderSites, d.numHeads, t, t + n, t);
  const scores = Math.max(scoresRunBytes(e.numHeads, n, n), scoresRunBytes(d.numHeads, t, t), scoresRunBytes(d.numHeads, t, n));
  return qk + inputs + chunkInputs + summaries + Math.max(encoderStep, decoderStep, scores);
}

export function keptSeq2seqFits(shape: Seq2seqShape, n: number, t: number, budgetBytes: number): boolean {
  return keptSeq2seqBytes(shape, n, t) <= budgetBytes;
}
