/**
 * The head view: one heatmap, query rows × key columns, labels on both axes that stay in place while
 * the cells scroll. Everything is drawn on one viewport-sized canvas, so 512 tokens cost no more
 * DOM than 5. It shows a block of the view matrix (all rows and columns, or a sentence pair's A→B
 * block); every index it reports back is a row/column of the view matrix, never of the block.
 */
import { t } from './i18n';
import { UNIT_RANGE, colorLut, lightness, lutIndex, positionUnder, rowMaxima, type ColorScaleMapping, type ColorScaleName } from '../src/analysis/colormap';
import type { ViewMatrix } from '../src/analysis/view';
import { CanvasView } from './canvasView';
import { matrixToCanvas, weightsToCanvas } from './matrixImage';
import type { Theme } from './theme';
import type { CellRect, Tile, TiledView } from './tiledView';

export type Axis = 'row' | 'col';

export interface HeadViewEvents {
  hoverCell(row: number, col: number, clientX: number, clientY: number): void;
  hoverLabel(index: number, axis: Axis, clientX: number, clientY: number): void;
  leave(): void;
  clickCell(row: number, col: number): void;
  clickLabel(index: number, axis: Axis): void;
  /** The keyboard cursor moved (arrow keys): announce it. */
  keyboardCell(row: number, col: number): void;
  /** Enter on a cell. */
  activateCell(row: number, col: number): void;
  /** Space on a cell: focus (or unfocus) its query row. */
  toggleFocusRow(row: number): void;
  /** Escape. */
  clearFocus(): void;
  /** Ctrl/Cmd + wheel or +/- keys. */
  zoom(factor: number): void;
  /** The cells on screen after a draw (a view served in tiles asks for them). */
  visible?(rect: CellRect): void;
}

const LABEL_MAX_FONT = 12;
const LABEL_MIN_FONT = 7;
const LABEL_MAX_WIDTH = 150;
const GAP = 6;
const PAD = 8;
const MIN_FIT_CELL = 3;
const MAX_FIT_CELL = 72;
const VALUE_TEXT_MIN_CELL = 34;
/**
 * A view served in tiles colours its overview in chunks of this many cells per side, as they first
 * come on screen: a 2,048-token view's overview is a million cells, of which the first screen shows
 * a few dozen thousand.
 */
const OVERVIEW_CHUNK = 128;

/** What the heatmap shows: view rows `rows` × view columns `cols`, coloured at `positions` (rows × cols, 0–1). */
export interface HeatmapBlock {
  view: ViewMatrix;
  rows: number[];
  cols: number[];
  positions: ArrayLike<number>;
  scale: ColorScaleName;
}

/** A view served in tiles: its overview and exact tiles, coloured under `mapping` as they are drawn. */
export interface TiledHeatmap {
  tiled: TiledView;
  mapping: ColorScaleMapping;
  scale: ColorScaleName;
}

export class HeadView extends CanvasView {
  private view: Pick<ViewMatrix, 'size' | 'items'> | undefined;
  /** The whole view's exact weights (a view that came whole), else undefined. */
  private exact: ViewMatrix | undefined;
  private tiled: TiledHeatmap | undefined;
  /** The overview's chunks coloured so far (by chunk row × chunk column), and what they were coloured from. */
  private overviewChunks = new Map<number, HTMLCanvasElement>();
  private overviewOf: { tiled: TiledView; mapping: ColorScaleMapping; scale: ColorScaleName; rowMax?: Float64Array } | undefined;
  private tileImages = new Map<Tile, HTMLCanvasElement>();
  private tileColours: { mapping: ColorScaleMapping; scale: ColorScaleName } | undefined;
  private rows: number[] = [];
  private cols: number[] = [];
  private rowAt = new Map<number, number>();
  private colAt = new Map<number, number>();
  private positions: ArrayLike<number> = [];
  private scale: ColorScaleName = 'viridis';
  private image: HTMLCanvasElement | undefined;
  private zoomCell: number | null = null;
  /** Layout in CSS pixels. */
  cell = 10;
  gutterLeft = PAD;
  gutterTop = PAD;
  labelFont = 0;
  private hover: { kind: 'cell'; row: number; col: number } | { kind: 'label'; index: number; axis: Axis } | null = null;
  /** View rows (not block rows). */
  focusRow: number | null = null;
  cursorRow: number | null = null;
  /** Keyboard cursor in block coordinates. */
  keyCell = { row: 0, col: 0 };
  /** The keyboard cursor is drawn only after keys were used, not after a click focused the canvas. */
  private keyboardMode = false;

  constructor(private readonly events: HeadViewEvents) {
    super('head-view');
    const c = this.canvas;
    this.makeFocusable('heatmap', t('attention heatmap'), () => {
      if (this.view && this.keyboardMode) this.events.keyboardCell(this.rows[this.keyCell.row], this.cols[this.keyCell.col]);
    });
    c.addEventListener('mousemove', (e) => this.onMove(e));
    c.addEventListener('mouseleave', () => {
      this.hover = null;
      this.events.leave();
      this.requestRender();
    });
    c.addEventListener('click', (e) => this.onClick(e));
    c.addEventListener('mousedown', () => {
      this.keyboardMode = false;
    });
    c.addEventListener('keydown', (e) => {
      this.keyboardMode = true;
      this.onKey(e);
    });
    this.scroller.addEventListener(
      'wheel',
      (e) => {
        if (!(e.ctrlKey || e.metaKey)) return;
        e.preventDefault();
        this.events.zoom(e.deltaY < 0 ? 1.25 : 0.8);
      },
      { passive: false },
    );
  }

  setData(block: HeatmapBlock): void {
    this.setShape(block.view, block.rows, block.cols);
    this.exact = block.view;
    this.tiled = undefined;
    this.positions = block.positions;
    this.scale = block.scale;
    this.image = matrixToCanvas({ size: block.rows.length, cols: block.cols.length, data: block.positions }, UNIT_RANGE, block.scale, this.image);
    this.layoutChanged();
    this.requestRender();
  }

  /**
   * Shows a view served in tiles: the overview at once, the exact tiles over it where they are, and
   * asks (through `visible`) for the cells on screen after each draw.
   */
  setTiled(block: TiledHeatmap): void {
    const { tiled } = block;
    const sameShape = this.tiled?.tiled.size === tiled.size && this.rows.length === tiled.size;
    const all = sameShape ? this.rows : tiled.items.map((_, i) => i);
    this.setShape(tiled, all, all);
    this.exact = undefined;
    this.image = undefined;
    this.scale = block.scale;
    const o = this.overviewOf;
    if (o?.tiled !== tiled || o.mapping !== block.mapping || o.scale !== block.scale) {
      this.overviewChunks = new Map();
      this.overviewOf = { tiled, mapping: block.mapping, scale: block.scale };
    }
    if (this.tileColours?.mapping !== block.mapping || this.tileColours.scale !== block.scale || this.tiled?.tiled !== tiled) this.tileImages = new Map();
    this.tileColours = { mapping: block.mapping, scale: block.scale };
    this.tiled = block;
    this.layoutChanged();
    this.requestRender();
  }

  private setShape(view: Pick<ViewMatrix, 'size' | 'items'>, rows: number[], cols: number[]): void {
    const shapeChanged = this.rows.length !== rows.length || this.cols.length !== cols.length || this.view?.size !== view.size;
    this.view = view;
    if (this.rows !== rows) {
      this.rows = rows;
      this.rowAt = new Map(rows.map((r, i) => [r, i]));
    }
    if (this.cols !== cols) {
      this.cols = cols;
      this.colAt = new Map(cols.map((c, j) => [c, j]));
    }
    if (shapeChanged) {
      this.keyCell = { row: Math.max(0, Math.min(this.keyCell.row, rows.length - 1)), col: Math.max(0, Math.min(this.keyCell.col, cols.length - 1)) };
      this.hover = null;
    }
  }

  /** Drops hover state (a new result arrived under the pointer). */
  clearHover(): void {
    this.hover = null;
    this.requestRender();
  }

  setZoom(cell: number | null): void {
    // Rendering sets the zoom on every state change: a layout only when it changes.
    if (cell === this.zoomCell) return;
    this.zoomCell = cell;
    this.layoutChanged();
    this.requestRender();
  }

  setAriaLabel(label: string): void {
    this.canvas.setAttribute('aria-label', label);
  }

  private labelFontFor(cell: number): number {
    const font = Math.min(LABEL_MAX_FONT, cell - 2);
    return font >= LABEL_MIN_FONT ? font : 0;
  }

  private widest: { items: unknown; rows: number[]; cols: number[]; font: string; width: number } | undefined;

  /**
   * Width of the widest label at LABEL_MAX_FONT; other sizes scale with the font. Measured once per
   * view shape and font (thousands of labels take milliseconds, and layouts come often).
   */
  private measureLabels(): number {
    if (!this.view || !this.theme) return 0;
    const font = `${LABEL_MAX_FONT}px ${this.theme.editorFontFamily}`;
    const items = this.view.items;
    const w = this.widest;
    if (w && w.items === items && w.rows === this.rows && w.cols === this.cols && w.font === font) return w.width;
    this.ctx.font = font;
    let widest = 0;
    for (const i of new Set([...this.rows, ...this.cols])) widest = Math.max(widest, this.ctx.measureText(items[i].label).width);
    this.widest = { items, rows: this.rows, cols: this.cols, font, width: widest };
    return widest;
  }

  /** The cell size that fits `rows` × `cols` into the scroller's outer box beside gutters of `gutter`. */
  private fitCell(gutter: number, rows: number, cols: number): number {
    const { width, height } = this.box;
    return Math.max(MIN_FIT_CELL, Math.min(MAX_FIT_CELL, Math.floor(Math.min((width - gutter - PAD) / cols, (height - gutter - PAD) / rows))));
  }

  protected override layoutChanged(): void {
    const view = this.view;
    if (!view || !this.theme) return;
    const rows = Math.max(1, this.rows.length);
    const cols = Math.max(1, this.cols.length);
    // Cells too small for labels even without gutters (a long text fitted to the panel) need no measuring.
    const noLabels = this.labelFontFor(this.zoomCell ?? this.fitCell(PAD, rows, cols)) === 0;
    const widest = noLabels ? 0 : this.measureLabels();
    // Long labels are cut with an ellipsis rather than taking the cells' room in a small panel.
    const maxLabel = Math.max(40, Math.min(LABEL_MAX_WIDTH, 0.2 * Math.min(this.box.width, this.box.height)));
    const gutterFor = (font: number) => (font === 0 ? PAD : Math.min(maxLabel, Math.ceil((widest * font) / LABEL_MAX_FONT)) + GAP + PAD);
    let cell: number;
    let font: number;
    if (this.zoomCell !== null) {
      cell = this.zoomCell;
      font = this.labelFontFor(cell);
    } else {
      // Fit into the scroller's outer box, which scrollbars do not change (no resize feedback loop).
      // Each label size (and none) gives a cell size; the largest cell whose labels fit wins. The
      // result depends on the box and the labels only, so it cannot alternate between two layouts.
      const fit = (gutter: number) => this.fitCell(gutter, rows, cols);
      cell = fit(PAD);
      font = 0;
      for (let f = LABEL_MAX_FONT; f >= LABEL_MIN_FONT; f--) {
        const c = fit(gutterFor(f));
        if (this.labelFontFor(c) >= f) {
          // Labels are worth a smaller cell: take the largest font whose cells still hold it.
          cell = c;
          font = f;
          break;
        }
      }
    }
    this.cell = cell;
    this.labelFont = font;
    const gutter = gutterFor(font);
    this.gutterLeft = gutter;
    this.gutterTop = gutter;
    this.setContentSize(this.gutterLeft + cols * cell + PAD, this.gutterTop + rows * cell + PAD);
    // Not the scroll offsets: reading them right after the content size changed would force a layout
    // here (the frame that draws publishes them).
    this.exposeGeometry(false);
  }

  /** Geometry for tests and the end-to-end suite (see webview/TESTING.md). */
  private exposeGeometry(withScroll = true): void {
    const d = this.canvas.dataset;
    d.cellSize = String(this.cell);
    d.gridLeft = String(this.gutterLeft);
    d.gridTop = String(this.gutterTop);
    d.size = String(this.view?.size ?? 0);
    d.rows = String(this.rows.length);
    d.cols = String(this.cols.length);
    d.labels = this.labelFont > 0 ? 'shown' : 'hidden';
    if (withScroll) {
      d.scrollX = String(this.scrollX);
      d.scrollY = String(this.scrollY);
    }
    // A view served in tiles: the overview's cells per side and the exact tiles drawn ("row,col,rows,cols" each).
    d.overview = this.tiled ? String(this.tiled.tiled.overview.cells) : '';
    d.tiles = this.tiled ? this.tiled.tiled.tiles.map((t) => `${t.rowStart},${t.colStart},${t.rowCount},${t.colCount}`).join(' ') : '';
  }

  /** A cell's exact weight (view indices), or undefined while its tile is on its way. */
  valueAt(row: number, col: number): number | undefined {
    if (this.exact) return this.exact.data[row * this.exact.size + col];
    return this.tiled?.tiled.value(row, col);
  }

  /** Which cell or label (in view indices) is under a point given in canvas (viewport) coordinates. */
  hitTest(viewX: number, viewY: number): { kind: 'cell'; row: number; col: number } | { kind: 'label'; index: number; axis: Axis } | null {
    if (!this.view) return null;
    const col = Math.floor((viewX - this.gutterLeft + this.scrollX) / this.cell);
    const row = Math.floor((viewY - this.gutterTop + this.scrollY) / this.cell);
    const inCols = col >= 0 && col < this.cols.length;
    const inRows = row >= 0 && row < this.rows.length;
    if (viewX >= this.gutterLeft && viewY >= this.gutterTop) return inCols && inRows ? { kind: 'cell', row: this.rows[row], col: this.cols[col] } : null;
    if (this.labelFont === 0) return null;
    if (viewX < this.gutterLeft && viewY >= this.gutterTop && inRows) return { kind: 'label', index: this.rows[row], axis: 'row' };
    if (viewY < this.gutterTop && viewX >= this.gutterLeft && inCols) return { kind: 'label', index: this.cols[col], axis: 'col' };
    return null;
  }

  private onMove(e: MouseEvent): void {
    const p = this.contentPoint(e);
    const hit = this.hitTest(p.viewX, p.viewY);
    const before = JSON.stringify(this.hover);
    if (hit?.kind === 'cell') {
      this.hover = { kind: 'cell', row: hit.row, col: hit.col };
      this.events.hoverCell(hit.row, hit.col, e.clientX, e.clientY);
    } else if (hit?.kind === 'label') {
      this.hover = { kind: 'label', index: hit.index, axis: hit.axis };
      this.events.hoverLabel(hit.index, hit.axis, e.clientX, e.clientY);
    } else {
      this.hover = null;
      this.events.leave();
    }
    this.canvas.style.cursor = hit ? 'pointer' : 'default';
    if (JSON.stringify(this.hover) !== before) this.requestRender();
  }

  private onClick(e: MouseEvent): void {
    const p = this.contentPoint(e);
    const hit = this.hitTest(p.viewX, p.viewY);
    if (hit?.kind === 'cell') {
      this.keyCell = { row: this.rowAt.get(hit.row) ?? 0, col: this.colAt.get(hit.col) ?? 0 };
      this.events.clickCell(hit.row, hit.col);
    } else if (hit?.kind === 'label') {
      this.keyCell = hit.axis === 'row' ? { row: this.rowAt.get(hit.index) ?? 0, col: this.keyCell.col } : { row: this.keyCell.row, col: this.colAt.get(hit.index) ?? 0 };
      this.events.clickLabel(hit.index, hit.axis);
    }
    this.requestRender();
  }

  private onKey(e: KeyboardEvent): void {
    if (!this.view) return;
    const nRows = this.rows.length;
    const nCols = this.cols.length;
    const page = Math.max(1, Math.floor((this.height - this.gutterTop) / this.cell) - 1);
    let { row, col } = this.keyCell;
    switch (e.key) {
      case 'ArrowUp': row--; break;
      case 'ArrowDown': row++; break;
      case 'ArrowLeft': col--; break;
      case 'ArrowRight': col++; break;
      case 'PageUp': row -= page; break;
      case 'PageDown': row += page; break;
      case 'Home': if (e.ctrlKey) row = 0; col = 0; break;
      case 'End': if (e.ctrlKey) row = nRows - 1; col = nCols - 1; break;
      case 'Enter':
        e.preventDefault();
        this.events.activateCell(this.rows[row], this.cols[col]);
        return;
      case ' ':
        e.preventDefault();
        this.events.toggleFocusRow(this.rows[row]);
        return;
      case 'Escape':
        this.events.clearFocus();
        return;
      case '+':
      case '=':
        this.events.zoom(1.25);
        return;
      case '-':
        this.events.zoom(0.8);
        return;
      default:
        return;
    }
    e.preventDefault();
    this.moveKeyCell(row, col);
  }

  /** Moves the keyboard cursor (block coordinates). */
  moveKeyCell(row: number, col: number): void {
    if (this.rows.length === 0 || this.cols.length === 0) return;
    this.keyCell = { row: Math.max(0, Math.min(this.rows.length - 1, row)), col: Math.max(0, Math.min(this.cols.length - 1, col)) };
    this.revealBlockCell(this.keyCell.row, this.keyCell.col);
    this.events.keyboardCell(this.rows[this.keyCell.row], this.cols[this.keyCell.col]);
    this.requestRender();
  }

  /** Where the view is scrolled to, in cells (block coordinates): the cell at the top-left of the grid. */
  get scrollCell(): { row: number; col: number } {
    return { row: this.scrollY / this.cell, col: this.scrollX / this.cell };
  }

  /** Scrolls to put `at` (cells, as `scrollCell` says) at the top-left once the view is laid out. */
  restoreScrollCell(at: { row: number; col: number }): void {
    this.restoreScroll(() => ({ x: Math.round(at.col * this.cell), y: Math.round(at.row * this.cell) }));
  }

  /** Scrolls so the row of a view row is visible (keeping the horizontal scroll). */
  revealRow(viewRow: number): void {
    const r = this.rowAt.get(viewRow);
    if (r !== undefined) this.revealBlockCell(r, this.keyCell.col);
  }

  private revealBlockCell(row: number, col: number): void {
    this.scrollIntoView(this.gutterLeft + col * this.cell, this.gutterTop + row * this.cell, this.cell, this.cell, this.gutterLeft, this.gutterTop);
  }

  protected draw(ctx: CanvasRenderingContext2D, sx: number, sy: number): void {
    const theme = this.theme;
    const view = this.view;
    ctx.fillStyle = theme?.background ?? '#fff';
    ctx.fillRect(0, 0, this.width, this.height);
    this.exposeGeometry();
    if (!theme || !view || (!this.image && !this.tiled)) return;
    const nRows = this.rows.length;
    const nCols = this.cols.length;
    const cell = this.cell;
    const gx = this.gutterLeft - sx;
    const gy = this.gutterTop - sy;
    // Visible cell range (block coordinates).
    const c0 = Math.max(0, Math.floor(sx / cell));
    const r0 = Math.max(0, Math.floor(sy / cell));
    const c1 = Math.min(nCols, Math.ceil((sx + this.width - this.gutterLeft) / cell) + 1);
    const r1 = Math.min(nRows, Math.ceil((sy + this.height - this.gutterTop) / cell) + 1);

    ctx.save();
    ctx.beginPath();
    ctx.rect(this.gutterLeft, this.gutterTop, this.width - this.gutterLeft, this.height - this.gutterTop);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    if (c1 > c0 && r1 > r0) {
      if (this.image) ctx.drawImage(this.image, c0, r0, c1 - c0, r1 - r0, gx + c0 * cell, gy + r0 * cell, (c1 - c0) * cell, (r1 - r0) * cell);
      else this.drawTiled(ctx, gx, gy, r0, r1, c0, c1);
    }
    if (cell >= VALUE_TEXT_MIN_CELL) this.drawValues(ctx, gx, gy, r0, r1, c0, c1);
    this.drawHighlights(ctx, theme, gx, gy);
    ctx.restore();

    this.drawLabels(ctx, theme, view, gx, gy, r0, r1, c0, c1);
  }

  /** The overview scaled to the cells it covers, the exact tiles over it; then asks for what is on screen. */
  private drawTiled(ctx: CanvasRenderingContext2D, gx: number, gy: number, r0: number, r1: number, c0: number, c1: number): void {
    const block = this.tiled!;
    const { tiled } = block;
    const cell = this.cell;
    const n = tiled.size;
    ctx.save();
    // The overview's last cells may stand for fewer view cells than `factor`: nothing past the grid.
    ctx.beginPath();
    ctx.rect(gx, gy, n * cell, n * cell);
    ctx.clip();
    const { factor, cells } = tiled.overview;
    const o0 = { r: Math.floor(r0 / factor), c: Math.floor(c0 / factor) };
    const o1 = { r: Math.min(cells, Math.ceil(r1 / factor)), c: Math.min(cells, Math.ceil(c1 / factor)) };
    const step = factor * cell;
    for (let cr = Math.floor(o0.r / OVERVIEW_CHUNK); cr * OVERVIEW_CHUNK < o1.r; cr++) {
      for (let cc = Math.floor(o0.c / OVERVIEW_CHUNK); cc * OVERVIEW_CHUNK < o1.c; cc++) {
        const chunk = this.overviewChunk(cr, cc);
        ctx.drawImage(chunk, gx + cc * OVERVIEW_CHUNK * step, gy + cr * OVERVIEW_CHUNK * step, chunk.width * step, chunk.height * step);
      }
    }
    for (const tile of tiled.tiles) {
      if (tile.rowStart >= r1 || tile.rowStart + tile.rowCount <= r0 || tile.colStart >= c1 || tile.colStart + tile.colCount <= c0) continue;
      ctx.drawImage(this.tileImage(tile), gx + tile.colStart * cell, gy + tile.rowStart * cell, tile.colCount * cell, tile.rowCount * cell);
    }
    ctx.restore();
    this.events.visible?.({ rowStart: r0, rowCount: r1 - r0, colStart: c0, colCount: c1 - c0 });
  }

  /** Overview cells [cr·CHUNK, (cr+1)·CHUNK) × [cc·CHUNK, (cc+1)·CHUNK), coloured the first time they are drawn. */
  private overviewChunk(cr: number, cc: number): HTMLCanvasElement {
    const o = this.overviewOf!;
    const { cells, data } = o.tiled.overview;
    const key = cr * Math.ceil(cells / OVERVIEW_CHUNK) + cc;
    let image = this.overviewChunks.get(key);
    if (!image) {
      const block = { rows: cells, cols: cells, data };
      // Per-row colours scale each overview row to its own maximum, over the whole row.
      if (o.mapping.norm === 'row') o.rowMax ??= rowMaxima(block);
      const rowStart = cr * OVERVIEW_CHUNK;
      const colStart = cc * OVERVIEW_CHUNK;
      const rect = { rowStart, colStart, rowCount: Math.min(OVERVIEW_CHUNK, cells - rowStart), colCount: Math.min(OVERVIEW_CHUNK, cells - colStart) };
      image = weightsToCanvas(block, o.mapping, o.scale, { rowMax: o.rowMax, rect });
      this.overviewChunks.set(key, image);
    }
    return image;
  }

  private tileImage(tile: Tile): HTMLCanvasElement {
    let image = this.tileImages.get(tile);
    if (!image) {
      const { mapping, scale } = this.tileColours!;
      const rowMax = this.tiled!.tiled.rowMax.subarray(tile.rowStart, tile.rowStart + tile.rowCount);
      image = weightsToCanvas({ rows: tile.rowCount, cols: tile.colCount, data: tile.data }, mapping, scale, { rowMax });
      this.tileImages.set(tile, image);
      // Tiles the view no longer keeps.
      for (const t of this.tileImages.keys()) if (!this.tiled!.tiled.tiles.includes(t)) this.tileImages.delete(t);
    }
    return image;
  }

  private drawValues(ctx: CanvasRenderingContext2D, gx: number, gy: number, r0: number, r1: number, c0: number, c1: number): void {
    const lut = colorLut(this.scale);
    const tilePosition = this.exact ? undefined : positionUnder(this.tileColours!.mapping);
    const cell = this.cell;
    ctx.font = `${Math.min(11, cell / 3.2)}px ${this.theme!.fontFamily}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++) {
        const v = this.valueAt(this.rows[r], this.cols[c]);
        if (v === undefined) continue;
        const position = this.exact ? this.positions[r * this.cols.length + c] : tilePosition!(v, this.tiled!.tiled.rowMax[this.rows[r]]);
        const k = lutIndex(position, UNIT_RANGE) * 3;
        ctx.fillStyle = lightness([lut[k], lut[k + 1], lut[k + 2]]) > 55 ? '#000' : '#fff';
        // Differences (the compare view) are signed: "−.07", "+.27"; weights are not.
        const text = Math.abs(v).toFixed(2).replace(/^0\./, '.');
        ctx.fillText(v < 0 && text !== '.00' ? `−${text}` : text, gx + (c + 0.5) * cell, gy + (r + 0.5) * cell);
      }
    }
  }

  private drawHighlights(ctx: CanvasRenderingContext2D, theme: Theme, gx: number, gy: number): void {
    const cell = this.cell;
    const width = this.cols.length * cell;
    const height = this.rows.length * cell;
    const outline = theme.contrastBorder ?? theme.focus;
    if (this.hover?.kind === 'label') {
      // A token's row and column (where it is on each axis of the block).
      const r = this.rowAt.get(this.hover.index);
      const c = this.colAt.get(this.hover.index);
      ctx.fillStyle = theme.highlight;
      ctx.strokeStyle = theme.foreground;
      ctx.lineWidth = 1;
      if (r !== undefined) {
        ctx.fillRect(gx, gy + r * cell, width, cell);
        ctx.strokeRect(gx + 0.5, gy + r * cell + 0.5, width - 1, cell - 1);
      }
      if (c !== undefined) {
        ctx.fillRect(gx + c * cell, gy, cell, height);
        ctx.strokeRect(gx + c * cell + 0.5, gy + 0.5, cell - 1, height - 1);
      }
    }
    const cursor = this.cursorRow === null ? undefined : this.rowAt.get(this.cursorRow);
    if (cursor !== undefined) {
      ctx.strokeStyle = theme.cursor;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([4, 3]);
      ctx.strokeRect(gx + 0.75, gy + cursor * cell + 0.75, width - 1.5, cell - 1.5);
      ctx.setLineDash([]);
    }
    const focus = this.focusRow === null ? undefined : this.rowAt.get(this.focusRow);
    if (focus !== undefined) {
      ctx.strokeStyle = outline;
      ctx.lineWidth = 2;
      ctx.strokeRect(gx + 1, gy + focus * cell + 1, width - 2, cell - 2);
    }
    if (this.hover?.kind === 'cell') {
      const row = this.rowAt.get(this.hover.row) ?? 0;
      const col = this.colAt.get(this.hover.col) ?? 0;
      ctx.strokeStyle = theme.background;
      ctx.lineWidth = 3;
      ctx.strokeRect(gx + col * cell + 1.5, gy + row * cell + 1.5, cell - 3, cell - 3);
      ctx.strokeStyle = theme.foreground;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(gx + col * cell + 0.75, gy + row * cell + 0.75, cell - 1.5, cell - 1.5);
    }
    if (this.hasKeyboardFocus && this.keyboardMode) {
      const { row, col } = this.keyCell;
      ctx.strokeStyle = outline;
      ctx.lineWidth = 2;
      ctx.strokeRect(gx + col * cell - 1, gy + row * cell - 1, cell + 2, cell + 2);
    }
  }

  /** Labels (view indices) highlighted because their row/column is under the pointer, keyboard or focus. */
  private emphasised(): { rows: Set<number>; cols: Set<number> } {
    const rows = new Set<number>();
    const cols = new Set<number>();
    if (this.hover?.kind === 'cell') {
      rows.add(this.hover.row);
      cols.add(this.hover.col);
    } else if (this.hover?.kind === 'label') {
      rows.add(this.hover.index);
      cols.add(this.hover.index);
    }
    if (this.hasKeyboardFocus && this.keyboardMode) {
      rows.add(this.rows[this.keyCell.row]);
      cols.add(this.cols[this.keyCell.col]);
    }
    if (this.focusRow !== null) rows.add(this.focusRow);
    return { rows, cols };
  }

  private drawLabels(ctx: CanvasRenderingContext2D, theme: Theme, view: Pick<ViewMatrix, 'items'>, gx: number, gy: number, r0: number, r1: number, c0: number, c1: number): void {
    // Gutters are painted over the cells that scrolled under them.
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, this.gutterLeft, this.height);
    ctx.fillRect(0, 0, this.width, this.gutterTop);
    if (this.labelFont === 0) return;
    const cell = this.cell;
    const font = this.labelFont;
    const maxWidth = this.gutterLeft - GAP - PAD;
    const { rows, cols } = this.emphasised();
    const styleFor = (index: number, strong: boolean) => {
      const { special, generated } = view.items[index];
      ctx.font = `${strong ? 'bold ' : ''}${special || generated ? 'italic ' : ''}${font}px ${theme.editorFontFamily}`;
      ctx.fillStyle = strong ? theme.foreground : generated ? theme.generated : special ? theme.muted : theme.foreground;
    };
    ctx.textBaseline = 'middle';
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, this.gutterTop, this.gutterLeft, this.height - this.gutterTop);
    ctx.clip();
    ctx.textAlign = 'right';
    for (let r = r0; r < r1; r++) {
      const index = this.rows[r];
      const strong = rows.has(index);
      styleFor(index, strong);
      const y = gy + (r + 0.5) * cell;
      if (strong) this.labelBackdrop(ctx, theme, PAD / 2, y - cell / 2, this.gutterLeft - PAD / 2 - 2, cell);
      ctx.fillText(this.fit(view.items[index].label, maxWidth), this.gutterLeft - GAP, y);
      if (this.cursorRow === index) this.cursorMarker(ctx, theme, y);
    }
    ctx.restore();
    ctx.save();
    ctx.beginPath();
    ctx.rect(this.gutterLeft, 0, this.width - this.gutterLeft, this.gutterTop);
    ctx.clip();
    ctx.textAlign = 'left';
    for (let c = c0; c < c1; c++) {
      const index = this.cols[c];
      const strong = cols.has(index);
      styleFor(index, strong);
      const x = gx + (c + 0.5) * cell;
      ctx.save();
      ctx.translate(x, this.gutterTop - GAP);
      ctx.rotate(-Math.PI / 2);
      if (strong) this.labelBackdrop(ctx, theme, -2, -cell / 2, this.gutterTop - GAP - PAD / 2, cell);
      ctx.fillText(this.fit(view.items[index].label, maxWidth), 0, 0);
      ctx.restore();
    }
    ctx.restore();
    // Corner caption.
    if (this.gutterLeft > 60 && this.gutterTop > 30) {
      ctx.font = `${Math.min(11, theme.fontSize)}px ${theme.fontFamily}`;
      ctx.fillStyle = theme.muted;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'alphabetic';
      ctx.fillText(t('key →'), PAD, this.gutterTop - GAP - 14);
      ctx.fillText(t('query ↓'), PAD, this.gutterTop - GAP);
    }
  }

  private labelBackdrop(ctx: CanvasRenderingContext2D, theme: Theme, x: number, y: number, w: number, h: number): void {
    const fill = ctx.fillStyle;
    ctx.fillStyle = theme.highlight;
    ctx.fillRect(x, y, w, h);
    // High-contrast themes mark with an outline, as VS Code does, rather than a wash alone.
    if (theme.contrastBorder) {
      ctx.strokeStyle = theme.contrastBorder;
      ctx.lineWidth = 1;
      ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
    }
    ctx.fillStyle = fill;
  }

  private cursorMarker(ctx: CanvasRenderingContext2D, theme: Theme, y: number): void {
    const size = Math.min(6, this.cell / 2);
    ctx.save();
    ctx.fillStyle = theme.cursor;
    ctx.beginPath();
    ctx.moveTo(2, y - size);
    ctx.lineTo(2 + size, y);
    ctx.lineTo(2, y + size);
    ctx.closePath();
    ctx.fill();
    ctx.restore();
  }

  private readonly fitCache = new Map<string, string>();

  /** Label shortened with an ellipsis to the gutter width (cached per font and width). */
  private fit(label: string, maxWidth: number): string {
    const key = `${this.ctx.font}|${maxWidth}|${label}`;
    let fitted = this.fitCache.get(key);
    if (fitted === undefined) {
      fitted = label;
      if (this.ctx.measureText(label).width > maxWidth) {
        const chars = [...label];
        while (chars.length > 1 && this.ctx.measureText(chars.join('') + '…').width > maxWidth) chars.pop();
        fitted = chars.join('') + '…';
      }
      if (this.fitCache.size > 20000) this.fitCache.clear();
      this.fitCache.set(key, fitted);
    }
    return fitted;
  }
}
