/**
 * Layout of exported figures (head heatmap and model grid), shared by the SVG builder and the PNG
 * renderer so both exports look the same. Text width comes from a `measure` callback: canvas
 * measureText in the webview, an estimate for monospace text elsewhere.
 */
import { t } from '../l10n/runtime';
import type { ColorRange, ColorScaleName } from './colormap';
import type { Matrix } from './tensor';

export interface FigureTheme {
  background: string;
  foreground: string;
  /** Secondary text (subtitle, captions). */
  muted: string;
}

export const LIGHT_FIGURE_THEME: FigureTheme = { background: '#ffffff', foreground: '#1f1f1f', muted: '#616161' };

export type MeasureText = (text: string, fontPx: number) => number;

/** Width of monospace text: 0.6 em per character is what common monospace fonts use. */
export const estimateMonospace: MeasureText = (text, fontPx) => [...text].length * fontPx * 0.6;

export const FIGURE_FONT = {
  title: 15,
  subtitle: 11.5,
  label: 11,
  legend: 10.5,
  family: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
};

const MARGIN = 16;
const MAX_LABEL_WIDTH = 160;
const LABEL_GAP = 6;
const LEGEND_BAR = 14;

/** Values to colour, rows × cols row-major (cols = rows unless given). */
export interface FigureMatrix {
  size: number;
  cols?: number;
  data: ArrayLike<number>;
}

export interface HeatmapFigure {
  title: string;
  subtitle: string;
  /** Short caution printed at the bottom. */
  footnote: string;
  rowLabels: string[];
  colLabels: string[];
  /** rows = size; `cols` columns when the block is not square (a sentence-pair filter). */
  matrix: FigureMatrix;
  range: ColorRange;
  scale: ColorScaleName;
  theme: FigureTheme;
  /** Cell edge in CSS pixels / SVG user units. */
  cell: number;
  /** Legend ticks at colour positions t (1 = top) when the scale is not linear in `range`. */
  ticks?: { t: number; text: string }[];
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface HeatmapLayout {
  width: number;
  height: number;
  titleY: number;
  subtitleY: number;
  footnoteY: number;
  grid: Rect;
  labelFont: number;
  /** Labels after truncation to the available width. */
  rowLabels: string[];
  colLabels: string[];
  legend: Rect;
  legendTicks: { value: number; y: number; text: string }[];
  /** Baseline of the axis caption line ("rows: queries ↓ · columns: keys →"). */
  captionY: number;
}

export const AXIS_CAPTION = t('rows: queries ↓ · columns: keys →');

/** Shortens text with an ellipsis until it fits. */
export function fitText(text: string, maxWidth: number, fontPx: number, measure: MeasureText): string {
  if (measure(text, fontPx) <= maxWidth) return text;
  const chars = [...text];
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(chars.slice(0, mid).join('') + '…', fontPx) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return chars.slice(0, lo).join('') + '…';
}

/** Tick label for a weight: enough digits to tell ticks apart, no more. */
export function formatTick(value: number): string {
  if (value === 0) return '0';
  if (value >= 0.1) return String(Number(value.toFixed(2)));
  return String(Number(value.toPrecision(2)));
}

function legendTicks(range: ColorRange, bar: Rect, custom?: { t: number; text: string }[]): HeatmapLayout['legendTicks'] {
  if (custom) return custom.map((c) => ({ value: range.min + c.t * (range.max - range.min), y: bar.y + bar.height * (1 - c.t), text: c.text }));
  const values = [range.max, (range.min + range.max) / 2, range.min];
  return values.map((value, i) => ({ value, y: bar.y + (bar.height * i) / 2, text: formatTick(value) }));
}

export function layoutHeatmap(fig: HeatmapFigure, measure: MeasureText): HeatmapLayout {
  const n = fig.matrix.size;
  const cols = fig.matrix.cols ?? n;
  // Labels never get a bigger font than the cells they label.
  const labelFont = Math.max(4, Math.min(FIGURE_FONT.label, fig.cell - 1));
  const widest = (labels: string[]) => labels.reduce((w, l) => Math.max(w, measure(l, labelFont)), 0);
  const rowLabelWidth = Math.min(MAX_LABEL_WIDTH, widest(fig.rowLabels));
  const colLabelHeight = Math.min(MAX_LABEL_WIDTH, widest(fig.colLabels));
  const rowLabels = fig.rowLabels.map((l) => fitText(l, rowLabelWidth, labelFont, measure));
  const colLabels = fig.colLabels.map((l) => fitText(l, colLabelHeight, labelFont, measure));
  const titleY = MARGIN + FIGURE_FONT.title;
  const subtitleY = titleY + FIGURE_FONT.subtitle * 1.6;
  const captionRow = subtitleY + FIGURE_FONT.subtitle * 1.8;
  const grid: Rect = {
    x: MARGIN + rowLabelWidth + LABEL_GAP,
    y: captionRow + FIGURE_FONT.legend * 0.8 + colLabelHeight + LABEL_GAP,
    width: cols * fig.cell,
    height: n * fig.cell,
  };
  const legendHeight = Math.max(80, Math.min(grid.height, 240));
  const legend: Rect = { x: grid.x + grid.width + 24, y: grid.y, width: LEGEND_BAR, height: legendHeight };
  const ticks = legendTicks(fig.range, legend, fig.ticks);
  const tickWidth = ticks.reduce((w, t) => Math.max(w, measure(t.text, FIGURE_FONT.legend)), 0);
  const footnoteY = Math.max(grid.y + grid.height, legend.y + legend.height) + MARGIN + FIGURE_FONT.legend;
  const textRight = Math.max(
    measure(fig.title, FIGURE_FONT.title),
    measure(fig.subtitle, FIGURE_FONT.subtitle),
    measure(fig.footnote, FIGURE_FONT.legend),
    measure(AXIS_CAPTION, FIGURE_FONT.legend),
  ) + MARGIN;
  return {
    width: Math.ceil(Math.max(legend.x + LEGEND_BAR + 6 + tickWidth + MARGIN, textRight + MARGIN)),
    height: Math.ceil(footnoteY + MARGIN),
    titleY,
    subtitleY,
    footnoteY,
    grid,
    labelFont,
    rowLabels,
    colLabels,
    legend,
    legendTicks: ticks,
    captionY: captionRow,
  };
}

export interface GridFigure {
  title: string;
  subtitle: string;
  footnote: string;
  layers: number;
  heads: number;
  /** Layer-major thumbnails (already pooled to a small size). */
  thumbnails: Matrix[];
  /** Colour range of each thumbnail. */
  ranges: ColorRange[];
  /** Legend text: what the colour range means ("0 → 1", "0 → each head's maximum"). */
  legendText: string;
  scale: ColorScaleName;
  theme: FigureTheme;
  /** Thumbnail edge. */
  thumb: number;
}

export interface GridLayout {
  width: number;
  height: number;
  titleY: number;
  subtitleY: number;
  footnoteY: number;
  /** Top-left corner of the thumbnail of (layer, head). */
  cell(layer: number, head: number): { x: number; y: number };
  headLabelY: number;
  layerLabelX: number;
  legend: Rect;
  legendTextY: number;
}

const GRID_GAP = 6;

export function layoutGrid(fig: GridFigure, measure: MeasureText): GridLayout {
  const titleY = MARGIN + FIGURE_FONT.title;
  const subtitleY = titleY + FIGURE_FONT.subtitle * 1.6;
  const headLabelY = subtitleY + FIGURE_FONT.subtitle * 1.8 + FIGURE_FONT.legend;
  const layerLabelWidth = measure(`L${fig.layers - 1}`, FIGURE_FONT.legend);
  const x0 = MARGIN + layerLabelWidth + LABEL_GAP;
  const y0 = headLabelY + LABEL_GAP;
  const step = fig.thumb + GRID_GAP;
  const gridRight = x0 + fig.heads * step - GRID_GAP;
  const gridBottom = y0 + fig.layers * step - GRID_GAP;
  const legend: Rect = { x: x0, y: gridBottom + MARGIN, width: Math.min(240, Math.max(120, gridRight - x0)), height: LEGEND_BAR };
  const legendTextY = legend.y + legend.height + FIGURE_FONT.legend * 1.4;
  const footnoteY = legendTextY + FIGURE_FONT.legend * 1.8;
  const textRight = Math.max(
    measure(fig.title, FIGURE_FONT.title),
    measure(fig.subtitle, FIGURE_FONT.subtitle),
    measure(fig.footnote, FIGURE_FONT.legend),
    measure(fig.legendText, FIGURE_FONT.legend) + (legend.x - MARGIN),
  ) + MARGIN;
  return {
    width: Math.ceil(Math.max(gridRight + MARGIN, textRight + MARGIN)),
    height: Math.ceil(footnoteY + MARGIN),
    titleY,
    subtitleY,
    footnoteY,
    cell: (layer, head) => ({ x: x0 + head * step, y: y0 + layer * step }),
    headLabelY,
    layerLabelX: MARGIN,
    legend,
    legendTextY,
  };
}

export const FIGURE_MARGIN = MARGIN;
