/**
 * The attention panel: state, messages from and to the extension host, and the wiring between the
 * controls and the three views (head heatmap, model grid, step by step).
 */
import type { AttentionResult, HeadVectors } from '../src/protocol/types';
import type { HostToWebview, WebviewToHost } from '../src/protocol/webview';
import { COLOR_SCALE_INFO, COLOR_SCALES, colorLut, colorRangeFor, lutIndex, type ColorRange } from '../src/analysis/colormap';
import { CAUTION, describeSelection, describeSpecial, exportBaseName, figureTexts, safeFileName, viewJson } from '../src/analysis/describe';
import { LIGHT_FIGURE_THEME, type FigureTheme, type GridFigure, type HeatmapFigure } from '../src/analysis/figure';
import { ATTENTION_MODES, MODE_INFO, ModeComputer, valueWeighted, type ModeSelection } from '../src/analysis/modes';
import { SCORE_INFO, SCORE_KEYS, allHeadScores, rankHeads, type HeadScores } from '../src/analysis/patterns';
import { maxPool } from '../src/analysis/pool';
import { BlockSwitcher } from './blocks';
import { attentionResultProblem, valueNormsProblem } from '../src/analysis/resultCheck';
import { headVectorsProblem } from '../src/analysis/stepByStep';
import { gridSvg, heatmapSvg } from '../src/analysis/svg';
import { AttentionStack, ValueNormStack, toArrayBuffer, type Matrix } from '../src/analysis/tensor';
import {
  SPECIAL_HANDLINGS,
  SPECIAL_HANDLING_INFO,
  buildView,
  queryWeightsByToken,
  type ViewMatrix,
} from '../src/analysis/view';
import { button, h, hashString, select, selectValue, setOptions, setSelectValue } from './dom';
import { watchDevicePixelRatio } from './canvasView';
import { canvasToBase64Png, exportCellSize, renderGridPng, renderHeatmapPng } from './exporters';
import { HeadView, type Axis } from './headView';
import { matrixToCanvas } from './matrixImage';
import { BAR_LEGEND, ModelView, type ModelTile } from './modelView';
import { MAX_ZOOM, MIN_ZOOM, fitStateToResult, sanitizeState, type PanelState, type ViewTab } from './state';
import { StepView } from './stepView';
import { readTheme, watchTheme, type Theme } from './theme';
import type { VsCodeApi } from './vscodeApi';

const TABS: ViewTab[] = ['head', 'model', 'step'];
const TOP_ATTENDED = 5;
/** Thumbnails never need more cells than this: beyond it, max-pooling keeps them legible. */
const THUMB_MAX_CELLS = 128;
const EXPORT_THUMB = 64;

interface Loaded {
  id: number;
  result: AttentionResult;
  stack: AttentionStack;
  norms: ValueNormStack | undefined;
  normsProblem: string | undefined;
  computer: ModeComputer;
  scores: HeadScores[];
}

type Controls = Record<
  'mode' | 'layer' | 'head' | 'special' | 'scale' | 'range' | 'arrangement' | 'sortKey' | 'sortOrder',
  HTMLElement
> & { merge: HTMLElement; scoreMin: HTMLInputElement; scoreMax: HTMLInputElement };

export class App {
  private state: PanelState;
  private loaded: Loaded | undefined;
  private view: ViewMatrix | undefined;
  private range: ColorRange = { min: 0, max: 1 };
  private theme: Theme;
  private stale = false;
  private cursorToken: number | null = null;
  private readonly headVectors = new Map<string, HeadVectors>();
  private readonly pendingVectors = new Set<string>();
  private thumbKey = '';
  /** A slow mode (rollout at long inputs) being computed in slices between frames. */
  private preparing: { key: string; id: number } | undefined;

  private readonly headView: HeadView;
  private readonly modelView: ModelView;
  private readonly stepView = new StepView();
  private readonly controls: Controls;
  private readonly el: Record<string, HTMLElement> = {};
  /** Encoder-decoders: which attention block is shown (./blocks.ts). */
  private readonly blocks: BlockSwitcher;

  constructor(
    private readonly root: HTMLElement,
    private readonly api: VsCodeApi,
  ) {
    this.state = sanitizeState(api.getState());
    this.theme = readTheme();
    this.headView = new HeadView({
      hoverCell: (r, c, x, y) => this.onHoverCell(r, c, x, y),
      hoverLabel: (i, axis, x, y) => this.onHoverLabel(i, axis, x, y),
      leave: () => this.hideTooltip(),
      clickCell: (r, c) => this.revealCell(r, c),
      clickLabel: (i, axis) => this.onClickLabel(i, axis),
      keyboardCell: (r, c) => this.announceCell(r, c),
      activateCell: (r, c) => this.revealCell(r, c),
      toggleFocusRow: (r) => this.setFocusRow(this.state.focus !== null && this.focusRow() === r ? null : r),
      clearFocus: () => this.setFocusRow(null),
      zoom: (f) => this.zoomBy(f),
    });
    this.modelView = new ModelView({
      hoverTile: (t, x, y) => this.showTooltip(this.tileText(t) + ' Click to open it in the head view.', x, y),
      leave: () => this.hideTooltip(),
      openTile: (t) => this.openHead(t.layer, t.head),
      keyboardTile: (t) => this.announce(this.tileText(t)),
    });
    this.controls = this.buildControls();
    this.blocks = new BlockSwitcher({
      showSquare: (id, result) => this.receiveResult(id, result),
      setMainHidden: (hidden) => {
        if (hidden) this.el.placeholder.hidden = true;
        this.el.content.hidden = hidden || !this.loaded;
        // The header's badge and exports describe the square views.
        for (const el of [this.el.modeBadge, this.el.tokenCount, this.el.exports]) el.hidden = hidden;
      },
      post: (message) => this.api.postMessage(message),
      showError: (message) => this.showError(message),
      colorScale: () => this.state.scale,
    });
  }

  start(): void {
    this.buildDom();
    this.applyTheme();
    watchTheme(() => this.applyTheme());
    watchDevicePixelRatio(() => this.drawLegend());
    window.addEventListener('message', (event: MessageEvent) => this.onMessage(event.data));
    this.post({ type: 'ready' });
  }

  // ---------------------------------------------------------------- DOM

  private buildControls(): Controls {
    const modeOptions = ATTENTION_MODES.map((m) => ({ value: m, label: MODE_INFO[m].label }));
    return {
      mode: select('mode', 'Mode', modeOptions),
      layer: select('layer', 'Layer', []),
      head: select('head', 'Head', []),
      special: select('special', 'Special tokens', SPECIAL_HANDLINGS.map((s) => ({ value: s, label: SPECIAL_HANDLING_INFO[s].label }))),
      scale: select('scale', 'Colour scale', COLOR_SCALES.map((s) => ({ value: s, label: COLOR_SCALE_INFO[s] }))),
      range: select('range', 'Colour range', [
        { value: 'max', label: '0 to largest shown' },
        { value: 'unit', label: '0 to 1' },
      ]),
      merge: h('vscode-checkbox', { id: 'merge', 'data-testid': 'merge', label: 'Merge sub-words into words' }),
      arrangement: select('arrangement', 'Arrange heads', [
        { value: 'grid', label: 'Layers × heads' },
        { value: 'ranked', label: 'Ranked by score' },
      ]),
      sortKey: select('sortKey', 'Score', SCORE_KEYS.map((k) => ({ value: k, label: SCORE_INFO[k].label }))),
      sortOrder: select('sortOrder', 'Order', [
        { value: 'desc', label: 'Highest first' },
        { value: 'asc', label: 'Lowest first' },
      ]),
      scoreMin: h('input', { id: 'scoreMin', 'data-testid': 'scoreMin', type: 'number', min: 0, max: 1, step: 0.05, 'aria-label': 'Lowest score shown' }),
      scoreMax: h('input', { id: 'scoreMax', 'data-testid': 'scoreMax', type: 'number', min: 0, max: 1, step: 0.05, 'aria-label': 'Highest score shown' }),
    };
  }

  private field(label: string, control: HTMLElement): HTMLElement {
    return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control);
  }

  private buildDom(): void {
    const c = this.controls;
    const e = this.el;
    e.modelName = h('h1', { class: 'model-name', 'data-testid': 'model-name' }, 'Attention Inspector');
    e.tokenCount = h('span', { class: 'token-count' });
    e.modeBadge = h('div', { class: 'mode-badge', 'data-testid': 'mode-badge', 'aria-live': 'polite' }, 'No result yet');
    const exportsBar = h(
      'div',
      { class: 'exports', role: 'toolbar', 'aria-label': 'Export' },
      button('export-png', 'PNG', 'Save the current figure as a PNG image (2× pixel density)'),
      button('export-svg', 'SVG', 'Save the current figure as an SVG vector image'),
      button('export-json', 'JSON', 'Save tokens, ranges and the matrix shown as JSON'),
      button('export-npy', 'NPY', 'Save the full [layers, heads, n, n] attention tensor as .npy'),
      button('copy-image', 'Copy image', 'Copy the current figure to the clipboard as PNG'),
      button('copy-python', 'Copy as Python', 'Copy a Python snippet that reproduces these attentions with transformers'),
    );
    e.exports = exportsBar;
    const header = h(
      'header',
      { class: 'panel-header' },
      h('div', { class: 'title-row' }, e.modelName, e.tokenCount, e.modeBadge),
      this.blocks.element,
      exportsBar,
    );
    e.staleBanner = h(
      'div',
      { class: 'banner warning', role: 'alert', 'data-testid': 'stale-banner', hidden: true },
      h('span', {}, 'The text changed since this was computed: the view still shows the old result.'),
      button('recompute', 'Recompute', 'Analyze the current text again', false),
    );
    e.busyBanner = h('div', { class: 'banner info', role: 'status', 'data-testid': 'busy-banner', hidden: true });
    e.errorBanner = h('div', { class: 'banner error', role: 'alert', 'data-testid': 'error-banner', hidden: true });
    const toolbar = h(
      'div',
      { class: 'toolbar' },
      this.field('Mode', c.mode),
      this.field('Layer', c.layer),
      this.field('Head', c.head),
      this.field('Special tokens', c.special),
      this.field('Colours', c.scale),
      this.field('Range', c.range),
      h('div', { class: 'field checkbox' }, c.merge),
    );
    e.modeExplanation = h('p', { class: 'explanation', 'data-testid': 'mode-explanation' });
    e.caution = h('p', { class: 'caution', 'data-testid': 'caution' }, h('strong', {}, 'Caution: '), CAUTION);
    e.tabs = h(
      'vscode-tabs',
      { 'data-testid': 'tabs' },
      h('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-head' }, 'Head view'),
      h('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-model' }, 'Model view'),
      h('vscode-tab-header', { slot: 'header', 'data-testid': 'tab-step' }, 'Step by step'),
    );
    // Head view: heatmap + side bar (legend, zoom, token details).
    e.legend = h('canvas', { class: 'legend-bar', 'data-testid': 'legend', width: 16, height: 160, 'aria-hidden': 'true' });
    e.legendTicks = h('div', { class: 'legend-ticks' });
    e.legendCaption = h('p', { class: 'legend-caption' });
    e.details = h('div', { class: 'details', 'data-testid': 'details', 'aria-live': 'polite' });
    const zoom = h(
      'div',
      { class: 'zoom', role: 'group', 'aria-label': 'Zoom' },
      button('zoom-out', '−', 'Smaller cells (Ctrl+wheel, or − on the heatmap)'),
      button('zoom-fit', 'Fit', 'Fit the heatmap to the panel'),
      button('zoom-in', '+', 'Larger cells (Ctrl+wheel, or + on the heatmap)'),
    );
    const sidebar = h(
      'aside',
      { class: 'sidebar' },
      h('div', { class: 'legend' }, e.legend, e.legendTicks),
      e.legendCaption,
      zoom,
      h('p', { class: 'hint' }, 'Hover a cell or a token. Click to select it in the editor; click a row label (or Space) to paint the editor with that query’s weights. Arrow keys move, Enter jumps to the editor.'),
      e.details,
    );
    e.computing = h('p', { class: 'computing-status', role: 'status', 'data-testid': 'computing' });
    e.headPanel = h(
      'div',
      { class: 'tab-content head-layout', 'data-testid': 'head-panel' },
      h('div', { class: 'heatmap-area' }, this.headView.scroller, e.computing),
      sidebar,
    );
    e.modelInfo = h('p', { class: 'explanation' });
    const modelControls = h(
      'div',
      { class: 'toolbar model-controls' },
      this.field('Arrange', c.arrangement),
      this.field('Score', c.sortKey),
      this.field('Order', c.sortOrder),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Score from'), c.scoreMin),
      h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'to'), c.scoreMax),
    );
    e.modelPanel = h(
      'div',
      { class: 'tab-content model-layout', 'data-testid': 'model-panel', hidden: true },
      modelControls,
      e.modelInfo,
      this.modelView.scroller,
    );
    e.stepPanel = h('div', { class: 'tab-content step-layout', 'data-testid': 'step-panel', hidden: true });
    e.stepQuery = select('stepQuery', 'Query token', []);
    e.stepPanel.append(h('div', { class: 'toolbar' }, this.field('Query token', e.stepQuery)), this.stepView.root);
    e.placeholder = h(
      'div',
      { class: 'placeholder', 'data-testid': 'placeholder' },
      h('p', {}, 'No attention to show yet.'),
      h('p', {}, 'Select text in an editor and run “Attention Inspector: Show Attention” (also in the editor’s context menu).'),
    );
    e.content = h('div', { class: 'content', hidden: true }, toolbar, e.modeExplanation, e.tabs, e.headPanel, e.modelPanel, e.stepPanel);
    e.live = h('div', { class: 'sr-only', 'aria-live': 'polite', 'data-testid': 'live' });
    e.tooltip = h('div', { class: 'tooltip', role: 'tooltip', 'data-testid': 'tooltip', hidden: true });
    this.root.replaceChildren(header, e.staleBanner, e.busyBanner, e.errorBanner, e.caution, e.placeholder, e.content, this.blocks.crossElement, e.live, e.tooltip);
    this.root.removeAttribute('aria-busy');
    this.wireControls();
  }

  private wireControls(): void {
    const c = this.controls;
    const onSelect = (el: HTMLElement, apply: (value: string) => void) => el.addEventListener('change', () => apply(selectValue(el)));
    onSelect(c.mode, (v) => this.update({ mode: v as PanelState['mode'] }));
    onSelect(c.layer, (v) => this.update({ layer: Number(v) }));
    onSelect(c.head, (v) => this.update({ head: Number(v) }));
    onSelect(c.special, (v) => this.update({ special: v as PanelState['special'] }));
    onSelect(c.scale, (v) => this.update({ scale: v as PanelState['scale'] }));
    onSelect(c.range, (v) => this.update({ range: v as PanelState['range'] }));
    onSelect(c.arrangement, (v) => this.update({ arrangement: v as PanelState['arrangement'] }));
    onSelect(c.sortKey, (v) => this.update({ sortKey: v as PanelState['sortKey'] }));
    onSelect(c.sortOrder, (v) => this.update({ sortAscending: v === 'asc' }));
    onSelect(this.el.stepQuery, (v) => this.update({ stepQuery: Number(v) }));
    c.merge.addEventListener('change', () => this.update({ mergeWords: (c.merge as HTMLElement & { checked: boolean }).checked }));
    const scoreInput = (input: HTMLInputElement, key: 'scoreMin' | 'scoreMax') =>
      input.addEventListener('change', () => {
        const v = Number(input.value);
        if (input.value !== '' && Number.isFinite(v)) this.update({ [key]: Math.max(0, Math.min(1, v)) } as Partial<PanelState>);
        else input.value = String(this.state[key]);
      });
    scoreInput(c.scoreMin, 'scoreMin');
    scoreInput(c.scoreMax, 'scoreMax');
    this.el.tabs.addEventListener('vsc-tabs-select', (ev) => {
      const index = (ev as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
      this.update({ tab: TABS[index] ?? 'head' });
    });
    const on = (id: string, action: () => void) =>
      this.root.querySelector(`#${id}`)!.addEventListener('click', () => {
        try {
          action();
        } catch (err) {
          this.showError(`Could not complete that: ${err instanceof Error ? err.message : String(err)}`);
        }
      });
    on('export-png', () => this.exportImage('png'));
    on('export-svg', () => this.exportImage('svg'));
    on('export-json', () => this.exportJson());
    on('export-npy', () => this.exportNpy());
    on('copy-image', () => this.copyImage());
    on('copy-python', () => this.post({ type: 'copyPython', view: this.selection() }));
    on('recompute', () => this.post({ type: 'recompute' }));
    on('zoom-in', () => this.zoomBy(1.25));
    on('zoom-out', () => this.zoomBy(0.8));
    on('zoom-fit', () => this.update({ zoom: null }));
  }

  private applyTheme(): void {
    this.theme = readTheme();
    this.headView.setTheme(this.theme);
    this.modelView.setTheme(this.theme);
    this.drawLegend();
  }

  // ---------------------------------------------------------------- messages

  private post(message: WebviewToHost): void {
    // Only tokens of the document are linked to the editor (decoder-text tokens are not).
    const allowed = this.blocks.filter(message);
    if (allowed) this.api.postMessage(allowed);
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'object' || data === null) return;
    const msg = data as HostToWebview;
    try {
      switch (msg.type) {
        case 'result':
          this.setBanner('busyBanner', null);
          this.blocks.receive(msg.resultId, msg.result);
          break;
        case 'busy':
          this.setBanner('busyBanner', typeof msg.message === 'string' ? msg.message : 'Working…');
          break;
        case 'error':
          this.setBanner('busyBanner', null);
          this.showError(typeof msg.message === 'string' ? msg.message : 'Something went wrong.');
          // A failed q/k/v request is asked again the next time the step-by-step view needs it.
          if (this.pendingVectors.size > 0) {
            this.pendingVectors.clear();
            this.stepView.showMessage('The extension could not provide q, k and v (see the error above).');
          }
          break;
        case 'stale':
          if (this.loaded && msg.resultId === this.loaded.id) {
            this.stale = msg.stale === true;
            this.el.staleBanner.hidden = !this.stale;
          }
          break;
        case 'cursorToken':
          if (this.loaded && msg.resultId === this.loaded.id && this.blocks.showsDocumentTokens()) this.setCursorToken(msg.index);
          break;
        case 'headVectors':
          if (this.loaded && msg.resultId === this.loaded.id) this.receiveHeadVectors(msg.vectors);
          break;
        default:
          break;
      }
    } catch (err) {
      this.showError(`The panel could not handle a message from the extension: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private setBanner(name: 'busyBanner' | 'errorBanner', text: string | null): void {
    const banner = this.el[name];
    banner.hidden = text === null;
    banner.textContent = text ?? '';
  }

  private showError(message: string): void {
    this.setBanner('errorBanner', message);
  }

  private receiveResult(id: unknown, raw: AttentionResult): void {
    this.setBanner('busyBanner', null);
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error('the result has no id');
    // Buffers may arrive as typed-array views depending on the transport: normalise them first.
    if (raw && typeof raw === 'object') {
      for (const t of [raw.attentions, raw.valueNorms]) {
        if (t && typeof t === 'object') {
          const buffer = toArrayBuffer(t.buffer);
          if (buffer) t.buffer = buffer;
        }
      }
    }
    const problem = attentionResultProblem(raw);
    if (problem) {
      this.showError(`The panel cannot show this result: ${problem}.`);
      return;
    }
    this.setBanner('errorBanner', null);
    const stack = new AttentionStack(raw.attentions);
    const normsProblem = valueNormsProblem(raw);
    const norms = normsProblem ? undefined : new ValueNormStack(raw.valueNorms);
    this.loaded = {
      id,
      result: raw,
      stack,
      norms,
      normsProblem,
      computer: new ModeComputer(stack, norms),
      scores: allHeadScores(stack, raw.model.causal),
    };
    this.headVectors.clear();
    this.pendingVectors.clear();
    this.stale = false;
    this.el.staleBanner.hidden = true;
    this.cursorToken = null;
    const key = hashString(`${raw.model.source}\u0000${raw.text}\u0000${raw.tokens.length}`);
    this.state = fitStateToResult(this.state, stack.layers, stack.heads, stack.n, key);
    if (this.state.mode === 'valueWeighted' && !norms) this.state.mode = 'head';
    this.el.placeholder.hidden = true;
    this.el.content.hidden = false;
    this.el.modelName.textContent = raw.model.name;
    this.el.modelName.title = `${raw.model.source} (${raw.model.modelType})`;
    this.el.tokenCount.textContent = `${stack.n} tokens · ${stack.layers} layers × ${stack.heads} heads`;
    setOptions(this.controls.layer, Array.from({ length: stack.layers }, (_, l) => ({ value: String(l), label: `Layer ${l}` })));
    setOptions(this.controls.head, Array.from({ length: stack.heads }, (_, i) => ({ value: String(i), label: `Head ${i}` })));
    setOptions(
      this.controls.mode,
      ATTENTION_MODES.map((m) => ({
        value: m,
        label: m === 'valueWeighted' && !norms ? `${MODE_INFO[m].label} (unavailable)` : MODE_INFO[m].label,
        disabled: m === 'valueWeighted' && !norms,
      })),
    );
    setOptions(
      this.el.stepQuery,
      raw.tokens.map((t, i) => ({ value: String(i), label: `${i}: ${t.special ? t.raw : t.display.trim() || t.raw}` })),
    );
    this.thumbKey = '';
    this.refresh();
    // Re-send the focus so the editor decorations match the restored state.
    if (this.state.focus !== null) this.postFocus();
  }

  private receiveHeadVectors(vectors: HeadVectors): void {
    const loaded = this.loaded!;
    const problem = headVectorsProblem(vectors, loaded.stack.n);
    if (problem) {
      this.stepView.showMessage(`The extension sent unusable q/k/v: ${problem}.`);
      return;
    }
    const key = `${vectors.layer}.${vectors.head}`;
    this.pendingVectors.delete(key);
    for (const name of ['q', 'k', 'v', 'bias'] as const) {
      const t = vectors[name];
      if (t) t.buffer = toArrayBuffer(t.buffer) ?? t.buffer;
    }
    this.headVectors.set(key, vectors);
    if (this.state.tab === 'step') this.renderStep();
  }

  private setCursorToken(index: number | null): void {
    const n = this.loaded?.stack.n ?? 0;
    this.cursorToken = typeof index === 'number' && index >= 0 && index < n ? index : null;
    const row = this.cursorToken === null ? null : this.rowOfToken(this.cursorToken);
    this.headView.cursorRow = row;
    if (row !== null) this.headView.revealCell(row, this.headView.keyCell.col);
    this.headView.requestRender();
    this.renderDetails();
  }

  // ---------------------------------------------------------------- state → views

  private update(patch: Partial<PanelState>): void {
    const before = this.state;
    this.state = { ...this.state, ...patch };
    if (patch.zoom !== undefined && patch.zoom !== null) this.state.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, Math.round(patch.zoom)));
    this.refresh();
    const selectionChanged =
      before.mode !== this.state.mode ||
      before.layer !== this.state.layer ||
      before.head !== this.state.head ||
      before.special !== this.state.special ||
      before.mergeWords !== this.state.mergeWords;
    if (selectionChanged && this.state.focus !== null && !this.preparing) this.postFocus();
  }

  private selection(): ModeSelection {
    return { mode: this.state.mode, layer: this.state.layer, head: this.state.head };
  }

  /** Recomputes what is shown from the state and updates every control and view. */
  private refresh(): void {
    this.api.setState(this.state);
    const loaded = this.loaded;
    if (!loaded) return;
    const s = this.state;
    const info = MODE_INFO[s.mode];
    const c = this.controls;
    setSelectValue(c.mode, s.mode);
    setSelectValue(c.layer, String(s.layer));
    setSelectValue(c.head, String(s.head));
    setSelectValue(c.special, s.special);
    setSelectValue(c.scale, s.scale);
    setSelectValue(c.range, s.range);
    setSelectValue(c.arrangement, s.arrangement);
    setSelectValue(c.sortKey, s.sortKey);
    setSelectValue(c.sortOrder, s.sortAscending ? 'asc' : 'desc');
    c.scoreMin.value = String(s.scoreMin);
    c.scoreMax.value = String(s.scoreMax);
    (c.merge as HTMLElement & { checked: boolean }).checked = s.mergeWords;
    (c.layer as HTMLElement & { disabled: boolean }).disabled = !info.usesLayer;
    (c.head as HTMLElement & { disabled: boolean }).disabled = !info.usesHead;
    const tabIndex = TABS.indexOf(s.tab);
    (this.el.tabs as HTMLElement & { selectedIndex: number }).selectedIndex = tabIndex;
    this.el.headPanel.hidden = s.tab !== 'head';
    this.el.modelPanel.hidden = s.tab !== 'model';
    this.el.stepPanel.hidden = s.tab !== 'step';

    const sel = this.selection();
    const description = describeSelection(sel, loaded.stack.layers, loaded.stack.heads);
    this.el.modeBadge.textContent = `${info.label} — ${description} · ${describeSpecial(s.special)}${s.mergeWords ? ' · words merged' : ''}`;
    this.el.modeExplanation.textContent =
      `${info.label}: ${info.explanation} ${SPECIAL_HANDLING_INFO[s.special].explanation}` +
      (s.mergeWords ? ' Words merged: a word’s column sums its pieces, its row averages them.' : '');

    if (loaded.computer.needsWork(sel)) {
      this.prepare(sel);
    } else {
      this.showView(sel, description);
    }
    if (s.tab === 'model') this.refreshModelView();
    if (s.tab === 'step') this.renderStep();
  }

  /**
   * Computes a slow mode in slices of ~12 ms between frames, showing progress; the panel stays
   * responsive and the old view is dimmed (and not hoverable) meanwhile.
   */
  private prepare(sel: ModeSelection): void {
    const loaded = this.loaded!;
    const key = `${sel.mode}.${sel.layer}.${loaded.id}`;
    this.el.headPanel.classList.add('computing');
    if (this.preparing?.key === key) return;
    const steps = loaded.computer.prepare(sel);
    const job = { key, id: loaded.id };
    this.preparing = job;
    const status = this.el.computing;
    status.textContent = `Computing ${MODE_INFO[sel.mode].label.toLowerCase()} through layer ${sel.layer}…`;
    const slice = () => {
      if (this.preparing !== job) return;
      const started = performance.now();
      let r = steps.next();
      while (!r.done && performance.now() - started < 12) r = steps.next();
      if (!r.done) {
        status.textContent = `Computing ${MODE_INFO[sel.mode].label.toLowerCase()} through layer ${sel.layer}: ${Math.round(r.value * 100)}%`;
        setTimeout(slice, 0);
        return;
      }
      this.preparing = undefined;
      status.textContent = '';
      this.el.headPanel.classList.remove('computing');
      if (this.loaded?.id === job.id) {
        this.refresh();
        if (this.state.focus !== null) this.postFocus();
      }
    };
    setTimeout(slice, 0);
  }

  private showView(sel: ModeSelection, description: string): void {
    const loaded = this.loaded!;
    const s = this.state;
    if (this.preparing) {
      // The user moved on to a mode that needs no preparation: drop the pending work.
      this.preparing = undefined;
      this.el.computing.textContent = '';
    }
    this.el.headPanel.classList.remove('computing');
    const base = loaded.computer.compute(sel);
    this.view = buildView(base, loaded.result.tokens, { special: s.special, mergeWords: s.mergeWords }, loaded.result.text);
    this.range = colorRangeFor(this.view.data, s.range);
    this.headView.setData(this.view, this.range, s.scale);
    this.headView.setZoom(s.zoom);
    this.headView.focusRow = this.focusRow();
    this.headView.cursorRow = this.cursorToken === null ? null : this.rowOfToken(this.cursorToken);
    this.headView.setAriaLabel(
      `Attention heatmap, ${this.view.size} query rows by ${this.view.size} key columns: ${description}. ` +
        'Arrow keys move between cells, Enter selects the key token in the editor, Space focuses the query row.',
    );
    this.drawLegend();
    this.renderDetails();
  }

  private refreshModelView(): void {
    const loaded = this.loaded!;
    const s = this.state;
    const lo = Math.min(s.scoreMin, s.scoreMax);
    const hi = Math.max(s.scoreMin, s.scoreMax);
    const grid = s.arrangement === 'grid';
    const tiles: ModelTile[] = grid
      ? loaded.scores.map((sc) => ({ layer: sc.layer, head: sc.head, scores: sc, matches: sc[s.sortKey] >= lo && sc[s.sortKey] <= hi }))
      : rankHeads(loaded.scores, s.sortKey, { min: lo, max: hi, ascending: s.sortAscending }).map((sc) => ({
          layer: sc.layer,
          head: sc.head,
          scores: sc,
          matches: true,
        }));
    const flavour = s.mode === 'valueWeighted' && loaded.norms ? 'valueWeighted' : 'head';
    const key = [flavour, s.special, s.mergeWords, s.range, s.scale, loaded.id].join('|');
    const changed = key !== this.thumbKey;
    this.thumbKey = key;
    this.modelView.current = { layer: s.layer, head: s.head };
    this.modelView.scoreKey = s.sortKey;
    this.modelView.setTiles(tiles, loaded.stack.heads, grid, (layer, head, pixels) => {
      const { matrix, range } = this.thumbnailMatrix(layer, head, Math.min(THUMB_MAX_CELLS, pixels));
      return matrixToCanvas(matrix, range, s.scale);
    }, changed);
    const matching = tiles.filter((t) => t.matches).length;
    this.el.modelInfo.textContent =
      `${flavour === 'valueWeighted' ? 'Value-weighted attention' : 'Attention'} of every head` +
      ` (${s.range === 'max' ? 'each thumbnail scaled to its own largest weight' : 'colours 0 to 1'}). ` +
      `${matching} of ${loaded.scores.length} heads have ${SCORE_INFO[s.sortKey].label.toLowerCase()} between ${lo} and ${hi} ` +
      `(${SCORE_INFO[s.sortKey].explanation}). ${BAR_LEGEND} Click a head to open it.`;
  }

  /** A head's matrix as the model view shows it: flavour, special tokens, merge, pooled; with its colour range. */
  private thumbnailMatrix(layer: number, head: number, cells: number): { matrix: Matrix; range: ColorRange } {
    const loaded = this.loaded!;
    const s = this.state;
    const base =
      s.mode === 'valueWeighted' && loaded.norms
        ? valueWeighted(loaded.stack, loaded.norms, layer, head)
        : loaded.stack.headMatrix(layer, head);
    const view = buildView(base, loaded.result.tokens, { special: s.special, mergeWords: s.mergeWords }, loaded.result.text);
    const matrix = maxPool(view, cells);
    return { matrix, range: colorRangeFor(matrix.data, s.range) };
  }

  private openHead(layer: number, head: number): void {
    const mode = this.state.mode === 'valueWeighted' ? 'valueWeighted' : 'head';
    this.update({ layer, head, mode, tab: 'head' });
    this.announce(`Opened layer ${layer}, head ${head} in the head view.`);
    this.headView.canvas.focus();
  }

  private tileText(t: ModelTile): string {
    const s = t.scores;
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
    return (
      `Layer ${t.layer}, head ${t.head}: previous token ${f(s.previousToken)}, first token ${f(s.firstToken)}, ` +
      `self ${f(s.self)}, entropy ${f(s.entropy)} (${f(s.entropyBits)} bits).`
    );
  }

  private renderStep(): void {
    const loaded = this.loaded;
    if (!loaded) return;
    const s = this.state;
    const tokens = loaded.result.tokens;
    const fallback = tokens.findIndex((t) => !t.special);
    const query = s.stepQuery ?? s.focus ?? this.cursorToken ?? Math.max(0, fallback);
    setSelectValue(this.el.stepQuery, String(query));
    const key = `${s.layer}.${s.head}`;
    const vectors = this.headVectors.get(key);
    if (!vectors) {
      this.stepView.showMessage(`Loading q, k and v for layer ${s.layer}, head ${s.head}…`);
      if (!this.pendingVectors.has(key)) {
        this.pendingVectors.add(key);
        this.post({ type: 'requestHeadVectors', resultId: loaded.id, layer: s.layer, head: s.head });
      }
      return;
    }
    const n = loaded.stack.n;
    const row = loaded.stack.head(s.layer, s.head).subarray(query * n, (query + 1) * n);
    this.stepView.render({ tokens, layer: s.layer, head: s.head, query, attentionRow: row, modeIsNotHead: s.mode !== 'head' }, vectors);
  }

  // ---------------------------------------------------------------- rows, tokens, focus

  /** View row that holds an original token, or null when the token is hidden. */
  private rowOfToken(token: number): number | null {
    const items = this.view?.items ?? [];
    const row = items.findIndex((it) => it.tokens.includes(token));
    return row >= 0 ? row : null;
  }

  private focusRow(): number | null {
    return this.state.focus === null ? null : this.rowOfToken(this.state.focus);
  }

  private setFocusRow(row: number | null): void {
    const token = row === null || !this.view ? null : this.view.items[row].tokens[0];
    this.update({ focus: token });
    this.postFocus();
    if (row !== null && this.view) this.announce(`Focused query ${this.view.items[row].label}: the editor shows its weights.`);
    else this.announce('Query focus cleared.');
  }

  private postFocus(): void {
    const loaded = this.loaded;
    // While a slow mode is computed, the focus is sent when it is ready (see prepare).
    if (!loaded || this.preparing) return;
    const row = this.focusRow();
    if (row === null || !this.view) {
      this.post({ type: 'focusQuery', resultId: loaded.id, index: null });
      return;
    }
    const item = this.view.items[row];
    const base = loaded.computer.compute(this.selection());
    const weights = queryWeightsByToken(base, loaded.result.tokens, this.state.special, item.tokens).map((w) => (Number.isFinite(w) ? w : 0));
    this.post({ type: 'focusQuery', resultId: loaded.id, index: item.tokens[0], weights });
  }

  private revealCell(row: number, col: number): void {
    const loaded = this.loaded;
    const view = this.view;
    if (!loaded || !view) return;
    const query = view.items[row].tokens[0];
    const key = view.items[col].tokens[0];
    this.post({ type: 'revealToken', resultId: loaded.id, index: key, queryIndex: query });
    this.announce(`Selected ${view.items[col].label} in the editor (query ${view.items[row].label}).`);
  }

  private onClickLabel(index: number, axis: Axis): void {
    const loaded = this.loaded;
    const view = this.view;
    if (!loaded || !view) return;
    this.post({ type: 'revealToken', resultId: loaded.id, index: view.items[index].tokens[0] });
    // A row label is a query: clicking it toggles the focus that paints the editor.
    if (axis === 'row') this.setFocusRow(this.focusRow() === index ? null : index);
  }

  private zoomBy(factor: number): void {
    const current = this.state.zoom ?? this.headView.cell;
    const next = factor > 1 ? Math.max(current + 1, current * factor) : Math.min(current - 1, current * factor);
    this.update({ zoom: next });
  }

  // ---------------------------------------------------------------- hover, details, announcements

  private weightText(row: number, col: number): string {
    const view = this.view!;
    const w = view.data[row * view.size + col];
    return `${view.items[row].label} → ${view.items[col].label}: ${w.toFixed(6)} (${this.shortContext()})`;
  }

  private shortContext(): string {
    const { mode, layer, head } = this.state;
    switch (mode) {
      case 'head':
        return `layer ${layer}, head ${head}`;
      case 'layerMean':
        return `layer ${layer}, mean of heads`;
      case 'allMean':
        return 'mean of all layers and heads';
      case 'rollout':
        return `rollout through layer ${layer}`;
      case 'valueWeighted':
        return `layer ${layer}, head ${head}, value-weighted`;
    }
  }

  private onHoverCell(row: number, col: number, x: number, y: number): void {
    if (this.preparing) return;
    this.showTooltip(this.weightText(row, col), x, y);
    this.renderDetails(row);
  }

  private onHoverLabel(index: number, axis: Axis, x: number, y: number): void {
    if (this.preparing) return;
    const view = this.view!;
    const item = view.items[index];
    const range = item.start >= 0 ? `, text ${item.start}–${item.end}` : ', special token';
    this.showTooltip(`${item.label} (${axis === 'row' ? 'query' : 'key'} ${index}${range}). Click to select it in the editor.`, x, y);
    this.renderDetails(index);
  }

  private showTooltip(text: string, clientX: number, clientY: number): void {
    const tip = this.el.tooltip;
    tip.textContent = text;
    tip.hidden = false;
    const margin = 14;
    const w = tip.offsetWidth;
    const hgt = tip.offsetHeight;
    const left = clientX + margin + w > window.innerWidth ? clientX - margin - w : clientX + margin;
    const top = clientY + margin + hgt > window.innerHeight ? clientY - margin - hgt : clientY + margin;
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${Math.max(0, top)}px`;
  }

  private hideTooltip(): void {
    this.el.tooltip.hidden = true;
    this.renderDetails();
  }

  /** Side panel: the row's top attended keys and its sum (hovered row, else focused, else cursor). */
  private renderDetails(row?: number): void {
    const view = this.view;
    const details = this.el.details;
    if (!view || !details) return;
    const r = row ?? this.focusRow() ?? (this.cursorToken === null ? null : this.rowOfToken(this.cursorToken));
    if (r === null || r >= view.size) {
      details.replaceChildren(h('p', { class: 'muted' }, 'Hover a token or cell to see where that query looks.'));
      return;
    }
    const n = view.size;
    const weights = Array.from(view.data.subarray(r * n, (r + 1) * n));
    const sum = weights.reduce((a, b) => a + b, 0);
    const top = weights
      .map((w, j) => ({ w, j }))
      .sort((a, b) => b.w - a.w)
      .slice(0, TOP_ATTENDED);
    details.replaceChildren(
      h('h2', {}, `“${view.items[r].label}” attends to`),
      h(
        'ol',
        { class: 'top-keys', 'data-testid': 'top-keys' },
        ...top.map(({ w, j }) => h('li', {}, h('span', { class: 'key' }, view.items[j].label), h('span', { class: 'value' }, w.toFixed(6)))),
      ),
      h('p', { class: 'row-sum', 'data-testid': 'row-sum' }, `Row sum: ${sum.toFixed(6)}`),
    );
  }

  private announceCell(row: number, col: number): void {
    const view = this.view;
    if (!view) return;
    this.announce(`Row ${row + 1} of ${view.size}, column ${col + 1}: ${this.weightText(row, col)}.`);
    this.renderDetails(row);
  }

  private announce(text: string): void {
    this.el.live.textContent = text;
  }

  private drawLegend(): void {
    const canvas = this.el.legend as HTMLCanvasElement | undefined;
    if (!canvas) return;
    const dpr = window.devicePixelRatio || 1;
    const cssW = 16;
    const cssH = 160;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    canvas.style.width = `${cssW}px`;
    canvas.style.height = `${cssH}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const lut = colorLut(this.state.scale);
    for (let y = 0; y < canvas.height; y++) {
      const t = 1 - (y + 0.5) / canvas.height;
      const k = lutIndex(this.range.min + t * (this.range.max - this.range.min), this.range) * 3;
      ctx.fillStyle = `rgb(${lut[k]},${lut[k + 1]},${lut[k + 2]})`;
      ctx.fillRect(0, y, canvas.width, 1);
    }
    const ticks = [this.range.max, (this.range.min + this.range.max) / 2, this.range.min];
    this.el.legendTicks.replaceChildren(...ticks.map((v) => h('span', {}, v.toFixed(v >= 0.1 || v === 0 ? 2 : 3))));
    this.el.legendCaption.textContent =
      this.state.range === 'max' ? 'Colours span 0 to the largest weight shown.' : 'Colours span 0 to 1.';
  }

  // ---------------------------------------------------------------- exports

  private figureTheme(): FigureTheme {
    const t = this.theme;
    // Theme colours go into the exported files: only plain colour values, never var() or keywords.
    const plain = (c: string) => /^(#[0-9a-f]{3,8}|rgba?\([\d\s.,%]+\))$/i.test(c);
    return plain(t.background) && plain(t.foreground) && plain(t.muted)
      ? { background: t.background, foreground: t.foreground, muted: t.muted }
      : LIGHT_FIGURE_THEME;
  }

  private rangeText(): string {
    const r = this.range;
    return `colour ${this.state.scale} ${r.min}–${Number(r.max.toPrecision(3))}`;
  }

  private heatmapFigure(): HeatmapFigure {
    const loaded = this.loaded!;
    const view = this.view!;
    const texts = figureTexts(loaded.result.model, this.selection(), this.state.special, this.state.mergeWords, this.rangeText());
    const labels = view.items.map((it) => it.label);
    return {
      ...texts,
      rowLabels: labels,
      colLabels: labels,
      matrix: view,
      range: this.range,
      scale: this.state.scale,
      theme: this.figureTheme(),
      cell: exportCellSize(view.size),
    };
  }

  private gridFigure(cells: number): GridFigure {
    const loaded = this.loaded!;
    const s = this.state;
    const flavour = s.mode === 'valueWeighted' && loaded.norms ? 'value-weighted attention of every head' : 'attention of every head';
    const thumbnails: Matrix[] = [];
    const ranges: ColorRange[] = [];
    for (let l = 0; l < loaded.stack.layers; l++) {
      for (let hd = 0; hd < loaded.stack.heads; hd++) {
        const { matrix, range } = this.thumbnailMatrix(l, hd, cells);
        thumbnails.push(matrix);
        ranges.push(range);
      }
    }
    return {
      title: `${loaded.result.model.name} — ${flavour}`,
      subtitle: [describeSpecial(s.special), s.mergeWords ? 'sub-words merged into words' : 'sub-word tokens', `${loaded.stack.n} tokens`].join(' · '),
      footnote: CAUTION,
      layers: loaded.stack.layers,
      heads: loaded.stack.heads,
      thumbnails,
      ranges,
      legendText: s.range === 'max' ? `${s.scale}: 0 → each head’s largest weight` : `${s.scale}: 0 → 1`,
      scale: s.scale,
      theme: this.figureTheme(),
      thumb: EXPORT_THUMB,
    };
  }

  private exportName(extension: string): string {
    const loaded = this.loaded!;
    const base = this.state.tab === 'model' ? `attention-${loaded.result.model.name.split(/[\\/]/).pop()}-all-heads` : exportBaseName(loaded.result.model, this.selection());
    return safeFileName(base, extension);
  }

  /** PNG of the current figure (the model grid on the model tab, the heatmap otherwise). */
  private renderPng(): { base64: string; width: number; height: number; pixelRatio: number } {
    const { canvas, pixelRatio } =
      this.state.tab === 'model' ? renderGridPng(this.gridFigure(EXPORT_THUMB * 2)) : renderHeatmapPng(this.heatmapFigure());
    return { base64: canvasToBase64Png(canvas), width: canvas.width, height: canvas.height, pixelRatio };
  }

  /** Exports describe what is shown: not while a new view is still being computed. */
  private readyToExport(): boolean {
    if (!this.preparing) return true;
    this.announce('Still computing this view: export when it is shown.');
    this.showTooltip('Still computing this view: export when it is shown.', window.innerWidth / 2, 40);
    return false;
  }

  private exportImage(format: 'png' | 'svg'): void {
    if (!this.loaded || !this.view || !this.readyToExport()) return;
    const data =
      format === 'png'
        ? this.renderPng().base64
        : this.state.tab === 'model'
          ? gridSvg(this.gridFigure(32))
          : heatmapSvg(this.heatmapFigure());
    this.post({ type: 'export', format, data, suggestedName: this.exportName(format) });
    this.announce(`${format.toUpperCase()} ready: choose where to save it.`);
  }

  private copyImage(): void {
    if (!this.loaded || !this.view || !this.readyToExport()) return;
    this.post({ type: 'copyImage', data: this.renderPng().base64 });
    this.announce('Image sent to the clipboard.');
  }

  private exportJson(): void {
    const loaded = this.loaded;
    if (!loaded || !this.view || !this.readyToExport()) return;
    const info = MODE_INFO[this.state.mode];
    const json = {
      ...viewJson(loaded.result, this.selection(), info.usesLayer, info.usesHead, this.state.special, this.state.mergeWords, this.view),
      headScores: loaded.scores,
    };
    this.post({ type: 'export', format: 'json', data: JSON.stringify(json, null, 1), suggestedName: this.exportName('json') });
  }

  private exportNpy(): void {
    const loaded = this.loaded;
    if (!loaded) return;
    const name = loaded.result.model.name.split(/[\\/]/).pop() ?? 'model';
    this.post({ type: 'export', format: 'npy', data: '', suggestedName: safeFileName(`attentions-${name}`, 'npy') });
  }
}
