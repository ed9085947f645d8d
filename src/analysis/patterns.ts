/**
 * Per-head pattern scores, so that hundreds of heads can be filtered and sorted: how much a head
 * attends to the previous token, to the first token (an "attention sink"), to itself, how
 * spread out its rows are, and (from the token ids, ./heads.ts) TransformerLens' induction and
 * duplicate-token scores. Computed on the raw head matrices (special tokens included).
 */
import { t } from '../l10n/runtime';
import { DETECTOR_SCORERS } from './heads';
import type { AttentionStack } from './tensor';

export interface HeadScores {
  layer: number;
  head: number;
  /** Mean over queries i ≥ 1 of A[i][i-1]. */
  previousToken: number;
  /** Mean over queries i ≥ 1 of A[i][0] (row 0 is left out: there the first token is itself). */
  firstToken: number;
  /** Mean over all queries of A[i][i]. */
  self: number;
  /**
   * Mean row entropy normalised by the largest possible entropy of that row, in [0, 1]: 0 is one
   * key only, 1 uniform over every key the query may see (all n, or i + 1 for causal models).
   */
  entropy: number;
  /** Mean row entropy in bits. */
  entropyBits: number;
  /** TransformerLens' induction score (./heads.ts); NaN when the text repeats no token. */
  induction: number;
  /** TransformerLens' duplicate-token score (./heads.ts); NaN when the text repeats no token. */
  duplicateToken: number;
}

export type ScoreKey = 'previousToken' | 'firstToken' | 'self' | 'entropy' | 'induction' | 'duplicateToken';

export const SCORE_KEYS: readonly ScoreKey[] = ['previousToken', 'firstToken', 'self', 'entropy', 'induction', 'duplicateToken'];

export const SCORE_INFO: Record<ScoreKey, { label: string; short: string; explanation: string }> = {
  previousToken: { label: t('Previous token'), short: t('prev'), explanation: t('mean weight on the token just before the query') },
  firstToken: { label: t('First token (sink)'), short: t('first'), explanation: t('mean weight on the first token of the input') },
  self: { label: t('Self'), short: t('self'), explanation: t('mean weight a token gives itself') },
  entropy: {
    label: t('Entropy (broad ↔ focused)'),
    short: t('ent'),
    explanation: t('mean row entropy relative to its maximum: 0 focused on one key, 1 spread evenly'),
  },
  induction: {
    label: t('Induction'),
    short: t('ind'),
    explanation: t('share of attention on the token that followed an earlier occurrence of the query’s token (TransformerLens’ head detector); needs a repeated token'),
  },
  duplicateToken: {
    label: t('Duplicate token'),
    short: t('dup'),
    explanation: t('share of attention on earlier occurrences of the query’s own token (TransformerLens’ head detector); needs a repeated token'),
  },
};

export function isScoreKey(value: unknown): value is ScoreKey {
  return typeof value === 'string' && (SCORE_KEYS as readonly string[]).includes(value);
}

/** Scores of the text-independent patterns of one n×n head. With a single token the previous/first scores are NaN (undefined). */
export function headScores(a: ArrayLike<number>, n: number, causal: boolean): Omit<HeadScores, 'layer' | 'head' | 'induction' | 'duplicateToken'> {
  let previous = 0;
  let first = 0;
  let self = 0;
  let entropySum = 0;
  let entropyBitsSum = 0;
  let entropyRows = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    self += a[row + i];
    if (i > 0) {
      previous += a[row + i - 1];
      first += a[row];
    }
    let h = 0;
    for (let j = 0; j < n; j++) {
      const p = a[row + j];
      if (p > 0) h -= p * Math.log2(p);
    }
    entropyBitsSum += h;
    const visibleKeys = causal ? i + 1 : n;
    if (visibleKeys > 1) {
      entropySum += h / Math.log2(visibleKeys);
      entropyRows++;
    }
  }
  return {
    previousToken: n > 1 ? previous / (n - 1) : NaN,
    firstToken: n > 1 ? first / (n - 1) : NaN,
    self: n > 0 ? self / n : NaN,
    entropy: entropyRows > 0 ? Math.min(1, entropySum / entropyRows) : 0,
    entropyBits: n > 0 ? entropyBitsSum / n : NaN,
  };
}

/**
 * Scores of every head, layer-major. `ids` (the token ids, one per row) give the induction and
 * duplicate-token scores; without them those are NaN.
 */
export function allHeadScores(stack: AttentionStack, causal: boolean, ids?: ArrayLike<number>): HeadScores[] {
  const tokenIds = ids && ids.length === stack.n ? Array.from(ids) : undefined;
  const out: HeadScores[] = [];
  for (let layer = 0; layer < stack.layers; layer++) {
    for (let head = 0; head < stack.heads; head++) {
      const a = stack.head(layer, head);
      const scored = tokenIds && { probs: a, queries: stack.n, keys: stack.n, queryIds: tokenIds, keyIds: tokenIds };
      const detected = scored ? Object.fromEntries(DETECTOR_SCORERS.map((d) => [d.key, d.score(scored)])) : {};
      out.push({ layer, head, ...headScores(a, stack.n, causal), induction: NaN, duplicateToken: NaN, ...detected });
    }
  }
  return out;
}

/**
 * Heads whose score lies in [min, max], sorted by that score (descending unless `ascending`); ties
 * keep layer/head order so the ranking is stable.
 */
export function rankHeads(
  scores: readonly HeadScores[],
  key: ScoreKey,
  options: { min?: number; max?: number; ascending?: boolean } = {},
): HeadScores[] {
  const min = options.min ?? -Infinity;
  const max = options.max ?? Infinity;
  const direction = options.ascending ? 1 : -1;
  return scores
    .filter((s) => Number.isFinite(s[key]) && s[key] >= min && s[key] <= max)
    .map((s, order) => ({ s, order }))
    .sort((x, y) => (x.s[key] - y.s[key]) * direction || x.order - y.order)
    .map(({ s }) => s);
}
