/** Colour-mapped bitmaps of matrices: one pixel per cell, scaled up with nearest-neighbour drawing. */
import { colorLut, lutIndex, type ColorRange, type ColorScaleName } from '../src/analysis/colormap';
import type { Matrix } from '../src/analysis/tensor';

export function matrixToCanvas(m: Matrix, range: ColorRange, scale: ColorScaleName, target?: HTMLCanvasElement): HTMLCanvasElement {
  const canvas = target ?? document.createElement('canvas');
  const n = Math.max(1, m.size);
  if (canvas.width !== n || canvas.height !== n) {
    canvas.width = n;
    canvas.height = n;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('2D canvas unavailable');
  const image = ctx.createImageData(n, n);
  const lut = colorLut(scale);
  const px = image.data;
  for (let i = 0; i < m.size * m.size; i++) {
    const k = lutIndex(m.data[i], range) * 3;
    px[i * 4] = lut[k];
    px[i * 4 + 1] = lut[k + 1];
    px[i * 4 + 2] = lut[k + 2];
    px[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}
