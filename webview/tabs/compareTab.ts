/**
 * The Compare tab (after "Compare With…"): A and B side by side on one colour scale, the difference
 * B − A over the aligned tokens on a diverging scale centred on 0, the alignment of the two token
 * sequences, and every head's distance (mean |Δ|) to find the heads that changed most. Layer, head
 * and mode come from the toolbar like every other tab.
 */
import { t } from '../i18n';
import { CAUTION, describeShort, describeWhere, formatWeight, safeFileName, textSlug } from '../../src/analysis/describe';
import { DIVERGING_SCALE, UNIT_RANGE, colorLut, lutIndex, signedTickText, type ColorScaleName } from '../../src/analysis/colormap';
import { describeSources, nestedRows, rankByDistance, sideLabel, type CompareJson, type HeadDistance } from '../../src/analysis/compare';
import { LIGHT_FIGURE_THEME, type FigureTheme, type HeatmapFigure } from '../../src/analysis/figure';
import { MODE_INFO } from '../../src/analysis/modes';
import { heatmapSvg } from '../../src/analysis/svg';
import { tokenLabel, type ViewMatrix } from '../../src/analysis/view';
import { CompareSession, ONLY_IN_A, ONLY_IN_B, compareSpecial, type CompareShown } from '../compareSession';
import type { PanelContext } from '../context';
import { h, select, selectValue, setOptions } from '../dom';
import { canvasToBase64Png, exportCellSize, renderHeatmapPng } from '../exporters';
import { HeadView, type Axis, type HeadViewEvents } from '../headView';
import { Legend } from '../legend';
import type { CompareLayout } from '../state';
import type { Theme } from '../theme';
import type { ExportAction } from '../toolbar';

type Side = 'a' | 'b' | 'delta';

const TOP_HEADS = 6;
const DISTANCE_CELL_MAX = 22;
const DISTANCE_CELL_MIN = 6;

/** Δ with six decimals and an explicit sign. */
export function formatDelta(d: number): string {
  if (d === 0) return '0.000000';
  return `${d > 0 ? '+' : '−'}${formatWeight(Math.abs(d))}`;
}

export class CompareTab {
  readonly element: HTMLElement;
  private compare: CompareSession | undefined;
  private readonly views: Record<Side, HeadView>;
  private readonly titles: Record<Side, HTMLElement>;
  private readonly boxes: Record<Side, HTMLElement>;
  private readonly legendAB = new Legend('compare-ab-');
  private readonly legendDelta = new Legend('compare-delta-');
  private readonly sources: HTMLElement;
  private readonly strip: HTMLElement;
  private readonly layout = select('compareLayout', t('Compare layout'), []);
  private readonly distanceCanvas: HTMLCanvasElement;
  private readonly topList: HTMLElement;
  private readonly distanceInfo: HTMLElement;
  private readonly grid: HTMLElement;
  private distanceGeometry = { cell: 0, left: 0, top: 0, layers: 0, heads: 0 };

  constructor(private readonly ctx: PanelContext) {
    const mk = (side: Side) => new HeadView(this.events(side));
    this.views = { a: mk('a'), b: mk('b'), delta: mk('delta') };
    for (const side of ['a', 'b', 'delta'] as Side[]) this.views[side].canvas.dataset.testid = `compare-${side}`;
    this.titles = { a: h('div', { class: 'compare-title', 'data-testid': 'compare-title-a' }), b: h('div', { class: 'compare-title', 'data-testid': 'compare-title-b' }), delta: h('div', { class: 'compare-title', 'data-testid': 'compare-title-delta' }) };
    this.boxes = {} as Record<Side, HTMLElement>;
    for (const side of ['a', 'b', 'delta'] as Side[]) {
      this.boxes[side] = h('div', { class: `compare-view compare-${side}` }, this.titles[side], h('div', { class: 'heatmap-area' }, this.views[side].scroller));
    }
    this.sources = h('div', { class: 'compare-sources', 'data-testid': 'compare-sources' });
    this.strip = h('div', { class: 'alignment-strip', 'data-testid': 'alignment', role: 'group', 'aria-label': t('Token alignment of A and B') });
    this.layout.addEventListener('change', () => ctx.store.update({ compareLayout: selectValue(this.layout) as CompareLayout }));
    this.distanceCanvas = h('canvas', { class: 'distance-grid', 'data-testid': 'distance-grid', 'aria-hidden': 'true' });
    this.distanceCanvas.addEventListener('mousemove', (e) => this.onDistanceHover(e));
    this.distanceCanvas.addEventListener('mouseleave', () => ctx.tooltip.hide());
    this.distanceCanvas.addEventListener('click', (e) => {
      const hit = this.distanceHit(e);
      if (hit) this.openHead(hit.layer, hit.head);
    });
    this.topList = h('ol', { class: 'top-heads', 'data-testid': 'top-heads', 'aria-label': t('Heads that changed most') });
    this.distanceInfo = h('p', { class: 'explanation one-line', 'data-testid': 'distance-info' });
    this.grid = h('div', { class: 'compare-views', 'data-testid': 'compare-views' }, this.boxes.a, this.boxes.b, this.boxes.delta);
    this.element = h(
      'div',
      { class: 'tab-content compare-layout', 'data-testid': 'compare-panel', hidden: true },
      h('div', { class: 'toolbar-row compare-controls' }, this.sources, h('label', { class: 'field' }, h('span', { class: 'field-label' }, t('Show')), this.layout)),
      this.strip,
      this.grid,
      h('div', { class: 'panel-footer compare-legends' }, h('div', { class: 'legend-group' }, this.legendAB.element), h('div', { class: 'legend-group' }, this.legendDelta.element)),
      h(
        'section',
        { class: 'distances', 'aria-label': t('Per-head distance') },
        h('div', { class: 'distance-head' }, h('strong', {}, t('Heads that changed most')), this.distanceInfo),
        h('div', { class: 'distance-body' }, this.distanceCanvas, this.topList),
      ),
    );
  }

  get session(): CompareSession | undefined {
    return this.compare;
  }

  set(compare: CompareSession | undefined): void {
    this.compare = compare;
    for (const v of Object.values(this.views)) {
      v.clearHover();
      v.scrollHome();
    }
  }

  setTheme(theme: Theme): void {
    for (const v of Object.values(this.views)) v.setTheme(theme);
    this.legendAB.draw();
    this.legendDelta.draw();
    if (this.compare && !this.element.hidden) this.drawDistances();
  }

  private events(side: Side): HeadViewEvents {
    return {
      hoverCell: (r, c, x, y) => this.onHoverCell(side, r, c, x, y),
      hoverLabel: (i, axis, x, y) => this.onHoverLabel(side, i, axis, x, y),
      leave: () => this.ctx.tooltip.hide(),
      clickCell: (r, c) => this.reveal(side, c, r),
      clickLabel: (i) => this.reveal(side, i),
      keyboardCell: (r, c) => this.ctx.announce(`${this.cellText(side, r, c)}.`),
      activateCell: (r, c) => this.reveal(side, c, r),
      toggleFocusRow: () => {},
      clearFocus: () => {},
      zoom: () => {},
    };
  }

  private current(): CompareShown | undefined {
    const compare = this.compare;
    if (!compare) return undefined;
    return compare.shown(this.ctx.selection(), this.ctx.store.state);
  }

  private viewOf(shown: CompareShown, side: Side): ViewMatrix {
    return side === 'a' ? shown.viewA : side === 'b' ? shown.viewB : shown.viewDelta;
  }

  render(): void {
    const compare = this.compare;
    if (!compare) return;
    const s = this.ctx.store.state;
    const shown = this.current()!;
    const srcs = compare.sources;
    this.sources.replaceChildren(
      h('span', { class: 'source source-a', title: compare.a.result.text }, sideLabel('A', srcs.a)),
      h('span', { class: 'source source-b', title: compare.b.text }, sideLabel('B', srcs.b)),
      h('span', { class: 'muted', 'data-testid': 'alignment-summary' }, compare.summary),
    );
    setOptions(this.layout, [{ value: 'sideBySide', label: t('A, B and B − A') }, { value: 'delta', label: t('B − A only') }], s.compareLayout);
    this.renderStrip();
    const delta = s.compareLayout === 'delta';
    this.grid.classList.toggle('delta-only', delta);
    this.boxes.a.hidden = delta;
    this.boxes.b.hidden = delta;
    const what = describeShort(shown.sel);
    this.titles.a.textContent = `A · ${what}`;
    this.titles.b.textContent = `B · ${what}`;
    this.titles.delta.textContent = t('B − A over {0} aligned tokens', shown.pairs.length);
    const all = (n: number) => Array.from({ length: n }, (_, i) => i);
    const data = (side: Side, scale: ColorScaleName) => {
      const view = this.viewOf(shown, side);
      const colors = side === 'a' ? shown.colorsA : side === 'b' ? shown.colorsB : shown.colorsDelta;
      this.views[side].setData({ view, rows: all(view.size), cols: all(view.size), positions: colors.positions, scale });
      this.views[side].setAriaLabel(t('{0}, {1} × {1}: {2}. Arrow keys move between cells.', side === 'delta' ? t('Difference B − A') : t('Attention of {0}', side.toUpperCase()), view.size, what));
    };
    if (!delta) {
      data('a', s.scale);
      data('b', s.scale);
    }
    data('delta', DIVERGING_SCALE);
    this.legendAB.element.hidden = delta;
    this.legendAB.render(shown.colorsA, s.scale);
    this.legendDelta.render(shown.colorsDelta, DIVERGING_SCALE);
    this.drawDistances();
  }

  /** The two token sequences as chips: identical, substituted, only in A (−), only in B (+). */
  private renderStrip(): void {
    const compare = this.compare!;
    const tokA = compare.a.result.tokens;
    const tokB = compare.b.tokens;
    const rowA: HTMLElement[] = [h('span', { class: 'strip-side' }, 'A')];
    const rowB: HTMLElement[] = [h('span', { class: 'strip-side' }, 'B')];
    for (const seg of compare.alignment.segments) {
      for (let i = seg.aStart; i < seg.aEnd; i++) rowA.push(chip(tokenLabel(tokA[i]), seg.op, seg.op === 'deleted' ? ONLY_IN_A : ''));
      for (let j = seg.bStart; j < seg.bEnd; j++) rowB.push(chip(tokenLabel(tokB[j]), seg.op, seg.op === 'inserted' ? ONLY_IN_B : ''));
      // Gaps keep the columns of aligned runs under each other.
      if (seg.op === 'deleted') for (let i = seg.aStart; i < seg.aEnd; i++) rowB.push(h('span', { class: 'chip gap', 'aria-hidden': 'true' }, '·'));
      if (seg.op === 'inserted') for (let j = seg.bStart; j < seg.bEnd; j++) rowA.push(h('span', { class: 'chip gap', 'aria-hidden': 'true' }, '·'));
    }
    this.strip.replaceChildren(h('div', { class: 'strip-row' }, ...rowA), h('div', { class: 'strip-row' }, ...rowB));
  }

  // ---------------------------------------------------------------- hover and links

  /** "cat → the: A 0.412000 · B 0.380000 · Δ −0.032000 (layer 1, head 2)". */
  cellText(side: Side, row: number, col: number): string {
    const shown = this.current()!;
    const compare = this.compare!;
    const where = describeShort(shown.sel);
    if (side === 'delta') {
      const k = shown.diff.size;
      const label = (i: number) => shown.viewDelta.items[i].label;
      const i = row * k + col;
      return `${label(row)} → ${label(col)}: A ${formatWeight(shown.diff.a[i])} · B ${formatWeight(shown.diff.b[i])} · Δ ${formatDelta(shown.diff.delta[i])} (${where})`;
    }
    const view = this.viewOf(shown, side);
    const q = view.items[row].tokens[0];
    const key = view.items[col].tokens[0];
    const own = view.data[row * view.size + col];
    const partner = side === 'a' ? (t: number) => compare.partnerOfA(t) : (t: number) => compare.partnerOfB(t);
    const pq = partner(q);
    const pk = partner(key);
    const text = `${view.items[row].label} → ${view.items[col].label}`;
    if (pq < 0 || pk < 0) return `${text}: ${side.toUpperCase()} ${formatWeight(own)} · no aligned ${pq < 0 ? 'query' : 'key'} in ${side === 'a' ? 'B' : 'A'} (${where})`;
    const other = side === 'a' ? shown.matrixB : shown.matrixA;
    const va = side === 'a' ? shown.matrixA.data[q * shown.matrixA.size + key] : other.data[pq * other.size + pk];
    const vb = side === 'b' ? shown.matrixB.data[q * shown.matrixB.size + key] : other.data[pq * other.size + pk];
    return `${text}: A ${formatWeight(va)} · B ${formatWeight(vb)} · Δ ${formatDelta(vb - va)} (${where})`;
  }

  private onHoverCell(side: Side, row: number, col: number, x: number, y: number): void {
    if (!this.compare) return;
    this.ctx.tooltip.show(this.cellText(side, row, col), x, y);
  }

  private onHoverLabel(side: Side, index: number, axis: Axis, x: number, y: number): void {
    const shown = this.current();
    if (!shown) return;
    const item = this.viewOf(shown, side).items[index];
    const mark = item.label.startsWith(ONLY_IN_A) && side === 'a' ? ' — only in A' : item.label.startsWith(ONLY_IN_B) && side === 'b' ? ' — only in B' : '';
    this.ctx.tooltip.show(`${item.label} (${axis === 'row' ? 'query' : 'key'} ${index})${mark}`, x, y);
  }

  /** A's tokens (and the Δ view's, which are A's) link to the editor; B's text may be anywhere. */
  private reveal(side: Side, key: number, query?: number): void {
    const shown = this.current();
    const session = this.ctx.session();
    if (!shown || !session || side === 'b') return;
    const items = this.viewOf(shown, side).items;
    this.ctx.channel.post({ type: 'revealToken', resultId: session.id, index: items[key].tokens[0], ...(query !== undefined ? { queryIndex: items[query].tokens[0] } : {}) });
  }

  // ---------------------------------------------------------------- per-head distance

  private distances(): HeadDistance[] {
    return this.compare!.distances(this.ctx.store.state.special);
  }

  private drawDistances(): void {
    const compare = this.compare!;
    const s = this.ctx.store.state;
    const theme = this.ctx.theme();
    const d = this.distances();
    const layers = compare.a.stack.layers;
    const heads = compare.a.stack.heads;
    const max = d.reduce((m, x) => Math.max(m, x.meanAbs), 0);
    const available = Math.max(120, (this.element.clientWidth || 600) * 0.55 - 40);
    const cell = Math.max(DISTANCE_CELL_MIN, Math.min(DISTANCE_CELL_MAX, Math.floor(available / heads), Math.floor(160 / layers)));
    const left = 30;
    const top = 14;
    const width = left + heads * cell + 4;
    const height = top + layers * cell + 4;
    const dpr = window.devicePixelRatio || 1;
    const c = this.distanceCanvas;
    c.width = Math.round(width * dpr);
    c.height = Math.round(height * dpr);
    c.style.width = `${width}px`;
    c.style.height = `${height}px`;
    const g = c.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = theme.background;
    g.fillRect(0, 0, width, height);
    const lut = colorLut(s.scale);
    g.font = `10px ${theme.fontFamily}`;
    g.fillStyle = theme.muted;
    g.textBaseline = 'middle';
    g.textAlign = 'right';
    for (let l = 0; l < layers; l++) if (cell >= 9 || l % 4 === 0) g.fillText(`L${l}`, left - 4, top + (l + 0.5) * cell);
    g.textAlign = 'center';
    for (let hd = 0; hd < heads; hd++) if (cell >= 14 || hd % 4 === 0) g.fillText(`${hd}`, left + (hd + 0.5) * cell, top / 2);
    for (const x of d) {
      const k = lutIndex(max > 0 ? x.meanAbs / max : 0, UNIT_RANGE) * 3;
      g.fillStyle = `rgb(${lut[k]},${lut[k + 1]},${lut[k + 2]})`;
      g.fillRect(left + x.head * cell, top + x.layer * cell, cell - 1, cell - 1);
    }
    // The head shown above is outlined.
    g.strokeStyle = theme.focus;
    g.lineWidth = 2;
    g.strokeRect(left + s.head * cell + 1, top + s.layer * cell + 1, cell - 3, cell - 3);
    this.distanceGeometry = { cell, left, top, layers, heads };
    c.dataset.cell = String(cell);
    c.dataset.left = String(left);
    c.dataset.top = String(top);
    const ranked = rankByDistance(d).slice(0, TOP_HEADS);
    this.topList.replaceChildren(
      ...ranked.map((x) => {
        const b = h('button', { class: 'top-head', type: 'button', 'data-layer': x.layer, 'data-head': x.head, title: t('Open layer {0}, head {1}', x.layer, x.head) }, `L${x.layer} H${x.head}`, h('span', { class: 'value' }, ` ${formatWeight(x.meanAbs)}`));
        b.addEventListener('click', () => this.openHead(x.layer, x.head));
        return h('li', {}, b);
      }),
    );
    this.distanceInfo.textContent = `mean |B − A| per head over the aligned query/key pairs${compare.causal ? ' the model lets attend (key at or before query)' : ''}; colour 0 → ${formatWeight(max)} (${s.scale}). Click a head to show it.`;
    this.distanceInfo.title = this.distanceInfo.textContent;
  }

  private distanceHit(e: MouseEvent): HeadDistance | undefined {
    const g = this.distanceGeometry;
    const rect = this.distanceCanvas.getBoundingClientRect();
    const head = Math.floor((e.clientX - rect.left - g.left) / g.cell);
    const layer = Math.floor((e.clientY - rect.top - g.top) / g.cell);
    if (head < 0 || head >= g.heads || layer < 0 || layer >= g.layers) return undefined;
    return this.distances()[layer * g.heads + head];
  }

  private onDistanceHover(e: MouseEvent): void {
    const hit = this.distanceHit(e);
    if (!hit) return this.ctx.tooltip.hide();
    this.ctx.tooltip.show(t('Layer {0}, head {1}: mean |Δ| {2}, max |Δ| {3}. Click to show it.', hit.layer, hit.head, formatWeight(hit.meanAbs), formatWeight(hit.maxAbs)), e.clientX, e.clientY);
  }

  private openHead(layer: number, head: number): void {
    const mode = this.ctx.store.state.mode === 'valueWeighted' ? 'valueWeighted' : 'head';
    this.ctx.store.update({ layer, head, mode });
    this.ctx.announce(t('Comparing layer {0}, head {1}.', layer, head));
  }

  // ---------------------------------------------------------------- exports

  private figureTheme(): FigureTheme {
    const t = this.ctx.theme();
    const plain = (c: string) => /^(#[0-9a-f]{3,8}|rgba?\([\d\s.,%]+\))$/i.test(c);
    return plain(t.background) && plain(t.foreground) && plain(t.muted) ? { background: t.background, foreground: t.foreground, muted: t.muted } : LIGHT_FIGURE_THEME;
  }

  /** The difference heatmap as an export figure: both sources in the title. */
  deltaFigure(): HeatmapFigure {
    const compare = this.compare!;
    const shown = this.current()!;
    const { a, b } = compare.sources;
    const where = describeWhere(shown.sel, compare.a.stack.layers, compare.a.stack.heads);
    const special = compareSpecial(this.ctx.store.state.special) === 'show' ? 'special tokens shown' : 'special tokens left out';
    const labels = shown.viewDelta.items.map((it) => it.label);
    return {
      title: `Δ attention ${describeSources(a, b)} — ${where}`,
      subtitle: [`${MODE_INFO[shown.sel.mode].label}`, compare.summary, special, `colour: blue–orange diverging, ${signedTickText(-shown.colorsDelta.range.max)} to ${signedTickText(shown.colorsDelta.range.max)}`].join(' · '),
      footnote: CAUTION,
      rowLabels: labels,
      colLabels: labels,
      matrix: { size: shown.diff.size, data: shown.colorsDelta.positions },
      range: UNIT_RANGE,
      ticks: shown.colorsDelta.ticks,
      scale: DIVERGING_SCALE,
      theme: this.figureTheme(),
      cell: exportCellSize(shown.diff.size),
    };
  }

  compareJson(): CompareJson {
    const compare = this.compare!;
    const shown = this.current()!;
    const info = MODE_INFO[shown.sel.mode];
    const side = (r: { model: { name: string; source: string }; text: string; tokens: { id: number; raw: string }[] }) => ({
      model: r.model.name,
      source: r.model.source,
      text: r.text,
      tokens: r.tokens.map((t) => ({ id: t.id, raw: t.raw })),
    });
    const k = shown.diff.size;
    return {
      format: 'attention-inspector/compare@1',
      title: this.deltaFigure().title,
      a: side(compare.a.result),
      b: side(compare.b),
      selection: { layer: info.usesLayer ? shown.sel.layer : null, head: info.usesHead ? shown.sel.head : null, description: describeShort(shown.sel) },
      alignment: { summary: compare.summary, pairs: shown.pairs, segments: compare.alignment.segments },
      axis: shown.viewDelta.items.map((it) => it.label),
      attentionA: nestedRows(shown.diff.a, k),
      attentionB: nestedRows(shown.diff.b, k),
      delta: nestedRows(shown.diff.delta, k),
      headDistances: this.distances(),
    };
  }

  private fileName(extension: string): string {
    const compare = this.compare!;
    const shown = this.current()!;
    const { a, b } = compare.sources;
    const model = (name: string) => name.split(/[\\/]/).pop() ?? 'model';
    const who = compare.kind === 'model' ? `${model(b.model)}-minus-${model(a.model)}-${textSlug(a.text)}` : `${model(a.model)}-${textSlug(b.text)}-minus-${textSlug(a.text)}`;
    const where = shown.sel.mode === 'head' || shown.sel.mode === 'valueWeighted' ? `L${shown.sel.layer}-H${shown.sel.head}` : shown.sel.mode === 'allMean' ? 'all' : `L${shown.sel.layer}`;
    return safeFileName(`attention-delta-${who}-${where}-${shown.sel.mode}`, extension);
  }

  /** Exports from the toolbar while this tab is open. */
  export(action: ExportAction, copyPng: (base64: string) => Promise<void>): void {
    if (!this.compare) return;
    try {
      switch (action) {
        case 'png':
          this.ctx.channel.post({ type: 'export', format: 'png', data: canvasToBase64Png(renderHeatmapPng(this.deltaFigure()).canvas), suggestedName: this.fileName('png') });
          break;
        case 'svg':
          this.ctx.channel.post({ type: 'export', format: 'svg', data: heatmapSvg(this.deltaFigure()), suggestedName: this.fileName('svg') });
          break;
        case 'json':
          this.ctx.channel.post({ type: 'export', format: 'json', data: JSON.stringify(this.compareJson(), null, 1), suggestedName: this.fileName('json') });
          break;
        case 'copyImage':
          void copyPng(canvasToBase64Png(renderHeatmapPng(this.deltaFigure()).canvas));
          return;
        default:
          this.ctx.announce(t('The compare tab exports PNG, SVG and JSON (A, B and B − A over the aligned tokens); NPY and Python export the analysis A from the other tabs.'));
          this.ctx.tooltip.show(t('Compare exports PNG, SVG and JSON. NPY and Copy as Python work on the other tabs.'), window.innerWidth / 2, 40);
          return;
      }
      this.ctx.announce(`${action.toUpperCase()} of the difference ready: choose where to save it.`);
    } catch (err) {
      this.ctx.showError(t('Could not export the comparison: {0}', err instanceof Error ? err.message : String(err)));
    }
  }
}

function chip(label: string, op: string, mark: string): HTMLElement {
  const title = op === 'same' ? 'identical in A and B' : op === 'substituted' ? 'substituted: aligned with the token at the same place' : op === 'deleted' ? 'only in A: no partner in B' : 'only in B: no partner in A';
  return h('span', { class: `chip ${op}`, title }, `${mark}${label}`);
}
