/** Colour-mapped bitmaps of matrices: one pixel per cell, scaled up with nearest-neighbour drawing. */
import { LUT_SIZE, colorLut, rowMaxima, type ColorRange, type ColorScaleMapping, type ColorScaleName, type WeightBlock } from '../src/analysis/colormap';
import type { FigureMatrix } from '../src/analysis/figure';

const packedCache = new Map<ColorScaleName, Uint32Array>();
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The scale's LUT as whole RGBA pixels (opaque), in the byte order ImageData's buffer has here. */
function packedLut(scale: ColorScaleName): Uint32Array {
  let packed = packedCache.get(scale);
  if (packed) return packed;
  const lut = colorLut(scale);
  packed = new Uint32Array(LUT_SIZE);
  for (let k = 0; k < LUT_SIZE; k++) {
    const [r, g, b] = [lut[k * 3], lut[k * 3 + 1], lut[k * 3 + 2]];
    packed[k] = littleEndian ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0 : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
  }
  packedCache.set(scale, packed);
  return packed;
}

/** A `rows × cols` bitmap on `target` (or a new canvas) whose pixels `fill` writes as packed RGBA. */
function paint(rows: number, cols: number, target: HTMLCanvasElement | undefined, fill: (pixels: Uint32Array) => void): HTMLCanvasElement {
  const canvas = target ?? document.createElement('canvas');
  if (canvas.width !== cols || canvas.height !== rows) {
    canvas.width = cols;
    canvas.height = rows;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('2D canvas unavailable');
  const image = ctx.createImageData(cols, rows);
  // Cells past the data stay transparent.
  fill(new Uint32Array(image.data.buffer, image.data.byteOffset, image.data.byteLength >> 2));
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/**
 * Writes `count` cells of `data` from `from` as pixels from `to`, coloured over [lo, hi] (of log10
 * of the weights when `log`): the LUT level as `lutIndex` rounds it, inline (a million cells are
 * coloured while the user waits for the first view, the first time this code runs).
 */
function paintRun(pixels: Uint32Array, to: number, data: ArrayLike<number>, from: number, count: number, lo: number, hi: number, log: boolean, lut: Uint32Array): void {
  const top = LUT_SIZE - 1;
  const min = log ? Math.log10(lo) : lo;
  const span = (log ? Math.log10(hi) : hi) - min;
  if (!(span > 0)) {
    pixels.fill(lut[0], to, to + count);
    return;
  }
  for (let i = 0; i < count; i++) {
    const v = data[from + i];
    // NaN and weights at or below the bottom take the low end.
    const t = ((log ? Math.log10(v) : v) - min) / span;
    pixels[to + i] = lut[v > lo ? (t >= 1 ? top : Math.floor(t * top + 0.5)) : 0];
  }
}

/** Draws `m` one pixel per cell, coloured over `range`. */
export function matrixToCanvas(m: FigureMatrix, range: ColorRange, scale: ColorScaleName, target?: HTMLCanvasElement): HTMLCanvasElement {
  const cols = m.cols ?? m.size;
  return paint(Math.max(1, m.size), Math.max(1, cols), target, (pixels) => paintRun(pixels, 0, m.data, 0, Math.min(m.data.length, m.size * cols), range.min, range.max, false, packedLut(scale)));
}

/** A rectangle of a block's cells. */
export interface CellRange {
  rowStart: number;
  rowCount: number;
  colStart: number;
  colCount: number;
}

/**
 * Draws a block of weights (or the `rect` of it) one pixel per cell under a colour mapping, without
 * a positions array in between (a view served in tiles: its overview and tiles); the colours are
 * those of the mapping's positions (`positionsUnder`). `rowMax`: each block row's largest weight
 * over its whole row, for per-row colours; by default the block's own.
 */
export function weightsToCanvas(
  block: WeightBlock,
  mapping: Pick<ColorScaleMapping, 'norm' | 'range'>,
  scale: ColorScaleName,
  options: { rowMax?: ArrayLike<number>; rect?: CellRange; target?: HTMLCanvasElement } = {},
): HTMLCanvasElement {
  const { cols, data } = block;
  const rect = options.rect ?? { rowStart: 0, rowCount: block.rows, colStart: 0, colCount: cols };
  return paint(Math.max(1, rect.rowCount), Math.max(1, rect.colCount), options.target, (pixels) => {
    const lut = packedLut(scale);
    const { norm, range } = mapping;
    // Per row: 0 → the row's largest weight; log: over log10 of the range; linear: over the range.
    const maxima = norm === 'row' ? options.rowMax ?? rowMaxima(block) : undefined;
    for (let i = 0; i < rect.rowCount; i++) {
      const row = rect.rowStart + i;
      const [lo, hi] = maxima ? [0, maxima[row]] : [range.min, range.max];
      paintRun(pixels, i * rect.colCount, data, row * cols + rect.colStart, rect.colCount, lo, hi, norm === 'log', lut);
    }
  });
}
