/**
 * The model view: every layer × head as a thumbnail with its pattern scores, in layer order or
 * ranked by a score. Thumbnails are drawn lazily (only visible ones, a time budget per frame), so a
 * 12 × 12 grid at 128 tokens — or 32 × 32 heads — scrolls without stutter.
 */
import { t } from './i18n';
import { SCORE_INFO, SCORE_KEYS, type HeadScores, type ScoreKey } from '../src/analysis/patterns';
import { CanvasView } from './canvasView';
import type { Theme } from './theme';

export interface ModelTile {
  layer: number;
  head: number;
  scores: HeadScores;
  /** False: filtered out (drawn dimmed in the grid arrangement). */
  matches: boolean;
}

export interface ModelViewEvents {
  hoverTile(tile: ModelTile, clientX: number, clientY: number): void;
  leave(): void;
  openTile(tile: ModelTile): void;
  keyboardTile(tile: ModelTile): void;
}

/** Supplies a thumbnail canvas for a head (may be slow: called within a per-frame time budget). */
export type ThumbnailSource = (layer: number, head: number, pixels: number) => HTMLCanvasElement;

const PAD = 8;
const GAP = 8;
const LABEL_COL = 34;
const HEADER = 20;
const CAPTION = 30;
const FRAME_BUDGET_MS = 10;
/** Token labels on the grid need cells at least this large (CSS px per token in a thumbnail). */
const LABEL_MIN_CELL = 8;
const LABEL_MAX_WIDTH = 90;

/** Token labels for the tiles' axes (shown where thumbnails are large enough). */
export interface GridLabels {
  /** Query labels (thumbnail rows); null when tiles show one query's row. */
  rows: string[] | null;
  cols: string[];
}

export class ModelView extends CanvasView {
  private tiles: ModelTile[] = [];
  /** Columns per row of tiles (heads in the grid arrangement). */
  private columns = 1;
  private grid = true;
  private heads = 0;
  thumb = 72;
  private thumbs = new Map<string, HTMLCanvasElement>();
  private source: ThumbnailSource | undefined;
  private generation = 0;
  current = { layer: 0, head: 0 };
  /** The score shown as a number and highlighted among the bars. */
  scoreKey: ScoreKey = 'previousToken';
  private hoverIndex = -1;
  private labels: GridLabels | undefined;
  /** Gutters (grow to hold token labels when they fit). */
  private labelCol = LABEL_COL;
  private header = HEADER;
  private labelFont = 0;
  private keyIndex = 0;

  constructor(private readonly events: ModelViewEvents) {
    super('model-view');
    const c = this.canvas;
    this.makeFocusable('model-grid', t('grid of attention heads'), () => {
      const current = this.tiles.findIndex((t) => t.layer === this.current.layer && t.head === this.current.head);
      if (current >= 0) this.keyIndex = current;
      if (this.tiles[this.keyIndex]) this.events.keyboardTile(this.tiles[this.keyIndex]);
    });
    c.addEventListener('mousemove', (e) => this.onMove(e));
    c.addEventListener('mouseleave', () => {
      this.hoverIndex = -1;
      this.events.leave();
      this.requestRender();
    });
    c.addEventListener('click', (e) => {
      const i = this.tileAt(e);
      if (i >= 0) {
        this.keyIndex = i;
        this.events.openTile(this.tiles[i]);
      }
    });
    c.addEventListener('keydown', (e) => this.onKey(e));
  }

  /**
   * New content. `grid`: tiles are every head in layer order, laid out layers × heads; otherwise a
   * ranked list wrapped into rows. `source` renders thumbnails; changing it drops the cache.
   */
  setTiles(tiles: ModelTile[], heads: number, grid: boolean, source: ThumbnailSource, sourceChanged: boolean, labels?: GridLabels): void {
    this.tiles = tiles;
    this.labels = labels;
    this.heads = heads;
    this.grid = grid;
    if (sourceChanged || this.source === undefined) {
      this.thumbs.clear();
      this.generation++;
    }
    this.source = source;
    this.keyIndex = Math.min(this.keyIndex, Math.max(0, tiles.length - 1));
    this.layoutChanged();
    this.requestRender();
  }

  /** Its grid is laid out even without tiles: a scroll position to restore waits for them. */
  protected override hasContent(): boolean {
    return this.tiles.length > 0;
  }

  private thumbFor(labelCol: number): number {
    const available = this.box.width - PAD * 2 - labelCol;
    const wanted = this.grid ? Math.max(1, this.heads) : Math.max(1, Math.floor(available / (72 + GAP)));
    return Math.max(40, Math.min(160, Math.floor(available / wanted) - GAP));
  }

  protected override layoutChanged(): void {
    this.labelCol = LABEL_COL;
    this.header = HEADER;
    this.labelFont = 0;
    this.thumb = this.thumbFor(LABEL_COL);
    // Token labels where they fit: the grid arrangement, thumbnails with ≥ 8 px per token.
    const labels = this.labels;
    if (labels && this.grid && this.theme && labels.cols.length > 0) {
      const width = (list: string[]) => {
        this.ctx.font = `9px ${this.theme!.editorFontFamily}`;
        return Math.min(LABEL_MAX_WIDTH, Math.ceil(list.reduce((w, l) => Math.max(w, this.ctx.measureText(l).width), 0)) + 4);
      };
      const rowWidth = labels.rows ? width(labels.rows) : 0;
      const thumb = this.thumbFor(LABEL_COL + rowWidth);
      if (thumb / labels.cols.length >= LABEL_MIN_CELL) {
        this.labelCol = LABEL_COL + rowWidth;
        this.header = HEADER + width(labels.cols);
        this.thumb = thumb;
        this.labelFont = Math.min(11, Math.floor(thumb / labels.cols.length) - 1);
      }
    }
    this.columns = this.grid ? Math.max(1, this.heads) : Math.max(1, Math.floor((this.box.width - PAD * 2 - this.labelCol) / (this.thumb + GAP)));
    const rows = Math.ceil(this.tiles.length / this.columns);
    this.setContentSize(PAD * 2 + this.labelCol + this.columns * (this.thumb + GAP), PAD + this.header + rows * (this.thumb + CAPTION + GAP) + PAD);
    // Geometry for tests and the end-to-end suite (see webview/TESTING.md).
    const d = this.canvas.dataset;
    d.thumb = String(this.thumb);
    d.tiles = String(this.tiles.length);
    d.columns = String(this.columns);
    d.tileLeft = String(PAD + this.labelCol);
    d.tileTop = String(PAD + this.header);
    d.labels = this.labelFont > 0 ? 'shown' : 'hidden';
    d.tileStepX = String(this.thumb + GAP);
    d.tileStepY = String(this.thumb + CAPTION + GAP);
    d.order = this.tiles.map((t) => `${t.layer}.${t.head}`).join(' ');
  }

  private tileOrigin(index: number): { x: number; y: number } {
    const col = index % this.columns;
    const row = Math.floor(index / this.columns);
    return { x: PAD + this.labelCol + col * (this.thumb + GAP), y: PAD + this.header + row * (this.thumb + CAPTION + GAP) };
  }

  /** Centre of a tile's thumbnail in client coordinates (tests, end-to-end suite). */
  tileClientCenter(layer: number, head: number): { x: number; y: number } | null {
    const i = this.tiles.findIndex((t) => t.layer === layer && t.head === head);
    if (i < 0) return null;
    const o = this.tileOrigin(i);
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + o.x + this.thumb / 2 - this.scrollX, y: rect.top + o.y + this.thumb / 2 - this.scrollY };
  }

  private tileAt(e: MouseEvent): number {
    const p = this.contentPoint(e);
    const step = this.thumb + GAP;
    const col = Math.floor((p.x - PAD - this.labelCol) / step);
    const row = Math.floor((p.y - PAD - this.header) / (this.thumb + CAPTION + GAP));
    if (col < 0 || col >= this.columns || row < 0) return -1;
    const i = row * this.columns + col;
    if (i >= this.tiles.length) return -1;
    const o = this.tileOrigin(i);
    return p.x <= o.x + this.thumb && p.y <= o.y + this.thumb + CAPTION ? i : -1;
  }

  private onMove(e: MouseEvent): void {
    const i = this.tileAt(e);
    if (i !== this.hoverIndex) {
      this.hoverIndex = i;
      this.requestRender();
    }
    this.canvas.style.cursor = i >= 0 ? 'pointer' : 'default';
    if (i >= 0) this.events.hoverTile(this.tiles[i], e.clientX, e.clientY);
    else this.events.leave();
  }

  private onKey(e: KeyboardEvent): void {
    if (this.tiles.length === 0) return;
    let i = this.keyIndex;
    switch (e.key) {
      case 'ArrowLeft': i--; break;
      case 'ArrowRight': i++; break;
      case 'ArrowUp': i -= this.columns; break;
      case 'ArrowDown': i += this.columns; break;
      case 'Home': i = 0; break;
      case 'End': i = this.tiles.length - 1; break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.events.openTile(this.tiles[this.keyIndex]);
        return;
      default:
        return;
    }
    e.preventDefault();
    this.keyIndex = Math.max(0, Math.min(this.tiles.length - 1, i));
    const o = this.tileOrigin(this.keyIndex);
    this.scrollIntoView(o.x, o.y, this.thumb, this.thumb + CAPTION);
    this.events.keyboardTile(this.tiles[this.keyIndex]);
    this.requestRender();
  }

  protected draw(ctx: CanvasRenderingContext2D, sx: number, sy: number): void {
    const theme = this.theme;
    ctx.fillStyle = theme?.background ?? '#fff';
    ctx.fillRect(0, 0, this.width, this.height);
    if (!theme || !this.source) return;
    const started = performance.now();
    let missing = false;
    const generation = this.generation;
    const rowHeight = this.thumb + CAPTION + GAP;
    const firstRow = Math.max(0, Math.floor((sy - PAD - this.header) / rowHeight));
    const lastRow = Math.ceil((sy + this.height - PAD - this.header) / rowHeight);
    const pixels = Math.round(this.thumb * this.dpr);

    ctx.font = `${Math.min(11, theme.fontSize)}px ${theme.fontFamily}`;
    ctx.textBaseline = 'middle';
    // Column header: head numbers in the grid arrangement, bar legend in both.
    ctx.fillStyle = theme.muted;
    if (this.grid) {
      ctx.textAlign = 'center';
      for (let h = 0; h < this.heads; h++) ctx.fillText(`H${h}`, this.tileOrigin(h).x + this.thumb / 2 - sx, PAD + HEADER / 2 - sy);
    } else {
      ctx.textAlign = 'left';
      ctx.fillText(t('ranked by the chosen score'), PAD + this.labelCol - sx, PAD + HEADER / 2 - sy);
    }
    if (this.labelFont > 0) this.drawTokenLabels(ctx, theme, sx, sy, firstRow, lastRow);

    for (let row = firstRow; row <= lastRow; row++) {
      for (let col = 0; col < this.columns; col++) {
        const i = row * this.columns + col;
        if (i >= this.tiles.length) break;
        const tile = this.tiles[i];
        const o = this.tileOrigin(i);
        const x = o.x - sx;
        const y = o.y - sy;
        if (x > this.width || x + this.thumb < 0) continue;
        if (this.grid && col === 0) {
          ctx.fillStyle = theme.muted;
          ctx.textAlign = 'left';
          ctx.fillStyle = theme.muted;
          ctx.font = `${Math.min(11, theme.fontSize)}px ${theme.fontFamily}`;
          ctx.fillText(`L${tile.layer}`, PAD - sx, y + this.thumb / 2);
        }
        const key = `${tile.layer}.${tile.head}`;
        let thumb = this.thumbs.get(key);
        if (!thumb && performance.now() - started < FRAME_BUDGET_MS) {
          thumb = this.source(tile.layer, tile.head, pixels);
          if (generation === this.generation) this.thumbs.set(key, thumb);
        }
        ctx.globalAlpha = tile.matches ? 1 : 0.22;
        if (thumb) {
          ctx.imageSmoothingEnabled = false;
          ctx.drawImage(thumb, x, y, this.thumb, this.thumb);
        } else {
          missing = true;
          ctx.fillStyle = theme.highlight;
          ctx.fillRect(x, y, this.thumb, this.thumb);
        }
        this.drawCaption(ctx, theme, tile, x, y + this.thumb);
        ctx.globalAlpha = 1;
        const isCurrent = tile.layer === this.current.layer && tile.head === this.current.head;
        if (isCurrent) {
          ctx.strokeStyle = theme.contrastBorder ?? theme.focus;
          ctx.lineWidth = 3;
          ctx.strokeRect(x - 2.5, y - 2.5, this.thumb + 5, this.thumb + 5);
        }
        if (i === this.hoverIndex) {
          ctx.strokeStyle = theme.foreground;
          ctx.lineWidth = 1;
          ctx.strokeRect(x - 0.5, y - 0.5, this.thumb + 1, this.thumb + CAPTION - 2);
        }
        if (this.hasKeyboardFocus && i === this.keyIndex) {
          ctx.strokeStyle = theme.focus;
          ctx.lineWidth = 2;
          ctx.setLineDash([3, 2]);
          ctx.strokeRect(x - 4, y - 4, this.thumb + 8, this.thumb + CAPTION);
          ctx.setLineDash([]);
        }
      }
    }
    this.canvas.dataset.scrollX = String(sx);
    this.canvas.dataset.scrollY = String(sy);
    // Thumbnails left over for lack of time this frame are drawn in the next ones.
    this.canvas.dataset.pending = missing ? 'true' : 'false';
    if (missing) this.requestRender();
  }

  private readonly captionCache = new Map<string, [string, string]>();

  /** Name left, score right; shortened until both fit without touching (cached per text and width). */
  private captionParts(ctx: CanvasRenderingContext2D, tile: ModelTile, value: string): [string, string] {
    const key = `${ctx.font}|${this.thumb}|${this.grid}|${this.scoreKey}|${tile.layer}.${tile.head}|${value}`;
    const cached = this.captionCache.get(key);
    if (cached) return cached;
    const names = [`L${tile.layer} H${tile.head}`, `L${tile.layer}H${tile.head}`, this.grid ? '' : `${tile.layer}.${tile.head}`];
    const scores = [`${SCORE_INFO[this.scoreKey].short} ${value}`, value];
    let parts: [string, string] = [names[names.length - 1], scores[scores.length - 1]];
    search: for (const s of scores) {
      for (const n of names) {
        if (ctx.measureText(n).width + ctx.measureText(s).width + 6 <= this.thumb) {
          parts = [n, s];
          break search;
        }
      }
    }
    if (this.captionCache.size > 5000) this.captionCache.clear();
    this.captionCache.set(key, parts);
    return parts;
  }

  /** Key labels above the first row of tiles, query labels left of each layer's first tile. */
  private drawTokenLabels(ctx: CanvasRenderingContext2D, theme: Theme, sx: number, sy: number, firstRow: number, lastRow: number): void {
    const labels = this.labels!;
    const cells = labels.cols.length;
    const step = this.thumb / cells;
    ctx.save();
    ctx.font = `${this.labelFont}px ${theme.editorFontFamily}`;
    ctx.fillStyle = theme.foreground;
    ctx.textBaseline = 'middle';
    const fit = (text: string, max: number) => {
      if (ctx.measureText(text).width <= max) return text;
      let t = [...text];
      while (t.length > 1 && ctx.measureText(t.join('') + '…').width > max) t = t.slice(0, -1);
      return t.join('') + '…';
    };
    const colMax = this.header - HEADER - 4;
    for (let col = 0; col < this.columns; col++) {
      const o = this.tileOrigin(col);
      if (o.x - sx > this.width || o.x + this.thumb - sx < 0) continue;
      ctx.textAlign = 'left';
      labels.cols.forEach((label, j) => {
        ctx.save();
        ctx.translate(o.x + (j + 0.5) * step - sx, o.y - 4 - sy);
        ctx.rotate(-Math.PI / 2);
        ctx.fillText(fit(label, colMax), 0, 0);
        ctx.restore();
      });
    }
    if (labels.rows) {
      const rowMax = this.labelCol - LABEL_COL - 4;
      ctx.textAlign = 'right';
      for (let row = firstRow; row <= lastRow; row++) {
        const i = row * this.columns;
        if (i >= this.tiles.length) break;
        const o = this.tileOrigin(i);
        labels.rows.forEach((label, r) => ctx.fillText(fit(label, rowMax), o.x - 4 - sx, o.y + (r + 0.5) * step - sy));
      }
    }
    ctx.restore();
  }

  /**
   * "L3 H5" with the chosen score's value, and a small bar per score (previous token, first token,
   * self, entropy, induction, duplicate token), the chosen score's bar in the accent colour.
   */
  private drawCaption(ctx: CanvasRenderingContext2D, theme: Theme, tile: ModelTile, x: number, y: number): void {
    ctx.font = `${Math.min(11, theme.fontSize)}px ${theme.fontFamily}`;
    ctx.textBaseline = 'middle';
    const chosen = tile.scores[this.scoreKey];
    const value = Number.isFinite(chosen) ? chosen.toFixed(2) : '–';
    const [name, score] = this.captionParts(ctx, tile, value);
    ctx.fillStyle = theme.foreground;
    ctx.textAlign = 'left';
    ctx.fillText(name, x, y + 9);
    ctx.textAlign = 'right';
    ctx.fillStyle = theme.muted;
    ctx.fillText(score, x + this.thumb, y + 9);
    const gap = 3;
    const barWidth = (this.thumb - (SCORE_KEYS.length - 1) * gap) / SCORE_KEYS.length;
    const barTop = y + 17;
    const barHeight = 8;
    SCORE_KEYS.forEach((key, k) => {
      const value = tile.scores[key];
      const bx = x + k * (barWidth + gap);
      ctx.fillStyle = theme.highlight;
      ctx.fillRect(bx, barTop, barWidth, barHeight);
      if (Number.isFinite(value)) {
        ctx.fillStyle = key === this.scoreKey ? theme.focus : theme.muted;
        ctx.fillRect(bx, barTop, Math.max(1, barWidth * Math.min(1, value)), barHeight);
      }
    });
  }
}

/** Text for the bar legend above the grid. */

export const BAR_LEGEND = t("Bars under each head, left to right: {0}; the chosen score's bar is highlighted.", SCORE_KEYS.map((k) => SCORE_INFO[k].label.toLowerCase()).join(', '));
