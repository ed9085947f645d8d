/** What the panel remembers across hiding and reloads (getState/setState), validated on the way in. */
import { isColorNorm, isColorScaleName, isRangeMode, type ColorNorm, type ColorScaleName, type RangeMode } from '../src/analysis/colormap';
import { isAttentionMode, type AttentionMode } from '../src/analysis/modes';
import { isScoreKey, type ScoreKey } from '../src/analysis/patterns';
import { isSpecialHandling, type SpecialHandling } from '../src/analysis/view';

export type ViewTab = 'head' | 'lines' | 'model' | 'step' | 'compare';
/** Tabs in header order; 'compare' shows only while a comparison is loaded (Compare With…). */
export const VIEW_TABS: readonly ViewTab[] = ['head', 'lines', 'model', 'step', 'compare'];

/** Compare tab: A, B and B − A side by side, or the difference alone. */
export type CompareLayout = 'sideBySide' | 'delta';

export type ModelArrangement = 'grid' | 'ranked';

/** Which block of a sentence pair's matrix is shown: everything, text A's queries over text B's keys, or the reverse. */
export type PairFilter = 'all' | 'ab' | 'ba';
export const PAIR_FILTERS: readonly PairFilter[] = ['all', 'ab', 'ba'];

export interface PanelState {
  tab: ViewTab;
  mode: AttentionMode;
  layer: number;
  head: number;
  special: SpecialHandling;
  mergeWords: boolean;
  scale: ColorScaleName;
  range: RangeMode;
  /** Linear, per-row or log colours. */
  norm: ColorNorm;
  /** Sentence pairs: the block shown (ignored for single texts). */
  pairFilter: PairFilter;
  /** Line view: heads of the current layer drawn over each other (empty: the current head). */
  lineHeads: number[];
  /** Model view: one query token's row in every head (original token index), or null for whole matrices. */
  rowQuery: number | null;
  /** The toolbar's second row (special tokens, colours, merging) is open. */
  moreControls: boolean;
  /** Cell edge in CSS pixels, or null to fit the panel. */
  zoom: number | null;
  /** Focused query as an original token index (survives merging and unmerging). */
  focus: number | null;
  /** Query of the step-by-step view (original token index). */
  stepQuery: number | null;
  arrangement: ModelArrangement;
  sortKey: ScoreKey;
  sortAscending: boolean;
  scoreMin: number;
  scoreMax: number;
  /** Identifies the result that `focus`, `stepQuery` and the scroll positions refer to. */
  resultKey: string | null;
  /** Head view: the cell at the top-left of the grid (fractional cells; block coordinates), or null at the start. */
  headScroll: { row: number; col: number } | null;
  /** Model view: its scroll offsets in CSS pixels, or null at the start. */
  modelScroll: { x: number; y: number } | null;
  compareLayout: CompareLayout;
}

export const DEFAULT_STATE: PanelState = {
  tab: 'head',
  mode: 'head',
  layer: 0,
  head: 0,
  special: 'show',
  mergeWords: false,
  scale: 'viridis',
  range: 'max',
  norm: 'linear',
  pairFilter: 'all',
  lineHeads: [],
  rowQuery: null,
  moreControls: false,
  zoom: null,
  focus: null,
  stepQuery: null,
  arrangement: 'grid',
  sortKey: 'previousToken',
  sortAscending: false,
  scoreMin: 0,
  scoreMax: 1,
  resultKey: null,
  headScroll: null,
  modelScroll: null,
  compareLayout: 'sideBySide',
};

export const MIN_ZOOM = 2;
export const MAX_ZOOM = 64;

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1 << 20;
const isUnit = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v <= 1;
/** A scroll offset: finite, not negative, within what any view can be (cells or pixels). */
const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1 << 24;

/** `{ [a]: number, [b]: number }` with both offsets valid, else null. */
function offsets<A extends string, B extends string>(raw: unknown, a: A, b: B): Record<A | B, number> | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  return isOffset(r[a]) && isOffset(r[b]) ? ({ [a]: r[a], [b]: r[b] } as Record<A | B, number>) : null;
}

/** Takes whatever getState returned (possibly from an older version) and keeps only valid fields. */
export function sanitizeState(raw: unknown): PanelState {
  const s: PanelState = { ...DEFAULT_STATE };
  if (typeof raw !== 'object' || raw === null) return s;
  const r = raw as Record<string, unknown>;
  if (VIEW_TABS.includes(r.tab as ViewTab)) s.tab = r.tab as ViewTab;
  if (isAttentionMode(r.mode)) s.mode = r.mode;
  if (isIndex(r.layer)) s.layer = r.layer;
  if (isIndex(r.head)) s.head = r.head;
  if (isSpecialHandling(r.special)) s.special = r.special;
  if (typeof r.mergeWords === 'boolean') s.mergeWords = r.mergeWords;
  if (isColorScaleName(r.scale)) s.scale = r.scale;
  if (isRangeMode(r.range)) s.range = r.range;
  if (isColorNorm(r.norm)) s.norm = r.norm;
  if (PAIR_FILTERS.includes(r.pairFilter as PairFilter)) s.pairFilter = r.pairFilter as PairFilter;
  if (Array.isArray(r.lineHeads) && r.lineHeads.length <= 256 && r.lineHeads.every(isIndex)) s.lineHeads = [...new Set(r.lineHeads as number[])];
  if (r.rowQuery === null || isIndex(r.rowQuery)) s.rowQuery = r.rowQuery as number | null;
  if (typeof r.moreControls === 'boolean') s.moreControls = r.moreControls;
  if (r.zoom === null || (typeof r.zoom === 'number' && r.zoom >= MIN_ZOOM && r.zoom <= MAX_ZOOM)) s.zoom = r.zoom as number | null;
  if (r.focus === null || isIndex(r.focus)) s.focus = r.focus as number | null;
  if (r.stepQuery === null || isIndex(r.stepQuery)) s.stepQuery = r.stepQuery as number | null;
  if (r.arrangement === 'grid' || r.arrangement === 'ranked') s.arrangement = r.arrangement;
  if (isScoreKey(r.sortKey)) s.sortKey = r.sortKey;
  if (typeof r.sortAscending === 'boolean') s.sortAscending = r.sortAscending;
  if (isUnit(r.scoreMin)) s.scoreMin = r.scoreMin;
  if (isUnit(r.scoreMax)) s.scoreMax = r.scoreMax;
  if (typeof r.resultKey === 'string' || r.resultKey === null) s.resultKey = r.resultKey as string | null;
  s.headScroll = offsets(r.headScroll, 'row', 'col');
  s.modelScroll = offsets(r.modelScroll, 'x', 'y');
  if (r.compareLayout === 'sideBySide' || r.compareLayout === 'delta') s.compareLayout = r.compareLayout;
  return s;
}

/**
 * Keeps layer/head inside the model and drops what belongs to another result: token indices, the
 * zoom and the scroll positions (a new text opens fitted to the panel, at the top-left).
 */
export function fitStateToResult(s: PanelState, layers: number, heads: number, tokens: number, resultKey: string): PanelState {
  const sameResult = s.resultKey === resultKey;
  const token = (t: number | null) => (sameResult && t !== null && t < tokens ? t : null);
  return {
    ...s,
    layer: Math.min(s.layer, layers - 1),
    head: Math.min(s.head, heads - 1),
    focus: token(s.focus),
    stepQuery: token(s.stepQuery),
    rowQuery: token(s.rowQuery),
    lineHeads: s.lineHeads.filter((h) => h < heads),
    zoom: sameResult ? s.zoom : null,
    headScroll: sameResult ? s.headScroll : null,
    modelScroll: sameResult ? s.modelScroll : null,
    resultKey,
  };
}
