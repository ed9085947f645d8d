/**
 * Attention on demand: the engine keeps an analysis (by analysis id) and the panel asks for the
 * views it shows. These are the requests, their replies and the summaries that arrive first; the
 * envelopes that carry them (request id, analysis id, cancel) are in webview.ts and worker.ts.
 * Everything here is structured-clone friendly: matrices are ArrayBuffers, never JSON arrays.
 */
import type { AttentionBlock, AttentionBlockKind, AttentionResult, HeadVectors, TensorData } from './types';

/** How special tokens are shown (the same values as src/analysis/view.ts's SpecialHandling). */
export type ViewSpecial = 'show' | 'hideRenormalize' | 'hide';
/** The aggregations of src/analysis/modes.ts. */
export type ViewMode = 'head' | 'layerMean' | 'allMean' | 'rollout' | 'valueWeighted';
/** What a model-view thumbnail or a row in every head shows. */
export type HeadFlavour = 'head' | 'valueWeighted';

/** A block without its tensors: what the panel needs to lay out its views. */
export type BlockMeta = Omit<AttentionBlock, 'attentions' | 'valueNorms'> & { layers: number; heads: number };

/** An analysis the engine keeps, as the host and the panel see it (a result without its tensors). */
export type AnalysisInfo = Omit<AttentionResult, 'attentions' | 'valueNorms' | 'hiddenStates' | 'decoderHiddenStates' | 'blocks'> & {
  blocks: BlockMeta[];
};

/** Per-head summaries of one block, small enough to send at once: the model view renders from them. */
export interface BlockSummaries {
  block: AttentionBlockKind;
  layers: number;
  heads: number;
  /** Layers summarised so far (all of them once the pass is done; fewer while it runs). */
  layersDone: number;
  /** Pattern scores, layer-major `[layers × heads]` (src/analysis/patterns.ts HeadScores). */
  scores: { layer: number; head: number; previousToken: number; firstToken: number; self: number; entropy: number; entropyBits: number; induction: number; duplicateToken: number }[];
  /** `[layers, heads, keys]` ‖f_h(x_j)‖. */
  valueNorms: TensorData;
  /** Max-pooled thumbnails of every head, 8-bit relative to each head's own maximum. */
  thumbnails: ThumbnailsReply;
}

/** Largest payload of one reply: a view bigger than this travels as several row tiles. */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;

export type ViewRequest =
  /**
   * The matrix a mode shows with special-token handling and word merging applied, rows
   * [rowStart, rowStart + rowCount) of it at full precision (default: every row).
   */
  | { kind: 'matrix'; block: AttentionBlockKind; mode: ViewMode; layer: number; head: number; special: ViewSpecial; mergeWords: boolean; rowStart?: number; rowCount?: number }
  /** Every head's matrix max-pooled to at most `cells` per side (model view, its PNG export). */
  | { kind: 'thumbnails'; block: AttentionBlockKind; flavour: HeadFlavour; special: ViewSpecial; mergeWords: boolean; cells: number }
  /** One query token's row in every head, over the view's columns ("this token in every head"). */
  | { kind: 'rows'; block: AttentionBlockKind; flavour: HeadFlavour; special: ViewSpecial; mergeWords: boolean; token: number }
  /** The weights a focused query gives each original token, for painting the editor. */
  | { kind: 'focus'; block: AttentionBlockKind; mode: ViewMode; layer: number; head: number; special: ViewSpecial; tokens: number[] }
  /** q, k, v of one head of this analysis (step by step). */
  | { kind: 'headVectors'; block: AttentionBlockKind; layer: number; head: number }
  /** The whole block `[layers, heads, queries, keys]` (the host's NumPy export; never from the webview). */
  | { kind: 'tensor'; block: AttentionBlockKind };

/** One axis item (src/analysis/view.ts AxisItem). */
export interface ViewItem {
  label: string;
  tokens: number[];
  start: number;
  end: number;
  special: boolean;
}

export interface MatrixReply {
  kind: 'matrix';
  /** Rows and columns of the whole view. */
  size: number;
  /** Columns of the view (rows are the same items for square blocks). */
  items: ViewItem[];
  rowStart: number;
  rowCount: number;
  /** float32 `[rowCount, size]`. */
  data: ArrayBuffer;
}

export interface ThumbnailsReply {
  kind: 'thumbnails';
  /** Cells per side of each thumbnail. */
  cells: number;
  /** Thumbnails (layers × heads, layer-major). */
  count: number;
  /** float32 `[count]`: each thumbnail's largest weight (its 255). */
  maxima: ArrayBuffer;
  /** uint8 `[count, cells, cells]`. */
  data: ArrayBuffer;
}

export type ViewReply =
  | MatrixReply
  | ThumbnailsReply
  | { kind: 'rows'; size: number; items: ViewItem[]; count: number; data: ArrayBuffer }
  | { kind: 'focus'; weights: number[] }
  | { kind: 'headVectors'; vectors: HeadVectors }
  | { kind: 'tensor'; tensor: TensorData };

const BLOCK_KINDS: readonly AttentionBlockKind[] = ['self', 'encoder', 'decoder', 'cross'];
const MODES: readonly ViewMode[] = ['head', 'layerMean', 'allMean', 'rollout', 'valueWeighted'];
const SPECIALS: readonly ViewSpecial[] = ['show', 'hideRenormalize', 'hide'];
const FLAVOURS: readonly HeadFlavour[] = ['head', 'valueWeighted'];

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 1 << 24;
const oneOf = <T>(values: readonly T[], v: unknown): v is T => values.includes(v as T);

/**
 * The request typed if it is well-formed, otherwise undefined (shape and types only: ranges that
 * need the analysis, layer < layers and token < n, are the server's job).
 */
export function parseViewRequest(raw: unknown): ViewRequest | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (!oneOf(BLOCK_KINDS, r.block)) return undefined;
  const block = r.block;
  switch (r.kind) {
    case 'matrix': {
      if (!oneOf(MODES, r.mode) || !isIndex(r.layer) || !isIndex(r.head) || !oneOf(SPECIALS, r.special) || typeof r.mergeWords !== 'boolean') return undefined;
      if ((r.rowStart !== undefined && !isIndex(r.rowStart)) || (r.rowCount !== undefined && !isIndex(r.rowCount))) return undefined;
      const rows = r.rowStart !== undefined || r.rowCount !== undefined ? { rowStart: (r.rowStart as number | undefined) ?? 0, ...(r.rowCount !== undefined ? { rowCount: r.rowCount as number } : {}) } : {};
      return { kind: 'matrix', block, mode: r.mode, layer: r.layer, head: r.head, special: r.special, mergeWords: r.mergeWords, ...rows };
    }
    case 'thumbnails':
      if (!oneOf(FLAVOURS, r.flavour) || !oneOf(SPECIALS, r.special) || typeof r.mergeWords !== 'boolean') return undefined;
      if (!isIndex(r.cells) || r.cells < 1 || r.cells > 256) return undefined;
      return { kind: 'thumbnails', block, flavour: r.flavour, special: r.special, mergeWords: r.mergeWords, cells: r.cells };
    case 'rows':
      if (!oneOf(FLAVOURS, r.flavour) || !oneOf(SPECIALS, r.special) || typeof r.mergeWords !== 'boolean' || !isIndex(r.token)) return undefined;
      return { kind: 'rows', block, flavour: r.flavour, special: r.special, mergeWords: r.mergeWords, token: r.token };
    case 'focus':
      if (!oneOf(MODES, r.mode) || !isIndex(r.layer) || !isIndex(r.head) || !oneOf(SPECIALS, r.special)) return undefined;
      if (!Array.isArray(r.tokens) || r.tokens.length === 0 || r.tokens.length > 4096 || !r.tokens.every(isIndex)) return undefined;
      return { kind: 'focus', block, mode: r.mode, layer: r.layer, head: r.head, special: r.special, tokens: [...(r.tokens as number[])] };
    case 'headVectors':
      if (!isIndex(r.layer) || !isIndex(r.head)) return undefined;
      return { kind: 'headVectors', block, layer: r.layer, head: r.head };
    default:
      return undefined;
  }
}

/** Every ArrayBuffer of a reply, for a transfer list. */
export function replyBuffers(reply: ViewReply): ArrayBuffer[] {
  switch (reply.kind) {
    case 'matrix':
    case 'rows':
      return [reply.data];
    case 'thumbnails':
      return [reply.maxima, reply.data];
    case 'headVectors': {
      const v = reply.vectors;
      return [v.q.buffer, v.k.buffer, v.v.buffer, ...(v.bias ? [v.bias.buffer] : []), ...(v.logits ? [v.logits.buffer] : [])];
    }
    case 'tensor':
      return [reply.tensor.buffer];
    default:
      return [];
  }
}

/** Every ArrayBuffer of a set of summaries, for a transfer list. */
export function summaryBuffers(summaries: readonly BlockSummaries[]): ArrayBuffer[] {
  return summaries.flatMap((s) => [s.valueNorms.buffer, s.thumbnails.maxima, s.thumbnails.data]);
}
