/**
 * One result on screen and everything derived from it: the attention stack, mode computations,
 * pattern scores, the sentence-pair segments, and the matrix the head view shows for a view state
 * (computed once per state that changes it, then reused by the heatmap, hover, details and exports).
 */
import type { AttentionResult } from '../src/protocol/types';
import { colorRangeFor, mapColors, type ColorMapping } from '../src/analysis/colormap';
import { analyzedUpTo } from '../src/analysis/describe';
import { ModeComputer, valueWeighted, type ModeSelection } from '../src/analysis/modes';
import { allHeadScores, type HeadScores } from '../src/analysis/patterns';
import { maxPool } from '../src/analysis/pool';
import { AttentionStack, ValueNormStack, type Matrix } from '../src/analysis/tensor';
import { buildView, type ViewMatrix } from '../src/analysis/view';
import type { PairFilter, PanelState } from './state';

/** The block of the view the panel shows: view rows × view columns. */
export interface Block {
  rows: number[];
  cols: number[];
}

/** What the head view and the exports draw for one state. */
export interface Shown {
  sel: ModeSelection;
  view: ViewMatrix;
  block: Block;
  /** The block's weights, rows × cols. */
  weights: Float32Array;
  colors: ColorMapping;
}

export class ResultSession {
  readonly stack: AttentionStack;
  readonly norms: ValueNormStack | undefined;
  readonly computer: ModeComputer;
  readonly scores: HeadScores[];
  /** Where the analyzed part of the text ends when it was cut ("Analyze First N Tokens"), else null. */
  readonly truncatedAt: number | null;
  /** True for a sentence pair whose tokens carry segment ids (A = 0, B = 1). */
  readonly isPair: boolean;
  private readonly viewCache = new Map<string, ViewMatrix>();
  private shownKey = '';
  private shownValue: Shown | undefined;

  constructor(
    readonly id: number,
    readonly result: AttentionResult,
    readonly pairText: string | undefined,
    norms: ValueNormStack | undefined,
    readonly normsProblem: string | undefined,
  ) {
    this.stack = new AttentionStack(result.attentions);
    this.norms = norms;
    this.computer = new ModeComputer(this.stack, norms);
    this.scores = allHeadScores(this.stack, result.model.causal, result.tokens.map((t) => t.id));
    this.truncatedAt = analyzedUpTo(result.text, result.tokens);
    this.isPair = pairText !== undefined && result.tokens.some((t) => t.segment === 1);
  }

  get n(): number {
    return this.stack.n;
  }

  /** Texts the offsets refer to: with a pair, segment 1 counts from the second text, so merging goes by tokens alone. */
  private get mergeText(): string | undefined {
    return this.pairText === undefined ? this.result.text : undefined;
  }

  /** A mode's matrix as shown (special tokens, merging); cached per selection and options. */
  view(sel: ModeSelection, s: Pick<PanelState, 'special' | 'mergeWords'>): ViewMatrix {
    const key = `${sel.mode}.${sel.layer}.${sel.head}.${s.special}.${s.mergeWords}`;
    let view = this.viewCache.get(key);
    if (!view) {
      view = buildView(this.computer.compute(sel), this.result.tokens, { special: s.special, mergeWords: s.mergeWords }, this.mergeText);
      if (this.viewCache.size > 64) this.viewCache.clear();
      this.viewCache.set(key, view);
    }
    return view;
  }

  /** Segment (0 = text A, 1 = text B) of a view row. */
  segmentOf(view: ViewMatrix, index: number): number {
    return this.result.tokens[view.items[index].tokens[0]].segment;
  }

  /** The rows and columns a pair filter keeps. */
  block(view: ViewMatrix, filter: PairFilter): Block {
    const all = view.items.map((_, i) => i);
    if (!this.isPair || filter === 'all') return { rows: all, cols: all };
    const a = all.filter((i) => this.segmentOf(view, i) === 0);
    const b = all.filter((i) => this.segmentOf(view, i) === 1);
    return filter === 'ab' ? { rows: a, cols: b } : { rows: b, cols: a };
  }

  /** Everything the head view shows for a state (cached until a field that matters changes). */
  shown(sel: ModeSelection, s: PanelState): Shown {
    const key = `${sel.mode}.${sel.layer}.${sel.head}.${s.special}.${s.mergeWords}.${s.pairFilter}.${s.norm}.${s.range}`;
    if (this.shownValue && key === this.shownKey) return this.shownValue;
    const view = this.view(sel, s);
    const block = this.block(view, s.pairFilter);
    // The whole view needs no copy; a pair filter's block is gathered.
    const whole = block.rows.length === view.size && block.cols.length === view.size;
    const weights = whole ? view.data : new Float32Array(block.rows.length * block.cols.length);
    if (!whole) block.rows.forEach((r, i) => block.cols.forEach((c, j) => (weights[i * block.cols.length + j] = view.data[r * view.size + c])));
    const colors = mapColors({ rows: block.rows.length, cols: block.cols.length, data: weights }, s.norm, s.range);
    this.shownKey = key;
    this.shownValue = { sel, view, block, weights, colors };
    return this.shownValue;
  }

  /** A head's matrix for the model view: flavour, special tokens, merge, pooled; with its colour range. */
  thumbnail(layer: number, head: number, cells: number, s: PanelState): { matrix: Matrix; positions: Float64Array } {
    const base = s.mode === 'valueWeighted' && this.norms ? valueWeighted(this.stack, this.norms, layer, head) : this.stack.headMatrix(layer, head);
    const view = buildView(base, this.result.tokens, { special: s.special, mergeWords: s.mergeWords }, this.mergeText);
    const matrix = maxPool(view, cells);
    const positions = mapColors({ rows: matrix.size, cols: matrix.size, data: matrix.data }, s.norm, s.range).positions;
    return { matrix, positions };
  }

  /** Colour range of a matrix under the state's range mode (the thumbnails' legend). */
  rangeOf(data: ArrayLike<number>, s: PanelState) {
    return colorRangeFor(data, s.range);
  }
}
