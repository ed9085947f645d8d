/**
 * Perceptually uniform, colour-blind-safe colour scales. Both are interpolated in sRGB between
 * published control points of matplotlib's maps (17–18 stops, close enough that the lightness stays
 * monotonic — the unit tests check it), and sampled into a 256-entry table.
 */
import { t } from '../l10n/runtime';

/** Sequential scales (attention weights) and the one diverging scale (differences, see DIVERGING_SCALE). */
export type ColorScaleName = 'viridis' | 'cividis' | 'blueOrange';

/** The scales a user picks for attention weights (the diverging one is for differences only). */
export const COLOR_SCALES: readonly ColorScaleName[] = ['viridis', 'cividis'];

export const COLOR_SCALE_INFO: Record<ColorScaleName, string> = {
  viridis: t('Viridis (purple → yellow)'),
  cividis: t('Cividis (blue → yellow, also for red–green and blue–yellow colour blindness)'),
  blueOrange: t('Blue → grey-white → orange (diverging, centred on 0)'),
};

const STOPS: Record<ColorScaleName, readonly string[]> = {
  viridis: [
    '#440154', '#48186a', '#472d7b', '#424086', '#3b528b', '#33638d', '#2c728e', '#26828e', '#21918c',
    '#1fa088', '#28ae80', '#3fbc73', '#5ec962', '#84d44b', '#addc30', '#d8e219', '#fde725',
  ],
  // The diverging scale is built in CIELAB (divergingLut below); these are its sampled stops for gradients.
  blueOrange: [],
  cividis: [
    '#00204c', '#002a66', '#00346e', '#273f6c', '#3c4a6b', '#4c556b', '#5b5f6d', '#686a70', '#757575',
    '#838178', '#928c78', '#a19876', '#b0a572', '#c0b16d', '#d1bf66', '#e1cc5c', '#f3db4f', '#ffe945',
  ],
};

/** A scale a user may pick for attention weights (the diverging scale is not one). */
export function isColorScaleName(value: unknown): value is ColorScaleName {
  return typeof value === 'string' && (COLOR_SCALES as readonly string[]).includes(value);
}

function parseHex(hex: string): [number, number, number] {
  return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
}

/** Control points of a scale as `#rrggbb`, low to high. */
export function scaleStops(name: ColorScaleName): readonly string[] {
  if (name === DIVERGING_SCALE) {
    const lut = colorLut(name);
    // 17 samples: both halves and the neutral centre (level 128) are among them.
    return Array.from({ length: 17 }, (_, i) => {
      const k = Math.min(LUT_SIZE - 1, i * 16);
      return toHex([lut[k * 3], lut[k * 3 + 1], lut[k * 3 + 2]]);
    });
  }
  return STOPS[name];
}

/** Levels in a lookup table: one byte of resolution, far below what the eye separates. */
export const LUT_SIZE = 256;

const lutCache = new Map<ColorScaleName, Uint8Array>();

/** RGB triples for LUT_SIZE evenly spaced positions along the scale (3 bytes each). */
export function colorLut(name: ColorScaleName): Uint8Array {
  let lut = lutCache.get(name);
  if (lut) return lut;
  if (name === DIVERGING_SCALE) {
    lut = divergingLut();
    lutCache.set(name, lut);
    return lut;
  }
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

/** How a block's weights map to the colour scale, and the words and ticks its legend needs. */
export interface ColorScaleMapping {
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

/** Colour positions in [0, 1] for a block, with its mapping. */
export interface ColorMapping extends ColorScaleMapping {
  /** Position along the colour scale per cell, 0 = low end (float64: the LUT level of a linear
   * position is exactly the level lutIndex gives the weight itself). */
  positions: Float64Array;
}

/** Short tick text for a weight: 0.5, 0.04, 3.8e-5. */
export function tickText(value: number): string {
  if (value === 0) return '0';
  if (value >= 0.01) return String(Number(value.toFixed(2)));
  return value.toExponential(1).replace('e-', 'e−');
}

const rowPosition = (v: number, rowMax: number) => (rowMax > 0 && v > 0 ? Math.min(1, v / rowMax) : 0);
const logPosition = (v: number, lo: number, span: number) => (v > lo ? Math.min(1, (Math.log10(v) - Math.log10(lo)) / span) : 0);
const linearPosition = (v: number, range: ColorRange) => {
  const span = range.max - range.min;
  return span > 0 && v > range.min ? Math.min(1, (v - range.min) / span) : 0;
};

/**
 * The colour position of one weight under `mapping`; `rowMax` is the largest weight of its row
 * (used by per-row colours only).
 */
export function positionUnder(mapping: Pick<ColorScaleMapping, 'norm' | 'range'>): (v: number, rowMax: number) => number {
  const { min: lo, max: hi } = mapping.range;
  const span = Math.log10(hi) - Math.log10(lo);
  if (mapping.norm === 'row') return rowPosition;
  if (mapping.norm === 'log') return (v) => logPosition(v, lo, span);
  return (v) => linearPosition(v, mapping.range);
}

/** Each row's largest weight (per-row colours of a block that is all of its rows). */
export function rowMaxima(block: WeightBlock): Float64Array {
  const { rows, cols, data } = block;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let max = 0;
    for (let j = 0; j < cols; j++) max = Math.max(max, data[i * cols + j]);
    out[i] = max;
  }
  return out;
}

/**
 * Colour positions of a part of a matrix under a mapping made for the whole (a tile of a view
 * served in tiles): `rowMax[i]` is row i's largest weight over the whole row, for per-row colours.
 */
export function positionsUnder(mapping: Pick<ColorScaleMapping, 'norm' | 'range'>, block: WeightBlock, rowMax: ArrayLike<number>): Float64Array {
  const { rows, cols, data } = block;
  const positions = new Float64Array(rows * cols);
  const position = positionUnder(mapping);
  for (let i = 0; i < rows; i++) {
    const max = rowMax[i];
    for (let j = 0; j < cols; j++) positions[i * cols + j] = position(data[i * cols + j], max);
  }
  return positions;
}

/**
 * The mapping of a block's weights to colours without the positions themselves (a view served in
 * tiles colours its overview and tiles as it draws them).
 */
export function colorScaleMapping(block: WeightBlock, norm: ColorNorm, rangeMode: RangeMode): ColorScaleMapping {
  if (norm === 'row') {
    return {
      norm,
      range: { min: 0, max: 1 },
      ticks: [{ t: 1, text: t('row max') }, { t: 0.5, text: t('½ max') }, { t: 0, text: '0' }],
      caption: t('Per-row colour scale: each row runs from 0 to its own largest weight.'),
      short: t('per row: 0 → row max'),
    };
  }
  const range = colorRangeFor(block.data, rangeMode);
  if (norm === 'log') {
    const hi = range.max;
    const lo = hi / 10 ** LOG_DECADES;
    const ticks = [];
    for (let d = 0; d <= LOG_DECADES; d += 2) ticks.push({ t: 1 - d / LOG_DECADES, text: tickText(hi / 10 ** d) });
    return {
      norm,
      range: { min: lo, max: hi },
      ticks,
      caption: rangeMode === 'unit'
        ? t('Log colour scale: {0} (and below) to {1}.', tickText(lo), tickText(hi))
        : t('Log colour scale: {0} (and below) to {1}, the largest weight shown.', tickText(lo), tickText(hi)),
      short: t('log: {0} → {1}', tickText(lo), tickText(hi)),
    };
  }
  return {
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

export function mapColors(block: WeightBlock, norm: ColorNorm, rangeMode: RangeMode): ColorMapping {
  const mapping = colorScaleMapping(block, norm, rangeMode);
  return { ...mapping, positions: positionsUnder(mapping, block, norm === 'row' ? rowMaxima(block) : []) };
}

/** The range positions live in: colour them with lutIndex(position, UNIT_RANGE). */
export const UNIT_RANGE: ColorRange = { min: 0, max: 1 };

// ---------------------------------------------------------------- diverging scale (differences)

/** The scale of difference heatmaps (B − A): blue below 0, neutral at 0, orange above. */
export const DIVERGING_SCALE: ColorScaleName = 'blueOrange';

/**
 * Control points in CIELAB (L*, a*, b*) from the centre outwards, at t = 0, ½, 1 of each half. Both
 * halves share their L* values, so a difference and its negative are equally light (the unit tests
 * check it): sign is carried by hue alone, blue against orange, which stays distinct under red–green
 * colour blindness (deuteranopia, protanopia) and in greyscale the magnitude still reads as darkness.
 */
const DIVERGING_LAB: { neg: [number, number, number][]; pos: [number, number, number][] } = {
  neg: [[97, 0, 0], [68, -4, -36], [33, 10, -50]],
  pos: [[97, 0, 0], [68, 26, 58], [33, 30, 42]],
};

function labToSrgb([L, a, b]: readonly number[]): [number, number, number] {
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  const inv = (f: number) => (f ** 3 > 216 / 24389 ? f ** 3 : (116 * f - 16) / (24389 / 27));
  // D65 white point.
  const X = 0.95047 * inv(fx);
  const Y = inv(fy);
  const Z = 1.08883 * inv(fz);
  const lin = [3.2406 * X - 1.5372 * Y - 0.4986 * Z, -0.9689 * X + 1.8758 * Y + 0.0415 * Z, 0.0557 * X - 0.204 * Y + 1.057 * Z];
  return lin.map((c) => {
    const v = Math.max(0, Math.min(1, c));
    const s = v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055;
    return Math.round(s * 255);
  }) as [number, number, number];
}

function labAt(stops: [number, number, number][], t: number): [number, number, number] {
  const x = t * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => stops[i][c] + (stops[i + 1][c] - stops[i][c]) * f) as [number, number, number];
}

/** Levels 0–127: the negative half, most negative first; 128–255 the positive half. Levels 127 and 128 are both the neutral centre. */
const HALF = LUT_SIZE / 2;

function divergingLut(): Uint8Array {
  const lut = new Uint8Array(LUT_SIZE * 3);
  for (let k = 0; k < HALF; k++) {
    const t = k / (HALF - 1); // 0 at the centre, 1 at the end
    lut.set(labToSrgb(labAt(DIVERGING_LAB.neg, t)), (HALF - 1 - k) * 3);
    lut.set(labToSrgb(labAt(DIVERGING_LAB.pos, t)), (HALF + k) * 3);
  }
  return lut;
}

/**
 * LUT level of a difference on a scale symmetric about 0 with ±`maxAbs` at the ends: 0 is neutral,
 * and `v` and `−v` get mirrored levels exactly (levels k and 255 − k), so equal changes either way
 * look equally strong. NaN is neutral.
 */
export function divergingLevel(value: number, maxAbs: number): number {
  if (!(maxAbs > 0) || !Number.isFinite(value) || value === 0) return HALF;
  const k = Math.min(HALF - 1, Math.round((Math.abs(value) / maxAbs) * (HALF - 1)));
  return value > 0 ? HALF + k : HALF - 1 - k;
}

/** Symmetric range of a difference block: the largest |Δ| (1 when everything is 0). */
export function symmetricLimit(data: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i]);
    if (a > max) max = a;
  }
  return max > 0 ? max : 1;
}

/** Signed tick text with an explicit sign: +0.25, −0.25, 0. */
export function signedTickText(value: number): string {
  if (value === 0) return '0';
  const text = tickText(Math.abs(value));
  return `${value > 0 ? '+' : '−'}${text}`;
}

/**
 * Colours for a difference block on the diverging scale: positions whose LUT level
 * (lutIndex(position, UNIT_RANGE)) is divergingLevel(value, limit), so every consumer of
 * ColorMapping (canvas, SVG, PNG, legend) draws differences without knowing about them. `limit`:
 * the ± end of the scale (default: the block's largest |Δ|).
 */
export function mapDiverging(block: WeightBlock, limit = symmetricLimit(block.data), what = 'B − A'): ColorMapping {
  const positions = new Float64Array(block.rows * block.cols);
  for (let i = 0; i < positions.length; i++) positions[i] = divergingLevel(block.data[i], limit) / (LUT_SIZE - 1);
  return {
    positions,
    norm: 'linear',
    range: { min: -limit, max: limit },
    ticks: [
      { t: 1, text: signedTickText(limit) },
      { t: 0.5, text: '0' },
      { t: 0, text: signedTickText(-limit) },
    ],
    caption: `Diverging colour scale centred on 0: ${what} from ${signedTickText(-limit)} (blue, lower in B) to ${signedTickText(limit)} (orange, higher in B).`,
    short: `${what}: ±${tickText(limit)}`,
  };
}
