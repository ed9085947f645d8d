/**
 * A view too large for one reply, as the panel holds it: a max-pooled overview that arrives at once,
 * then exact tiles (rows × columns at full precision) of the area on screen, asked for as the user
 * scrolls or zooms, and single rows (a hover outside every tile, the details strip) asked for one
 * at a time. Only the newest tile and row requests are kept: an older one still on its way is
 * cancelled (the host is told) and its reply, should it come, is dropped by the channel.
 */
import type { AxisItem } from '../src/analysis/view';
import { MAX_REPLY_BYTES, type MatrixReply, type OverviewReply } from '../src/protocol/views';
import { toArrayBuffer } from '../src/analysis/tensor';
import { RequestFailed } from './host/channel';

/** A rectangle of view cells. */
export interface CellRect {
  rowStart: number;
  rowCount: number;
  colStart: number;
  colCount: number;
}

/** Exact weights of a rectangle: float32 `[rowCount, colCount]`. */
export interface Tile extends CellRect {
  data: Float32Array;
  /** The rectangle asked for (the server shortens one larger than a reply). */
  asked: CellRect;
}

/** Asks the host for rows × columns of this view. */
export type TileAsk = (rect: Partial<CellRect>, signal: AbortSignal) => Promise<MatrixReply>;

/** Tiles kept for drawing and hover (the last few places the user looked). */
const MAX_TILES = 6;
/** Full rows kept (hover outside the tiles, the details strip). */
const MAX_ROWS = 64;

const same = (a: CellRect, b: CellRect) => a.rowStart === b.rowStart && a.rowCount === b.rowCount && a.colStart === b.colStart && a.colCount === b.colCount;
const covers = (a: CellRect, b: CellRect) =>
  b.rowStart >= a.rowStart && b.rowStart + b.rowCount <= a.rowStart + a.rowCount && b.colStart >= a.colStart && b.colStart + b.colCount <= a.colStart + a.colCount;

export class TiledView {
  readonly size: number;
  readonly items: AxisItem[];
  /** Overview: `cells`² max-pooled weights, overview cell k covering view cells [k·factor, (k+1)·factor). */
  readonly overview: { factor: number; cells: number; data: Float32Array };
  /** Each view row's largest weight (per-row colours). */
  readonly rowMax: Float32Array;
  /** Tiles, oldest first (drawn in this order, so the newest is on top). */
  tiles: Tile[] = [];
  private readonly rows = new Map<number, Float32Array>();
  private tileRequest: { rect: CellRect; controller: AbortController } | undefined;
  /** The last tile that failed: not asked for again while it holds what is on screen (no request loop). */
  private failedTile: CellRect | undefined;
  private rowRequest: { row: number; controller: AbortController } | undefined;
  /** The last row that failed: not asked for again until another row is. */
  private failedRow: number | undefined;
  private disposed = false;
  /** The last request that failed, if any. */
  failure: string | undefined;

  constructor(reply: OverviewReply, private readonly ask: TileAsk, private readonly onArrive: () => void) {
    this.size = reply.size;
    this.items = reply.items;
    this.overview = { factor: reply.factor, cells: reply.cells, data: new Float32Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0)) };
    this.rowMax = new Float32Array(toArrayBuffer(reply.rowMax) ?? new ArrayBuffer(0));
  }

  /** The exact weight of a cell if a tile or a row holding it is here, else undefined. */
  value(row: number, col: number): number | undefined {
    for (let k = this.tiles.length - 1; k >= 0; k--) {
      const t = this.tiles[k];
      if (row >= t.rowStart && row < t.rowStart + t.rowCount && col >= t.colStart && col < t.colStart + t.colCount) return t.data[(row - t.rowStart) * t.colCount + col - t.colStart];
    }
    return this.rows.get(row)?.[col];
  }

  /** A whole exact row, or undefined while it is asked for (once; the newest row wins). */
  row(row: number): Float32Array | undefined {
    const cached = this.rows.get(row);
    if (cached) return cached;
    if (this.disposed || this.rowRequest?.row === row || this.failedRow === row) return undefined;
    this.rowRequest?.controller.abort();
    const controller = new AbortController();
    this.rowRequest = { row, controller };
    this.settle(
      this.ask({ rowStart: row, rowCount: 1 }, controller.signal).then((reply) => {
        if (reply.rowStart !== row || reply.rowCount !== 1 || reply.colCount !== this.size) throw new Error('the extension answered with another row');
        this.rows.set(row, new Float32Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0)));
        while (this.rows.size > MAX_ROWS) this.rows.delete(this.rows.keys().next().value as number);
      }),
      (failed) => {
        if (this.rowRequest?.controller === controller) this.rowRequest = undefined;
        this.failedRow = failed ? row : undefined;
      },
    );
    return undefined;
  }

  /**
   * The area on screen is `visible`: unless a tile (here or on its way) holds it, asks for it with
   * a margin around it (half the visible size on each side, so a short scroll needs nothing new),
   * as long as that fits one reply.
   */
  want(visible: CellRect): void {
    if (this.disposed || visible.rowCount <= 0 || visible.colCount <= 0) return;
    if (this.tiles.some((t) => covers(t, visible))) return;
    if (this.tileRequest && covers(this.tileRequest.rect, visible)) return;
    if (this.failedTile && covers(this.failedTile, visible)) return;
    const rect = this.withMargin(visible);
    // A visible area larger than one reply (a very large screen at the smallest cells) is served
    // shortened by the server; asking again for the same area would loop.
    if ((this.tileRequest && same(rect, this.tileRequest.rect)) || this.tiles.some((t) => same(rect, t.asked))) return;
    this.tileRequest?.controller.abort();
    const controller = new AbortController();
    this.tileRequest = { rect, controller };
    this.settle(
      this.ask(rect, controller.signal).then((reply) => {
        const data = new Float32Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0));
        if (data.length !== reply.rowCount * reply.colCount) throw new Error('the extension sent a tile of the wrong size');
        this.tiles.push({ rowStart: reply.rowStart, rowCount: reply.rowCount, colStart: reply.colStart, colCount: reply.colCount, data, asked: rect });
        if (this.tiles.length > MAX_TILES) this.tiles.shift();
      }),
      (failed) => {
        if (this.tileRequest?.controller === controller) this.tileRequest = undefined;
        this.failedTile = failed ? rect : undefined;
      },
    );
  }

  private withMargin(v: CellRect): CellRect {
    for (const share of [0.5, 0.25, 0]) {
      const dr = Math.ceil(v.rowCount * share);
      const dc = Math.ceil(v.colCount * share);
      const rowStart = Math.max(0, v.rowStart - dr);
      const colStart = Math.max(0, v.colStart - dc);
      const rect = { rowStart, colStart, rowCount: Math.min(this.size, v.rowStart + v.rowCount + dr) - rowStart, colCount: Math.min(this.size, v.colStart + v.colCount + dc) - colStart };
      if (rect.rowCount * rect.colCount * 4 <= MAX_REPLY_BYTES || share === 0) return rect;
    }
    return v;
  }

  /** True while a tile or row is on its way. */
  get waiting(): boolean {
    return this.tileRequest !== undefined || this.rowRequest !== undefined;
  }

  private settle(work: Promise<void>, done: (failed: boolean) => void): void {
    work.then(
      () => {
        this.failure = undefined;
        done(false);
        if (!this.disposed) this.onArrive();
      },
      (err: unknown) => {
        done(!(err instanceof RequestFailed && err.cancelled));
        // A cancelled request (a newer one replaced it) is no failure, and nothing changed.
        if (err instanceof RequestFailed && err.cancelled) return;
        this.failure = err instanceof Error ? err.message : String(err);
        if (!this.disposed) this.onArrive();
      },
    );
  }

  /**
   * The head view moved on to another view: the tile and row still on their way are cancelled (the
   * host is told; their replies would be dropped). What is here stays, and coming back asks again.
   */
  cancelPending(): void {
    this.tileRequest?.controller.abort();
    this.rowRequest?.controller.abort();
  }

  dispose(): void {
    this.disposed = true;
    this.cancelPending();
    this.tiles = [];
    this.rows.clear();
  }
}
