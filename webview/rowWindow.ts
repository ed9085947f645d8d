/**
 * A view too large for one reply as the line view holds it: the band of query rows on screen (with
 * a margin) over every column, and the column of a hovered key over every row, each asked for as
 * it is needed. Only the newest band and column requests are kept: an older one still on its way is
 * cancelled (the host is told) and its reply, should it come, is dropped by the channel. One that
 * failed is not asked for again while it is what is wanted (no request loop).
 */
import { toArrayBuffer } from '../src/analysis/tensor';
import { RequestFailed } from './host/channel';
import type { CellRect, TileAsk } from './tiledView';

/** A part asked for: its weights once here (float32 `[rowCount, colCount]`). */
interface Part {
  rect: CellRect;
  data?: Float32Array;
  controller?: AbortController;
  failed?: boolean;
}

/** Rows in a band besides the visible ones (a short scroll needs nothing new); never more than the view's. */
const BAND_MARGIN_ROWS = 64;

export class RowWindow {
  private band: Part | undefined;
  private column: Part | undefined;
  private disposed = false;
  /** The last request that failed, if any. */
  failure: string | undefined;

  constructor(
    /** Rows and columns of the view. */
    readonly size: number,
    private readonly ask: TileAsk,
    private readonly onArrive: () => void,
  ) {}

  /** A view row's weights over every column, if the band here holds it. */
  row(r: number): Float32Array | undefined {
    const b = this.band;
    if (!b?.data || r < b.rect.rowStart || r >= b.rect.rowStart + b.rect.rowCount) return undefined;
    return b.data.subarray((r - b.rect.rowStart) * this.size, (r - b.rect.rowStart + 1) * this.size);
  }

  /** View rows [first, last) are on screen: unless the band (here, on its way or failed) holds them, asks for them with a margin. */
  want(first: number, last: number): void {
    first = Math.max(0, first);
    last = Math.min(this.size, last);
    if (this.disposed || last <= first) return;
    const b = this.band;
    if (b && b.rect.rowStart <= first && b.rect.rowStart + b.rect.rowCount >= last) return;
    const rowStart = Math.max(0, first - BAND_MARGIN_ROWS);
    this.band = this.fetch({ rowStart, rowCount: Math.min(this.size, last + BAND_MARGIN_ROWS) - rowStart, colStart: 0, colCount: this.size }, b);
  }

  /** A view column's weights over every row (the lines into a hovered key), or undefined while it is asked for. */
  columnOf(c: number): Float32Array | undefined {
    const col = this.column;
    if (col?.rect.colStart === c) return col.data;
    if (!this.disposed) this.column = this.fetch({ rowStart: 0, rowCount: this.size, colStart: c, colCount: 1 }, col);
    return undefined;
  }

  /** True while a band or column is on its way. */
  get waiting(): boolean {
    return this.band?.controller !== undefined || this.column?.controller !== undefined;
  }

  private fetch(rect: CellRect, replaced: Part | undefined): Part {
    replaced?.controller?.abort();
    const controller = new AbortController();
    const part: Part = { rect, controller };
    this.ask(rect, controller.signal)
      .then((reply) => {
        const data = new Float32Array(toArrayBuffer(reply.data) ?? new ArrayBuffer(0));
        if (reply.rowStart !== rect.rowStart || reply.colStart !== rect.colStart || reply.colCount !== rect.colCount || data.length !== reply.rowCount * reply.colCount) {
          throw new Error('the extension sent another part of the view than was asked for');
        }
        // The server may shorten a band to what fits one reply.
        part.rect = { ...rect, rowCount: reply.rowCount };
        part.data = data;
        this.failure = undefined;
      })
      .catch((err: unknown) => {
        if (err instanceof RequestFailed && err.cancelled) {
          // Replaced or given up: asked for again when it is wanted again.
          if (this.band === part) this.band = undefined;
          if (this.column === part) this.column = undefined;
          return;
        }
        part.failed = true;
        this.failure = err instanceof Error ? err.message : String(err);
      })
      .finally(() => {
        part.controller = undefined;
        if (!this.disposed && !controller.signal.aborted) this.onArrive();
      });
    return part;
  }

  /** What is on its way is cancelled (the line view shows another layer, or the panel another analysis). */
  cancelPending(): void {
    this.band?.controller?.abort();
    this.column?.controller?.abort();
  }

  dispose(): void {
    this.disposed = true;
    this.cancelPending();
    this.band = undefined;
    this.column = undefined;
  }
}
