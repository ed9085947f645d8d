/**
 * The toolbar: the controls that choose what is drawn (mode, layer, head, pair filter; behind
 * "More": special tokens, colours, merging) and the export buttons. It keeps no state: `render`
 * shows the store's state, and every change is sent to the store as a patch.
 */
import { COLOR_NORMS, COLOR_NORM_INFO, COLOR_SCALES, COLOR_SCALE_INFO } from '../src/analysis/colormap';
import { ATTENTION_MODES, MODE_INFO } from '../src/analysis/modes';
import { SPECIAL_HANDLINGS, SPECIAL_HANDLING_INFO } from '../src/analysis/view';
import { button, h, select, selectValue, setOptions } from './dom';
import type { ResultSession } from './session';
import type { PairFilter, PanelState } from './state';
import type { ViewStore } from './store';
import { t } from './i18n';

export type ExportAction = 'png' | 'svg' | 'json' | 'npy' | 'html' | 'copyImage' | 'copyPython';

export const PAIR_FILTER_INFO: Record<PairFilter, string> = {
  all: t('All (both texts)'),
  ab: t('A → B (A’s queries, B’s keys)'),
  ba: t('B → A (B’s queries, A’s keys)'),
};

/** The same in the mode badge. */
export const PAIR_FILTER_SHORT: Record<PairFilter, string> = { all: t('All'), ab: 'A → B', ba: 'B → A' };

type Checkbox = HTMLElement & { checked: boolean };
type Disableable = HTMLElement & { disabled: boolean };

export class Toolbar {
  readonly element: HTMLElement;
  readonly exports: HTMLElement;
  private readonly mode = select('mode', t('Mode'), []);
  private readonly layer = select('layer', t('Layer'), []);
  private readonly head = select('head', t('Head'), []);
  private readonly pair = select('pairFilter', t('Sentence pair'), []);
  private readonly special = select('special', t('Special tokens'), []);
  private readonly scale = select('scale', t('Colour scale'), []);
  private readonly norm = select('norm', t('Colour normalisation'), []);
  private readonly range = select('range', t('Colour range'), []);
  private readonly merge = h('vscode-checkbox', { id: 'merge', 'data-testid': 'merge', label: t('Merge sub-words into words') }) as Checkbox;
  private readonly moreButton: HTMLElement;
  private readonly exportsButton: HTMLElement;
  private readonly pairField: HTMLElement;
  private readonly more: HTMLElement;

  constructor(private readonly store: ViewStore, onExport: (action: ExportAction) => void) {
    const field = (label: string, control: HTMLElement, extra = '') => h('label', { class: `field ${extra}`.trim() }, h('span', { class: 'field-label' }, label), control);
    this.pairField = field(t('Pair'), this.pair, 'pair-field');
    this.moreButton = h(
      'vscode-button',
      { id: 'more-controls', 'data-testid': 'more-controls', secondary: true, title: t('Special tokens, colours, merging of sub-words'), 'aria-expanded': 'false', 'aria-controls': 'toolbar-more' },
      t('More'),
    );
    this.exportsButton = h(
      'vscode-button',
      { id: 'exports-toggle', 'data-testid': 'exports-toggle', secondary: true, title: t('PNG, SVG, JSON, NPY, copy image, copy as Python'), 'aria-expanded': 'false', 'aria-controls': 'exports' },
      t('Export'),
    );
    this.more = h(
      'div',
      { class: 'toolbar-row toolbar-more', id: 'toolbar-more', 'data-testid': 'toolbar-more' },
      field(t('Special'), this.special),
      field(t('Colours'), this.scale),
      field(t('Scale'), this.norm),
      field(t('Range'), this.range),
      h('div', { class: 'field checkbox' }, this.merge),
    );
    this.element = h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': t('What is shown') },
      // The options say "Layer 2", "Head 6", "Single head": their labels are for screen readers only.
      h('div', { class: 'toolbar-row' }, field(t('Mode'), this.mode, 'quiet'), field(t('Layer'), this.layer, 'quiet'), field(t('Head'), this.head, 'quiet'), this.pairField, this.moreButton, this.exportsButton),
      this.more,
    );
    const exportButton = (id: string, label: string, title: string, action: ExportAction) => {
      const b = button(id, label, title);
      b.addEventListener('click', () => {
        onExport(action);
        // In narrow panels the group is a drop-down: it closes once used.
        this.exports.classList.remove('open');
        this.exportsButton.setAttribute('aria-expanded', 'false');
      });
      return b;
    };
    this.exports = h(
      'div',
      { class: 'exports', id: 'exports', role: 'group', 'aria-label': t('Export'), 'data-testid': 'exports' },
      exportButton('export-png', 'PNG', t('Save the current figure as a PNG image (2× pixel density)'), 'png'),
      exportButton('export-svg', 'SVG', t('Save the current figure as an SVG vector image'), 'svg'),
      exportButton('export-json', 'JSON', t('Save tokens, ranges and the matrix shown as JSON'), 'json'),
      exportButton('export-npy', 'NPY', t('Save the full [layers, heads, n, n] attention tensor as .npy'), 'npy'),
      exportButton('export-html', 'HTML', t('Save an interactive HTML page of this analysis (head view, model view, hover) that opens offline in any browser'), 'html'),
      exportButton('copy-image', t('Copy image'), t('Copy the current figure to the clipboard as PNG'), 'copyImage'),
      exportButton('copy-python', t('Copy as Python'), t('Copy a Python snippet that reproduces these attentions with transformers'), 'copyPython'),
    );
    this.wire();
  }

  private wire(): void {
    const onSelect = (el: HTMLElement, apply: (value: string) => Partial<PanelState>) =>
      el.addEventListener('change', () => this.store.update(apply(selectValue(el))));
    onSelect(this.mode, (v) => ({ mode: v as PanelState['mode'] }));
    onSelect(this.layer, (v) => ({ layer: Number(v) }));
    onSelect(this.head, (v) => ({ head: Number(v), lineHeads: [] }));
    onSelect(this.pair, (v) => ({ pairFilter: v as PairFilter }));
    onSelect(this.special, (v) => ({ special: v as PanelState['special'] }));
    onSelect(this.scale, (v) => ({ scale: v as PanelState['scale'] }));
    onSelect(this.norm, (v) => ({ norm: v as PanelState['norm'] }));
    onSelect(this.range, (v) => ({ range: v as PanelState['range'] }));
    this.merge.addEventListener('change', () => this.store.update({ mergeWords: this.merge.checked }));
    this.moreButton.addEventListener('click', () => this.store.update({ moreControls: !this.store.state.moreControls }));
    this.exportsButton.addEventListener('click', () => {
      const open = !this.exports.classList.contains('open');
      this.exports.classList.toggle('open', open);
      this.exportsButton.setAttribute('aria-expanded', String(open));
    });
  }

  /** Shows the state: options for this result, the chosen values, what applies to the mode. */
  render(s: PanelState, session: ResultSession | undefined): void {
    const layers = session?.stack.layers ?? 1;
    const heads = session?.stack.heads ?? 1;
    const noNorms = session !== undefined && !session.norms;
    setOptions(
      this.mode,
      ATTENTION_MODES.map((m) => ({
        value: m,
        label: m === 'valueWeighted' && noNorms ? t('{0} (unavailable)', MODE_INFO[m].label) : MODE_INFO[m].label,
        disabled: m === 'valueWeighted' && noNorms,
      })),
      s.mode,
    );
    setOptions(this.layer, Array.from({ length: layers }, (_, l) => ({ value: String(l), label: t('Layer {0}', l) })), String(s.layer));
    setOptions(this.head, Array.from({ length: heads }, (_, i) => ({ value: String(i), label: t('Head {0}', i) })), String(s.head));
    setOptions(this.pair, (['all', 'ab', 'ba'] as const).map((f) => ({ value: f, label: PAIR_FILTER_INFO[f] })), s.pairFilter);
    this.pairField.hidden = !session?.isPair;
    setOptions(this.special, SPECIAL_HANDLINGS.map((v) => ({ value: v, label: SPECIAL_HANDLING_INFO[v].label })), s.special);
    setOptions(this.scale, COLOR_SCALES.map((v) => ({ value: v, label: COLOR_SCALE_INFO[v] })), s.scale);
    setOptions(this.norm, COLOR_NORMS.map((v) => ({ value: v, label: COLOR_NORM_INFO[v].label })), s.norm);
    setOptions(this.range, [{ value: 'max', label: t('0 to largest shown') }, { value: 'unit', label: t('0 to 1') }], s.range);
    if (this.merge.checked !== s.mergeWords) this.merge.checked = s.mergeWords;
    const info = MODE_INFO[s.mode];
    (this.layer as Disableable).disabled = !info.usesLayer;
    (this.head as Disableable).disabled = !info.usesHead;
    (this.range as Disableable).disabled = s.norm === 'row';
    this.more.classList.toggle('open', s.moreControls);
    this.moreButton.setAttribute('aria-expanded', String(s.moreControls));
  }
}
