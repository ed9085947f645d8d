/**
 * Serves the panel's views from an analysis the engine keeps: where the data is, a mode's matrix is
 * computed (head, layer mean, global mean, rollout, value-weighted), special tokens handled and
 * words merged, and only the result travels: a view at full precision in tiles (rows × columns) of
 * at most MAX_REPLY_BYTES, a max-pooled overview of a view too large for one reply, pooled
 * thumbnails, one token's row in every head. Pure TypeScript (no Node), so
 * the worker runs it and the panel runs it too for a result that came with its tensors.
 */
import type { KeptAnalysis } from '../protocol/kept';
import type { AttentionBlockKind, TokenInfo } from '../protocol/types';
import { MAX_OVERVIEW_CELLS, MAX_REPLY_BYTES, type BlockMeta, type BlockSummaries, type HeadFlavour, type MatrixReply, type OverviewReply, type ThumbnailsReply, type ViewReply, type ViewRequest } from '../protocol/views';
import { multiply, renormalizeRows, type AttentionMode } from './modes';
import { DETECTOR_SCORERS, type DetectorScorer } from './heads';
import { headScores } from './patterns';
import { maxPool } from './pool';
import type { Matrix } from './tensor';
import { buildView, queryWeightsByToken, rowOfToken, type SpecialHandling, type ViewMatrix } from './view';

/** Cells per side of the thumbnails sent with the summaries (the model view's first paint). */
export const SUMMARY_THUMBNAIL_CELLS = 48;

/** A request the analysis cannot answer (a layer it does not have, a token out of range). */
export class ViewRequestError extends Error {}

export interface ViewServerOptions {
  /** Text the tokens' offsets point into (word merging looks at it); undefined for a sentence pair. */
  mergeText?: string;
  /** Text of the decoder side of an encoder-decoder. */
  targetText?: string;
  /** Bytes of layer tensors kept between requests (switching heads of one layer is then instant). */
  layerCacheBytes?: number;
}

/** Row tiles of a view: how many rows of `size` float32 fit one reply. */
export function rowsPerTile(size: number): number {
  return Math.max(1, Math.floor(MAX_REPLY_BYTES / Math.max(1, size * 4)));
}

/** Rows [rowStart, +rowCount) × columns [colStart, +colCount) of a view, rowCount cut to fit one reply; always a copy (replies are transferred). */
export function viewTile(view: ViewMatrix, rowStart = 0, rowCount = view.size, colStart = 0, colCount = view.size): MatrixReply {
  const size = view.size;
  const r0 = Math.min(rowStart, size);
  const c0 = Math.min(colStart, size);
  const cols = Math.min(colCount, size - c0);
  const rows = Math.min(rowCount, size - r0, rowsPerTile(cols));
  let data: Float32Array<ArrayBuffer>;
  if (c0 === 0 && cols === size) data = view.data.slice(r0 * size, (r0 + rows) * size);
  else {
    data = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) data.set(view.data.subarray((r0 + i) * size + c0, (r0 + i) * size + c0 + cols), i * cols);
  }
  return { kind: 'matrix', size, items: view.items, rowStart: r0, rowCount: rows, colStart: c0, colCount: cols, data: data.buffer };
}

/**
 * A view max-pooled to at most `cells` per side, with each row's maximum. Max, not mean: averaging
 * a 4×4 block would dilute a one-cell-wide diagonal or a single hot key to a quarter of its weight
 * and it would vanish from the picture; the maximum keeps every such structure as bright as it is.
 */
export function viewOverview(view: ViewMatrix, cells: number): OverviewReply {
  const size = view.size;
  const target = Math.max(1, Math.min(MAX_OVERVIEW_CELLS, cells));
  const pooled = maxPool(view, target);
  const factor = pooled.size === size ? 1 : Math.ceil(size / target);
  const rowMax = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let max = 0;
    for (let j = 0; j < size; j++) if (view.data[i * size + j] > max) max = view.data[i * size + j];
    rowMax[i] = max;
  }
  const data = pooled.data === view.data ? view.data.slice() : pooled.data;
  return { kind: 'overview', size, items: view.items, factor, cells: pooled.size, data: data.buffer as ArrayBuffer, rowMax: rowMax.buffer };
}

/** Quantises pooled matrices to 8 bits relative to each one's maximum. */
function quantise(matrices: Matrix[], cells: number): ThumbnailsReply {
  const maxima = new Float32Array(matrices.length);
  const data = new Uint8Array(matrices.length * cells * cells);
  matrices.forEach((m, index) => {
    let max = 0;
    for (const v of m.data) if (v > max) max = v;
    maxima[index] = max;
    const base = index * cells * cells;
    for (let i = 0; i < m.size; i++) for (let j = 0; j < m.size; j++) data[base + i * cells + j] = max > 0 ? Math.round((m.data[i * m.size + j] / max) * 255) : 0;
  });
  return { kind: 'thumbnails', cells, count: matrices.length, maxima: maxima.buffer, data: data.buffer };
}

export class ViewServer {
  private readonly layers = new Map<string, Float32Array>();
  private readonly rollouts = new Map<AttentionBlockKind, Matrix[]>();
  /** Layer means asked for as views (a few); the loops of the global mean and rollout do not keep theirs. */
  private readonly means = new Map<string, Matrix>();
  private readonly idsByBlock = new Map<AttentionBlockKind, number[]>();
  private lastView: { key: string; view: ViewMatrix } | undefined;
  private readonly layerCacheBytes: number;

  constructor(private readonly kept: KeptAnalysis, private readonly options: ViewServerOptions = {}) {
    this.layerCacheBytes = options.layerCacheBytes ?? 256 * 1024 * 1024;
  }

  blockMeta(kind: AttentionBlockKind): BlockMeta {
    const block = this.kept.blocks.find((b) => b.kind === kind);
    if (!block) throw new ViewRequestError(`This analysis has no ${kind} block.`);
    return block;
  }

  private squareBlock(kind: AttentionBlockKind): BlockMeta & { n: number } {
    const block = this.blockMeta(kind);
    if (block.queryTokens.length !== block.keyTokens.length || block.querySide !== block.keySide) throw new ViewRequestError(`The ${kind} block is not square: its views are served with the result.`);
    return { ...block, n: block.queryTokens.length };
  }

  /** A square block's token ids, one array per block (the detectors cache their patterns by it). */
  private tokenIds(block: BlockMeta): number[] {
    let ids = this.idsByBlock.get(block.kind);
    if (!ids) {
      ids = block.queryTokens.map((t) => t.id);
      this.idsByBlock.set(block.kind, ids);
    }
    return ids;
  }

  private mergeTextOf(block: BlockMeta): string | undefined {
    return block.querySide === 'target' ? this.options.targetText : this.options.mergeText;
  }

  private checkHead(block: BlockMeta, layer: number, head: number): void {
    if (layer >= block.layers) throw new ViewRequestError(`There is no layer ${layer}: the ${block.kind} block has ${block.layers}.`);
    if (head >= block.heads) throw new ViewRequestError(`There is no head ${head}: the ${block.kind} block has ${block.heads} per layer.`);
  }

  /** One layer `[heads, n, n]`, from a small cache or the analysis. */
  async layer(kind: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array> {
    const key = `${kind}.${layer}`;
    const cached = this.layers.get(key);
    if (cached) {
      this.layers.delete(key);
      this.layers.set(key, cached);
      return cached;
    }
    const data = await this.kept.attention(kind, layer, signal);
    this.layers.set(key, data);
    let bytes = 0;
    for (const d of this.layers.values()) bytes += d.byteLength;
    while (this.layers.size > 1 && bytes > this.layerCacheBytes) {
      const oldest = this.layers.keys().next().value as string;
      bytes -= this.layers.get(oldest)!.byteLength;
      this.layers.delete(oldest);
    }
    return data;
  }

  private meanOf(data: Float32Array, heads: number, n: number): Matrix {
    const size = n * n;
    const sum = new Float64Array(size);
    for (let h = 0; h < heads; h++) for (let i = 0; i < size; i++) sum[i] += data[h * size + i];
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = sum[i] / heads;
    return { size: n, data: out };
  }

  private async layerMean(kind: AttentionBlockKind, layer: number, signal?: AbortSignal, keep = true): Promise<Matrix> {
    const key = `${kind}.${layer}`;
    const cached = this.means.get(key);
    if (cached) return cached;
    const block = this.squareBlock(kind);
    const mean = this.kept.headMean ? { size: block.n, data: await this.kept.headMean(kind, layer, signal) } : this.meanOf(await this.layer(kind, layer, signal), block.heads, block.n);
    if (keep) {
      this.means.set(key, mean);
      if (this.means.size > 8) this.means.delete(this.means.keys().next().value as string);
    }
    return mean;
  }

  private async headMatrix(kind: AttentionBlockKind, flavour: HeadFlavour, layer: number, head: number, signal?: AbortSignal): Promise<Matrix> {
    const block = this.squareBlock(kind);
    const n = block.n;
    const size = n * n;
    const alpha = (await this.layer(kind, layer, signal)).subarray(head * size, (head + 1) * size);
    if (flavour === 'head') return { size: n, data: alpha };
    const norms = this.kept.valueNorms(kind).subarray((layer * block.heads + head) * n, (layer * block.heads + head + 1) * n);
    const data = new Float32Array(size);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = alpha[i * n + j] * norms[j];
    return renormalizeRows({ size: n, data });
  }

  /** A mode's matrix over the block's tokens (before special handling and merging). */
  async modeMatrix(kind: AttentionBlockKind, mode: AttentionMode, layer: number, head: number, signal?: AbortSignal): Promise<Matrix> {
    const block = this.squareBlock(kind);
    if (mode !== 'allMean') this.checkHead(block, layer, mode === 'head' || mode === 'valueWeighted' ? head : 0);
    switch (mode) {
      case 'head':
        return this.headMatrix(kind, 'head', layer, head, signal);
      case 'valueWeighted':
        return this.headMatrix(kind, 'valueWeighted', layer, head, signal);
      case 'layerMean':
        return this.layerMean(kind, layer, signal);
      case 'allMean': {
        const cached = this.means.get(`${kind}.all`);
        if (cached) return cached;
        const size = block.n * block.n;
        const sum = new Float64Array(size);
        for (let l = 0; l < block.layers; l++) {
          const mean = await this.layerMean(kind, l, signal, false);
          for (let i = 0; i < size; i++) sum[i] += mean.data[i];
        }
        const out = new Float32Array(size);
        for (let i = 0; i < size; i++) out[i] = sum[i] / block.layers;
        const all = { size: block.n, data: out };
        this.means.set(`${kind}.all`, all);
        return all;
      }
      case 'rollout': {
        // Abnar & Zuidema: per layer 0.5·mean + 0.5·I, rows renormalised, multiplied from layer 0 up.
        // Products through each layer are kept while they are small; long inputs keep the last only.
        const products = this.rollouts.get(kind) ?? [];
        this.rollouts.set(kind, products);
        if (products[layer]) return products[layer];
        let from = layer;
        while (from >= 0 && !products[from]) from--;
        for (let l = from + 1; l <= layer; l++) {
          const mean = await this.layerMean(kind, l, signal, false);
          const factor = { size: mean.size, data: Float32Array.from(mean.data) };
          const n = block.n;
          for (let i = 0; i < n * n; i++) factor.data[i] *= 0.5;
          for (let i = 0; i < n; i++) factor.data[i * n + i] += 0.5;
          renormalizeRows(factor);
          products[l] = l === 0 ? factor : renormalizeRows(multiply(factor, products[l - 1]));
          if (l > 0 && block.n * block.n * 4 * (l + 1) > this.layerCacheBytes) delete products[l - 1];
          if (signal?.aborted) throw new ViewRequestError('Cancelled.');
        }
        return products[layer];
      }
    }
  }

  private async view(kind: AttentionBlockKind, mode: AttentionMode, layer: number, head: number, special: SpecialHandling, mergeWords: boolean, signal?: AbortSignal): Promise<ViewMatrix> {
    const key = `${kind}.${mode}.${layer}.${head}.${special}.${mergeWords}`;
    if (this.lastView?.key === key) return this.lastView.view;
    const block = this.squareBlock(kind);
    const view = buildView(await this.modeMatrix(kind, mode, layer, head, signal), block.queryTokens, { special, mergeWords }, this.mergeTextOf(block));
    this.lastView = { key, view };
    return view;
  }

  private checkTokens(tokens: readonly TokenInfo[], indices: readonly number[]): void {
    for (const t of indices) if (t >= tokens.length) throw new ViewRequestError(`There is no token ${t}: the analysis has ${tokens.length}.`);
  }

  async serve(request: ViewRequest, signal?: AbortSignal): Promise<ViewReply> {
    switch (request.kind) {
      case 'matrix': {
        const view = await this.view(request.block, request.mode, request.layer, request.head, request.special, request.mergeWords, signal);
        return viewTile(view, request.rowStart, request.rowCount, request.colStart, request.colCount);
      }
      case 'overview':
        return viewOverview(await this.view(request.block, request.mode, request.layer, request.head, request.special, request.mergeWords, signal), request.cells);
      case 'thumbnails': {
        const block = this.squareBlock(request.block);
        const pooled: Matrix[] = [];
        for (let l = 0; l < block.layers; l++) {
          for (let h = 0; h < block.heads; h++) {
            const base = await this.headMatrix(request.block, request.flavour, l, h, signal);
            const plain = request.special === 'show' && !request.mergeWords;
            pooled.push(maxPool(plain ? base : buildView(base, block.queryTokens, request, this.mergeTextOf(block)), request.cells));
          }
        }
        const cells = pooled.length > 0 ? pooled[0].size : 0;
        return quantise(pooled, cells);
      }
      case 'rows': {
        const block = this.squareBlock(request.block);
        this.checkTokens(block.queryTokens, [request.token]);
        let items: ViewMatrix['items'] = [];
        let size = 0;
        const rows: Float32Array[] = [];
        for (let l = 0; l < block.layers; l++) {
          for (let h = 0; h < block.heads; h++) {
            const view = buildView(await this.headMatrix(request.block, request.flavour, l, h, signal), block.queryTokens, request, this.mergeTextOf(block));
            items = view.items;
            size = view.size;
            const row = rowOfToken(view, request.token);
            rows.push(row === null ? new Float32Array(size) : view.data.slice(row * size, (row + 1) * size));
          }
        }
        const data = new Float32Array(rows.length * size);
        rows.forEach((r, i) => data.set(r, i * size));
        return { kind: 'rows', size, items, count: rows.length, data: data.buffer };
      }
      case 'focus': {
        const block = this.squareBlock(request.block);
        this.checkTokens(block.queryTokens, request.tokens);
        const base = await this.modeMatrix(request.block, request.mode, request.layer, request.head, signal);
        return { kind: 'focus', weights: queryWeightsByToken(base, block.queryTokens, request.special, request.tokens).map((w) => (Number.isFinite(w) ? w : 0)) };
      }
      case 'tensor': {
        const block = this.blockMeta(request.block);
        const layerSize = block.heads * block.queryTokens.length * block.keyTokens.length;
        const data = new Float32Array(block.layers * layerSize);
        for (let l = 0; l < block.layers; l++) data.set(await this.kept.attention(request.block, l, signal), l * layerSize);
        return { kind: 'tensor', tensor: { dtype: 'float32', shape: [block.layers, block.heads, block.queryTokens.length, block.keyTokens.length], buffer: data.buffer } };
      }
      case 'headVectors': {
        const block = this.blockMeta(request.block);
        this.checkHead(block, request.layer, request.head);
        return { kind: 'headVectors', vectors: await this.kept.headVectors(request.block, request.layer, request.head) };
      }
    }
  }

  /** Summaries of one layer of a square block: its heads' scores and thumbnails. */
  async layerSummaries(kind: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<{ scores: BlockSummaries['scores']; pooled: Matrix[] }> {
    const block = this.squareBlock(kind);
    const data = await this.layer(kind, layer, signal);
    const size = block.n * block.n;
    const scores: BlockSummaries['scores'] = [];
    const pooled: Matrix[] = [];
    const ids = this.tokenIds(block);
    for (let h = 0; h < block.heads; h++) {
      const head = data.subarray(h * size, (h + 1) * size);
      // TransformerLens' induction and duplicate-token scores need the ids (./heads.ts).
      const scored = { probs: head, queries: block.n, keys: block.n, queryIds: ids, keyIds: ids };
      const detected = Object.fromEntries(DETECTOR_SCORERS.map((d) => [d.key, d.score(scored)])) as Record<DetectorScorer['key'], number>;
      scores.push({ layer, head: h, ...headScores(head, block.n, block.causal), ...detected });
      pooled.push(maxPool({ size: block.n, data: head }, SUMMARY_THUMBNAIL_CELLS));
    }
    return { scores, pooled };
  }

  /** Summaries of every square block (cross-attention is served with its result). */
  async summaries(signal?: AbortSignal): Promise<BlockSummaries[]> {
    const out: BlockSummaries[] = [];
    for (const block of this.kept.blocks) {
      if (block.queryTokens.length !== block.keyTokens.length || block.querySide !== block.keySide) continue;
      const scores: BlockSummaries['scores'] = [];
      const pooled: Matrix[] = [];
      for (let l = 0; l < block.layers; l++) {
        const part = await this.layerSummaries(block.kind, l, signal);
        scores.push(...part.scores);
        pooled.push(...part.pooled);
      }
      const norms = this.kept.valueNorms(block.kind);
      out.push({
        block: block.kind,
        layers: block.layers,
        heads: block.heads,
        layersDone: block.layers,
        scores,
        valueNorms: { dtype: 'float32', shape: [block.layers, block.heads, block.keyTokens.length], buffer: norms.slice().buffer },
        thumbnails: quantise(pooled, pooled.length > 0 ? pooled[0].size : 0),
      });
    }
    return out;
  }
}
