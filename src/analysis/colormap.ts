/**
 * Perceptually uniform, colour-blind-safe colour scales. Both are interpolated in sRGB between
 * published control points of matplotlib's maps (17–18 stops, close enough that the lightness stays
 * monotonic — the unit tests check it), and sampled into a 256-entry table.
 */

export type ColorScaleName = 'viridis' | 'cividis';

export const COLOR_SCALES: readonly ColorScaleName[] = ['viridis', 'cividis'];

export const COLOR_SCALE_INFO: Record<ColorScaleName, string> = {
  viridis: 'Viridis (purple → yellow)',
  cividis: 'Cividis (blue → yellow, also for red–green and blue–yellow colour blindness)',
};

const STOPS: Record<ColorScaleName, readonly string[]> = {
  viridis: [
    '#440154', '#48186a', '#472d7b', '#424086', '#3b528b', '#33638d', '#2c728e', '#26828e', '#21918c',
    '#1fa088', '#28ae80', '#3fbc73', '#5ec962', '#84d44b', '#addc30', '#d8e219', '#fde725',
  ],
  cividis: [
    '#00204c', '#002a66', '#00346e', '#273f6c', '#3c4a6b', '#4c556b', '#5b5f6d', '#686a70', '#757575',
    '#838178', '#928c78', '#a19876', '#b0a572', '#c0b16d', '#d1bf66', '#e1cc5c', '#f3db4f', '#ffe945',
  ],
};

export function isColorScaleName(value: unknown): value is ColorScaleName {
  return typeof value === 'string' && (COLOR_SCALES as readonly string[]).includes(value);
}

function parseHex(hex: string): [number, number, number] {
  return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
}

/** Control points of a scale as `#rrggbb`, low to high. */
export function scaleStops(name: ColorScaleName): readonly string[] {
  return STOPS[name];
}

/** Levels in a lookup table: one byte of resolution, far below what the eye separates. */
export const LUT_SIZE = 256;

const lutCache = new Map<ColorScaleName, Uint8Array>();

/** RGB triples for LUT_SIZE evenly spaced positions along the scale (3 bytes each). */
export function colorLut(name: ColorScaleName): Uint8Array {
  let lut = lutCache.get(name);
  if (lut) return lut;
  const stops = STOPS[name].map(parseHex);
  lut = new Uint8Array(LUT_SIZE * 3);
  for (let k = 0; k < LUT_SIZE; k++) {
    const t = (k / (LUT_SIZE - 1)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(t));
    const f = t - i;
    for (let c = 0; c < 3; c++) lut[k * 3 + c] = Math.round(stops[i][c] + (stops[i + 1][c] - stops[i][c]) * f);
  }
  lutCache.set(name, lut);
  return lut;
}

/** Value range the colours stretch over. */
export interface ColorRange {
  min: number;
  max: number;
}

/** LUT level of a value: clamped into the range, NaN mapped to the low end. */
export function lutIndex(value: number, range: ColorRange): number {
  const span = range.max - range.min;
  if (!(span > 0) || !(value > range.min)) return 0;
  const t = (value - range.min) / span;
  return t >= 1 ? LUT_SIZE - 1 : Math.floor(t * (LUT_SIZE - 1) + 0.5);
}

export function colorOf(value: number, range: ColorRange, name: ColorScaleName): [number, number, number] {
  const lut = colorLut(name);
  const k = lutIndex(value, range) * 3;
  return [lut[k], lut[k + 1], lut[k + 2]];
}

export function toHex([r, g, b]: readonly number[]): string {
  return '#' + [r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('');
}

/** CIE L* (0–100) of an sRGB colour, for checks and for picking a readable text colour on a cell. */
export function lightness([r, g, b]: readonly number[]): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const y = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return y > 216 / 24389 ? 116 * Math.cbrt(y) - 16 : (24389 / 27) * y;
}

/** Range choice: 0 to 1, or 0 to the largest value shown (small weights become visible). */
export type RangeMode = 'unit' | 'max';

export function isRangeMode(value: unknown): value is RangeMode {
  return value === 'unit' || value === 'max';
}

export function colorRangeFor(data: ArrayLike<number>, mode: RangeMode): ColorRange {
  if (mode === 'unit') return { min: 0, max: 1 };
  let max = 0;
  for (let i = 0; i < data.length; i++) if (data[i] > max) max = data[i];
  return { min: 0, max: max > 0 ? max : 1 };
}
