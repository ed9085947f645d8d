/**
 * The line view (BertViz's head view): query tokens in a column on the left, key tokens on the
 * right, a line from query i to key j for each weight, its opacity the weight; several heads drawn
 * over each other in distinct colours. Canvas-drawn over the visible rows only, lines binned by
 * opacity into a few paths per head, so 512 tokens × 12 heads stay fluid.
 */
import { t } from './i18n';
import type { ViewMatrix } from '../src/analysis/view';
import { CanvasView } from './canvasView';

export interface LineLayer {
  head: number;
  /** The head's view: its rows (= columns) and their items (special-token handling and merging applied). */
  view: Pick<ViewMatrix, 'size' | 'items'>;
  color: string;
  /** A view row's weights over every column, or undefined while it is on its way. */
  row(viewRow: number): ArrayLike<number> | undefined;
  /** A view column's weights over every row (a hovered key's lines), or undefined while it is on its way. */
  column(viewCol: number): ArrayLike<number> | undefined;
  /** View rows [first, last) are on screen (a view served in parts asks for them). */
  want?(first: number, last: number): void;
}

/** The weights of a whole view as a line layer's rows and columns. */
export function wholeViewLayer(head: number, view: ViewMatrix, color: string): LineLayer {
  const { size, data } = view;
  return {
    head,
    view,
    color,
    row: (r) => data.subarray(r * size, (r + 1) * size),
    column: (c) => Float32Array.from({ length: size }, (_, r) => data[r * size + c]),
  };
}

const NO_LINES = { keys: new Int32Array(0), weights: new Float32Array(0) };

export interface LineViewEvents {
  hoverToken(index: number, side: 'query' | 'key', clientX: number, clientY: number): void;
  leave(): void;
  clickToken(index: number, side: 'query' | 'key'): void;
  keyboardToken(index: number, side: 'query' | 'key'): void;
}

const PAD = 8;
const ROW_MIN = 14;
const ROW_MAX = 24;
const LABEL_MAX = 160;
const BINS = 8;
/** Lines under this weight are not drawn: at an opacity of 3% they would not be seen. */
const MIN_WEIGHT = 0.03;

export class LineView extends CanvasView {
  private layers: LineLayer[] = [];
  private rows: number[] = [];
  private cols: number[] = [];
  private rowHeight = ROW_MIN;
  private labelWidth = 60;
  private hover: { index: number; side: 'query' | 'key' } | null = null;
  private keyIndex = 0;
  private keySide: 'query' | 'key' = 'query';
  /** Per head and query position: the key positions and weights worth a line (built on first draw). */
  private sparse: Map<number, { keys: Int32Array; weights: Float32Array }>[] = [];

  constructor(private readonly events: LineViewEvents) {
    super('line-view');
    const c = this.canvas;
    this.makeFocusable('lines', t('attention lines between tokens'), () => this.announceKey(), () => (this.hover = null));
    c.addEventListener('mousemove', (e) => this.onMove(e));
    c.addEventListener('mouseleave', () => {
      this.hover = null;
      this.events.leave();
      this.requestRender();
    });
    c.addEventListener('click', (e) => {
      const hit = this.hitTest(e);
      if (hit) this.events.clickToken(hit.index, hit.side);
    });
    c.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** Heads to draw, and which view rows (left) and columns (right) take part. */
  setData(layers: LineLayer[], rows: number[], cols: number[]): void {
    this.layers = layers;
    this.rows = rows;
    this.cols = cols;
    this.sparse = layers.map(() => new Map());
    this.keyIndex = Math.min(this.keyIndex, Math.max(0, rows.length - 1));
    this.layoutChanged();
    this.requestRender();
  }

  protected override layoutChanged(): void {
    const view = this.layers[0]?.view;
    if (!view || !this.theme) return;
    const count = Math.max(this.rows.length, this.cols.length, 1);
    this.rowHeight = Math.max(ROW_MIN, Math.min(ROW_MAX, Math.floor((this.box.height - 2 * PAD) / count)));
    const widest = this.widestLabel(view.items, `${this.font()}px ${this.theme.editorFontFamily}`);
    this.labelWidth = Math.min(LABEL_MAX, Math.ceil(widest) + 8, Math.max(40, Math.floor(this.box.width / 4)));
    this.setContentSize(Math.max(this.box.width - 20, 3 * this.labelWidth), 2 * PAD + count * this.rowHeight);
    const d = this.canvas.dataset;
    d.rowHeight = String(this.rowHeight);
    d.rows = String(this.rows.length);
    d.cols = String(this.cols.length);
    d.heads = this.layers.map((l) => l.head).join(' ');
  }

  private widest: { key: string; items: unknown; width: number } | undefined;

  /** The widest label of the rows and columns shown, measured once per shape and font (every render lays out). */
  private widestLabel(items: ViewMatrix['items'], font: string): number {
    const { rows, cols } = this;
    const key = `${font}|${rows.length}.${rows[0]}.${rows[rows.length - 1]}|${cols.length}.${cols[0]}.${cols[cols.length - 1]}`;
    if (this.widest?.key === key && this.widest.items === items) return this.widest.width;
    this.ctx.font = font;
    let width = 0;
    for (const i of new Set([...rows, ...cols])) width = Math.max(width, this.ctx.measureText(items[i].label).width);
    this.widest = { key, items, width };
    return width;
  }

  private font(): number {
    return Math.min(12, this.rowHeight - 3);
  }

  private columnsX(): { left: number; right: number } {
    const w = Math.max(this.width, 3 * this.labelWidth);
    return { left: PAD + this.labelWidth, right: w - PAD - this.labelWidth };
  }

  private rowY(position: number): number {
    return PAD + (position + 0.5) * this.rowHeight;
  }

  private hitTest(e: MouseEvent): { index: number; side: 'query' | 'key' } | null {
    const p = this.contentPoint(e);
    const { left, right } = this.columnsX();
    const position = Math.floor((p.y - PAD) / this.rowHeight);
    if (p.viewX <= left + 4 && position >= 0 && position < this.rows.length) return { index: this.rows[position], side: 'query' };
    if (p.viewX >= right - 4 && position >= 0 && position < this.cols.length) return { index: this.cols[position], side: 'key' };
    return null;
  }

  /** Client coordinates of a token's label (tests, end-to-end suite). */
  tokenClientPoint(index: number, side: 'query' | 'key'): { x: number; y: number } | null {
    const list = side === 'query' ? this.rows : this.cols;
    const position = list.indexOf(index);
    if (position < 0) return null;
    const rect = this.canvas.getBoundingClientRect();
    const { left, right } = this.columnsX();
    return { x: rect.left + (side === 'query' ? left - 10 : right + 10), y: rect.top + this.rowY(position) - this.scrollY };
  }

  private onMove(e: MouseEvent): void {
    const hit = this.hitTest(e);
    const changed = hit?.index !== this.hover?.index || hit?.side !== this.hover?.side;
    this.hover = hit;
    this.canvas.style.cursor = hit ? 'pointer' : 'default';
    if (hit) this.events.hoverToken(hit.index, hit.side, e.clientX, e.clientY);
    else this.events.leave();
    if (changed) this.requestRender();
  }

  private onKey(e: KeyboardEvent): void {
    const list = this.keySide === 'query' ? this.rows : this.cols;
    if (list.length === 0) return;
    let i = this.keyIndex;
    switch (e.key) {
      case 'ArrowUp': i--; break;
      case 'ArrowDown': i++; break;
      case 'ArrowLeft': this.keySide = 'query'; break;
      case 'ArrowRight': this.keySide = 'key'; break;
      case 'Home': i = 0; break;
      case 'End': i = list.length - 1; break;
      case 'Enter':
        e.preventDefault();
        this.events.clickToken(list[Math.min(i, list.length - 1)], this.keySide);
        return;
      default:
        return;
    }
    e.preventDefault();
    const now = this.keySide === 'query' ? this.rows : this.cols;
    this.keyIndex = Math.max(0, Math.min(now.length - 1, i));
    this.scrollIntoView(0, this.rowY(this.keyIndex) - this.rowHeight / 2, 1, this.rowHeight);
    this.announceKey();
    this.requestRender();
  }

  private announceKey(): void {
    const list = this.keySide === 'query' ? this.rows : this.cols;
    if (list.length === 0) return;
    const index = list[Math.min(this.keyIndex, list.length - 1)];
    this.hover = { index, side: this.keySide };
    this.events.keyboardToken(index, this.keySide);
  }

  /** The lines of one query row of one head: keys (block positions) with a weight worth drawing. */
  private sparseRow(layer: number, position: number): { keys: Int32Array; weights: Float32Array } {
    const cache = this.sparse[layer];
    let entry = cache.get(position);
    if (!entry) {
      const data = this.layers[layer].row(this.rows[position]);
      // Not here yet (a view served in parts): drawn when it comes.
      if (!data) return NO_LINES;
      const keys: number[] = [];
      const weights: number[] = [];
      this.cols.forEach((c, j) => {
        const w = data[c];
        if (w >= MIN_WEIGHT) {
          keys.push(j);
          weights.push(w);
        }
      });
      entry = { keys: Int32Array.from(keys), weights: Float32Array.from(weights) };
      cache.set(position, entry);
    }
    return entry;
  }

  protected draw(ctx: CanvasRenderingContext2D, _sx: number, sy: number): void {
    const theme = this.theme;
    ctx.fillStyle = theme?.background ?? '#fff';
    ctx.fillRect(0, 0, this.width, this.height);
    const view = this.layers[0]?.view;
    if (!theme || !view) return;
    const { left, right } = this.columnsX();
    const first = Math.max(0, Math.floor((sy - PAD) / this.rowHeight) - 1);
    const last = Math.min(Math.max(this.rows.length, this.cols.length), Math.ceil((sy + this.height - PAD) / this.rowHeight) + 1);
    const colPosition = new Map(this.cols.map((c, j) => [c, j]));
    const rowPosition = new Map(this.rows.map((r, i) => [r, i]));
    // Which lines: the hovered token's (all of them), else those of the visible query rows.
    const focusQuery = this.hover?.side === 'query' ? rowPosition.get(this.hover.index) : undefined;
    const focusKey = this.hover?.side === 'key' ? this.hover.index : undefined;
    const queryPositions: number[] = [];
    if (focusQuery !== undefined) queryPositions.push(focusQuery);
    else for (let i = first; i < Math.min(last, this.rows.length); i++) queryPositions.push(i);
    const dimmed = this.hover !== null;
    ctx.lineWidth = 1.25;
    let drawn = 0;
    const focusKeyPosition = focusKey === undefined ? undefined : colPosition.get(focusKey);
    const visibleRows = Math.min(last, this.rows.length);
    for (const [l, layer] of this.layers.entries()) {
      if (first < visibleRows) layer.want?.(this.rows[first], this.rows[visibleRows - 1] + 1);
      const bins: Path2D[] = Array.from({ length: BINS }, () => new Path2D());
      const used = new Uint8Array(BINS);
      // Bins on √w, opacity (b+1)²/B² ≈ w: a line is as opaque as its weight, as in BertViz.
      const line = (i: number, j: number, w: number) => {
        const bin = Math.min(BINS - 1, Math.floor(Math.sqrt(w) * BINS));
        bins[bin].moveTo(left + 4, this.rowY(i) - sy);
        bins[bin].lineTo(right - 4, this.rowY(j) - sy);
        used[bin] = 1;
        drawn++;
      };
      if (focusKeyPosition !== undefined) {
        // A hovered key: the lines into it from every query, read from its column.
        const column = layer.column(this.cols[focusKeyPosition]);
        if (column) {
          for (let i = 0; i < this.rows.length; i++) {
            const w = column[this.rows[i]];
            if (w >= MIN_WEIGHT) line(i, focusKeyPosition, w);
          }
        }
      } else {
        for (const i of queryPositions) {
          const { keys, weights } = this.sparseRow(l, i);
          for (let k = 0; k < keys.length; k++) line(i, keys[k], weights[k]);
        }
      }
      ctx.strokeStyle = layer.color;
      for (let b = 0; b < BINS; b++) {
        if (!used[b]) continue;
        ctx.globalAlpha = Math.min(1, ((b + 1) / BINS) ** 2 * (dimmed ? 1.6 : 1));
        ctx.stroke(bins[b]);
      }
    }
    ctx.globalAlpha = 1;
    // Labels.
    ctx.font = `${this.font()}px ${theme.editorFontFamily}`;
    ctx.textBaseline = 'middle';
    const label = (index: number, x: number, y: number, align: CanvasTextAlign, strong: boolean) => {
      const item = view.items[index];
      if (strong) {
        ctx.fillStyle = theme.highlight;
        ctx.fillRect(align === 'right' ? x - this.labelWidth + 4 : x - 4, y - this.rowHeight / 2, this.labelWidth, this.rowHeight);
        if (theme.contrastBorder) {
          ctx.strokeStyle = theme.contrastBorder;
          ctx.lineWidth = 1;
          ctx.strokeRect(align === 'right' ? x - this.labelWidth + 4.5 : x - 3.5, y - this.rowHeight / 2 + 0.5, this.labelWidth - 1, this.rowHeight - 1);
        }
      }
      ctx.fillStyle = item.generated ? theme.generated : item.special ? theme.muted : theme.foreground;
      ctx.font = `${strong ? 'bold ' : ''}${item.special || item.generated ? 'italic ' : ''}${this.font()}px ${theme.editorFontFamily}`;
      ctx.textAlign = align;
      ctx.fillText(item.label, x, y, this.labelWidth - 8);
    };
    for (let i = first; i < Math.min(last, this.rows.length); i++) {
      const index = this.rows[i];
      label(index, left - 6, this.rowY(i) - sy, 'right', this.hover?.side === 'query' && this.hover.index === index);
    }
    for (let j = first; j < Math.min(last, this.cols.length); j++) {
      const index = this.cols[j];
      label(index, right + 6, this.rowY(j) - sy, 'left', this.hover?.side === 'key' && this.hover.index === index);
    }
    if (this.hasKeyboardFocus) {
      const list = this.keySide === 'query' ? this.rows : this.cols;
      if (list.length > 0) {
        const y = this.rowY(Math.min(this.keyIndex, list.length - 1)) - sy;
        ctx.strokeStyle = theme.focus;
        ctx.lineWidth = 2;
        const x = this.keySide === 'query' ? PAD : right;
        ctx.strokeRect(x, y - this.rowHeight / 2 + 1, this.labelWidth, this.rowHeight - 2);
      }
    }
    this.canvas.dataset.scrollY = String(sy);
    this.canvas.dataset.lines = String(drawn);
  }
}
