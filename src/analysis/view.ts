/**
 * From a mode's n×n matrix to what the panel shows: special tokens shown or hidden, sub-word pieces
 * optionally merged into words, and readable labels for both axes.
 */
import { t } from '../l10n/runtime';
import type { TokenInfo } from '../protocol/types';
import type { ViewItem } from '../protocol/views';
import type { Matrix } from './tensor';
import { renormalizeRows } from './modes';

export type SpecialHandling = 'show' | 'hideRenormalize' | 'hide';

export const SPECIAL_HANDLINGS: readonly SpecialHandling[] = ['show', 'hideRenormalize', 'hide'];

export const SPECIAL_HANDLING_INFO: Record<SpecialHandling, { label: string; explanation: string }> = {
  show: { label: t('Show special tokens'), explanation: t('Special tokens are shown like any other token.') },
  hideRenormalize: {
    label: t('Hide, renormalise rows'),
    explanation: t('Special tokens are removed and each row is rescaled to sum to 1 over the remaining keys.'),
  },
  hide: {
    label: t('Hide, keep weights'),
    explanation: t('Special tokens are removed; rows keep their original weights and sum to less than 1.'),
  },
};

export function isSpecialHandling(value: unknown): value is SpecialHandling {
  return typeof value === 'string' && (SPECIAL_HANDLINGS as readonly string[]).includes(value);
}

/** One row/column of the shown matrix: a token, or a word made of consecutive tokens (the protocol's shape). */
export type AxisItem = ViewItem;

/** The matrix the panel shows, with its axes. */
export interface ViewMatrix extends Matrix {
  items: AxisItem[];
}

export interface ViewOptions {
  special: SpecialHandling;
  mergeWords: boolean;
}

const WHITESPACE_SYMBOLS: Record<string, string> = { ' ': '␣', '\n': '↵', '\r': '␍', '\t': '⇥', '\u00a0': '⍽' };

/**
 * A label that reads well on an axis: surrounding spaces trimmed, a token that is only whitespace
 * shown with visible symbols, control characters escaped, special tokens as the vocabulary spells them.
 */
export function tokenLabel(token: Pick<TokenInfo, 'raw' | 'display' | 'special'>): string {
  if (token.special) return token.raw;
  const trimmed = token.display.trim();
  const text = trimmed.length > 0 ? trimmed : token.display.replace(/[ \n\r\t\u00a0]/g, (c) => WHITESPACE_SYMBOLS[c]);
  if (text.length === 0) return token.raw.length > 0 ? token.raw : '∅';
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Positions (original token indices) that stay visible under a special-token handling. */
export function visibleTokenIndices(tokens: readonly TokenInfo[], special: SpecialHandling): number[] {
  const out: number[] = [];
  tokens.forEach((t, i) => {
    if (special === 'show' || !t.special) out.push(i);
  });
  return out;
}

/** The sub-matrix of the given rows and columns (same index list for both). */
export function selectSubmatrix(m: Matrix, indices: readonly number[]): Matrix {
  const k = indices.length;
  const data = new Float32Array(k * k);
  for (let a = 0; a < k; a++) {
    const row = indices[a] * m.size;
    for (let b = 0; b < k; b++) data[a * k + b] = m.data[row + indices[b]];
  }
  return { size: k, data };
}

/** Applies a special-token handling; returns the matrix over the visible tokens and their indices. */
export function applySpecialHandling(
  m: Matrix,
  tokens: readonly TokenInfo[],
  special: SpecialHandling,
): { matrix: Matrix; indices: number[] } {
  const indices = visibleTokenIndices(tokens, special);
  // A copy (the caller's matrix stays as it was); slice() copies memory, Float32Array.from iterates.
  if (special === 'show') return { matrix: { size: m.size, data: m.data.slice() }, indices };
  const matrix = selectSubmatrix(m, indices);
  if (special === 'hideRenormalize') renormalizeRows(matrix);
  return { matrix, indices };
}

const WORD_START_MARKERS = /^[Ġ▁]/u;
const CONTINUATION_MARKER = '##';
const WORD_CHAR = /[\p{L}\p{N}\p{M}_']/u;

/** True when the vocabulary marks continuations (WordPiece `##`) rather than word starts. */
function usesContinuationMarkers(tokens: readonly TokenInfo[]): boolean {
  return tokens.some((t) => !t.special && t.raw.startsWith(CONTINUATION_MARKER));
}

function charAt(text: string | undefined, offset: number): string {
  if (text === undefined || offset < 0 || offset >= text.length) return '';
  return text[offset];
}

/**
 * Whether token `cur` continues the word of token `prev` (both visible, consecutive in the view).
 * WordPiece marks continuations with `##`; byte-level BPE and SentencePiece mark word starts (`Ġ`,
 * `▁`) and otherwise continue a word only when the two pieces touch and the characters at the seam
 * are both word characters or both punctuation.
 */
function continuesWord(prev: TokenInfo, cur: TokenInfo, text: string | undefined, wordPiece: boolean): boolean {
  if (prev.special || cur.special || prev.segment !== cur.segment) return false;
  if (wordPiece) return cur.raw.startsWith(CONTINUATION_MARKER);
  if (WORD_START_MARKERS.test(cur.raw) || /^\s/u.test(cur.display)) return false;
  if (cur.start < 0 || prev.end < 0 || cur.start !== prev.end) return false;
  const before = charAt(text, prev.end - 1) || prev.display.slice(-1);
  const after = charAt(text, cur.start) || cur.display.slice(0, 1);
  if (!before || !after || /\s/u.test(before) || /\s/u.test(after)) return false;
  return WORD_CHAR.test(before) === WORD_CHAR.test(after);
}

/**
 * Groups the visible tokens into words. Returns groups of positions into `indices` (each group
 * consecutive), so they apply to a matrix already reduced to those tokens.
 */
export function wordGroups(tokens: readonly TokenInfo[], indices: readonly number[], text?: string): number[][] {
  const wordPiece = usesContinuationMarkers(tokens);
  const groups: number[][] = [];
  indices.forEach((tokenIndex, position) => {
    const prevIndex = position > 0 ? indices[position - 1] : -1;
    // A word never spans a hidden token: only tokens adjacent in the original sequence merge.
    const adjacent = prevIndex === tokenIndex - 1;
    if (position > 0 && adjacent && continuesWord(tokens[prevIndex], tokens[tokenIndex], text, wordPiece)) {
      groups[groups.length - 1].push(position);
    } else {
      groups.push([position]);
    }
  });
  return groups;
}

/**
 * Merges rows and columns by groups: a word's column is the sum over its key pieces (the attention
 * the word receives), its row the mean over its query pieces (so rows still sum to what they summed to).
 */
export function mergeGroups(m: Matrix, groups: readonly (readonly number[])[]): Matrix {
  const w = groups.length;
  const n = m.size;
  // Sum over key pieces first: n × w.
  const colMerged = new Float64Array(n * w);
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < w; b++) {
      let s = 0;
      for (const j of groups[b]) s += m.data[i * n + j];
      colMerged[i * w + b] = s;
    }
  }
  const data = new Float32Array(w * w);
  for (let a = 0; a < w; a++) {
    const rows = groups[a];
    for (let b = 0; b < w; b++) {
      let s = 0;
      for (const i of rows) s += colMerged[i * w + b];
      data[a * w + b] = s / rows.length;
    }
  }
  return { size: w, data };
}

function wordLabel(tokens: readonly TokenInfo[], members: readonly number[], text: string | undefined): string {
  if (members.length === 1) return tokenLabel(tokens[members[0]]);
  const first = tokens[members[0]];
  const last = tokens[members[members.length - 1]];
  if (text !== undefined && first.start >= 0 && last.end <= text.length && first.start < last.end) {
    const slice = text.slice(first.start, last.end).trim();
    if (slice.length > 0) return slice;
  }
  return members.map((i) => tokenLabel(tokens[i]).replace(/^##/, '')).join('');
}

/** The shown matrix: mode result → special handling → optional word merge, with axis labels. */
export function buildView(m: Matrix, tokens: readonly TokenInfo[], options: ViewOptions, text?: string): ViewMatrix {
  if (m.size !== tokens.length) throw new Error(`matrix is ${m.size}×${m.size} but there are ${tokens.length} tokens`);
  const { matrix, indices } = applySpecialHandling(m, tokens, options.special);
  const groups = options.mergeWords ? wordGroups(tokens, indices, text) : indices.map((_, p) => [p]);
  const merged = options.mergeWords ? mergeGroups(matrix, groups) : matrix;
  return { size: merged.size, data: merged.data, items: itemsOf(tokens, indices, groups, text) };
}

/** The axis items a view has under these options, without computing a matrix. */
export function viewItems(tokens: readonly TokenInfo[], options: ViewOptions, text?: string): AxisItem[] {
  const indices = visibleTokenIndices(tokens, options.special);
  return itemsOf(tokens, indices, options.mergeWords ? wordGroups(tokens, indices, text) : indices.map((_, p) => [p]), text);
}

function itemsOf(tokens: readonly TokenInfo[], indices: readonly number[], groups: readonly (readonly number[])[], text: string | undefined): AxisItem[] {
  return groups.map((group): AxisItem => {
    const members = group.map((p) => indices[p]);
    const first = tokens[members[0]];
    const last = tokens[members[members.length - 1]];
    return {
      label: wordLabel(tokens, members, text),
      tokens: members,
      start: first.start,
      end: last.end,
      special: members.every((i) => tokens[i].special),
      generated: members.every((i) => tokens[i].generated === true),
    };
  });
}

/**
 * The weights a focused query (one view row, possibly a merged word) gives each original token, for
 * painting the editor: special-token handling applied, hidden tokens 0, a word's row the mean of its
 * pieces' rows. Length n; for merged keys each piece keeps its own weight (the word's total is their sum).
 */
export function queryWeightsByToken(
  m: Matrix,
  tokens: readonly TokenInfo[],
  special: SpecialHandling,
  queryTokens: readonly number[],
): number[] {
  const n = m.size;
  const visible = new Uint8Array(n);
  for (const i of visibleTokenIndices(tokens, special)) visible[i] = 1;
  const out = new Array<number>(n).fill(0);
  for (const q of queryTokens) {
    let sum = 0;
    for (let j = 0; j < n; j++) if (visible[j]) sum += m.data[q * n + j];
    const scale = special === 'hideRenormalize' ? (sum > 0 ? 1 / sum : 0) : 1;
    for (let j = 0; j < n; j++) if (visible[j]) out[j] += (m.data[q * n + j] * scale) / queryTokens.length;
  }
  return out;
}

/** The view row (or column) that holds original token `token`, or null when it is hidden. */
export function rowOfToken(view: Pick<ViewMatrix, 'items'>, token: number): number | null {
  const row = view.items.findIndex((it) => it.tokens.includes(token));
  return row >= 0 ? row : null;
}
