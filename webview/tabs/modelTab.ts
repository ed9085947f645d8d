/**
 * The model tab: every layer × head as a thumbnail with pattern scores, ranked or filtered; or, with
 * a query token chosen, that token's attention row in every head ("this token in every head").
 */
import { UNIT_RANGE, colorLut, lutIndex, mapColors } from '../../src/analysis/colormap';
import { formatWeight } from '../../src/analysis/describe';
import { SCORE_INFO, SCORE_KEYS, rankHeads } from '../../src/analysis/patterns';
import { tokenLabel } from '../../src/analysis/view';
import type { PanelContext } from '../context';
import { h, select, selectValue, setOptions } from '../dom';
import { matrixToCanvas } from '../matrixImage';
import { BAR_LEGEND, ModelView, type ModelTile } from '../modelView';
import type { PanelState } from '../state';
import { rowOfToken, topOfRow } from './headTab';
import { t } from '../i18n';

/** Thumbnails never need more cells than this: beyond it, max-pooling keeps them legible. */
export const THUMB_MAX_CELLS = 128;

export class ModelTab {
  readonly element: HTMLElement;
  readonly view: ModelView;
  private readonly info: HTMLElement;
  private readonly arrangement = select('arrangement', t('Arrange heads'), []);
  private readonly sortKey = select('sortKey', t('Score'), []);
  private readonly sortOrder = select('sortOrder', t('Order'), []);
  private readonly rowQuery = select('rowQuery', t('Query token'), []);
  private readonly scoreMin: HTMLInputElement;
  private readonly scoreMax: HTMLInputElement;
  private thumbKey = '';

  constructor(private readonly ctx: PanelContext) {
    this.view = new ModelView({
      hoverTile: (tile, x, y) => ctx.tooltip.show(`${this.tileText(tile)} ${t('Click to open it in the head view.')}`, x, y),
      leave: () => ctx.tooltip.hide(),
      openTile: (t) => this.openHead(t.layer, t.head),
      keyboardTile: (t) => ctx.announce(this.tileText(t)),
    });
    const number = (id: string, label: string) => h('input', { id, 'data-testid': id, type: 'number', min: 0, max: 1, step: 0.05, 'aria-label': label });
    this.scoreMin = number('scoreMin', t('Lowest score shown'));
    this.scoreMax = number('scoreMax', t('Highest score shown'));
    const field = (label: string, control: HTMLElement) => h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control);
    this.info = h('p', { class: 'explanation one-line', 'data-testid': 'model-info' });
    this.element = h(
      'div',
      { class: 'tab-content model-layout', 'data-testid': 'model-panel', hidden: true },
      h(
        'div',
        { class: 'toolbar-row model-controls' },
        field(t('Show'), this.rowQuery),
        field(t('Arrange'), this.arrangement),
        field(t('Score'), this.sortKey),
        field(t('Order'), this.sortOrder),
        field(t('Score from'), this.scoreMin),
        field(t('to'), this.scoreMax),
      ),
      this.info,
      h('div', { class: 'heatmap-area' }, this.view.scroller),
    );
    const onSelect = (el: HTMLElement, apply: (v: string) => Partial<PanelState>) => el.addEventListener('change', () => ctx.store.update(apply(selectValue(el))));
    onSelect(this.arrangement, (v) => ({ arrangement: v as PanelState['arrangement'] }));
    onSelect(this.sortKey, (v) => ({ sortKey: v as PanelState['sortKey'] }));
    onSelect(this.sortOrder, (v) => ({ sortAscending: v === 'asc' }));
    onSelect(this.rowQuery, (v) => ({ rowQuery: v === 'matrix' ? null : Number(v) }));
    const scoreInput = (input: HTMLInputElement, key: 'scoreMin' | 'scoreMax') =>
      input.addEventListener('change', () => {
        const v = Number(input.value);
        if (input.value !== '' && Number.isFinite(v)) ctx.store.update({ [key]: Math.max(0, Math.min(1, v)) } as Partial<PanelState>);
        else input.value = String(ctx.store.state[key]);
      });
    scoreInput(this.scoreMin, 'scoreMin');
    scoreInput(this.scoreMax, 'scoreMax');
  }

  render(): void {
    const session = this.ctx.session();
    if (!session) return;
    const s = this.ctx.store.state;
    const tokens = session.result.tokens;
    setOptions(this.arrangement, [{ value: 'grid', label: t('Layers × heads') }, { value: 'ranked', label: t('Ranked by score') }], s.arrangement);
    setOptions(this.sortKey, SCORE_KEYS.map((k) => ({ value: k, label: SCORE_INFO[k].label })), s.sortKey);
    setOptions(this.sortOrder, [{ value: 'desc', label: t('Highest first') }, { value: 'asc', label: t('Lowest first') }], s.sortAscending ? 'asc' : 'desc');
    setOptions(
      this.rowQuery,
      [{ value: 'matrix', label: t('Whole matrices') }, ...tokens.map((token, i) => ({ value: String(i), label: t('Row of {0}: {1}', i, tokenLabel(token)) }))],
      s.rowQuery === null ? 'matrix' : String(s.rowQuery),
    );
    if (this.scoreMin.value !== String(s.scoreMin)) this.scoreMin.value = String(s.scoreMin);
    if (this.scoreMax.value !== String(s.scoreMax)) this.scoreMax.value = String(s.scoreMax);

    const lo = Math.min(s.scoreMin, s.scoreMax);
    const hi = Math.max(s.scoreMin, s.scoreMax);
    const grid = s.arrangement === 'grid';
    const tiles: ModelTile[] = grid
      ? session.scores.map((sc) => ({ layer: sc.layer, head: sc.head, scores: sc, matches: sc[s.sortKey] >= lo && sc[s.sortKey] <= hi }))
      : rankHeads(session.scores, s.sortKey, { min: lo, max: hi, ascending: s.sortAscending }).map((sc) => ({ layer: sc.layer, head: sc.head, scores: sc, matches: true }));
    const flavour = s.mode === 'valueWeighted' && session.norms ? 'valueWeighted' : 'head';
    // What the tiles draw from: when it arrives (asked of the engine), the tiles are drawn again.
    const ready = s.rowQuery === null ? session.thumbnail(0, 0, THUMB_MAX_CELLS, s) !== undefined : session.rows(s, s.rowQuery) !== undefined;
    const key = [flavour, s.special, s.mergeWords, s.range, s.scale, s.norm, s.rowQuery, s.pairFilter, session.id, ready, session.layersDone].join('|');
    const changed = key !== this.thumbKey;
    this.thumbKey = key;
    this.view.current = { layer: s.layer, head: s.head };
    this.view.scoreKey = s.sortKey;
    // Labels: the view's items when thumbnails are not pooled (the grid shows them where they fit).
    const items = session.items(s);
    const labels = items.length <= THUMB_MAX_CELLS ? { rows: s.rowQuery === null ? items.map((it) => it.label) : null, cols: items.map((it) => it.label) } : undefined;
    this.view.setTiles(tiles, session.stack.heads, grid, (layer, head, pixels) => this.thumbnail(layer, head, pixels), changed, labels);
    const matching = tiles.filter((t) => t.matches).length;
    const what =
      s.rowQuery === null
        ? flavour === 'valueWeighted' ? t('Value-weighted attention of every head') : t('Attention of every head')
        : t('Where “{0}” (token {1}) looks in every head: one bar per key', tokenLabel(tokens[s.rowQuery]), s.rowQuery);
    const scaling = s.norm === 'row' ? t('each row scaled to its largest weight') : s.range === 'max' ? t('each thumbnail scaled to its own largest weight') : t('colours 0 to 1');
    const running = session.layersDone < session.stack.layers ? `${t('Layers 0–{0} of {1} computed so far; the rest fill in as the model runs.', session.layersDone - 1, session.stack.layers)} ` : '';
    const needsRepeats = s.sortKey === 'induction' || s.sortKey === 'duplicateToken';
    const undefinedScore = needsRepeats && session.scores.every((sc) => !Number.isFinite(sc[s.sortKey]))
      ? `${t('This text repeats no token, so no head has a {0} score (run “Probe Heads with Repeated Random Tokens”, or analyze a text that repeats itself).', SCORE_INFO[s.sortKey].label.toLowerCase())} `
      : '';
    this.info.textContent =
      running +
      undefinedScore +
      `${what} (${s.norm === 'log' ? t('{0}, log scale', scaling) : scaling}). ` +
      t('{0} of {1} heads have {2} between {3} and {4} ({5}).', matching, session.scores.length, SCORE_INFO[s.sortKey].label.toLowerCase(), lo, hi, SCORE_INFO[s.sortKey].explanation) +
      ` ${BAR_LEGEND} ${t('Click a head to open it.')}`;
    this.info.title = this.info.textContent;
  }

  /** A tile: the head's (pooled) matrix, or the chosen query's row as bars. */
  private thumbnail(layer: number, head: number, pixels: number): HTMLCanvasElement {
    const session = this.ctx.session()!;
    const s = this.ctx.store.state;
    if (s.rowQuery === null) {
      const thumb = session.thumbnail(layer, head, Math.min(THUMB_MAX_CELLS, pixels), s);
      if (!thumb) return this.blank(pixels);
      return matrixToCanvas({ size: thumb.matrix.size, data: thumb.positions }, UNIT_RANGE, s.scale);
    }
    return this.rowBars(layer, head, pixels);
  }

  private rowBars(layer: number, head: number, pixels: number): HTMLCanvasElement {
    const session = this.ctx.session()!;
    const s = this.ctx.store.state;
    const canvas = this.blank(pixels);
    const g = canvas.getContext('2d')!;
    const set = session.rows(s, s.rowQuery!);
    const weights = set?.row(layer, head);
    if (!set || !weights) return canvas;
    const n = set.items.length;
    const positions = mapColors({ rows: 1, cols: n, data: weights }, s.norm === 'log' ? 'log' : 'row', s.range).positions;
    const lut = colorLut(s.scale);
    const w = pixels / n;
    for (let j = 0; j < n; j++) {
      const k = lutIndex(positions[j], UNIT_RANGE) * 3;
      const height = Math.max(1, positions[j] * pixels);
      g.fillStyle = `rgb(${lut[k]},${lut[k + 1]},${lut[k + 2]})`;
      g.fillRect(j * w, pixels - height, Math.max(1, w - (w > 3 ? 1 : 0)), height);
    }
    return canvas;
  }

  private blank(pixels: number): HTMLCanvasElement {
    const canvas = document.createElement('canvas');
    canvas.width = pixels;
    canvas.height = pixels;
    const g = canvas.getContext('2d')!;
    g.fillStyle = this.ctx.theme().background;
    g.fillRect(0, 0, pixels, pixels);
    return canvas;
  }

  private openHead(layer: number, head: number): void {
    const mode = this.ctx.store.state.mode === 'valueWeighted' ? 'valueWeighted' : 'head';
    this.ctx.store.update({ layer, head, mode, tab: 'head', lineHeads: [] });
    this.ctx.announce(t('Opened layer {0}, head {1} in the head view.', layer, head));
    this.ctx.focusHeatmap();
  }

  private tileText(tile: ModelTile): string {
    const sc = tile.scores;
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : t('n/a'));
    let text = t(
      'Layer {0}, head {1}: previous token {2}, first token {3}, self {4}, entropy {5} ({6} bits), induction {7}, duplicate token {8}.',
      tile.layer, tile.head, f(sc.previousToken), f(sc.firstToken), f(sc.self), f(sc.entropy), f(sc.entropyBits), f(sc.induction), f(sc.duplicateToken),
    );
    const session = this.ctx.session();
    const s = this.ctx.store.state;
    const set = session && s.rowQuery !== null ? session.rows(s, s.rowQuery) : undefined;
    const data = set?.row(tile.layer, tile.head);
    if (session && set && data && s.rowQuery !== null) {
      const row = rowOfToken(set, s.rowQuery);
      if (row !== null) {
        const { top } = topOfRow(set.items, data, row, set.items.map((_, i) => i), session.result.model.causal);
        text += ` ${t('“{0}” attends to {1}.', set.items[row].label, top.slice(0, 3).map(({ w, j }) => `${set.items[j].label} ${formatWeight(w)}`).join(', '))}`;
      }
    }
    return text;
  }
}
