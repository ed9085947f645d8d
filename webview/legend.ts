/**
 * The colour legend: a thin horizontal bar with its ticks and one line saying what the colours mean
 * (linear, per row or log), drawn at the device pixel ratio.
 */
import { UNIT_RANGE, colorLut, lutIndex, type ColorScaleMapping, type ColorScaleName } from '../src/analysis/colormap';
import { h } from './dom';

const BAR_WIDTH = 140;
const BAR_HEIGHT = 10;

export class Legend {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly ticks: HTMLElement;
  private readonly caption: HTMLElement;
  private last: { mapping: ColorScaleMapping; scale: ColorScaleName } | undefined;

  /** `testPrefix` tells several legends on one page apart in the tests' hooks (the compare tab has two). */
  constructor(testPrefix = '') {
    this.canvas = h('canvas', { class: 'legend-bar', 'data-testid': `${testPrefix}legend`, 'aria-hidden': 'true' });
    this.ticks = h('div', { class: 'legend-ticks', 'data-testid': `${testPrefix}legend-ticks` });
    this.caption = h('span', { class: 'legend-caption', 'data-testid': `${testPrefix}legend-caption` });
    this.element = h('div', { class: 'legend' }, h('div', { class: 'legend-scale' }, this.canvas, this.ticks), this.caption);
  }

  render(mapping: ColorScaleMapping, scale: ColorScaleName): void {
    // The panel renders on every state change and arriving tile: the same legend is not redrawn.
    const l = this.last;
    if (l && l.scale === scale && l.mapping.caption === mapping.caption && l.mapping.short === mapping.short && JSON.stringify(l.mapping.ticks) === JSON.stringify(mapping.ticks)) return;
    this.last = { mapping, scale };
    this.draw();
  }

  /** Redraws at the current device pixel ratio. */
  draw(): void {
    if (!this.last) return;
    const { mapping, scale } = this.last;
    const dpr = window.devicePixelRatio || 1;
    const canvas = this.canvas;
    canvas.width = Math.round(BAR_WIDTH * dpr);
    canvas.height = Math.round(BAR_HEIGHT * dpr);
    canvas.style.width = `${BAR_WIDTH}px`;
    canvas.style.height = `${BAR_HEIGHT}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    // One pixel column per colour, written as pixels rather than a rectangle each.
    const lut = colorLut(scale);
    const bar = ctx.createImageData(canvas.width, canvas.height);
    for (let x = 0; x < canvas.width; x++) {
      const k = lutIndex((x + 0.5) / canvas.width, UNIT_RANGE) * 3;
      for (let y = 0; y < canvas.height; y++) bar.data.set([lut[k], lut[k + 1], lut[k + 2], 255], (y * canvas.width + x) * 4);
    }
    ctx.putImageData(bar, 0, 0);
    // Ticks low to high, left to right.
    const ticks = [...mapping.ticks].sort((a, b) => a.t - b.t);
    this.ticks.replaceChildren(...ticks.map((t) => h('span', {}, t.text)));
    // The bar says it in a few words; the full sentence is the tooltip and the screen readers' text.
    this.caption.textContent = mapping.short;
    this.caption.title = mapping.caption;
    this.caption.setAttribute('aria-label', mapping.caption);
  }
}
