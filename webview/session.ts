/**
 * One analysis on screen and what is derived from it: its shape, pattern scores, value norms, the
 * sentence-pair segments, and the matrix the head view shows for a view state (asked of its view
 * source once per state that changes it, then reused by the heatmap, hover, details and exports).
 * The views come from a `ViewSource` (./views.ts): the engine through the host, or the result's own
 * tensors.
 */
import type { AttentionResult } from '../src/protocol/types';
import { MAX_REPLY_BYTES, MAX_OVERVIEW_CELLS, type BlockSummaries } from '../src/protocol/views';
import { colorRangeFor, colorScaleMapping, mapColors, type ColorMapping, type ColorScaleMapping } from '../src/analysis/colormap';
import { analyzedUpTo } from '../src/analysis/describe';
import { lastLayerOf, type ModeSelection } from '../src/analysis/modes';
import { allHeadScores, type HeadScores } from '../src/analysis/patterns';
import { AttentionStack, ValueNormStack, toArrayBuffer, type Matrix } from '../src/analysis/tensor';
import { viewItems, type AxisItem, type ViewMatrix } from '../src/analysis/view';
import type { HostChannel } from './host/channel';
import type { PairFilter, PanelState } from './state';
import type { TiledView } from './tiledView';
import { LocalViews, RemoteViews, thumbSetFromReply, type RowSet, type ThumbSet, type ViewSource } from './views';

/** What a session needs of its result: no tensors. */
export type SessionResult = Pick<AttentionResult, 'model' | 'text' | 'tokens' | 'truncatedFrom' | 'origin' | 'target' | 'decoderTokens' | 'probe' | 'generation'>;

/** The block of the view the panel shows: view rows × view columns. */
export interface Block {
  rows: number[];
  cols: number[];
}

/** What the head view and the exports draw for one state: a view that came whole. */
export interface ExactShown {
  kind: 'exact';
  sel: ModeSelection;
  view: ViewMatrix;
  block: Block;
  /** The block's weights, rows × cols. */
  weights: Float32Array;
  colors: ColorMapping;
}

/**
 * A view larger than one reply: its overview now, its exact values by tile and row as they are
 * shown. `colors` maps the overview (its range is the view's: max-pooling keeps the maximum); the
 * head view colours the overview and each tile under it as it draws them.
 */
export interface TiledShown {
  kind: 'tiled';
  sel: ModeSelection;
  view: Pick<ViewMatrix, 'size' | 'items'>;
  block: Block;
  tiled: TiledView;
  colors: ColorScaleMapping;
}

export type Shown = ExactShown | TiledShown;

/** Overview cells per side: no more than the panel's device pixels can show. */
function overviewCells(): number {
  const dpr = window.devicePixelRatio || 1;
  return Math.max(16, Math.min(MAX_OVERVIEW_CELLS, Math.ceil(Math.max(window.innerWidth, window.innerHeight) * dpr)));
}

export class ResultSession {
  /** Where the analyzed part of the text ends when it was cut ("Analyze First N Tokens"), else null. */
  readonly truncatedAt: number | null;
  /** True for a sentence pair whose tokens carry segment ids (A = 0, B = 1). */
  readonly isPair: boolean;
  private shownKey = '';
  private shownValue: Shown | undefined;
  private sizeOf: { key: string; size: number } | undefined;

  constructor(
    readonly id: number,
    readonly result: SessionResult,
    readonly pairText: string | undefined,
    /** Layers, heads and tokens of the block shown. */
    readonly stack: { layers: number; heads: number; n: number },
    readonly source: ViewSource,
    public scores: HeadScores[],
    public norms: ValueNormStack | undefined,
    readonly normsProblem: string | undefined,
    /** Layers summarised so far (all of them unless the pass is still running). */
    public layersDone = stack.layers,
  ) {
    this.truncatedAt = analyzedUpTo(result.text, result.tokens);
    this.isPair = pairText !== undefined && result.tokens.some((t) => t.segment === 1);
  }

  /** The block the views are of. */
  get blockKind(): BlockSummaries['block'] {
    return this.source instanceof RemoteViews ? this.source.block : 'self';
  }

  /** A result that came with its tensors: views are computed here. */
  static local(id: number, result: AttentionResult, pairText: string | undefined, norms: ValueNormStack | undefined, normsProblem: string | undefined): ResultSession {
    const stack = new AttentionStack(result.attentions);
    const mergeText = pairText === undefined ? result.text : undefined;
    const source = new LocalViews(stack, norms, result.tokens, mergeText);
    return new ResultSession(id, result, pairText, { layers: stack.layers, heads: stack.heads, n: stack.n }, source, allHeadScores(stack, result.model.causal, result.tokens.map((t) => t.id)), norms, normsProblem);
  }

  /** An analysis the engine keeps: views are asked of the host; scores, norms and first thumbnails come with the summaries. */
  static remote(id: number, result: SessionResult, pairText: string | undefined, summaries: BlockSummaries, channel: HostChannel, onArrive: () => void): ResultSession {
    const norms = summaries.valueNorms;
    norms.buffer = toArrayBuffer(norms.buffer) ?? norms.buffer;
    let stack: ValueNormStack | undefined;
    let problem: string | undefined;
    try {
      stack = new ValueNormStack(norms);
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    const thumbs = summaries.thumbnails.count === summaries.layers * summaries.heads ? thumbSetFromReply(summaries.thumbnails, summaries.heads) : undefined;
    const source = new RemoteViews(channel, id, summaries.block, summaries.heads, thumbs, onArrive);
    return new ResultSession(id, result, pairText, { layers: summaries.layers, heads: summaries.heads, n: result.tokens.length }, source, summaries.scores, stack, problem, summaries.layersDone);
  }

  /** Newer summaries of the same analysis (more layers done): scores, norms and first thumbnails follow. */
  updateSummaries(summaries: BlockSummaries): void {
    if (!(this.source instanceof RemoteViews) || summaries.layers !== this.stack.layers || summaries.heads !== this.stack.heads) return;
    if (!Array.isArray(summaries.scores) || summaries.scores.length !== this.stack.layers * this.stack.heads) return;
    this.scores = summaries.scores;
    this.layersDone = Math.min(this.stack.layers, Math.max(this.layersDone, summaries.layersDone));
    const norms = summaries.valueNorms;
    norms.buffer = toArrayBuffer(norms.buffer) ?? norms.buffer;
    try {
      this.norms = new ValueNormStack(norms);
    } catch {
      // Keep the norms we had.
    }
    if (summaries.thumbnails.count === this.stack.layers * this.stack.heads) this.source.summaryThumbs = thumbSetFromReply(summaries.thumbnails, this.stack.heads);
  }

  get n(): number {
    return this.stack.n;
  }

  /** While the pass runs: the layer a selection's view waits for, when the pass has not computed it yet. */
  pendingLayer(sel: ModeSelection): number | undefined {
    if (this.layersDone >= this.stack.layers) return undefined;
    const needs = lastLayerOf(sel.mode, sel.layer, this.stack.layers);
    return needs >= this.layersDone ? needs : undefined;
  }

  /** A mode's matrix as shown (special tokens, merging), or undefined while it is on its way. */
  view(sel: ModeSelection, s: Pick<PanelState, 'special' | 'mergeWords'>): ViewMatrix | undefined {
    return this.source.view(sel, { special: s.special, mergeWords: s.mergeWords });
  }

  /** Texts the offsets refer to: with a pair, segment 1 counts from the second text, so merging goes by tokens alone. */
  private get mergeText(): string | undefined {
    return this.pairText === undefined ? this.result.text : undefined;
  }

  private itemsOf: { key: string; items: AxisItem[] } | undefined;

  /** The view's axis items for the state (no matrix needed). */
  items(s: Pick<PanelState, 'special' | 'mergeWords'>): AxisItem[] {
    const key = `${s.special}.${s.mergeWords}`;
    if (this.itemsOf?.key !== key) this.itemsOf = { key, items: viewItems(this.result.tokens, { special: s.special, mergeWords: s.mergeWords }, this.mergeText) };
    return this.itemsOf.items;
  }

  /** One head's exact row of weights for a query token (step by step), or undefined while on its way. */
  headRow(layer: number, head: number, query: number): Float32Array | undefined {
    return this.source.row({ mode: 'head', layer, head }, { special: 'show', mergeWords: false }, query);
  }

  /** "This token in every head": the query's row in every head, or undefined while on its way. */
  rows(s: PanelState, token: number): RowSet | undefined {
    const flavour = s.mode === 'valueWeighted' && this.norms ? 'valueWeighted' : 'head';
    return this.source.rows(flavour, { special: s.special, mergeWords: s.mergeWords }, token);
  }

  /** Segment (0 = text A, 1 = text B) of a view row. */
  segmentOf(view: Pick<ViewMatrix, 'items'>, index: number): number {
    return this.result.tokens[view.items[index].tokens[0]].segment;
  }

  /** The rows and columns a pair filter keeps. */
  block(view: Pick<ViewMatrix, 'items'>, filter: PairFilter): Block {
    const all = view.items.map((_, i) => i);
    if (!this.isPair || filter === 'all') return { rows: all, cols: all };
    const a = all.filter((i) => this.segmentOf(view, i) === 0);
    const b = all.filter((i) => this.segmentOf(view, i) === 1);
    return filter === 'ab' ? { rows: a, cols: b } : { rows: b, cols: a };
  }

  /** Everything the head view shows for a state (cached until a field that matters changes); undefined while its view is on its way. */
  shown(sel: ModeSelection, s: PanelState): Shown | undefined {
    // What was on its way for the view the head view showed before is given up.
    if (this.source instanceof RemoteViews) this.source.show(sel, { special: s.special, mergeWords: s.mergeWords });
    const key = `${sel.mode}.${sel.layer}.${sel.head}.${s.special}.${s.mergeWords}.${s.pairFilter}.${s.norm}.${s.range}`;
    if (this.shownValue && key === this.shownKey) return this.shownValue;
    if (this.source instanceof RemoteViews && this.isLarge(s)) {
      const tiled = this.source.tiled(sel, { special: s.special, mergeWords: s.mergeWords }, overviewCells());
      if (!tiled) return undefined;
      const all = tiled.items.map((_, i) => i);
      // The overview's range is the view's, whose maximum is the largest of its rows' (max-pooling
      // keeps it): read from the rows' maxima, not the million overview cells.
      const colors = colorScaleMapping({ rows: 1, cols: tiled.size, data: tiled.rowMax }, s.norm, s.range);
      this.shownKey = key;
      this.shownValue = { kind: 'tiled', sel, view: { size: tiled.size, items: tiled.items }, block: { rows: all, cols: all }, tiled, colors };
      return this.shownValue;
    }
    const view = this.view(sel, s);
    if (!view) return undefined;
    const block = this.block(view, s.pairFilter);
    // The whole view needs no copy; a pair filter's block is gathered.
    const whole = block.rows.length === view.size && block.cols.length === view.size;
    const weights = whole ? view.data : new Float32Array(block.rows.length * block.cols.length);
    if (!whole) block.rows.forEach((r, i) => block.cols.forEach((c, j) => (weights[i * block.cols.length + j] = view.data[r * view.size + c])));
    const colors = mapColors({ rows: block.rows.length, cols: block.cols.length, data: weights }, s.norm, s.range);
    this.shownKey = key;
    this.shownValue = { kind: 'exact', sel, view, block, weights, colors };
    return this.shownValue;
  }

  /**
   * Views larger than one reply are shown from an overview and exact tiles; smaller ones come whole.
   * (A pair filter's block is gathered from the whole view, so it keeps coming whole.)
   */
  private isLarge(s: PanelState): boolean {
    if (this.isPair && s.pairFilter !== 'all') return false;
    return this.largerThanReply(s);
  }

  /** Rows (= columns) of the view under the state's special-token handling and merging. */
  viewSize(s: Pick<PanelState, 'special' | 'mergeWords'>): number {
    const key = `${s.special}.${s.mergeWords}`;
    // Every token shown, none merged: one item per token (no need to build them for the first view).
    if (this.sizeOf?.key !== key) this.sizeOf = { key, size: s.special === 'show' && !s.mergeWords ? this.n : this.items(s).length };
    return this.sizeOf.size;
  }

  /** A view the engine keeps and serves in parts: larger than one reply. */
  largerThanReply(s: Pick<PanelState, 'special' | 'mergeWords'>): boolean {
    return this.source instanceof RemoteViews && this.viewSize(s) ** 2 * 4 > MAX_REPLY_BYTES;
  }

  /** A head's thumbnail for the model view (flavour, special tokens, merge, pooled) with its colours; undefined while on its way. */
  thumbnail(layer: number, head: number, cells: number, s: PanelState, exact = false): { matrix: Matrix; positions: Float64Array } | undefined {
    const flavour = s.mode === 'valueWeighted' && this.norms ? 'valueWeighted' : 'head';
    const set = this.source.thumbnails(flavour, { special: s.special, mergeWords: s.mergeWords }, cells, exact);
    if (!set) return undefined;
    const matrix = set.get(layer, head);
    const positions = mapColors({ rows: matrix.size, cols: matrix.size, data: matrix.data }, s.norm, s.range).positions;
    return { matrix, positions };
  }

  /** Every head's thumbnail at exactly `cells` (exports). */
  loadThumbnails(cells: number, s: PanelState): Promise<ThumbSet> {
    const flavour = s.mode === 'valueWeighted' && this.norms ? 'valueWeighted' : 'head';
    return this.source.loadThumbnails(flavour, { special: s.special, mergeWords: s.mergeWords }, cells);
  }

  dispose(): void {
    this.source.dispose();
  }

  /** Colour range of a matrix under the state's range mode (the thumbnails' legend). */
  rangeOf(data: ArrayLike<number>, s: PanelState) {
    return colorRangeFor(data, s.range);
  }
}
