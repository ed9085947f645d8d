/**
 * Head scorers: one number per attention head, computed from that head's exact matrix while the
 * engine's pass runs (the matrices are not kept, so a score must be computed there or not at all).
 * The registry holds the pattern scores of ./patterns.ts; other scorers (induction, duplicate
 * token: issue 12) register the same way and appear in every `LayerSummaries.scores` after that.
 */
import { DETECTOR_SCORERS } from './heads';
import type { ScoreKey } from './patterns';

/** One head's matrix as a scorer sees it. */
export interface ScoredHead {
  /** `[queries, keys]` probabilities, rows sum to 1 (a view: copy what you keep). */
  readonly probs: Float32Array;
  readonly queries: number;
  readonly keys: number;
  /** Queries see only keys at or before their position. */
  readonly causal: boolean;
  /** Entropy in bits of each row `[queries]` (computed in the graph: a log per value is slow here). */
  readonly rowEntropyBits: Float32Array;
  /** Vocabulary ids of the query tokens (and of the key tokens for self-attention). */
  readonly queryIds: readonly number[];
  readonly keyIds: readonly number[];
}

export interface HeadScorer {
  /** The key in `LayerSummaries.scores` (e.g. `previousToken`). */
  readonly key: string;
  score(head: ScoredHead): number;
}

/** Mean over queries i ≥ 1 of A[i][i − offset] (offset 1: the previous token), NaN with one query. */
function diagonalMean(head: ScoredHead, column: (i: number) => number, from: number): number {
  const { probs, queries, keys } = head;
  let sum = 0;
  let count = 0;
  for (let i = from; i < queries; i++) {
    const j = column(i);
    if (j < 0 || j >= keys) continue;
    sum += probs[i * keys + j];
    count++;
  }
  return count > 0 ? sum / count : NaN;
}

/** The pattern scores of ./patterns.ts (headScores, with entropyBits), the same formulas, as scorers. */
export const PATTERN_SCORERS: readonly HeadScorer[] = [
  { key: 'previousToken' satisfies ScoreKey, score: (h) => (h.queries > 1 ? diagonalMean(h, (i) => i - 1, 1) : NaN) },
  { key: 'firstToken' satisfies ScoreKey, score: (h) => (h.queries > 1 ? diagonalMean(h, () => 0, 1) : NaN) },
  { key: 'self' satisfies ScoreKey, score: (h) => (h.queries > 0 ? diagonalMean(h, (i) => i, 0) : NaN) },
  {
    key: 'entropy' satisfies ScoreKey,
    score(h) {
      // Each row's entropy relative to the largest it can have (uniform over the keys it may see).
      let sum = 0;
      let rows = 0;
      for (let i = 0; i < h.queries; i++) {
        const visible = h.causal ? Math.min(i + 1, h.keys) : h.keys;
        if (visible <= 1) continue;
        sum += h.rowEntropyBits[i] / Math.log2(visible);
        rows++;
      }
      return rows > 0 ? Math.min(1, sum / rows) : 0;
    },
  },
  {
    key: 'entropyBits',
    score(h) {
      let sum = 0;
      for (let i = 0; i < h.queries; i++) sum += h.rowEntropyBits[i];
      return h.queries > 0 ? sum / h.queries : NaN;
    },
  },
];

/** The scorers every kept analysis runs, in order. */
export class HeadScorerRegistry {
  private readonly scorers = new Map<string, HeadScorer>();

  constructor(initial: readonly HeadScorer[] = []) {
    initial.forEach((s) => this.register(s));
  }

  /** Adds a scorer; a key registered twice is a bug. */
  register(scorer: HeadScorer): void {
    if (this.scorers.has(scorer.key)) throw new Error(`head scorer ${scorer.key} is registered twice`);
    this.scorers.set(scorer.key, scorer);
  }

  list(): HeadScorer[] {
    return [...this.scorers.values()];
  }
}

/** The default registry: the pattern scores, then TransformerLens' induction and duplicate-token scores (./heads.ts). */
export function defaultHeadScorers(): HeadScorerRegistry {
  return new HeadScorerRegistry([...PATTERN_SCORERS, ...DETECTOR_SCORERS]);
}

/** Row entropies in bits `[rows]` of a `[rows, keys]` head (the scorers' `rowEntropyBits`, for matrices already in hand). */
export function rowEntropies(probs: Float32Array, rows: number, keys: number): Float32Array {
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    let h = 0;
    for (let j = 0; j < keys; j++) {
      const p = probs[i * keys + j];
      if (p > 0) h -= p * Math.log2(p);
    }
    out[i] = h;
  }
  return out;
}
