/**
 * SVG exports of the head heatmap and the model grid: real vector content (one rect per run of
 * equal-coloured cells, text for labels), so the figure scales and its labels stay selectable.
 */
import { colorLut, lutIndex, scaleStops, toHex, type ColorRange, type ColorScaleName } from './colormap';
import {
  AXIS_CAPTION,
  FIGURE_FONT,
  estimateMonospace,
  layoutGrid,
  layoutHeatmap,
  type GridFigure,
  type HeatmapFigure,
  type MeasureText,
  type Rect,
  type FigureMatrix,
} from './figure';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Rounds coordinates so the file stays small without visible change. */
function num(x: number): string {
  return String(Math.round(x * 100) / 100);
}

function lutHex(scale: ColorScaleName): string[] {
  const lut = colorLut(scale);
  const out: string[] = [];
  for (let k = 0; k < lut.length / 3; k++) out.push(toHex([lut[k * 3], lut[k * 3 + 1], lut[k * 3 + 2]]));
  return out;
}

/** Cells as rects, merging horizontal runs that fall on the same colour level (keeps files small). */
function matrixRects(m: FigureMatrix, range: ColorRange, scale: ColorScaleName, x0: number, y0: number, cell: number): string {
  const colors = lutHex(scale);
  const parts: string[] = [];
  const n = m.size;
  const cols = m.cols ?? n;
  for (let i = 0; i < n; i++) {
    let j = 0;
    while (j < cols) {
      const level = lutIndex(m.data[i * cols + j], range);
      let end = j + 1;
      while (end < cols && lutIndex(m.data[i * cols + end], range) === level) end++;
      parts.push(
        `<rect x="${num(x0 + j * cell)}" y="${num(y0 + i * cell)}" width="${num((end - j) * cell)}" height="${num(cell)}" fill="${colors[level]}"/>`,
      );
      j = end;
    }
  }
  return parts.join('');
}

function gradient(id: string, scale: ColorScaleName, vertical: boolean): string {
  const stops = scaleStops(scale);
  const coords = vertical ? 'x1="0" y1="1" x2="0" y2="0"' : 'x1="0" y1="0" x2="1" y2="0"';
  const stopTags = stops.map((c, i) => `<stop offset="${num(i / (stops.length - 1))}" stop-color="${c}"/>`).join('');
  return `<linearGradient id="${id}" ${coords}>${stopTags}</linearGradient>`;
}

function text(x: number, y: number, content: string, attrs: string): string {
  return `<text x="${num(x)}" y="${num(y)}" ${attrs}>${escapeXml(content)}</text>`;
}

function rectAttrs(r: Rect): string {
  return `x="${num(r.x)}" y="${num(r.y)}" width="${num(r.width)}" height="${num(r.height)}"`;
}

function header(width: number, height: number, title: string, background: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}">` +
    `<title>${escapeXml(title)}</title>` +
    `<rect width="100%" height="100%" fill="${background}"/>`
  );
}

export function heatmapSvg(fig: HeatmapFigure, measure: MeasureText = estimateMonospace): string {
  const layout = layoutHeatmap(fig, measure);
  const { grid, legend, labelFont } = layout;
  const fg = fig.theme.foreground;
  const font = `font-family="${escapeXml(FIGURE_FONT.family)}"`;
  const parts: string[] = [header(layout.width, layout.height, fig.title, fig.theme.background)];
  parts.push(`<defs>${gradient('legend', fig.scale, true)}</defs>`);
  parts.push(text(16, layout.titleY, fig.title, `${font} font-size="${FIGURE_FONT.title}" font-weight="bold" fill="${fg}"`));
  parts.push(text(16, layout.subtitleY, fig.subtitle, `${font} font-size="${FIGURE_FONT.subtitle}" fill="${fig.theme.muted}"`));
  parts.push(`<g id="cells" shape-rendering="crispEdges">${matrixRects(fig.matrix, fig.range, fig.scale, grid.x, grid.y, fig.cell)}</g>`);
  const rowLabels = layout.rowLabels
    .map((l, i) => text(grid.x - 6, grid.y + (i + 0.5) * fig.cell, l, 'text-anchor="end" dominant-baseline="central"'))
    .join('');
  parts.push(`<g id="row-labels" ${font} font-size="${num(labelFont)}" fill="${fg}">${rowLabels}</g>`);
  const colLabels = layout.colLabels
    .map((l, j) => {
      const x = grid.x + (j + 0.5) * fig.cell;
      const y = grid.y - 6;
      return `<text transform="translate(${num(x)} ${num(y)}) rotate(-90)" dominant-baseline="central">${escapeXml(l)}</text>`;
    })
    .join('');
  parts.push(`<g id="col-labels" ${font} font-size="${num(labelFont)}" fill="${fg}">${colLabels}</g>`);
  const caption = `${font} font-size="${FIGURE_FONT.legend}" fill="${fig.theme.muted}"`;
  parts.push(text(16, layout.captionY, AXIS_CAPTION, caption));
  parts.push(`<rect id="legend" ${rectAttrs(legend)} fill="url(#legend)" stroke="${fig.theme.muted}" stroke-width="0.5"/>`);
  parts.push(
    `<g id="legend-ticks" ${font} font-size="${FIGURE_FONT.legend}" fill="${fg}">` +
      layout.legendTicks.map((t) => text(legend.x + legend.width + 6, t.y, t.text, 'dominant-baseline="central"')).join('') +
      `</g>`,
  );
  parts.push(text(16, layout.footnoteY, fig.footnote, `${font} font-size="${FIGURE_FONT.legend}" font-style="italic" fill="${fig.theme.muted}"`));
  parts.push('</svg>\n');
  return parts.join('');
}

export function gridSvg(fig: GridFigure, measure: MeasureText = estimateMonospace): string {
  const layout = layoutGrid(fig, measure);
  const fg = fig.theme.foreground;
  const font = `font-family="${escapeXml(FIGURE_FONT.family)}"`;
  const parts: string[] = [header(layout.width, layout.height, fig.title, fig.theme.background)];
  parts.push(`<defs>${gradient('legend', fig.scale, false)}</defs>`);
  parts.push(text(16, layout.titleY, fig.title, `${font} font-size="${FIGURE_FONT.title}" font-weight="bold" fill="${fg}"`));
  parts.push(text(16, layout.subtitleY, fig.subtitle, `${font} font-size="${FIGURE_FONT.subtitle}" fill="${fig.theme.muted}"`));
  const labels: string[] = [];
  for (let h = 0; h < fig.heads; h++) {
    const { x } = layout.cell(0, h);
    labels.push(text(x + fig.thumb / 2, layout.headLabelY, `H${h}`, 'text-anchor="middle"'));
  }
  for (let l = 0; l < fig.layers; l++) {
    const { y } = layout.cell(l, 0);
    labels.push(text(layout.layerLabelX, y + fig.thumb / 2, `L${l}`, 'dominant-baseline="central"'));
  }
  parts.push(`<g id="grid-labels" ${font} font-size="${FIGURE_FONT.legend}" fill="${fg}">${labels.join('')}</g>`);
  const thumbs: string[] = [];
  fig.thumbnails.forEach((m, index) => {
    const layer = Math.floor(index / fig.heads);
    const head = index % fig.heads;
    const { x, y } = layout.cell(layer, head);
    const cell = fig.thumb / m.size;
    thumbs.push(`<g id="head-${layer}-${head}">${matrixRects(m, fig.ranges[index], fig.scale, x, y, cell)}</g>`);
  });
  parts.push(`<g id="thumbnails" shape-rendering="crispEdges">${thumbs.join('')}</g>`);
  parts.push(`<rect id="legend" ${rectAttrs(layout.legend)} fill="url(#legend)" stroke="${fig.theme.muted}" stroke-width="0.5"/>`);
  parts.push(text(layout.legend.x, layout.legendTextY, fig.legendText, `${font} font-size="${FIGURE_FONT.legend}" fill="${fg}"`));
  parts.push(text(16, layout.footnoteY, fig.footnote, `${font} font-size="${FIGURE_FONT.legend}" font-style="italic" fill="${fig.theme.muted}"`));
  parts.push('</svg>\n');
  return parts.join('');
}
