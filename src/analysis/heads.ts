/**
 * Head-type detectors that need the token ids: duplicate-token and induction scores, as
 * TransformerLens' head detector defines them (transformer_lens/head_detector.py, `detect_head` with
 * its defaults `error_measure="mul"`, `exclude_bos=False`, `exclude_current_token=False`):
 *
 * - duplicate-token detection pattern P[i][j] = 1 where ids[j] = ids[i] and j < i
 *   (`get_duplicate_token_head_detection_pattern`: equal ids, diagonal cleared, lower triangle);
 * - induction detection pattern P[i][j] = 1 where ids[j-1] = ids[i], j ≥ 1 and j ≤ i: the duplicate
 *   pattern shifted one column to the right, first column cleared, lower triangle
 *   (`get_induction_head_detection_pattern`) — the query looks at the token that FOLLOWED an earlier
 *   occurrence of itself;
 * - score = Σ A⊙P / Σ A (`compute_head_attention_similarity_score`, "mul"): the share of the head's
 *   attention that falls on those query–key pairs.
 *
 * One deviation, for the panel: where the text repeats no token the pattern is empty and
 * TransformerLens would report 0 for every head; we report NaN ("no evidence", shown as n/a and left
 * out of rankings) so a text without repeats does not look like proof that no head is an induction head.
 *
 * Each scorer is a pure function of one head's [n, n] matrix and the token ids, so it can run in
 * the engine pass (a registry of head scorers) or in the panel alike.
 */

/** Flat indices i·n + j of a detection pattern's ones. */
export type DetectionPattern = Int32Array;

/** Positions of each id, in order (shared by both patterns). */
function occurrences(ids: ArrayLike<number>): Map<number, number[]> {
  const at = new Map<number, number[]>();
  for (let i = 0; i < ids.length; i++) {
    const list = at.get(ids[i]);
    if (list) list.push(i);
    else at.set(ids[i], [i]);
  }
  return at;
}

/** Duplicate-token pattern: (i, j) with j < i and ids[j] = ids[i]. */
export function duplicateTokenPattern(ids: ArrayLike<number>): DetectionPattern {
  const n = ids.length;
  const out: number[] = [];
  for (const positions of occurrences(ids).values()) {
    for (let a = 1; a < positions.length; a++) for (let b = 0; b < a; b++) out.push(positions[a] * n + positions[b]);
  }
  return Int32Array.from(out.sort((x, y) => x - y));
}

/** Induction pattern: (i, j) with 1 ≤ j ≤ i and ids[j-1] = ids[i], j-1 < i. */
export function inductionPattern(ids: ArrayLike<number>): DetectionPattern {
  const n = ids.length;
  const out: number[] = [];
  for (const positions of occurrences(ids).values()) {
    // Each earlier occurrence p of the query's token points at p + 1, which is ≤ i since p < i.
    for (let a = 1; a < positions.length; a++) for (let b = 0; b < a; b++) out.push(positions[a] * n + positions[b] + 1);
  }
  return Int32Array.from(out.sort((x, y) => x - y));
}

/** Σ A⊙P / Σ A over one n×n head; NaN when the pattern is empty or the head sums to 0. */
export function patternScore(a: ArrayLike<number>, n: number, pattern: DetectionPattern): number {
  if (pattern.length === 0) return NaN;
  let total = 0;
  for (let k = 0; k < n * n; k++) total += a[k];
  if (!(total > 0)) return NaN;
  let hit = 0;
  for (let k = 0; k < pattern.length; k++) hit += a[pattern[k]];
  return hit / total;
}

/** TransformerLens' duplicate-token head score of one head (see the module comment). */
export function duplicateTokenScore(a: ArrayLike<number>, n: number, ids: ArrayLike<number>): number {
  return patternScore(a, n, duplicateTokenPattern(ids));
}

/** TransformerLens' induction head score of one head (see the module comment). */
export function inductionScore(a: ArrayLike<number>, n: number, ids: ArrayLike<number>): number {
  return patternScore(a, n, inductionPattern(ids));
}

/**
 * One head as the engine's head-scorer registry hands it over (src/analysis/scorers.ts on the
 * kept-analysis branch: `ScoredHead`), reduced to what these scorers read.
 */
export interface DetectedHead {
  readonly probs: ArrayLike<number>;
  readonly queries: number;
  readonly keys: number;
  readonly queryIds: readonly number[];
  readonly keyIds: readonly number[];
}

/** A head scorer in the registry's shape: a key and a pure function of one head. */
export interface DetectorScorer {
  readonly key: 'induction' | 'duplicateToken';
  score(head: DetectedHead): number;
}

/**
 * A text's detection pattern, built once per ids array (the registry passes the same array for
 * every head of a layer) rather than once per head.
 */
function cachedPattern(build: (ids: readonly number[]) => DetectionPattern): (ids: readonly number[]) => DetectionPattern {
  const cache = new WeakMap<readonly number[], DetectionPattern>();
  return (ids) => {
    let p = cache.get(ids);
    if (!p) {
      p = build(ids);
      cache.set(ids, p);
    }
    return p;
  };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

/** Self-attention only: the patterns compare a query's token with the key tokens of the same sequence. */
function detector(key: DetectorScorer['key'], build: (ids: readonly number[]) => DetectionPattern): DetectorScorer {
  const pattern = cachedPattern(build);
  return {
    key,
    score: (h) => (h.queries === h.keys && h.queryIds.length === h.queries && sameIds(h.queryIds, h.keyIds) ? patternScore(h.probs, h.queries, pattern(h.queryIds)) : NaN),
  };
}

export const DETECTOR_SCORERS: readonly DetectorScorer[] = [detector('induction', inductionPattern), detector('duplicateToken', duplicateTokenPattern)];

/**
 * The largest induction score any head can reach on `prefix` special tokens + r + r (`length`
 * distinct random tokens twice): only the second copy's queries have an earlier occurrence, and
 * every row sums to 1, so at most length / n.
 */
export function probeInductionCeiling(prefix: number, length: number, suffix = 0): number {
  return length / (prefix + 2 * length + suffix);
}
