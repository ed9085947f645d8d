/**
 * PNG rendering of the export figures on a canvas, with the same layout as the SVG export
 * (src/analysis/figure.ts), at two or more device pixels per CSS pixel.
 */
import { t } from './i18n';
import { colorLut, lutIndex, scaleStops } from '../src/analysis/colormap';
import {
  AXIS_CAPTION,
  FIGURE_FONT,
  FIGURE_MARGIN,
  layoutGrid,
  layoutHeatmap,
  type GridFigure,
  type HeatmapFigure,
  type MeasureText,
  estimateMonospace,
} from '../src/analysis/figure';
import { matrixToCanvas } from './matrixImage';

/** Canvases above this many pixels fail or stall in browsers; we shrink the figure instead. */
const MAX_PIXELS = 64 * 1024 * 1024;
export const MIN_PIXEL_RATIO = 2;

/**
 * The PNG uses the same monospace width estimate as the SVG, so both exports share one layout
 * exactly (and tests can locate cells in the PNG from the SVG's coordinates).
 */
const measure: MeasureText = estimateMonospace;

/** Export cell size: large for short inputs, down to 4 px so that long inputs stay exportable. */
export function exportCellSize(size: number): number {
  return Math.max(4, Math.min(24, Math.floor(2400 / Math.max(1, size))));
}

function pixelRatioFor(width: number, height: number): number {
  const wanted = Math.max(MIN_PIXEL_RATIO, Math.ceil(window.devicePixelRatio || 1));
  return width * height * wanted * wanted <= MAX_PIXELS ? wanted : MIN_PIXEL_RATIO;
}

function text(ctx: CanvasRenderingContext2D, value: string, x: number, y: number, font: number, color: string, extra = ''): void {
  ctx.font = `${extra}${font}px ${FIGURE_FONT.family}`;
  ctx.fillStyle = color;
  ctx.fillText(value, x, y);
}

/** A canvas for a figure of `width` × `height` CSS pixels at the export pixel ratio, filled with the background. */
function figureCanvas(width: number, height: number, background: string): { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D; ratio: number } {
  const ratio = pixelRatioFor(width, height);
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('2D canvas unavailable');
  ctx.scale(ratio, ratio);
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, width, height);
  return { canvas, ctx, ratio };
}

/** Renders the head heatmap figure. Returns the canvas (width/height in device pixels) and the ratio used. */
export function renderHeatmapPng(figure: HeatmapFigure): { canvas: HTMLCanvasElement; pixelRatio: number } {
  let fig = figure;
  let layout = layoutHeatmap(fig, measure);
  // Shrink cells until the figure fits at 2× at least.
  while (layout.width * layout.height * MIN_PIXEL_RATIO ** 2 > MAX_PIXELS && fig.cell > 2) {
    fig = { ...fig, cell: fig.cell - 1 };
    layout = layoutHeatmap(fig, measure);
  }
  const { canvas, ctx, ratio } = figureCanvas(layout.width, layout.height, fig.theme.background);
  ctx.textBaseline = 'alphabetic';
  ctx.textAlign = 'left';
  text(ctx, fig.title, FIGURE_MARGIN, layout.titleY, FIGURE_FONT.title, fig.theme.foreground, 'bold ');
  text(ctx, fig.subtitle, FIGURE_MARGIN, layout.subtitleY, FIGURE_FONT.subtitle, fig.theme.muted);
  text(ctx, AXIS_CAPTION, FIGURE_MARGIN, layout.captionY, FIGURE_FONT.legend, fig.theme.muted);
  const { grid } = layout;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(matrixToCanvas(fig.matrix, fig.range, fig.scale), grid.x, grid.y, grid.width, grid.height);
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  layout.rowLabels.forEach((label, i) => text(ctx, label, grid.x - 6, grid.y + (i + 0.5) * fig.cell, layout.labelFont, fig.theme.foreground));
  ctx.textAlign = 'left';
  layout.colLabels.forEach((label, j) => {
    ctx.save();
    ctx.translate(grid.x + (j + 0.5) * fig.cell, grid.y - 6);
    ctx.rotate(-Math.PI / 2);
    text(ctx, label, 0, 0, layout.labelFont, fig.theme.foreground);
    ctx.restore();
  });
  // Legend: the colour ramp from the LUT, low at the bottom.
  const { legend } = layout;
  const lut = colorLut(fig.scale);
  for (let y = 0; y < legend.height; y++) {
    const t = 1 - (y + 0.5) / legend.height;
    const k = lutIndex(fig.range.min + t * (fig.range.max - fig.range.min), fig.range) * 3;
    ctx.fillStyle = `rgb(${lut[k]},${lut[k + 1]},${lut[k + 2]})`;
    ctx.fillRect(legend.x, legend.y + y, legend.width, 1.05);
  }
  ctx.strokeStyle = fig.theme.muted;
  ctx.lineWidth = 0.5;
  ctx.strokeRect(legend.x, legend.y, legend.width, legend.height);
  layout.legendTicks.forEach((t) => text(ctx, t.text, legend.x + legend.width + 6, t.y, FIGURE_FONT.legend, fig.theme.foreground));
  ctx.textBaseline = 'alphabetic';
  text(ctx, fig.footnote, FIGURE_MARGIN, layout.footnoteY, FIGURE_FONT.legend, fig.theme.muted, 'italic ');
  return { canvas, pixelRatio: ratio };
}

export function renderGridPng(fig: GridFigure): { canvas: HTMLCanvasElement; pixelRatio: number } {
  const layout = layoutGrid(fig, measure);
  const { canvas, ctx, ratio } = figureCanvas(layout.width, layout.height, fig.theme.background);
  text(ctx, fig.title, FIGURE_MARGIN, layout.titleY, FIGURE_FONT.title, fig.theme.foreground, 'bold ');
  text(ctx, fig.subtitle, FIGURE_MARGIN, layout.subtitleY, FIGURE_FONT.subtitle, fig.theme.muted);
  ctx.textAlign = 'center';
  for (let h = 0; h < fig.heads; h++) {
    text(ctx, `H${h}`, layout.cell(0, h).x + fig.thumb / 2, layout.headLabelY, FIGURE_FONT.legend, fig.theme.foreground);
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  for (let l = 0; l < fig.layers; l++) {
    text(ctx, `L${l}`, layout.layerLabelX, layout.cell(l, 0).y + fig.thumb / 2, FIGURE_FONT.legend, fig.theme.foreground);
  }
  ctx.imageSmoothingEnabled = false;
  const scratch = document.createElement('canvas');
  fig.thumbnails.forEach((m, index) => {
    const { x, y } = layout.cell(Math.floor(index / fig.heads), index % fig.heads);
    ctx.drawImage(matrixToCanvas(m, fig.ranges[index], fig.scale, scratch), x, y, fig.thumb, fig.thumb);
  });
  const { legend } = layout;
  const gradient = ctx.createLinearGradient(legend.x, 0, legend.x + legend.width, 0);
  const stops = scaleStops(fig.scale);
  stops.forEach((c, i) => gradient.addColorStop(i / (stops.length - 1), c));
  ctx.fillStyle = gradient;
  ctx.fillRect(legend.x, legend.y, legend.width, legend.height);
  ctx.textBaseline = 'alphabetic';
  text(ctx, fig.legendText, legend.x, layout.legendTextY, FIGURE_FONT.legend, fig.theme.foreground);
  text(ctx, fig.footnote, FIGURE_MARGIN, layout.footnoteY, FIGURE_FONT.legend, fig.theme.muted, 'italic ');
  return { canvas, pixelRatio: ratio };
}

/** The PNG bytes of a canvas as base64 (no data: prefix). */
export function canvasToBase64Png(canvas: HTMLCanvasElement): string {
  const url = canvas.toDataURL('image/png');
  const comma = url.indexOf(',');
  if (!url.startsWith('data:image/png') || comma < 0) throw new Error(t('The browser could not encode the image as PNG.'));
  return url.slice(comma + 1);
}
