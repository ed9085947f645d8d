/**
 * Perceptually uniform, colour-blind-safe colour scales. Both are interpolated in sRGB between
 * published control points of matplotlib's maps (17–18 stops, close enough that the lightness stays
 * monotonic — the unit tests check it), and sampled into a 256-entry table.
 */
import { t } from '../l10n/runtime';

export type ColorScaleName = 'viridis' | 'cividis';

export const COLOR_SCALES: readonly ColorScaleName[] = ['viridis', 'cividis'];

export const COLOR_SCALE_INFO: Record<ColorScaleName, string> = {
  viridis: t('Viridis (purple → yellow)'),
  cividis: t('Cividis (blue → yellow, also for red–green and blue–yellow colour blindness)'),
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

/**
 * How weights become colour positions: linear over the colour range, each row scaled to its own
 * largest weight (a sink column near 1 no longer darkens everything else), or logarithmic over four
 * decades below the range's top (tiny weights become visible).
 */
export type ColorNorm = 'linear' | 'row' | 'log';

export const COLOR_NORMS: readonly ColorNorm[] = ['linear', 'row', 'log'];

export const COLOR_NORM_INFO: Record<ColorNorm, { label: string; explanation: string }> = {
  linear: { label: t('Linear'), explanation: t('colour proportional to the weight') },
  row: { label: t('Per row'), explanation: t('each row scaled to its own largest weight') },
  log: { label: t('Log'), explanation: t('logarithmic, four decades below the top of the range') },
};

export function isColorNorm(value: unknown): value is ColorNorm {
  return typeof value === 'string' && (COLOR_NORMS as readonly string[]).includes(value);
}

/** Decades the log scale spans below its top. */
export const LOG_DECADES = 4;

/** A rows × cols block of weights (row-major) to colour. */
export interface WeightBlock {
  rows: number;
  cols: number;
  data: ArrayLike<number>;
}

/** Colour positions in [0, 1] for a block, and the words and ticks its legend needs. */
export interface ColorMapping {
  /** Position along the colour scale per cell, 0 = low end (float64: the LUT level of a linear
   * position is exactly the level lutIndex gives the weight itself). */
  positions: Float64Array;
  norm: ColorNorm;
  /** Weight range the positions stand for (linear, log); per row it is 0 → each row's max. */
  range: ColorRange;
  /** Legend ticks, top (t = 1) first. */
  ticks: { t: number; text: string }[];
  /** One line for the exports and the legend's tooltip: what the colours mean. */
  caption: string;
  /** The same in a few words, for the legend beside the bar. */
  short: string;
}

/** Short tick text for a weight: 0.5, 0.04, 3.8e-5. */
export function tickText(value: number): string {
  if (value === 0) return '0';
  if (value >= 0.01) return String(Number(value.toFixed(2)));
  return value.toExponential(1).replace('e-', 'e−');
}

export function mapColors(block: WeightBlock, norm: ColorNorm, rangeMode: RangeMode): ColorMapping {
  const { rows, cols, data } = block;
  const positions = new Float64Array(rows * cols);
  const range = colorRangeFor(data, rangeMode);
  if (norm === 'row') {
    for (let i = 0; i < rows; i++) {
      let max = 0;
      for (let j = 0; j < cols; j++) max = Math.max(max, data[i * cols + j]);
      for (let j = 0; j < cols; j++) {
        const v = data[i * cols + j];
        positions[i * cols + j] = max > 0 && v > 0 ? Math.min(1, v / max) : 0;
      }
    }
    return {
      positions,
      norm,
      range: { min: 0, max: 1 },
      ticks: [{ t: 1, text: t('row max') }, { t: 0.5, text: t('½ max') }, { t: 0, text: '0' }],
      caption: t('Per-row colour scale: each row runs from 0 to its own largest weight.'),
      short: t('per row: 0 → row max'),
    };
  }
  if (norm === 'log') {
    const hi = range.max;
    const lo = hi / 10 ** LOG_DECADES;
    const span = Math.log10(hi) - Math.log10(lo);
    for (let i = 0; i < positions.length; i++) {
      const v = data[i];
      positions[i] = v > lo ? Math.min(1, (Math.log10(v) - Math.log10(lo)) / span) : 0;
    }
    const ticks = [];
    for (let d = 0; d <= LOG_DECADES; d += 2) ticks.push({ t: 1 - d / LOG_DECADES, text: tickText(hi / 10 ** d) });
    return {
      positions,
      norm,
      range: { min: lo, max: hi },
      ticks,
      caption: rangeMode === 'unit'
        ? t('Log colour scale: {0} (and below) to {1}.', tickText(lo), tickText(hi))
        : t('Log colour scale: {0} (and below) to {1}, the largest weight shown.', tickText(lo), tickText(hi)),
      short: t('log: {0} → {1}', tickText(lo), tickText(hi)),
    };
  }
  const span = range.max - range.min;
  for (let i = 0; i < positions.length; i++) {
    const v = data[i];
    positions[i] = span > 0 && v > range.min ? Math.min(1, (v - range.min) / span) : 0;
  }
  return {
    positions,
    norm,
    range,
    ticks: [
      { t: 1, text: tickText(range.max) },
      { t: 0.5, text: tickText((range.min + range.max) / 2) },
      { t: 0, text: tickText(range.min) },
    ],
    caption: rangeMode === 'unit' ? t('Linear colour scale: 0 to 1.') : t('Linear colour scale: 0 to the largest weight shown ({0}).', tickText(range.max)),
    short: rangeMode === 'unit' ? t('linear: 0 → 1') : t('linear: 0 → max ({0})', tickText(range.max)),
  };
}

/** The range positions live in: colour them with lutIndex(position, UNIT_RANGE). */
export const UNIT_RANGE: ColorRange = { min: 0, max: 1 };
