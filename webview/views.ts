/**
 * Where the panel's matrices come from. `RemoteViews`: the engine keeps the analysis and the panel
 * asks the host for each view it shows (the usual case: only what is on screen travels).
 * `LocalViews`: a result that came with its tensors (an encoder-decoder's blocks) is computed here,
 * as before. Both answer from a cache at once when they can; otherwise they start the work, return
 * undefined, and call `onArrive` when it is done, and the panel renders again.
 */
import { ModeComputer, valueWeighted, type ModeSelection } from '../src/analysis/modes';
import { maxPool } from '../src/analysis/pool';
import { AttentionStack, toArrayBuffer, type Matrix, type ValueNormStack } from '../src/analysis/tensor';
import { buildView, queryWeightsByToken, rowOfToken, type ViewMatrix, type ViewOptions } from '../src/analysis/view';
import type { AttentionBlockKind, TokenInfo } from '../src/protocol/types';
import type { HeadFlavour, ThumbnailsReply, ViewReply, ViewRequest } from '../src/protocol/views';
import { RequestFailed, type HostChannel } from './host/channel';
import { RowWindow } from './rowWindow';
import { TiledView, type TileAsk } from './tiledView';

/** Every head's thumbnail (max-pooled) for one flavour and options. */
export interface ThumbSet {
  cells: number;
  get(layer: number, head: number): Matrix;
}

/** One query token's row in every head. */
export interface RowSet {
  items: ViewMatrix['items'];
  /** The row over the view's columns, or null when the token is hidden. */
  row(layer: number, head: number): Float32Array | null;
}

export interface ViewSource {
  view(sel: ModeSelection, o: ViewOptions): ViewMatrix | undefined;
  /** One exact row of a view (step by step's query), or undefined while it is on its way. */
  row(sel: ModeSelection, o: ViewOptions, row: number): Float32Array | undefined;
  thumbnails(flavour: HeadFlavour, o: ViewOptions, cells: number, exact?: boolean): ThumbSet | undefined;
  rows(flavour: HeadFlavour, o: ViewOptions, token: number): RowSet | undefined;
  focusWeights(sel: ModeSelection, special: ViewOptions['special'], tokens: number[]): Promise<number[]>;
  /** Thumbnails at exactly `cells` (exports of the model view). */
  loadThumbnails(flavour: HeadFlavour, o: ViewOptions, cells: number): Promise<ThumbSet>;
  /** Local sources compute rollout in slices between frames (see App.prepare). */
  needsWork(sel: ModeSelection): boolean;
  prepare(sel: ModeSelection): Generator<number, unknown, void>;
  /** Something asked for is on its way. */
  readonly waiting: boolean;
  /** The last request that failed, if any (shown in place of the view). */
  readonly failure: string | undefined;
  dispose(): void;
}

/** Cells per side of thumbnails asked for the model view with other options than the summaries'. */
const REMOTE_THUMB_CELLS = 64;

const viewKey = (sel: ModeSelection, o: ViewOptions) => `${sel.mode}.${sel.layer}.${sel.head}.${o.special}.${o.mergeWords}`;

/** A cached entry, moved to the newest end (these maps keep insertion order as their age). */
function touch<T>(cache: Map<string, T>, key: string): T | undefined {
  const entry = cache.get(key);
  if (entry !== undefined) {
    cache.delete(key);
    cache.set(key, entry);
  }
  return entry;
}

/** Drops the oldest entries beyond `max` (`drop` releases each). */
function evict<T>(cache: Map<string, T>, max: number, drop: (entry: T) => void = () => {}): void {
  while (cache.size > max) {
    const oldest = cache.keys().next().value as string;
    drop(cache.get(oldest)!);
    cache.delete(oldest);
  }
}

/** Thumbnails from a reply: 8-bit cells relative to each head's maximum, decoded when drawn. */
export function thumbSetFromReply(reply: ThumbnailsReply, heads: number): ThumbSet {
  const maxima = new Float32Array(toArrayBuffer(reply.maxima) ?? new ArrayBuffer(0));
  const data = new Uint8Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0));
  const cells = reply.cells;
  return {
    cells,
    get(layer, head) {
      const index = layer * heads + head;
      const out = new Float32Array(cells * cells);
      const scale = (maxima[index] ?? 0) / 255;
      const base = index * cells * cells;
      for (let i = 0; i < out.length; i++) out[i] = data[base + i] * scale;
      return { size: cells, data: out };
    },
  };
}

/** A whole matrix view: `rows × items.length` values (rows = items unless the block is rectangular). */
export interface FetchedMatrix {
  items: ViewMatrix['items'];
  rowItems: ViewMatrix['items'];
  data: Float32Array;
}

/**
 * Asks for a rectangular block's matrix view (cross-attention) in row tiles: the first reply says
 * its size and axes (`rowItems` the rows, `items` the columns); the rest follow until every row is here.
 */
export async function fetchMatrix(ask: (request: ViewRequest) => Promise<ViewReply>, base: Extract<ViewRequest, { kind: 'matrix' }>): Promise<FetchedMatrix> {
  let reply = await ask(base);
  if (reply.kind !== 'matrix') throw new Error('the extension answered with something other than a matrix');
  const { size, items } = reply;
  const rowItems = Array.isArray(reply.rowItems) ? reply.rowItems : items;
  if (!Array.isArray(items) || items.length !== size) throw new Error('the extension sent a matrix whose columns do not match its size');
  const rows = rowItems.length;
  const data = new Float32Array(rows * size);
  for (;;) {
    const part = new Float32Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0));
    if (reply.rowStart + part.length / Math.max(1, size) > rows) throw new Error('the extension sent more rows than the matrix has');
    data.set(part, reply.rowStart * size);
    const next = reply.rowStart + reply.rowCount;
    if (next >= rows || reply.rowCount === 0) break;
    reply = await ask({ ...base, rowStart: next });
    if (reply.kind !== 'matrix') throw new Error('the extension answered with something other than a matrix');
  }
  return { items, rowItems, data };
}

/** Views computed in the panel from a result's tensors. */
export class LocalViews implements ViewSource {
  readonly computer: ModeComputer;
  private readonly cache = new Map<string, ViewMatrix>();
  readonly waiting = false;
  readonly failure = undefined;

  constructor(
    private readonly stack: AttentionStack,
    private readonly norms: ValueNormStack | undefined,
    private readonly tokens: TokenInfo[],
    private readonly mergeText: string | undefined,
  ) {
    this.computer = new ModeComputer(stack, norms);
  }

  view(sel: ModeSelection, o: ViewOptions): ViewMatrix | undefined {
    if (this.computer.needsWork(sel)) return undefined;
    const key = viewKey(sel, o);
    let view = this.cache.get(key);
    if (!view) {
      view = buildView(this.computer.compute(sel), this.tokens, o, this.mergeText);
      if (this.cache.size > 64) this.cache.clear();
      this.cache.set(key, view);
    }
    return view;
  }

  row(sel: ModeSelection, o: ViewOptions, row: number): Float32Array | undefined {
    const view = this.view(sel, o);
    return view?.data.subarray(row * view.size, (row + 1) * view.size);
  }

  private base(flavour: HeadFlavour, layer: number, head: number): Matrix {
    return flavour === 'valueWeighted' && this.norms ? valueWeighted(this.stack, this.norms, layer, head) : this.stack.headMatrix(layer, head);
  }

  thumbnails(flavour: HeadFlavour, o: ViewOptions, cells: number): ThumbSet {
    return { cells, get: (layer, head) => maxPool(buildView(this.base(flavour, layer, head), this.tokens, o, this.mergeText), cells) };
  }

  rows(flavour: HeadFlavour, o: ViewOptions, token: number): RowSet {
    const sample = buildView(this.base('head', 0, 0), this.tokens, o, this.mergeText);
    return {
      items: sample.items,
      row: (layer, head) => {
        const view = flavour === 'head' ? this.view({ mode: 'head', layer, head }, o)! : buildView(this.base(flavour, layer, head), this.tokens, o, this.mergeText);
        const r = rowOfToken(view, token);
        return r === null ? null : view.data.subarray(r * view.size, (r + 1) * view.size);
      },
    };
  }

  async loadThumbnails(flavour: HeadFlavour, o: ViewOptions, cells: number): Promise<ThumbSet> {
    return this.thumbnails(flavour, o, cells);
  }

  async focusWeights(sel: ModeSelection, special: ViewOptions['special'], tokens: number[]): Promise<number[]> {
    return queryWeightsByToken(this.computer.compute(sel), this.tokens, special, tokens).map((w) => (Number.isFinite(w) ? w : 0));
  }

  needsWork(sel: ModeSelection): boolean {
    return this.computer.needsWork(sel);
  }

  prepare(sel: ModeSelection): Generator<number, unknown, void> {
    return this.computer.prepare(sel);
  }

  dispose(): void {
    this.cache.clear();
  }
}

/** Views asked of the host by analysis id, kept in a small cache. */
export class RemoteViews implements ViewSource {
  private readonly views = new Map<string, ViewMatrix>();
  private readonly thumbs = new Map<string, ThumbSet>();
  private readonly rowSets = new Map<string, RowSet>();
  /** Single rows asked for on their own (step by step), by view key and row. */
  private readonly singleRows = new Map<string, Float32Array>();
  private readonly tiledViews = new Map<string, TiledView>();
  /** The line view's views too large for one reply, by view key (a layer's heads at most). */
  private readonly rowWindows = new Map<string, RowWindow>();
  private readonly inFlight = new Set<string>();
  private readonly controller = new AbortController();
  /**
   * The view the head view shows (its key), and the fetch of it still on its way, if any: when the
   * user switches head, layer, mode or options, what was asked for the view left is cancelled.
   */
  private onScreen: { key: string; fetch?: AbortController } | undefined;
  failure: string | undefined;

  constructor(
    private readonly channel: HostChannel,
    private readonly resultId: number,
    readonly block: AttentionBlockKind,
    private readonly heads: number,
    /** The thumbnails that came with the summaries (special tokens shown, not merged); newer summaries replace them. */
    public summaryThumbs: ThumbSet | undefined,
    private readonly onArrive: () => void,
  ) {}

  get waiting(): boolean {
    return this.inFlight.size > 0;
  }

  /**
   * The head view now shows `sel` under `o`: the overview, whole view, tile and row still on their
   * way for the view it showed before are cancelled (the host is told, and their replies dropped).
   */
  show(sel: ModeSelection, o: ViewOptions): void {
    const key = viewKey(sel, o);
    const before = this.onScreen;
    if (before?.key === key) return;
    before?.fetch?.abort();
    if (before) this.tiledViews.get(before.key)?.cancelPending();
    this.onScreen = { key };
  }

  /** The signal a fetch for the view `key` asks with: its own, cancelled when the head view leaves it. */
  private signalFor(key: string): AbortSignal {
    const screen = this.onScreen;
    if (screen?.key !== key) return this.controller.signal;
    const fetch = new AbortController();
    screen.fetch = fetch;
    return fetch.signal;
  }

  /** Starts `fetch` once per key; its result is stored by `store` and the panel renders again. */
  private fetch(key: string, work: () => Promise<void>): void {
    if (this.inFlight.has(key) || this.controller.signal.aborted) return;
    this.inFlight.add(key);
    work()
      .then(() => {
        this.failure = undefined;
      })
      .catch((err: unknown) => {
        if (err instanceof RequestFailed && err.cancelled) return;
        this.failure = err instanceof Error ? err.message : String(err);
      })
      .finally(() => {
        this.inFlight.delete(key);
        if (!this.controller.signal.aborted) this.onArrive();
      });
  }

  private ask(request: ViewRequest, signal = this.controller.signal): Promise<ViewReply> {
    return this.channel.request(this.resultId, request, signal);
  }

  view(sel: ModeSelection, o: ViewOptions): ViewMatrix | undefined {
    const key = viewKey(sel, o);
    const cached = touch(this.views, key);
    if (cached) return cached;
    this.fetch(key, async () => {
      const base = this.matrixRequest(sel, o);
      const signal = this.signalFor(key);
      // Row tiles: the first says the view's size; the rest follow until every row is here.
      let reply = await this.ask(base, signal);
      if (reply.kind !== 'matrix') throw new Error('the extension answered with something other than a matrix');
      const { size, items } = reply;
      const data = new Float32Array(size * size);
      for (;;) {
        data.set(new Float32Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0)), reply.rowStart * size);
        const next = reply.rowStart + reply.rowCount;
        if (next >= size || reply.rowCount === 0) break;
        reply = await this.ask({ ...base, rowStart: next }, signal);
        if (reply.kind !== 'matrix') throw new Error('the extension answered with something other than a matrix');
      }
      this.views.set(key, { size, data, items });
      // A few dozen n×n views at most.
      evict(this.views, 24);
    });
    return undefined;
  }

  /**
   * A view too large for one reply: its overview (max-pooled to at most `cells` per side) once it is
   * here, whose exact tiles and rows are then asked for as they are shown; undefined meanwhile.
   */
  tiled(sel: ModeSelection, o: ViewOptions, cells: number): TiledView | undefined {
    const key = viewKey(sel, o);
    const cached = touch(this.tiledViews, key);
    if (cached) return cached;
    const base = this.matrixRequest(sel, o);
    this.fetch(`overview.${key}`, async () => {
      const reply = await this.ask({ ...base, kind: 'overview', cells }, this.signalFor(key));
      if (reply.kind !== 'overview') throw new Error('the extension answered with something other than an overview');
      const tiled = new TiledView(reply, this.tileAsk(base), this.onArrive);
      this.tiledViews.set(key, tiled);
      // Each holds a few MB (its overview and tiles).
      evict(this.tiledViews, 8, (tiled) => tiled.dispose());
    });
    return undefined;
  }

  /** One exact row: from the whole view when it is here, else asked for alone (not the n² view for one query). */
  row(sel: ModeSelection, o: ViewOptions, row: number): Float32Array | undefined {
    const key = viewKey(sel, o);
    const whole = this.views.get(key);
    if (whole) return whole.data.subarray(row * whole.size, (row + 1) * whole.size);
    const rowKey = `${key}.${row}`;
    const cached = this.singleRows.get(rowKey);
    if (cached) return cached;
    this.fetch(`row.${rowKey}`, async () => {
      const reply = await this.ask({ ...this.matrixRequest(sel, o), rowStart: row, rowCount: 1 });
      if (reply.kind !== 'matrix' || reply.rowStart !== row || reply.rowCount !== 1 || reply.colCount !== reply.size) throw new Error('the extension answered with another row');
      this.singleRows.set(rowKey, new Float32Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0)));
      evict(this.singleRows, 64);
    });
    return undefined;
  }

  /** The request for (part of) a view's matrix. */
  private matrixRequest(sel: ModeSelection, o: ViewOptions): Extract<ViewRequest, { kind: 'matrix' }> {
    return { kind: 'matrix', block: this.block, mode: sel.mode, layer: sel.layer, head: sel.head, special: o.special, mergeWords: o.mergeWords };
  }

  /** Asks for a rectangle of the view `base`. */
  private tileAsk(base: Extract<ViewRequest, { kind: 'matrix' }>): TileAsk {
    return async (rect, signal) => {
      const tile = await this.channel.request(this.resultId, { ...base, ...rect }, signal);
      if (tile.kind !== 'matrix') throw new Error('the extension answered with something other than a matrix');
      return tile;
    };
  }

  /**
   * A view too large for one reply, for the line view: its rows on screen and a hovered key's
   * column, asked for as they are shown (./rowWindow.ts). `size`: the view's rows and columns.
   */
  rowWindow(sel: ModeSelection, o: ViewOptions, size: number): RowWindow {
    const key = viewKey(sel, o);
    const cached = touch(this.rowWindows, key);
    if (cached) return cached;
    const window = new RowWindow(size, this.tileAsk(this.matrixRequest(sel, o)), this.onArrive);
    this.rowWindows.set(key, window);
    // Each holds a band of rows (a few MB): one layer's heads.
    evict(this.rowWindows, 32, (w) => w.dispose());
    return window;
  }

  thumbnails(flavour: HeadFlavour, o: ViewOptions, requested: number, exact = false): ThumbSet | undefined {
    if (!exact && this.summaryThumbs && flavour === 'head' && o.special === 'show' && !o.mergeWords) return this.summaryThumbs;
    // On screen one size serves every tile size (they are drawn scaled); exports ask for theirs.
    const cells = exact ? requested : REMOTE_THUMB_CELLS;
    const key = `${flavour}.${o.special}.${o.mergeWords}.${cells}`;
    const cached = this.thumbs.get(key);
    if (cached) return cached;
    this.fetch(`thumbs.${key}`, async () => {
      const reply = await this.ask({ kind: 'thumbnails', block: this.block, flavour, special: o.special, mergeWords: o.mergeWords, cells });
      if (reply.kind !== 'thumbnails') throw new Error('the extension answered with something other than thumbnails');
      this.thumbs.set(key, thumbSetFromReply(reply, this.heads));
    });
    return undefined;
  }

  rows(flavour: HeadFlavour, o: ViewOptions, token: number): RowSet | undefined {
    const key = `${flavour}.${o.special}.${o.mergeWords}.${token}`;
    const cached = this.rowSets.get(key);
    if (cached) return cached;
    this.fetch(`rows.${key}`, async () => {
      const reply = await this.ask({ kind: 'rows', block: this.block, flavour, special: o.special, mergeWords: o.mergeWords, token });
      if (reply.kind !== 'rows') throw new Error('the extension answered with something other than rows');
      const data = new Float32Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0));
      const size = reply.size;
      const hidden = rowOfToken({ items: reply.items }, token) === null;
      this.rowSets.set(key, { items: reply.items, row: (layer, head) => (hidden ? null : data.subarray((layer * this.heads + head) * size, (layer * this.heads + head + 1) * size)) });
      if (this.rowSets.size > 8) this.rowSets.delete(this.rowSets.keys().next().value as string);
    });
    return undefined;
  }

  async focusWeights(sel: ModeSelection, special: ViewOptions['special'], tokens: number[]): Promise<number[]> {
    const reply = await this.ask({ kind: 'focus', block: this.block, mode: sel.mode, layer: sel.layer, head: sel.head, special, tokens });
    if (reply.kind !== 'focus' || !Array.isArray(reply.weights)) throw new Error('the extension answered with something other than weights');
    return reply.weights;
  }

  needsWork(): boolean {
    return false;
  }

  prepare(): Generator<number, unknown, void> {
    return (function* () {})();
  }

  /** Waits until thumbnails are here (exports of the model view). */
  async loadThumbnails(flavour: HeadFlavour, o: ViewOptions, cells: number): Promise<ThumbSet> {
    const reply = await this.ask({ kind: 'thumbnails', block: this.block, flavour, special: o.special, mergeWords: o.mergeWords, cells });
    if (reply.kind !== 'thumbnails') throw new Error('the extension answered with something other than thumbnails');
    return thumbSetFromReply(reply, this.heads);
  }

  dispose(): void {
    this.controller.abort();
    this.onScreen?.fetch?.abort();
    for (const tiled of this.tiledViews.values()) tiled.dispose();
    this.tiledViews.clear();
    for (const window of this.rowWindows.values()) window.dispose();
    this.rowWindows.clear();
    this.views.clear();
    this.thumbs.clear();
    this.rowSets.clear();
    this.singleRows.clear();
  }
}
