/**
 * The line view tab (BertViz's head view): the chosen layer's heads as lines between a query column
 * and a key column, several heads overlaid in distinct theme colours, toggled with the head chips.
 */
import { formatWeight } from '../../src/analysis/describe';
import type { PanelContext } from '../context';
import { h } from '../dom';
import { LineView, wholeViewLayer, type LineLayer } from '../lineView';
import type { RowWindow } from '../rowWindow';
import type { Block } from '../session';
import { RemoteViews } from '../views';
import { topOfRow } from './headTab';
import { t } from '../i18n';

/** Chart colours of the theme, then terminal colours: distinct hues that every theme defines. */
const HEAD_COLOR_VARIABLES = [
  '--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-red', '--vscode-charts-purple',
  '--vscode-charts-yellow', '--vscode-terminal-ansiCyan', '--vscode-terminal-ansiMagenta', '--vscode-terminal-ansiBrightBlue',
  '--vscode-terminal-ansiBrightGreen', '--vscode-terminal-ansiBrightRed', '--vscode-terminal-ansiBrightYellow',
];
const FALLBACK_COLORS = ['#3794ff', '#d18616', '#89d185', '#f14c4c', '#b180d7', '#cca700', '#11a8cd', '#bc3fbc', '#3b8eea', '#23d18b', '#f14c4c', '#f5f543'];

export function headColor(head: number): string {
  const style = getComputedStyle(document.documentElement);
  const k = head % HEAD_COLOR_VARIABLES.length;
  return style.getPropertyValue(HEAD_COLOR_VARIABLES[k]).trim() || FALLBACK_COLORS[k];
}

export class LinesTab {
  readonly element: HTMLElement;
  readonly view: LineView;
  private readonly chips: HTMLElement;
  private readonly info: HTMLElement;
  /** What was drawn last: the heads' layers and the block of rows and columns (hover reads them). */
  private drawn: { layers: LineLayer[]; block: Block } | undefined;
  /** The heads served in parts that the last render drew (the ones it no longer draws are cancelled). */
  private windows: RowWindow[] = [];

  constructor(private readonly ctx: PanelContext) {
    this.view = new LineView({
      hoverToken: (i, side, x, y) => this.onHover(i, side, x, y),
      leave: () => ctx.tooltip.hide(),
      clickToken: (i, side) => {
        ctx.reveal(i);
        if (side === 'query') ctx.setFocusRow(ctx.focusRow() === i ? null : i);
      },
      keyboardToken: (i, side) => ctx.announce(this.tokenText(i, side)),
    });
    this.chips = h('div', { class: 'head-chips', role: 'group', 'aria-label': t('Heads drawn'), 'data-testid': 'head-chips' });
    this.info = h('p', { class: 'explanation one-line', 'data-testid': 'lines-info' });
    this.element = h('div', { class: 'tab-content lines-layout', 'data-testid': 'lines-panel', hidden: true }, h('div', { class: 'toolbar-row' }, this.chips), this.info, h('div', { class: 'heatmap-area' }, this.view.scroller));
  }

  /** Heads drawn: the chosen ones, or the current head. */
  private heads(): number[] {
    const s = this.ctx.store.state;
    return s.lineHeads.length > 0 ? s.lineHeads : [s.head];
  }

  render(): void {
    const session = this.ctx.session();
    if (!session) return;
    const s = this.ctx.store.state;
    const heads = this.heads();
    const chipButtons = Array.from({ length: session.stack.heads }, (_, hd) => {
      const on = heads.includes(hd);
      const chip = h('button', { class: `chip${on ? ' on' : ''}`, type: 'button', 'aria-pressed': String(on), 'data-head': hd, title: on ? t('Head {0}: drawn (click to toggle)', hd) : t('Head {0}: not drawn (click to toggle)', hd) }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), `H${hd}`);
      (chip.firstChild as HTMLElement).style.background = headColor(hd);
      chip.addEventListener('click', () => {
        const next = on ? heads.filter((x) => x !== hd) : [...heads, hd].sort((a, b) => a - b);
        this.ctx.store.update({ lineHeads: next.length > 0 ? next : [s.head] });
      });
      return chip;
    });
    const all = h('button', { class: 'chip', type: 'button', 'data-testid': 'all-heads', title: t('Draw every head of this layer') }, t('All'));
    all.addEventListener('click', () => this.ctx.store.update({ lineHeads: Array.from({ length: session.stack.heads }, (_, i) => i) }));
    this.chips.replaceChildren(h('span', { class: 'field-label' }, t('Layer {0}:', s.layer)), ...chipButtons, all);
    const layers = this.layersOf(heads);
    if (!layers) {
      // Asked of the engine: drawn when every head has arrived.
      this.info.textContent = session.source.failure ? t('These heads could not be loaded: {0}', session.source.failure) : t('Loading layer {0}…', s.layer);
      return;
    }
    const block = session.block(layers[0].view, s.pairFilter);
    this.drawn = { layers, block };
    this.view.setData(layers, block.rows, block.cols);
    const failure = this.windows.find((w) => w.failure)?.failure;
    this.info.textContent =
      t("Queries left, keys right; a line's opacity is its weight (weights under 0.03 are not drawn).") +
      ' ' +
      (heads.length === 1 ? t('Layer {0}, head {1}.', s.layer, heads[0]) : t('Layer {0}, heads {1} overlaid.', s.layer, heads.join(', '))) +
      ' ' +
      t('Hover a token to see only its lines.') +
      (s.mode !== 'head' ? ` ${t('The line view always shows single heads.')}` : '') +
      (failure ? ` ${t('Some weights could not be loaded: {0}', failure)}` : '');
    this.info.title = this.info.textContent;
  }

  /**
   * The heads' lines: whole views where they fit one reply (undefined until every head is here);
   * a view the engine serves in parts gives the rows on screen and a hovered key's column as they
   * are asked for, not its n² weights.
   */
  private layersOf(heads: number[]): LineLayer[] | undefined {
    const session = this.ctx.session()!;
    const s = this.ctx.store.state;
    const source = session.source;
    const o = { special: s.special, mergeWords: s.mergeWords };
    const before = this.windows;
    this.windows = [];
    let layers: LineLayer[] | undefined;
    if (source instanceof RemoteViews && session.largerThanReply(s)) {
      const view = { size: session.viewSize(s), items: session.items(s) };
      layers = heads.map((head) => {
        const window = source.rowWindow({ mode: 'head', layer: s.layer, head }, o, view.size);
        this.windows.push(window);
        return { head, view, color: headColor(head), row: (r) => window.row(r), column: (c) => window.columnOf(c), want: (first, last) => window.want(first, last) };
      });
    } else {
      const views = heads.map((head) => session.view({ mode: 'head', layer: s.layer, head }, s));
      if (views.every((v) => v !== undefined)) layers = heads.map((head, i) => wholeViewLayer(head, views[i]!, headColor(head)));
    }
    // Heads no longer drawn (another layer, fewer heads): what they asked for is given up.
    for (const window of before) if (!this.windows.includes(window)) window.cancelPending();
    return layers;
  }

  private tokenText(index: number, side: 'query' | 'key'): string {
    const session = this.ctx.session();
    const drawn = this.drawn;
    if (!session || !drawn) return '';
    const items = drawn.layers[0].view.items;
    const label = items[index].label;
    if (side === 'key') return t('{0} (key {1}): lines from every query that attends to it.', label, index);
    const parts = drawn.layers.map((layer) => {
      const row = layer.row(index);
      if (!row) return `H${layer.head}: ${t('loading…')}`;
      const { top } = topOfRow(items, row, index, drawn.block.cols, session.result.model.causal);
      return `H${layer.head}: ${top.slice(0, 3).map(({ w, j }) => `${items[j].label} ${formatWeight(w)}`).join(', ')}`;
    });
    return t('{0} (query {1}) attends to — {2}', label, index, parts.join('; '));
  }

  private onHover(index: number, side: 'query' | 'key', x: number, y: number): void {
    this.ctx.tooltip.show(this.tokenText(index, side), x, y);
  }
}
