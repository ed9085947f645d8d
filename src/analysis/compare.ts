/**
 * Comparing two analyses: the same text under two models with one tokenizer, or two texts under one
 * model. Differences are taken over aligned token positions only (./align.ts): Δ[i][j] = B − A of the
 * attention aligned query i gives aligned key j. Environment-free, so the worker can serve these
 * views by analysis id once analyses are kept there; today the panel computes them from both results.
 */
import type { ModelSummary, TokenInfo } from '../protocol/types';
import type { AlignedPair, TokenAlignment } from './align';
import type { ModeSelection } from './modes';
import type { Matrix } from './tensor';

/**
 * What comparing needs of one analysis: its shape and a head's matrix (an AttentionStack of whole
 * tensors today; a kept analysis in the worker, which recomputes a layer on demand, later).
 */
export interface HeadSource {
  readonly layers: number;
  readonly heads: number;
  headMatrix(layer: number, head: number): Matrix;
}

/** What the user compares against the current analysis. */
export type CompareKind = 'model' | 'text';

/** The two aligned sub-matrices and their difference, k × k for k aligned pairs. */
export interface AlignedDifference {
  size: number;
  a: Float32Array;
  b: Float32Array;
  /** b − a. */
  delta: Float32Array;
}

/** A's and B's weights over the aligned pairs, and B − A. `a` is nA × nA, `b` nB × nB. */
export function alignedDifference(a: Matrix, b: Matrix, pairs: readonly AlignedPair[]): AlignedDifference {
  const k = pairs.length;
  const outA = new Float32Array(k * k);
  const outB = new Float32Array(k * k);
  const delta = new Float32Array(k * k);
  for (let i = 0; i < k; i++) {
    const rowA = pairs[i].a * a.size;
    const rowB = pairs[i].b * b.size;
    for (let j = 0; j < k; j++) {
      const va = a.data[rowA + pairs[j].a];
      const vb = b.data[rowB + pairs[j].b];
      outA[i * k + j] = va;
      outB[i * k + j] = vb;
      delta[i * k + j] = vb - va;
    }
  }
  return { size: k, a: outA, b: outB, delta };
}

/** How far one head moved between A and B over the aligned pairs. */
export interface HeadDistance {
  layer: number;
  head: number;
  /** Mean |Δ| over the aligned query/key pairs the model lets attend (j ≤ i for causal models). */
  meanAbs: number;
  /** Largest |Δ| among them. */
  maxAbs: number;
}

/**
 * Mean and max |B − A| over aligned pairs (i, j). For causal models the pairs with key after query
 * are left out: both sides are 0 there by the mask, and counting them would dilute the mean by about
 * half. (Aligned indices increase on both sides, so j ≤ i in the alignment is j ≤ i in A and in B.)
 */
export function differenceStats(a: Matrix, b: Matrix, pairs: readonly AlignedPair[], causal: boolean): { meanAbs: number; maxAbs: number; count: number } {
  const k = pairs.length;
  let sum = 0;
  let max = 0;
  let count = 0;
  for (let i = 0; i < k; i++) {
    const rowA = pairs[i].a * a.size;
    const rowB = pairs[i].b * b.size;
    const last = causal ? i : k - 1;
    for (let j = 0; j <= last; j++) {
      const d = Math.abs(b.data[rowB + pairs[j].b] - a.data[rowA + pairs[j].a]);
      sum += d;
      if (d > max) max = d;
      count++;
    }
  }
  return { meanAbs: count > 0 ? sum / count : 0, maxAbs: max, count };
}

/** The distance of every head, layer-major (the stacks must have the same layers × heads). */
export function headDistances(a: HeadSource, b: HeadSource, pairs: readonly AlignedPair[], causal: boolean): HeadDistance[] {
  if (a.layers !== b.layers || a.heads !== b.heads) throw new Error(`cannot compare a ${a.layers}×${a.heads} stack with a ${b.layers}×${b.heads} one`);
  const out: HeadDistance[] = [];
  for (let layer = 0; layer < a.layers; layer++) {
    for (let head = 0; head < a.heads; head++) {
      const { meanAbs, maxAbs } = differenceStats(a.headMatrix(layer, head), b.headMatrix(layer, head), pairs, causal);
      out.push({ layer, head, meanAbs, maxAbs });
    }
  }
  return out;
}

/** A compare view request: the selection of the toolbar and whether special tokens count. */
export interface CompareViewRequest {
  sel: ModeSelection;
  /** Leave special tokens out of the aligned pairs (no renormalisation). */
  withoutSpecial: boolean;
}

/** The difference view of two analyses for one request: what a worker would send for two analysis ids. */
export interface CompareView extends AlignedDifference {
  pairs: AlignedPair[];
  /** The ± end of the diverging scale: the largest |Δ| shown (1 when all are 0). */
  limit: number;
}

/**
 * B − A for a selection, from each side's matrix of that selection (any mode: a head, a layer's
 * mean, rollout…) and the alignment of their tokens.
 */
export function compareView(
  a: { tokens: readonly Pick<TokenInfo, 'special'>[]; matrix: Matrix },
  b: { tokens: readonly Pick<TokenInfo, 'special'>[]; matrix: Matrix },
  alignment: Pick<TokenAlignment, 'pairs'>,
  withoutSpecial: boolean,
): CompareView {
  const pairs = withoutSpecial ? pairsWithoutSpecial(alignment.pairs, a.tokens, b.tokens) : alignment.pairs;
  const diff = alignedDifference(a.matrix, b.matrix, pairs);
  let limit = 0;
  for (let i = 0; i < diff.delta.length; i++) limit = Math.max(limit, Math.abs(diff.delta[i]));
  return { ...diff, pairs, limit: limit > 0 ? limit : 1 };
}

/** Heads ordered by mean |Δ|, largest first (ties: earlier layer, then head). */
export function rankByDistance(distances: readonly HeadDistance[]): HeadDistance[] {
  return [...distances].sort((x, y) => y.meanAbs - x.meanAbs || x.layer - y.layer || x.head - y.head);
}

/** Aligned pairs without special tokens on either side (for "hide special tokens"). */
export function pairsWithoutSpecial(pairs: readonly AlignedPair[], a: readonly Pick<TokenInfo, 'special'>[], b: readonly Pick<TokenInfo, 'special'>[]): AlignedPair[] {
  return pairs.filter((p) => !a[p.a].special && !b[p.b].special);
}

/**
 * Why two analyses cannot be compared head by head, or null. Both must be single-stack models of
 * the same layers × heads (head L2H3 of one is then set against L2H3 of the other).
 */
export function compareProblem(a: ModelSummary, b: ModelSummary): string | null {
  if (a.decoder || b.decoder) {
    const which = a.decoder ? a.name : b.name;
    return `${which} is an encoder-decoder: Compare With… works on single-stack models (decoder-only or encoder-only) for now, where one text gives one attention block per head.`;
  }
  if (a.numLayers !== b.numLayers || a.numHeads !== b.numHeads) {
    return `${a.name} has ${a.numLayers} layers × ${a.numHeads} heads and ${b.name} has ${b.numLayers} × ${b.numHeads}: Compare sets each head against the same head of the other model, so both need the same shape (a fine-tuned model against its base model, for example).`;
  }
  if (a.causal !== b.causal) return `${a.name} is ${a.causal ? 'causal' : 'bidirectional'} and ${b.name} is not: their attentions do not compare head by head.`;
  return null;
}

/**
 * Same text, two models: their tokenizers must agree on it (same ids, same pieces), or the
 * positions would not stand for the same text. Returns why not, or null.
 */
export function tokenizerMismatch(a: { name: string; tokens: readonly TokenInfo[] }, b: { name: string; tokens: readonly TokenInfo[] }): string | null {
  const n = Math.min(a.tokens.length, b.tokens.length);
  let first = -1;
  for (let i = 0; i < n && first < 0; i++) if (a.tokens[i].id !== b.tokens[i].id || a.tokens[i].raw !== b.tokens[i].raw) first = i;
  if (first < 0 && a.tokens.length === b.tokens.length) return null;
  const at = first < 0 ? n : first;
  const show = (t: TokenInfo | undefined) => (t ? `“${t.raw}” (id ${t.id})` : 'nothing');
  return (
    `${a.name} and ${b.name} tokenize this text differently (${a.tokens.length} and ${b.tokens.length} tokens; ` +
    `token ${at} is ${show(a.tokens[at])} and ${show(b.tokens[at])}): Compare With… another model needs the same tokenizer. ` +
    'Pick a model of the same family and vocabulary (a fine-tuned variant, another size with the same tokenizer).'
  );
}

/**
 * Largest attention the panel is sent for one comparison: A's and B's whole float32 tensors
 * together (the host asks the engine for both once and the webview computes every view from them).
 */
export const COMPARE_MAX_BYTES = 256 * 1024 * 1024;

/** What the size of one side's attention depends on. */
export interface CompareSize {
  layers: number;
  heads: number;
  tokens: number;
}

/** Bytes of one side's float32 `[layers, heads, tokens, tokens]` attention. */
export function compareBytes(s: CompareSize): number {
  return 4 * s.layers * s.heads * s.tokens * s.tokens;
}

/**
 * Why A's and B's tensors are too big to compare in the panel, or null: names the token count to
 * stay under (the same for both sides: the usual case of one text, or two texts of similar length).
 */
export function compareSizeProblem(a: CompareSize, b: CompareSize, maxBytes = COMPARE_MAX_BYTES): string | null {
  const bytes = compareBytes(a) + compareBytes(b);
  if (bytes <= maxBytes) return null;
  const fit = Math.floor(Math.sqrt(maxBytes / (4 * (a.layers * a.heads + b.layers * b.heads))));
  const mb = (x: number) => Math.ceil(x / (1024 * 1024));
  return (
    `Compare With… sends both analyses' whole attention to the panel: ${a.tokens} and ${b.tokens} tokens need ${mb(bytes)} MB, ` +
    `more than its ${mb(maxBytes)} MB. Select a shorter text (at most about ${fit} tokens) and compare again.`
  );
}

/** One side of a comparison, as the panel names it. */
export interface CompareSource {
  model: string;
  text: string;
}

/** A text shortened for titles: “The cat sat on…”. */
export function quoteText(text: string, max = 32): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return `“${flat.length > max ? `${flat.slice(0, max - 1).trimEnd()}…` : flat}”`;
}

/**
 * Both sources in one line, naming only what differs: "gpt2 vs gpt2-ft on “The cat sat”", or
 * "gpt2: “The cat sat” vs “The dog sat”", or both in full.
 */
export function describeSources(a: CompareSource, b: CompareSource): string {
  if (a.text === b.text) return `B ${b.model} − A ${a.model} on ${quoteText(a.text)}`;
  if (a.model === b.model) return `${a.model}: B ${quoteText(b.text)} − A ${quoteText(a.text)}`;
  return `B ${b.model} ${quoteText(b.text)} − A ${a.model} ${quoteText(a.text)}`;
}

/** The label of one side: "A: gpt2 · “The cat sat”". */
export function sideLabel(side: 'A' | 'B', source: CompareSource): string {
  return `${side}: ${source.model} · ${quoteText(source.text)}`;
}

/** Aligned pairs' axis labels: the token, or "cat→dog" for a substitution. */
export function pairLabels(pairs: readonly AlignedPair[], labelA: (i: number) => string, labelB: (j: number) => string): string[] {
  return pairs.map((p) => (p.kind === 'same' ? labelA(p.a) : `${labelA(p.a)}→${labelB(p.b)}`));
}

/** JSON of a comparison view (exports). */
export interface CompareJson {
  format: 'attention-inspector/compare@1';
  title: string;
  a: { model: string; source: string; text: string; tokens: { id: number; raw: string }[] };
  b: { model: string; source: string; text: string; tokens: { id: number; raw: string }[] };
  selection: { layer: number | null; head: number | null; description: string };
  alignment: { summary: string; pairs: AlignedPair[]; segments: TokenAlignment['segments'] };
  /** Labels of the aligned positions (rows and columns of the matrices). */
  axis: string[];
  /** matrices[query][key] over the aligned positions. */
  attentionA: number[][];
  attentionB: number[][];
  delta: number[][];
  /** Every head's distance (mean and max |Δ| over aligned pairs). */
  headDistances: HeadDistance[];
}

/** Rows of a k × k Float32Array as nested arrays with float32 precision. */
export function nestedRows(data: Float32Array, k: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < k; i++) rows.push(Array.from(data.subarray(i * k, (i + 1) * k), (x) => Number(Math.fround(x).toPrecision(9))));
  return rows;
}
