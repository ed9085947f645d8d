/**
 * One comparison on screen: the panel's analysis (A) against a second analysis (B), both with their
 * tensors as Compare With… sends them (the host fetched them from the worker once), their token alignment, and what the compare tab draws for a view state —
 * A's and B's matrices on one colour range, and B − A over the aligned positions on the diverging
 * scale. The arithmetic is in src/analysis/compare.ts (the worker can serve the same views later).
 */
import { alignTokens, describeAlignment, type AlignedPair, type TokenAlignment } from '../src/analysis/align';
import { mapColors, mapDiverging, type ColorMapping } from '../src/analysis/colormap';
import {
  compareView,
  headDistances,
  pairLabels,
  pairsWithoutSpecial,
  type AlignedDifference,
  type CompareKind,
  type CompareSource,
  type HeadDistance,
} from '../src/analysis/compare';
import { ModeComputer, type ModeSelection } from '../src/analysis/modes';
import { AttentionStack, ValueNormStack, type Matrix } from '../src/analysis/tensor';
import { buildView, tokenLabel, type SpecialHandling, type ViewMatrix } from '../src/analysis/view';
import type { AttentionResult, TokenInfo } from '../src/protocol/types';
import type { PanelState } from './state';

/** Label marks of tokens without a partner: only in A (−), only in B (+). */
export const ONLY_IN_A = '−';
export const ONLY_IN_B = '+';

/** What the compare tab draws for one state. */
export interface CompareShown {
  sel: ModeSelection;
  /** Aligned positions used (special tokens left out when hidden). */
  pairs: AlignedPair[];
  /** A and B over their own tokens (unaligned tokens marked in the labels), one colour range. */
  viewA: ViewMatrix;
  viewB: ViewMatrix;
  colorsA: ColorMapping;
  colorsB: ColorMapping;
  /** B − A over the aligned positions, with its axis (items carry A's token indices). */
  diff: AlignedDifference;
  viewDelta: ViewMatrix;
  colorsDelta: ColorMapping;
  /** The full matrices of the mode, for hover lookups by token index. */
  matrixA: Matrix;
  matrixB: Matrix;
}

/** Compare hides special tokens without renormalising: Δ is of the model's own weights. */
export function compareSpecial(special: SpecialHandling): SpecialHandling {
  return special === 'show' ? 'show' : 'hide';
}

/** One side's tensors and what computes its modes. */
export interface CompareSide {
  result: AttentionResult;
  stack: AttentionStack;
  computer: ModeComputer;
}

export class CompareSession {
  readonly a: CompareSide;
  readonly stackB: AttentionStack;
  readonly computerB: ModeComputer;
  readonly alignment: TokenAlignment;
  private distanceCache: { key: string; value: HeadDistance[] } | undefined;
  private shownKey = '';
  private shownValue: CompareShown | undefined;

  constructor(
    resultA: AttentionResult,
    readonly b: AttentionResult,
    readonly kind: CompareKind,
    normsA: ValueNormStack | undefined,
    normsB: ValueNormStack | undefined,
  ) {
    const stackA = new AttentionStack(resultA.attentions);
    this.a = { result: resultA, stack: stackA, computer: new ModeComputer(stackA, normsA) };
    this.stackB = new AttentionStack(b.attentions);
    this.computerB = new ModeComputer(this.stackB, normsB);
    this.alignment = alignTokens(resultA.tokens, b.tokens);
  }

  get sources(): { a: CompareSource; b: CompareSource } {
    return { a: { model: this.a.result.model.name, text: this.a.result.text }, b: { model: this.b.model.name, text: this.b.text } };
  }

  get summary(): string {
    return describeAlignment(this.alignment);
  }

  get causal(): boolean {
    return this.a.result.model.causal;
  }

  pairs(special: SpecialHandling): AlignedPair[] {
    return special === 'show' ? this.alignment.pairs : pairsWithoutSpecial(this.alignment.pairs, this.a.result.tokens, this.b.tokens);
  }

  /** Mean and max |Δ| of every head (single heads, whatever the mode), over the aligned pairs. */
  distances(special: SpecialHandling): HeadDistance[] {
    const key = compareSpecial(special);
    if (this.distanceCache?.key === key) return this.distanceCache.value;
    const value = headDistances(this.a.stack, this.stackB, this.pairs(key), this.causal);
    this.distanceCache = { key, value };
    return value;
  }

  shown(sel: ModeSelection, s: Pick<PanelState, 'special' | 'norm' | 'range'>): CompareShown {
    const special = compareSpecial(s.special);
    const key = `${sel.mode}.${sel.layer}.${sel.head}.${special}.${s.norm}.${s.range}`;
    if (this.shownValue && key === this.shownKey) return this.shownValue;
    const matrixA = this.a.computer.compute(sel);
    const matrixB = this.computerB.compute(sel);
    const view = compareView({ tokens: this.a.result.tokens, matrix: matrixA }, { tokens: this.b.tokens, matrix: matrixB }, this.alignment, special !== 'show');
    const { pairs } = view;
    const diff: AlignedDifference = view;
    const viewA = this.markedView(matrixA, this.a.result.tokens, this.a.result.text, special, this.alignment.aToB, ONLY_IN_A);
    const viewB = this.markedView(matrixB, this.b.tokens, this.b.text, special, this.alignment.bToA, ONLY_IN_B);
    const { colorsA, colorsB } = sharedColors(viewA, viewB, s);
    const labels = pairLabels(pairs, (i) => tokenLabel(this.a.result.tokens[i]), (j) => tokenLabel(this.b.tokens[j]));
    const viewDelta: ViewMatrix = {
      size: diff.size,
      data: diff.delta,
      items: pairs.map((p, i) => {
        const t = this.a.result.tokens[p.a];
        return { label: labels[i], tokens: [p.a], start: t.start, end: t.end, special: t.special };
      }),
    };
    const colorsDelta = mapDiverging({ rows: diff.size, cols: diff.size, data: diff.delta }, view.limit);
    this.shownKey = key;
    this.shownValue = { sel, pairs, viewA, viewB, colorsA, colorsB, diff, viewDelta, colorsDelta, matrixA, matrixB };
    return this.shownValue;
  }

  /** One side's view (special tokens as asked, no merging), tokens without a partner marked. */
  private markedView(m: Matrix, tokens: readonly TokenInfo[], text: string, special: SpecialHandling, partner: Int32Array, mark: string): ViewMatrix {
    const view = buildView(m, tokens, { special, mergeWords: false }, text);
    return { ...view, items: view.items.map((it) => (partner[it.tokens[0]] < 0 ? { ...it, label: `${mark}${it.label}` } : it)) };
  }

  /** A's token index → B's, or -1. */
  partnerOfA(token: number): number {
    return this.alignment.aToB[token] ?? -1;
  }

  partnerOfB(token: number): number {
    return this.alignment.bToA[token] ?? -1;
  }
}

/**
 * A's and B's colours on one scale, so equal colours mean equal weights on both sides: linear and
 * log map both sides' cells in one pass (one range); per-row colours are per row anyway.
 */
function sharedColors(viewA: ViewMatrix, viewB: ViewMatrix, s: Pick<PanelState, 'norm' | 'range'>): { colorsA: ColorMapping; colorsB: ColorMapping } {
  if (s.norm === 'row') {
    return {
      colorsA: mapColors({ rows: viewA.size, cols: viewA.size, data: viewA.data }, 'row', s.range),
      colorsB: mapColors({ rows: viewB.size, cols: viewB.size, data: viewB.data }, 'row', s.range),
    };
  }
  const na = viewA.data.length;
  const both = new Float32Array(na + viewB.data.length);
  both.set(viewA.data);
  both.set(viewB.data, na);
  const all = mapColors({ rows: 1, cols: both.length, data: both }, s.norm, s.range);
  return { colorsA: { ...all, positions: all.positions.subarray(0, na) }, colorsB: { ...all, positions: all.positions.subarray(na) } };
}
