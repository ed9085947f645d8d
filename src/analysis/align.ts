/**
 * Token alignment for comparing two analyses: which token of A stands for which token of B. Identical
 * tokens are matched by a longest common subsequence over their keys (vocabulary id and spelling);
 * between two matched runs, an equal number of tokens on both sides is a substitution (position k of
 * A's run against position k of B's: "the cat sat" vs "the dog sat" pairs cat with dog), anything else
 * is an insertion (only in B) or a deletion (only in A) and has no partner.
 */
import { t } from '../l10n/runtime';

/** What the alignment needs of a token. */
export interface AlignToken {
  id: number;
  raw: string;
}

/** How a stretch of the two sequences relates. */
export type AlignOp = 'same' | 'substituted' | 'deleted' | 'inserted';

/** A run of one kind: tokens [aStart, aEnd) of A against [bStart, bEnd) of B. */
export interface AlignSegment {
  op: AlignOp;
  aStart: number;
  aEnd: number;
  bStart: number;
  bEnd: number;
}

/** One aligned position: token `a` of A and token `b` of B. */
export interface AlignedPair {
  a: number;
  b: number;
  /** 'same': identical tokens; 'substituted': different tokens at the same place of a changed run. */
  kind: 'same' | 'substituted';
}

export interface TokenAlignment {
  /** Aligned positions in order (both indices increase). */
  pairs: AlignedPair[];
  /** Runs covering both sequences from start to end, in order. */
  segments: AlignSegment[];
  /** For each token of A, its partner in B or -1 (deleted); likewise for B. */
  aToB: Int32Array;
  bToA: Int32Array;
  /** Counts per kind of token. */
  counts: { same: number; substituted: number; deleted: number; inserted: number };
}

/**
 * The dynamic programme keeps one direction byte per cell of the part between the common prefix
 * and suffix: above this many cells (64 MB) two texts are too different to align token by token.
 */
export const MAX_ALIGN_CELLS = 64 * 1024 * 1024;

export class AlignmentTooLargeError extends Error {
  constructor(readonly aLength: number, readonly bLength: number) {
    super(
      `The two texts differ in ${aLength} and ${bLength} tokens after their common start and end: too many to align token by token ` +
        `(at most ${MAX_ALIGN_CELLS.toLocaleString('en')} token pairs). Compare shorter or more similar texts.`,
    );
    this.name = 'AlignmentTooLargeError';
  }
}

const keyOf = (t: AlignToken) => `${t.id}\u0000${t.raw}`;

/** Aligns two token sequences (see the module comment). */
export function alignTokens(a: readonly AlignToken[], b: readonly AlignToken[]): TokenAlignment {
  const ka = a.map(keyOf);
  const kb = b.map(keyOf);
  const n = ka.length;
  const m = kb.length;
  // Common prefix and suffix first: texts that differ a little cost only their differing middle.
  let prefix = 0;
  while (prefix < n && prefix < m && ka[prefix] === kb[prefix]) prefix++;
  let suffix = 0;
  while (suffix < n - prefix && suffix < m - prefix && ka[n - 1 - suffix] === kb[m - 1 - suffix]) suffix++;
  const rows = n - prefix - suffix;
  const cols = m - prefix - suffix;
  const matches: [number, number][] = [];
  for (let i = 0; i < prefix; i++) matches.push([i, i]);
  if (rows > 0 && cols > 0) {
    if (rows * cols > MAX_ALIGN_CELLS) throw new AlignmentTooLargeError(rows, cols);
    for (const [i, j] of lcsMatches(ka, kb, prefix, rows, cols)) matches.push([i, j]);
  }
  for (let s = suffix; s > 0; s--) matches.push([n - s, m - s]);
  return fromMatches(n, m, matches);
}

/**
 * Matched index pairs of a longest common subsequence of ka[offset, offset+rows) and
 * kb[offset, offset+cols), by the classic dynamic programme (lengths in two rows, directions in bytes).
 * Ties prefer skipping A first, which keeps matches as early as possible in B.
 */
function lcsMatches(ka: readonly string[], kb: readonly string[], offset: number, rows: number, cols: number): [number, number][] {
  // Computed backwards so the walk from (0, 0) forwards yields pairs in order.
  const dir = new Uint8Array(rows * cols); // 0: match, 1: skip A (i+1), 2: skip B (j+1)
  let next = new Uint32Array(cols + 1);
  let cur = new Uint32Array(cols + 1);
  for (let i = rows - 1; i >= 0; i--) {
    cur[cols] = 0;
    const ai = ka[offset + i];
    for (let j = cols - 1; j >= 0; j--) {
      if (ai === kb[offset + j]) {
        cur[j] = next[j + 1] + 1;
        dir[i * cols + j] = 0;
      } else if (next[j] >= cur[j + 1]) {
        cur[j] = next[j];
        dir[i * cols + j] = 1;
      } else {
        cur[j] = cur[j + 1];
        dir[i * cols + j] = 2;
      }
    }
    [next, cur] = [cur, next];
  }
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < rows && j < cols) {
    const d = dir[i * cols + j];
    if (d === 0) {
      out.push([offset + i, offset + j]);
      i++;
      j++;
    } else if (d === 1) i++;
    else j++;
  }
  return out;
}

/** Segments, pairs and maps from the matched (identical) pairs. */
function fromMatches(n: number, m: number, matches: readonly [number, number][]): TokenAlignment {
  const segments: AlignSegment[] = [];
  const pairs: AlignedPair[] = [];
  const aToB = new Int32Array(n).fill(-1);
  const bToA = new Int32Array(m).fill(-1);
  const counts = { same: 0, substituted: 0, deleted: 0, inserted: 0 };
  const push = (op: AlignOp, aStart: number, aEnd: number, bStart: number, bEnd: number) => {
    if (aEnd === aStart && bEnd === bStart) return;
    const last = segments[segments.length - 1];
    if (last && last.op === op && last.aEnd === aStart && last.bEnd === bStart) {
      last.aEnd = aEnd;
      last.bEnd = bEnd;
    } else segments.push({ op, aStart, aEnd, bStart, bEnd });
  };
  const pair = (a: number, b: number, kind: AlignedPair['kind']) => {
    pairs.push({ a, b, kind });
    aToB[a] = b;
    bToA[b] = a;
    counts[kind]++;
  };
  /** The unmatched stretch [ai, aj) × [bi, bj) between two matches. */
  const gap = (ai: number, aj: number, bi: number, bj: number) => {
    const la = aj - ai;
    const lb = bj - bi;
    if (la > 0 && la === lb) {
      for (let k = 0; k < la; k++) pair(ai + k, bi + k, 'substituted');
      push('substituted', ai, aj, bi, bj);
      return;
    }
    push('deleted', ai, aj, bi, bi);
    push('inserted', aj, aj, bi, bj);
    counts.deleted += la;
    counts.inserted += lb;
  };
  let pa = 0;
  let pb = 0;
  for (const [i, j] of matches) {
    gap(pa, i, pb, j);
    pair(i, j, 'same');
    push('same', i, i + 1, j, j + 1);
    pa = i + 1;
    pb = j + 1;
  }
  gap(pa, n, pb, m);
  return { pairs, segments, aToB, bToA, counts };
}

/** One line for the panel and the exports: "9 tokens aligned (8 identical, 1 substituted), 2 only in B". */
export function describeAlignment(al: TokenAlignment): string {
  const { same, substituted, deleted, inserted } = al.counts;
  const subs = substituted ? t(', {0} substituted', substituted) : '';
  const parts = [al.pairs.length === 1 ? t('1 token aligned ({0} identical{1})', same, subs) : t('{0} tokens aligned ({1} identical{2})', al.pairs.length, same, subs)];
  if (deleted) parts.push(t('{0} only in A', deleted));
  if (inserted) parts.push(t('{0} only in B', inserted));
  return parts.join(', ');
}
