/**
 * The heatmap tab: the head view filling the space, a one-line details strip (where the hovered,
 * focused or cursor query looks, and its row sum) and a footer with the legend and zoom.
 */
import { describeShort, describeWhere, formatWeight } from '../../src/analysis/describe';
import { MODE_INFO } from '../../src/analysis/modes';
import { rowOfToken, type ViewMatrix } from '../../src/analysis/view';
import type { PanelContext } from '../context';
import { button, h } from '../dom';
import { HeadView, type Axis } from '../headView';
import { Legend } from '../legend';
import { t } from '../i18n';

const TOP_ATTENDED = 5;

export class HeadTab {
  readonly element: HTMLElement;
  readonly view: HeadView;
  readonly legend = new Legend();
  private readonly details: HTMLElement;
  readonly computing: HTMLElement;

  constructor(private readonly ctx: PanelContext) {
    this.view = new HeadView({
      hoverCell: (r, c, x, y) => this.onHoverCell(r, c, x, y),
      hoverLabel: (i, axis, x, y) => this.onHoverLabel(i, axis, x, y),
      leave: () => {
        this.waitingFor = undefined;
        this.hoveredRow = undefined;
        ctx.tooltip.hide();
        this.renderDetails();
      },
      clickCell: (r, c) => ctx.reveal(c, r),
      clickLabel: (i, axis) => this.onClickLabel(i, axis),
      keyboardCell: (r, c) => this.announceCell(r, c),
      activateCell: (r, c) => ctx.reveal(c, r),
      toggleFocusRow: (r) => ctx.setFocusRow(ctx.focusRow() === r ? null : r),
      clearFocus: () => ctx.setFocusRow(null),
      zoom: (f) => this.zoomBy(f),
      visible: (rect) => {
        const shown = this.ctx.shown();
        if (shown?.kind === 'tiled') shown.tiled.want(rect);
      },
    });
    this.details = h('div', { class: 'details', 'data-testid': 'details', 'aria-live': 'polite' });
    this.computing = h('p', { class: 'computing-status', role: 'status', 'data-testid': 'computing' });
    const zoom = h(
      'div',
      { class: 'zoom', role: 'group', 'aria-label': t('Zoom') },
      button('zoom-out', '−', t('Smaller cells (Ctrl+wheel, or − on the heatmap)')),
      button('zoom-fit', t('Fit'), t('Fit the heatmap to the panel')),
      button('zoom-in', '+', t('Larger cells (Ctrl+wheel, or + on the heatmap)')),
    );
    zoom.querySelector('#zoom-out')!.addEventListener('click', () => this.zoomBy(0.8));
    zoom.querySelector('#zoom-in')!.addEventListener('click', () => this.zoomBy(1.25));
    zoom.querySelector('#zoom-fit')!.addEventListener('click', () => ctx.store.update({ zoom: null }));
    this.element = h(
      'div',
      { class: 'tab-content head-layout', 'data-testid': 'head-panel' },
      h('div', { class: 'heatmap-area' }, this.view.scroller, this.computing),
      this.details,
      h('div', { class: 'panel-footer' }, this.legend.element, zoom),
    );
  }

  /** Draws the current state (called with `computing` while a slow mode is prepared). */
  render(computing: boolean): void {
    const session = this.ctx.session();
    const shown = this.ctx.shown();
    this.element.classList.toggle('computing', computing);
    if (!session || !shown) return;
    const s = this.ctx.store.state;
    if (shown.kind === 'tiled') this.view.setTiled({ tiled: shown.tiled, mapping: shown.colors, scale: s.scale });
    else this.view.setData({ view: shown.view, rows: shown.block.rows, cols: shown.block.cols, positions: shown.colors.positions, scale: s.scale });
    this.view.setZoom(s.zoom);
    this.view.focusRow = this.ctx.focusRow();
    const cursor = this.ctx.cursorToken();
    this.view.cursorRow = cursor === null ? null : rowOfToken(shown.view, cursor);
    const what = describeWhere(shown.sel, session.stack.layers, session.stack.heads);
    this.view.setAriaLabel(
      t('Attention heatmap, {0} query rows by {1} key columns: {2}, {3}.', shown.block.rows.length, shown.block.cols.length, MODE_INFO[s.mode].label, what) +
        ' ' + t('Arrow keys move between cells, Enter selects the key token in the editor, Space focuses the query row.'),
    );
    this.legend.render(shown.colors, s.scale);
    // Tiles and rows arriving render again: the hovered row's details stay.
    this.renderDetails(this.hoveredRow);
    // A hovered or keyboard cell whose value was on its way: say it now that it may be here.
    const pending = this.waitingFor;
    if (pending && this.view.valueAt(pending.row, pending.col) !== undefined) {
      this.waitingFor = undefined;
      if (pending.x !== undefined && pending.y !== undefined) this.ctx.tooltip.show(this.weightText(pending.row, pending.col), pending.x, pending.y);
      else this.announceCell(pending.row, pending.col);
    }
  }

  /** A cell whose exact value was asked for (a view served in tiles), with where its tooltip goes. */
  private waitingFor: { row: number; col: number; x?: number; y?: number } | undefined;
  /** The view row under the pointer (a cell or a label), if any. */
  private hoveredRow: number | undefined;

  private zoomBy(factor: number): void {
    const current = this.ctx.store.state.zoom ?? this.view.cell;
    const next = factor > 1 ? Math.max(current + 1, current * factor) : Math.min(current - 1, current * factor);
    this.ctx.store.update({ zoom: next });
  }

  /** "query → key: weight (what)", exact; for a cell of a view served in tiles whose tile is not here yet, its row is asked for. */
  weightText(row: number, col: number): string {
    const shown = this.ctx.shown()!;
    const w = this.view.valueAt(row, col);
    if (w === undefined && shown.kind === 'tiled') shown.tiled.row(row);
    const items = shown.view.items;
    return `${items[row].label} → ${items[col].label}: ${w === undefined ? t('loading…') : formatWeight(w)} (${describeShort(this.ctx.selection())})`;
  }

  private onHoverCell(row: number, col: number, x: number, y: number): void {
    if (!this.ctx.shown()) return;
    this.ctx.tooltip.show(this.weightText(row, col), x, y);
    this.waitingFor = this.view.valueAt(row, col) === undefined ? { row, col, x, y } : undefined;
    this.hoveredRow = row;
    this.renderDetails(row);
  }

  private onHoverLabel(index: number, axis: Axis, x: number, y: number): void {
    const shown = this.ctx.shown();
    if (!shown) return;
    const item = shown.view.items[index];
    const where =
      item.start >= 0
        ? axis === 'row' ? t('query {0}, text {1}–{2}', index, item.start, item.end) : t('key {0}, text {1}–{2}', index, item.start, item.end)
        : item.generated
          ? axis === 'row' ? t('query {0}, generated by the model', index) : t('key {0}, generated by the model', index)
          : axis === 'row' ? t('query {0}, special token', index) : t('key {0}, special token', index);
    const click = item.generated ? t('It is not in the editor.') : t('Click to select it in the editor.');
    this.ctx.tooltip.show(`${item.label} (${where}). ${click}`, x, y);
    this.hoveredRow = index;
    this.renderDetails(index);
  }

  private onClickLabel(index: number, axis: Axis): void {
    this.ctx.reveal(index);
    // A row label is a query: clicking it toggles the focus that paints the editor.
    if (axis === 'row') this.ctx.setFocusRow(this.ctx.focusRow() === index ? null : index);
  }

  private announceCell(row: number, col: number): void {
    const shown = this.ctx.shown();
    if (!shown) return;
    const r = shown.block.rows.indexOf(row);
    const c = shown.block.cols.indexOf(col);
    this.ctx.announce(t('Row {0} of {1}, column {2}: {3}.', r + 1, shown.block.rows.length, c + 1, this.weightText(row, col)));
    this.waitingFor = this.view.valueAt(row, col) === undefined ? { row, col } : undefined;
    this.renderDetails(row);
  }

  /** Details strip: the row's top attended keys and its sum (hovered row, else focused, else cursor). */
  renderDetails(row?: number): void {
    const shown = this.ctx.shown();
    const session = this.ctx.session();
    if (!shown || !session) return;
    const view = shown.view;
    const cursor = this.ctx.cursorToken();
    const r = row ?? this.ctx.focusRow() ?? (cursor === null ? null : rowOfToken(view, cursor));
    if (r === null || r >= view.size || !shown.block.rows.includes(r)) {
      this.details.replaceChildren(h('p', { class: 'muted hint' }, t('Hover a cell or a token: where that query looks. Click selects it in the editor; a row label (or Space) paints the editor with its weights.')));
      return;
    }
    // A view served in tiles: the whole row is asked for (the tiles hold part of it).
    const data = shown.kind === 'exact' ? shown.view.data.subarray(r * view.size, (r + 1) * view.size) : shown.tiled.row(r);
    if (!data) {
      this.details.replaceChildren(h('p', { class: 'muted hint' }, t('Loading the weights of “{0}”…', view.items[r].label)));
      return;
    }
    const { top, sum } = topOfRow(view.items, data, r, shown.block.cols, session.result.model.causal);
    // Title and row sum first: on a narrow panel the list wraps, and what is cut off is its tail.
    this.details.replaceChildren(
      h('span', { class: 'details-title' }, t('“{0}” attends to', view.items[r].label)),
      h('span', { class: 'row-sum', 'data-testid': 'row-sum' }, t('Row sum: {0}', sum.toFixed(6))),
      h(
        'ol',
        { class: 'top-keys', 'data-testid': 'top-keys' },
        ...top.map(({ w, j }) => h('li', {}, h('span', { class: 'key' }, view.items[j].label), ' ', h('span', { class: 'value' }, formatWeight(w)))),
      ),
    );
  }
}

export { rowOfToken };

/**
 * The keys a query row gives most weight to, among `cols`. For causal models the future keys are
 * masked, not attended with weight 0: they are left out rather than listed at 0.000000.
 */
export function topAttended(view: ViewMatrix, row: number, cols: number[], causal: boolean): { top: { w: number; j: number }[]; sum: number } {
  return topOfRow(view.items, view.data.subarray(row * view.size, (row + 1) * view.size), row, cols, causal);
}

/** As topAttended, for one row's weights `data` over `items` (a row asked of the engine on its own). */
export function topOfRow(items: ViewMatrix['items'], data: ArrayLike<number>, row: number, cols: number[], causal: boolean): { top: { w: number; j: number }[]; sum: number } {
  const lastQueryToken = Math.max(...items[row].tokens);
  let sum = 0;
  const candidates: { w: number; j: number }[] = [];
  for (const j of cols) {
    const w = data[j];
    sum += w;
    if (causal && Math.min(...items[j].tokens) > lastQueryToken) continue;
    candidates.push({ w, j });
  }
  candidates.sort((a, b) => b.w - a.w);
  return { top: candidates.slice(0, TOP_ATTENDED), sum };
}
