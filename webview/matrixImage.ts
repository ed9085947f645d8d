/** Colour-mapped bitmaps of matrices: one pixel per cell, scaled up with nearest-neighbour drawing. */
import { colorLut, lutIndex, type ColorRange, type ColorScaleName } from '../src/analysis/colormap';
import type { FigureMatrix } from '../src/analysis/figure';

export function matrixToCanvas(m: FigureMatrix, range: ColorRange, scale: ColorScaleName, target?: HTMLCanvasElement): HTMLCanvasElement {
  const canvas = target ?? document.createElement('canvas');
  const rows = Math.max(1, m.size);
  const cols = Math.max(1, m.cols ?? m.size);
  if (canvas.width !== cols || canvas.height !== rows) {
    canvas.width = cols;
    canvas.height = rows;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('2D canvas unavailable');
  const image = ctx.createImageData(cols, rows);
  const lut = colorLut(scale);
  const px = image.data;
  const count = Math.min(m.data.length, m.size * (m.cols ?? m.size));
  for (let i = 0; i < count; i++) {
    const k = lutIndex(m.data[i], range) * 3;
    px[i * 4] = lut[k];
    px[i * 4 + 1] = lut[k + 1];
    px[i * 4 + 2] = lut[k + 2];
    px[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}
