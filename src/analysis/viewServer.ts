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
import { maxPool, maxPoolWithRowMax } from './pool';
import { defaultHeadScorers, rowEntropies } from './scorers';
import type { Matrix } from './tensor';
import { buildView, queryWeightsByToken, rowOfToken, viewItems, type SpecialHandling, type ViewMatrix } from './view';

/** A rectangular block's matrix `[rows, cols]` (cross-attention: decoder queries × encoder keys). */
interface RectMatrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/** Whether a block's queries and keys are the same tokens (self-attention), so its views are square. */
export function isSquareBlock(block: Pick<BlockMeta, 'queryTokens' | 'keyTokens' | 'querySide' | 'keySide'>): boolean {
  return block.queryTokens.length === block.keyTokens.length && block.querySide === block.keySide;
}

/** Max-pools a `[rows, cols]` matrix so that each side has at most `target` cells (each side pooled by its own factor). */
function maxPoolRect(m: RectMatrix, target: number): RectMatrix {
  const fr = Math.ceil(m.rows / target);
  const fc = Math.ceil(m.cols / target);
  const rows = Math.ceil(m.rows / fr);
  const cols = Math.ceil(m.cols / fc);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < m.rows; i++) {
    const base = Math.floor(i / fr) * cols;
    for (let j = 0; j < m.cols; j++) {
      const v = m.data[i * m.cols + j];
      const k = base + Math.floor(j / fc);
      if (v > data[k]) data[k] = v;
    }
  }
  return { rows, cols, data };
}

/** Rows renormalised to sum to 1 (value-weighted attention), in place. */
function renormalizeRect(m: RectMatrix): RectMatrix {
  for (let i = 0; i < m.rows; i++) {
    const row = m.data.subarray(i * m.cols, (i + 1) * m.cols);
    let sum = 0;
    for (const v of row) sum += v;
    if (sum > 0) for (let j = 0; j < row.length; j++) row[j] /= sum;
  }
  return m;
}

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
  const { pooled, rowMax } = maxPoolWithRowMax(view, target);
  const factor = pooled.size === size ? 1 : Math.ceil(size / target);
  const data = pooled.data === view.data ? view.data.slice() : pooled.data;
  return { kind: 'overview', size, items: view.items, factor, cells: pooled.size, data: data.buffer as ArrayBuffer, rowMax: rowMax.buffer as ArrayBuffer };
}

/** Quantises pooled rectangular matrices (all `rows × cols`) to 8 bits relative to each one's maximum. */
function quantiseRect(matrices: RectMatrix[], cells: number): ThumbnailsReply {
  const rows = matrices[0]?.rows ?? 0;
  const cols = matrices[0]?.cols ?? 0;
  const maxima = new Float32Array(matrices.length);
  const data = new Uint8Array(matrices.length * rows * cols);
  matrices.forEach((m, index) => {
    let max = 0;
    for (const v of m.data) if (v > max) max = v;
    maxima[index] = max;
    const out = data.subarray(index * rows * cols, (index + 1) * rows * cols);
    for (let i = 0; i < out.length; i++) out[i] = max > 0 ? Math.round((m.data[i] / max) * 255) : 0;
  });
  return { kind: 'thumbnails', cells, rows, cols, count: matrices.length, maxima: maxima.buffer, data: data.buffer };
}

/** Quantises pooled square matrices (all `cells × cells`) to 8 bits relative to each one's maximum. */
function quantise(matrices: Matrix[], cells: number): ThumbnailsReply {
  const { rows: _rows, cols: _cols, ...square } = quantiseRect(matrices.map((m) => ({ rows: m.size, cols: m.size, data: m.data })), cells);
  return square;
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
    if (!isSquareBlock(block)) throw new ViewRequestError(`The ${kind} block is not square (its queries and keys are different tokens): rows of every head and the editor focus are shown for self-attention only.`);
    return { ...block, n: block.queryTokens.length };
  }

  /**
   * A rectangular block's matrix for a mode: one head, value-weighted, a layer's or every layer's
   * head mean. Rollout multiplies a square stack through its layers, so it is refused.
   */
  private async rectMatrix(block: BlockMeta, flavour: AttentionMode, layer: number, head: number, signal?: AbortSignal): Promise<RectMatrix> {
    const rows = block.queryTokens.length;
    const cols = block.keyTokens.length;
    const size = rows * cols;
    const meanOfLayer = async (l: number) => (this.kept.headMean ? await this.kept.headMean(block.kind, l, signal) : this.meanOf(await this.layer(block.kind, l, signal), block.heads, size));
    switch (flavour) {
      case 'head':
        return { rows, cols, data: (await this.layer(block.kind, layer, signal)).subarray(head * size, (head + 1) * size) };
      case 'valueWeighted': {
        const alpha = (await this.layer(block.kind, layer, signal)).subarray(head * size, (head + 1) * size);
        const norms = this.kept.valueNorms(block.kind).subarray((layer * block.heads + head) * cols, (layer * block.heads + head + 1) * cols);
        const data = new Float32Array(size);
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) data[i * cols + j] = alpha[i * cols + j] * norms[j];
        return renormalizeRect({ rows, cols, data });
      }
      case 'layerMean':
        return { rows, cols, data: await meanOfLayer(layer) };
      case 'allMean': {
        const sum = new Float64Array(size);
        for (let l = 0; l < block.layers; l++) {
          const mean = await meanOfLayer(l);
          for (let i = 0; i < size; i++) sum[i] += mean[i];
        }
        const data = new Float32Array(size);
        for (let i = 0; i < size; i++) data[i] = sum[i] / block.layers;
        return { rows, cols, data };
      }
      case 'rollout':
        throw new ViewRequestError(`Rollout is not defined for the ${block.kind} block: it multiplies a square stack of self-attention through its layers.`);
    }
  }

  /** A rectangular block's matrix view: every token on both axes (hiding special tokens and merging words are offered for self-attention only). */
  private async rectView(block: BlockMeta, request: Extract<ViewRequest, { kind: 'matrix' }>, signal?: AbortSignal): Promise<ViewReply> {
    if (request.special !== 'show' || request.mergeWords) throw new ViewRequestError(`The ${block.kind} block is shown with every token and without merging words (special: 'show', mergeWords: false); hiding special tokens and merging words apply to self-attention.`);
    if (request.mode !== 'allMean') this.checkHead(block, request.layer, request.mode === 'head' || request.mode === 'valueWeighted' ? request.head : 0);
    if ((request.colStart ?? 0) !== 0 || (request.colCount !== undefined && request.colCount < block.keyTokens.length)) throw new ViewRequestError(`The ${block.kind} block is served in whole rows: column ranges (colStart, colCount) apply to self-attention views.`);
    const m = await this.rectMatrix(block, request.mode, request.layer, request.head, signal);
    const plain = { special: 'show' as const, mergeWords: false };
    const start = Math.min(request.rowStart ?? 0, m.rows);
    const count = Math.min(request.rowCount ?? m.rows, m.rows - start, rowsPerTile(m.cols));
    const data = m.data.slice(start * m.cols, (start + count) * m.cols);
    return { kind: 'matrix', size: m.cols, items: viewItems(block.keyTokens, plain), rowItems: viewItems(block.queryTokens, plain), rowStart: start, rowCount: count, colStart: 0, colCount: m.cols, data: data.buffer };
  }

  /** Every head of a rectangular block max-pooled to at most `cells` per side. */
  private async rectThumbnails(block: BlockMeta, request: Extract<ViewRequest, { kind: 'thumbnails' }>, signal?: AbortSignal): Promise<ThumbnailsReply> {
    if (request.special !== 'show' || request.mergeWords) throw new ViewRequestError(`The ${block.kind} block's thumbnails show every token without merging words (special: 'show', mergeWords: false).`);
    const pooled: RectMatrix[] = [];
    for (let l = 0; l < block.layers; l++) for (let h = 0; h < block.heads; h++) pooled.push(maxPoolRect(await this.rectMatrix(block, request.flavour, l, h, signal), request.cells));
    return quantiseRect(pooled, request.cells);
  }

  /** Summaries of a rectangular block: the registry's scores of every head (as the engine's pass scores them) and its thumbnails. */
  private async rectSummaries(block: BlockMeta, signal?: AbortSignal): Promise<BlockSummaries> {
    const rows = block.queryTokens.length;
    const cols = block.keyTokens.length;
    const scorers = defaultHeadScorers().list();
    const queryIds = block.queryTokens.map((t) => t.id);
    const keyIds = block.keyTokens.map((t) => t.id);
    const scores: BlockSummaries['scores'] = [];
    const pooled: RectMatrix[] = [];
    for (let l = 0; l < block.layers; l++) {
      const data = await this.layer(block.kind, l, signal);
      for (let h = 0; h < block.heads; h++) {
        const probs = data.subarray(h * rows * cols, (h + 1) * rows * cols);
        const head = { probs, queries: rows, keys: cols, causal: block.causal, rowEntropyBits: rowEntropies(probs, rows, cols), queryIds, keyIds };
        const row = { layer: l, head: h, previousToken: NaN, firstToken: NaN, self: NaN, entropy: NaN, entropyBits: NaN, induction: NaN, duplicateToken: NaN };
        for (const scorer of scorers) if (scorer.key in row) (row as Record<string, number>)[scorer.key] = scorer.score(head);
        scores.push(row);
        pooled.push(maxPoolRect({ rows, cols, data: probs }, SUMMARY_THUMBNAIL_CELLS));
      }
    }
    const norms = this.kept.valueNorms(block.kind);
    return {
      block: block.kind,
      layers: block.layers,
      heads: block.heads,
      layersDone: block.layers,
      scores,
      valueNorms: { dtype: 'float32', shape: [block.layers, block.heads, cols], buffer: norms.slice().buffer },
      thumbnails: quantiseRect(pooled, SUMMARY_THUMBNAIL_CELLS),
    };
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

  /** Mean over `heads` planes of `size` values each. */
  private meanOf(data: Float32Array, heads: number, size: number): Float32Array {
    const sum = new Float64Array(size);
    for (let h = 0; h < heads; h++) for (let i = 0; i < size; i++) sum[i] += data[h * size + i];
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = sum[i] / heads;
    return out;
  }

  private async layerMean(kind: AttentionBlockKind, layer: number, signal?: AbortSignal, keep = true): Promise<Matrix> {
    const key = `${kind}.${layer}`;
    const cached = this.means.get(key);
    if (cached) return cached;
    const block = this.squareBlock(kind);
    const mean = this.kept.headMean ? { size: block.n, data: await this.kept.headMean(kind, layer, signal) } : { size: block.n, data: this.meanOf(await this.layer(kind, layer, signal), block.heads, block.n * block.n) };
    if (keep) {
      this.means.set(key, mean);
      if (this.means.size > 8) this.means.delete(this.means.keys().next().value as string);
    }
    return mean;
  }

  /**
   * One head's matrix. `alone`: the caller wants this head only (a head view). A layer larger than
   * the layer cache is then not computed whole: at 2,048 tokens a 32-head layer is 537 MB of scores
   * to show 17 MB (measured 6.1 s against 1.8 s for the head on the Llama-3.2-1B shape), at 4,096 it
   * is 2 GB. Smaller layers are computed and kept whole, so the next head of the layer is at hand;
   * loops over every head of a layer (thumbnails, rows) keep the whole layer.
   */
  private async headMatrix(kind: AttentionBlockKind, flavour: HeadFlavour, layer: number, head: number, signal?: AbortSignal, alone = false): Promise<Matrix> {
    const block = this.squareBlock(kind);
    const n = block.n;
    const size = n * n;
    const headOnly = alone && !this.layers.has(`${kind}.${layer}`) && block.heads * size * 4 > this.layerCacheBytes;
    // The head the panel showed last, kept by the pass: the next text's first view needs no scores run.
    const kept = headOnly ? this.kept.keptHead?.(kind, layer, head) : undefined;
    const alpha = kept ?? (headOnly ? await this.kept.attention(kind, layer, signal, { from: head, to: head + 1 }) : (await this.layer(kind, layer, signal)).subarray(head * size, (head + 1) * size));
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
        return this.headMatrix(kind, 'head', layer, head, signal, true);
      case 'valueWeighted':
        return this.headMatrix(kind, 'valueWeighted', layer, head, signal, true);
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
    const base = await this.modeMatrix(kind, mode, layer, head, signal);
    const options = { special, mergeWords };
    // Every token as it is: the view is the mode's matrix itself, not a copy (16 MB at 2,048 tokens).
    // It is only read here: tiles and overviews are copied out of it.
    const view = special === 'show' && !mergeWords ? { size: base.size, data: base.data, items: viewItems(block.queryTokens, options, this.mergeTextOf(block)) } : buildView(base, block.queryTokens, options, this.mergeTextOf(block));
    this.lastView = { key, view };
    return view;
  }

  private checkTokens(tokens: readonly TokenInfo[], indices: readonly number[]): void {
    for (const t of indices) if (t >= tokens.length) throw new ViewRequestError(`There is no token ${t}: the analysis has ${tokens.length}.`);
  }

  async serve(request: ViewRequest, signal?: AbortSignal): Promise<ViewReply> {
    switch (request.kind) {
      case 'matrix': {
        const meta = this.blockMeta(request.block);
        if (!isSquareBlock(meta)) return this.rectView(meta, request, signal);
        const view = await this.view(request.block, request.mode, request.layer, request.head, request.special, request.mergeWords, signal);
        return viewTile(view, request.rowStart, request.rowCount, request.colStart, request.colCount);
      }
      case 'overview':
        return viewOverview(await this.view(request.block, request.mode, request.layer, request.head, request.special, request.mergeWords, signal), request.cells);
      case 'thumbnails': {
        const meta = this.blockMeta(request.block);
        if (!isSquareBlock(meta)) return this.rectThumbnails(meta, request, signal);
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

  /** Summaries of every block (cross-attention's thumbnails are rectangular). */
  async summaries(signal?: AbortSignal): Promise<BlockSummaries[]> {
    const out: BlockSummaries[] = [];
    for (const block of this.kept.blocks) {
      if (!isSquareBlock(block)) {
        out.push(await this.rectSummaries(block, signal));
        continue;
      }
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
