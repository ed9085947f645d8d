/**
 * The attention panel's composition root: builds the page (header, toolbar, tabs, footer), routes
 * messages from the host, and renders every part from the view store's state whenever it or the
 * result changes. Each concern lives in its own module: host/channel (messages), store (view state),
 * session (the result and what is derived from it), toolbar, tabs/*, legend, exports.
 */
import type { AttentionResult } from '../src/protocol/types';
import type { AnalysisInfo, BlockSummaries } from '../src/protocol/views';
import type { HostToWebview } from '../src/protocol/webview';
import { CAUTION, describeGeneration, describeProbe, describeSpecial, describeWhere } from '../src/analysis/describe';
import { MODE_INFO, type ModeSelection } from '../src/analysis/modes';
import { rankHeads } from '../src/analysis/patterns';
import { attentionResultProblem, valueNormsProblem } from '../src/analysis/resultCheck';
import { toArrayBuffer, ValueNormStack } from '../src/analysis/tensor';
import { SPECIAL_HANDLING_INFO } from '../src/analysis/view';
import { COLOR_NORM_INFO } from '../src/analysis/colormap';
import { BlockSwitcher } from './blocks';
import { watchDevicePixelRatio } from './canvasView';
import type { PanelContext } from './context';
import { button, h, hashString } from './dom';
import { Exports } from './exports';
import { HostChannel } from './host/channel';
import type { VsCodeApi } from './host/vscodeApi';
import { ResultSession, type Shown } from './session';
import { VIEW_TABS, fitStateToResult, type PanelState, type ViewTab } from './state';
import { ViewStore } from './store';
import { HeadTab, rowOfToken } from './tabs/headTab';
import { LinesTab } from './tabs/linesTab';
import { ModelTab } from './tabs/modelTab';
import { StepTab } from './tabs/stepTab';
import { CompareTab } from './tabs/compareTab';
import { CompareSession } from './compareSession';
import { readTheme, watchTheme, type Theme } from './theme';
import { Tooltip } from './tooltip';
import { PAIR_FILTER_SHORT, Toolbar } from './toolbar';
import { msg, t } from './i18n';

const TAB_LABELS: Record<ViewTab, string> = { head: msg('Heatmap'), lines: msg('Lines'), model: msg('Model'), step: msg('Step by step'), compare: msg('Compare') };

/**
 * Why a result from the host cannot be shown, or undefined. Buffers may arrive as typed-array views
 * depending on the transport: they are normalised to ArrayBuffers first.
 */
function readableResultProblem(raw: AttentionResult): string | undefined {
  if (raw && typeof raw === 'object') {
    for (const t of [raw.attentions, raw.valueNorms]) {
      if (t && typeof t === 'object') {
        const buffer = toArrayBuffer(t.buffer);
        if (buffer) t.buffer = buffer;
      }
    }
  }
  return attentionResultProblem(raw);
}

export class App implements PanelContext {
  readonly channel: HostChannel;
  readonly store: ViewStore;
  readonly tooltip = new Tooltip();
  private current: ResultSession | undefined;
  private themeValue: Theme;
  private cursor: number | null = null;
  /** A slow mode (rollout at long inputs) being computed in slices between frames. */
  private preparing: { key: string; id: number } | undefined;

  private readonly toolbar: Toolbar;
  private readonly headTab: HeadTab;
  private readonly linesTab: LinesTab;
  private readonly modelTab: ModelTab;
  private readonly stepTab: StepTab;
  private readonly compareTab: CompareTab;
  private readonly exports: Exports;
  private readonly el: Record<string, HTMLElement> = {};
  /** Encoder-decoders: which attention block is shown (./blocks.ts); the pair of the analysis being shown. */
  private readonly blocks: BlockSwitcher;
  private pendingPair: { text?: unknown } | undefined;
  /** The focus is sent once the view it refers to has arrived. */
  private focusWaiting = false;

  constructor(
    private readonly root: HTMLElement,
    api: VsCodeApi,
  ) {
    this.channel = new HostChannel(api);
    this.store = new ViewStore(this.channel);
    this.themeValue = readTheme();
    this.exports = new Exports(this);
    this.toolbar = new Toolbar(this.store, (action) =>
      this.store.state.tab === 'compare' && this.compareTab.session ? this.compareTab.export(action, (png) => this.exports.copyPng(png)) : this.exports.run(action),
    );
    this.headTab = new HeadTab(this);
    this.linesTab = new LinesTab(this);
    this.modelTab = new ModelTab(this);
    this.stepTab = new StepTab(this);
    this.compareTab = new CompareTab(this);
    this.blocks = new BlockSwitcher({
      showSquare: (id, info, summaries) => this.showRemote(id, info, summaries, this.pendingPair),
      setMainHidden: (hidden) => {
        if (hidden) this.el.placeholder.hidden = true;
        this.el.content.hidden = hidden || !this.current;
        // The header's badge and counts describe the square views.
        for (const el of [this.el.modeBadge, this.el.tokenCount]) el.hidden = hidden;
      },
      post: (message) => this.channel.postUnfiltered(message),
      request: (id, request, signal) => this.channel.request(id, request, signal),
      showError: (message) => this.showError(message),
      colorScale: () => this.store.state.scale,
    });
    this.channel.filter = (message) => this.blocks.filter(message);
  }

  start(): void {
    this.buildDom();
    this.applyTheme();
    watchTheme(() => this.applyTheme());
    watchDevicePixelRatio(() => this.headTab.legend.draw());
    this.store.subscribe((s, before) => this.onStateChange(s, before));
    // Where the head and model views are scrolled to is kept for a reload of the same analysis.
    this.headTab.view.onScrolled = () => {
      if (this.current) this.store.note({ headScroll: this.headTab.view.scrollCell });
    };
    this.modelTab.view.onScrolled = (x, y) => {
      if (this.current) this.store.note({ modelScroll: { x, y } });
    };
    this.channel.listen((message) => this.onMessage(message));
    this.channel.post({ type: 'ready' });
  }

  // ---------------------------------------------------------------- PanelContext

  session(): ResultSession | undefined {
    return this.current;
  }

  theme(): Theme {
    return this.themeValue;
  }

  selection(): ModeSelection {
    const s = this.store.state;
    return { mode: s.mode, layer: s.layer, head: s.head };
  }

  shown(): Shown | undefined {
    const session = this.current;
    if (!session || this.preparing) return undefined;
    const sel = this.selection();
    if (session.source.needsWork(sel)) return undefined;
    return session.shown(sel, this.store.state);
  }

  cursorToken(): number | null {
    return this.cursor;
  }

  announce(text: string): void {
    this.el.live.textContent = text;
  }

  focusRow(): number | null {
    const focus = this.store.state.focus;
    const shown = this.shown();
    return focus === null || !shown ? null : rowOfToken(shown.view, focus);
  }

  setFocusRow(row: number | null): void {
    const shown = this.shown();
    const token = row === null || !shown ? null : shown.view.items[row].tokens[0];
    this.store.update({ focus: token });
    this.postFocus();
    if (row !== null && shown) this.announce(t('Focused query {0}: the editor shows its weights.', shown.view.items[row].label));
    else this.announce(t('Query focus cleared.'));
  }

  reveal(key: number, query?: number): void {
    const session = this.current;
    // Only the items are needed. The head's view stands in while a slow mode is computed; it is not
    // asked for while a view is shown (that one may be served in tiles, too large to fetch whole).
    let shown: Pick<Shown, 'view'> | undefined = this.shown();
    if (!shown) {
      const fallback = session?.view({ mode: 'head', layer: this.store.state.layer, head: this.store.state.head }, this.store.state);
      shown = fallback ? { view: fallback } : undefined;
    }
    if (!session || !shown) return;
    const items = shown.view.items;
    if (query === undefined) {
      this.channel.post({ type: 'revealToken', resultId: session.id, index: items[key].tokens[0] });
      return;
    }
    this.channel.post({ type: 'revealToken', resultId: session.id, index: items[key].tokens[0], queryIndex: items[query].tokens[0] });
    this.announce(t('Selected {0} in the editor (query {1}).', items[key].label, items[query].label));
  }

  showError(message: string): void {
    this.setBanner('errorBanner', message);
  }

  focusHeatmap(): void {
    requestAnimationFrame(() => this.headTab.view.canvas.focus({ preventScroll: true }));
  }

  // ---------------------------------------------------------------- DOM

  private buildDom(): void {
    const e = this.el;
    e.modelName = h('h1', { class: 'model-name', 'data-testid': 'model-name' }, 'Attention Inspector');
    e.tokenCount = h('span', { class: 'token-count', 'data-testid': 'token-count' });
    e.modeBadge = h('div', { class: 'mode-badge', 'data-testid': 'mode-badge', 'aria-live': 'polite' }, t('No result yet'));
    const header = h('header', { class: 'panel-header' }, h('div', { class: 'title-row' }, e.modelName, e.tokenCount), this.blocks.element, e.modeBadge);
    e.staleText = h('span', {});
    e.staleBanner = h(
      'div',
      { class: 'banner warning', role: 'alert', 'data-testid': 'stale-banner', hidden: true },
      e.staleText,
      button('recompute', t('Recompute'), t('Analyze the current text again'), false),
    );
    e.staleBanner.querySelector('#recompute')!.addEventListener('click', () => this.channel.post({ type: 'recompute' }));
    e.busyBanner = h('div', { class: 'banner info', role: 'status', 'data-testid': 'busy-banner', hidden: true });
    e.errorBanner = h('div', { class: 'banner error', role: 'alert', 'data-testid': 'error-banner', hidden: true });
    e.truncated = h('div', { class: 'banner info', role: 'note', 'data-testid': 'truncated-banner', hidden: true });
    e.pairInfo = h('div', { class: 'banner info', role: 'note', 'data-testid': 'pair-banner', hidden: true });
    e.probeInfo = h('div', { class: 'banner info', role: 'note', 'data-testid': 'probe-banner', hidden: true });
    e.modeExplanation = h('p', { class: 'explanation one-line', 'data-testid': 'mode-explanation' });
    e.caution = h('p', { class: 'caution one-line', 'data-testid': 'caution', title: CAUTION }, h('strong', {}, t('Caution:')), ' ', CAUTION);
    e.tabs = h(
      'vscode-tabs',
      { 'data-testid': 'tabs' },
      ...VIEW_TABS.map((tab) => h('vscode-tab-header', { slot: 'header', 'data-testid': `tab-${tab}` }, t(TAB_LABELS[tab]))),
    );
    e.tabs.addEventListener('vsc-tabs-select', (ev) => {
      const index = (ev as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
      const tab = VIEW_TABS[index] ?? 'head';
      if (tab !== this.store.state.tab) this.store.update({ tab });
    });
    e.placeholder = h(
      'div',
      { class: 'placeholder', 'data-testid': 'placeholder' },
      h('p', {}, t('No attention to show yet.')),
      h('p', {}, t('Select text in an editor and run “Attention Inspector: Show Attention” (also in the editor’s context menu), or “Show Attention Between Two Selections” for a sentence pair.')),
    );
    e.content = h(
      'div',
      { class: 'content', hidden: true },
      this.toolbar.element,
      this.toolbar.exports,
      e.modeExplanation,
      e.tabs,
      this.headTab.element,
      this.linesTab.element,
      this.modelTab.element,
      this.stepTab.element,
      this.compareTab.element,
    );
    e.live = h('div', { class: 'sr-only', 'aria-live': 'polite', 'data-testid': 'live' });
    this.root.replaceChildren(header, e.staleBanner, e.busyBanner, e.errorBanner, e.truncated, e.pairInfo, e.probeInfo, e.placeholder, e.content, this.blocks.crossElement, e.caution, e.live, this.tooltip.element);
    this.root.removeAttribute('aria-busy');
    this.setCompareHeader(false);
  }

  private applyTheme(): void {
    this.themeValue = readTheme();
    this.headTab.view.setTheme(this.themeValue);
    this.linesTab.view.setTheme(this.themeValue);
    this.modelTab.view.setTheme(this.themeValue);
    this.compareTab.setTheme(this.themeValue);
    // Head colours of the line view come from theme variables too.
    if (this.current && this.store.state.tab === 'lines') this.linesTab.render();
    this.headTab.legend.draw();
  }

  private setBanner(name: 'busyBanner' | 'errorBanner', text: string | null): void {
    const banner = this.el[name];
    banner.hidden = text === null;
    banner.textContent = text ?? '';
  }

  // ---------------------------------------------------------------- messages

  private onMessage(msg: HostToWebview): void {
    try {
      switch (msg.type) {
        case 'result':
          // A result with its tensors: the interactive HTML export page of a single-stack analysis.
          this.blocks.clear();
          this.receiveResult(msg.resultId, msg.result, msg.pair);
          break;
        case 'summaries':
          if (Array.isArray(msg.summaries)) this.blocks.updateSummaries(msg.resultId, msg.summaries);
          if (this.current && msg.resultId === this.current.id && Array.isArray(msg.summaries)) {
            const summary = msg.summaries.find((b) => b.block === this.current!.blockKind) ?? msg.summaries[0];
            if (summary) this.current.updateSummaries(summary);
            this.render();
          }
          break;
        case 'analysis':
          this.receiveAnalysis(msg.resultId, msg.analysis, msg.summaries, msg.pair);
          break;
        case 'requestExportHtml':
          this.exports.run('html');
          break;
        case 'compare':
          this.receiveCompare(msg.resultId, msg.base, msg.other, msg.kind);
          break;
        case 'busy':
          this.setBanner('busyBanner', typeof msg.message === 'string' ? msg.message : t('Working…'));
          break;
        case 'error':
          this.setBanner('busyBanner', null);
          this.showError(typeof msg.message === 'string' ? msg.message : t('Something went wrong.'));
          if (msg.clearsResult === true) this.clearResult();
          // A failed q/k/v request is asked again the next time the step-by-step view needs it.
          this.stepTab.requestFailed();
          this.blocks.requestFailed();
          break;
        case 'stale':
          if (this.current && msg.resultId === this.current.id) this.setStale(msg.stale === true, msg.reason === 'closed' ? 'closed' : 'edited');
          break;
        case 'cursorToken':
          if (this.current && msg.resultId === this.current.id && this.blocks.showsDocumentTokens()) this.setCursorToken(msg.index, msg.reveal !== false);
          break;
        case 'headVectors':
          if (this.blocks.receiveVectors(msg.resultId, msg.vectors)) break;
          if (this.current && msg.resultId === this.current.id) this.stepTab.receive(msg.vectors);
          break;
        default:
          break;
      }
    } catch (err) {
      this.showError(t('The panel could not handle a message from the extension: {0}', err instanceof Error ? err.message : String(err)));
    }
  }

  /** Ends the comparison; `switchTab`: leave the compare tab for the heatmap (not while a new result is being set up). */
  private dropCompare(switchTab = true): void {
    this.compareTab.set(undefined);
    this.setCompareHeader(false);
    if (switchTab && this.store.state.tab === 'compare') this.store.update({ tab: 'head' });
  }

  /** Compare With…: B to set against the result shown (A); opens the compare tab. */
  private receiveCompare(id: unknown, base: AttentionResult, raw: AttentionResult, kind: unknown): void {
    const session = this.current;
    if (!session || id !== session.id) return;
    const problem = readableResultProblem(base) ?? readableResultProblem(raw);
    if (problem) {
      this.showError(`The panel cannot show this comparison: ${problem}.`);
      return;
    }
    if (base.tokens.length !== session.n || base.attentions.shape[0] !== session.stack.layers || base.attentions.shape[1] !== session.stack.heads) {
      this.showError('The panel cannot show this comparison: A’s tensors are not of the analysis shown.');
      return;
    }
    if (raw.attentions.shape[0] !== session.stack.layers || raw.attentions.shape[1] !== session.stack.heads) {
      this.showError('The panel cannot show this comparison: the two analyses have different numbers of layers or heads.');
      return;
    }
    const norms = (r: AttentionResult) => (valueNormsProblem(r) ? undefined : new ValueNormStack(r.valueNorms));
    this.compareTab.set(new CompareSession(base, raw, kind === 'model' ? 'model' : 'text', norms(base), norms(raw)));
    this.setCompareHeader(true);
    this.store.update({ tab: 'compare' });
    this.announce(`Comparing with ${raw.model.name}: ${this.compareTab.session!.summary}.`);
  }

  private setCompareHeader(visible: boolean): void {
    const header = this.el.tabs.querySelector('[data-testid="tab-compare"]') as HTMLElement | null;
    if (header) header.hidden = !visible;
  }

  private setStale(stale: boolean, reason: 'edited' | 'closed'): void {
    this.el.staleBanner.hidden = !stale;
    this.el.staleText.textContent =
      reason === 'closed'
        ? t('The document was closed: tokens no longer link to the editor. Open it and recompute, or select text again.')
        : t('The text changed since this was computed: the view still shows the old result.');
  }

  /** An analysis failed: the old result does not answer what was asked any more. */
  private clearResult(): void {
    this.current?.dispose();
    this.channel.abandonExcept(undefined);
    this.current = undefined;
    this.dropCompare();
    this.preparing = undefined;
    this.tooltip.hide();
    this.el.content.hidden = true;
    this.el.placeholder.hidden = false;
    this.el.staleBanner.hidden = true;
    this.el.truncated.hidden = true;
    this.el.pairInfo.hidden = true;
    this.el.probeInfo.hidden = true;
    this.el.modelName.textContent = 'Attention Inspector';
    this.el.modelName.title = '';
    this.el.tokenCount.textContent = '';
    this.el.modeBadge.textContent = t('No result');
    this.blocks.clear();
  }

  private receiveResult(id: unknown, raw: AttentionResult, pair: { text?: unknown } | undefined): void {
    this.setBanner('busyBanner', null);
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error('the result has no id');
    const problem = readableResultProblem(raw) ?? (Array.isArray(raw.blocks) && raw.blocks.length > 1 ? 'an encoder-decoder comes as an analysis the engine keeps, not with its tensors' : undefined);
    if (problem) {
      this.showError(t('The panel cannot show this result: {0}.', problem));
      return;
    }
    const normsProblem = valueNormsProblem(raw);
    const pairText = pair && typeof pair.text === 'string' ? pair.text : undefined;
    this.showSession(ResultSession.local(id, raw, pairText, normsProblem ? undefined : new ValueNormStack(raw.valueNorms), normsProblem));
  }

  /** An analysis the engine keeps: the summaries arrive first, the views are asked for. */
  private receiveAnalysis(id: unknown, info: AnalysisInfo, summaries: BlockSummaries[], pair: { text?: unknown } | undefined): void {
    this.setBanner('busyBanner', null);
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new Error('the analysis has no id');
    const problem = analysisProblem(info, summaries);
    if (problem) {
      this.showError(`The panel cannot show this analysis: ${problem}.`);
      return;
    }
    this.pendingPair = pair;
    if (info.blocks.length > 1) {
      // An encoder-decoder: the block switcher shows one block at a time (through showRemote for the square ones).
      this.blocks.receive(id, info, summaries);
      return;
    }
    this.blocks.clear();
    this.showRemote(id, info, summaries.find((b) => b.block === info.blocks[0].kind) ?? summaries[0], pair);
  }

  /** Shows one square block of an analysis the engine keeps, from its summaries; its views are asked for. */
  private showRemote(id: number, info: AnalysisInfo, summary: BlockSummaries, pair: { text?: unknown } | undefined): void {
    const pairText = pair && typeof pair.text === 'string' ? pair.text : undefined;
    const session = ResultSession.remote(id, info, pairText, summary, this.channel, () => {
      // A reply for a session no longer shown is dropped by the channel; this one renders what arrived.
      if (this.current === session) this.onViewArrived();
    });
    this.showSession(session);
  }

  /** A view asked of the host arrived (or failed): draw it, and send the focus that waited for it. */
  private onViewArrived(): void {
    this.render();
    if (this.store.state.focus !== null && this.focusWaiting) {
      this.focusWaiting = false;
      this.postFocus();
    }
  }

  private showSession(session: ResultSession): void {
    const raw = session.result;
    const id = session.id;
    this.setBanner('errorBanner', null);
    this.current?.dispose();
    this.channel.abandonExcept(id);
    // A new result ends the comparison (the host sends it again after a reload).
    if (this.current?.id !== id) this.dropCompare(false);
    this.current = session;
    this.preparing = undefined;
    this.stepTab.reset();
    this.el.staleBanner.hidden = true;
    this.cursor = null;
    // The previous result's tooltip and hover must not stay over this one; a new text starts at the top-left.
    this.tooltip.hide();
    this.headTab.view.clearHover();
    this.linesTab.view.scrollHome();
    const pairText = session.pairText;
    const key = hashString(`${raw.model.source}\u0000${raw.text}\u0000${pairText ?? ''}\u0000${raw.tokens.length}`);
    const sameProbe = this.store.state.resultKey === key;
    const fitted = fitStateToResult(this.store.state, session.stack.layers, session.stack.heads, session.n, key);
    if (fitted.mode === 'valueWeighted' && !session.norms) fitted.mode = 'head';
    // A new probe opens on its answer: every head ranked by induction score.
    if (raw.probe && !sameProbe) {
      const top = rankHeads(session.scores, 'induction')[0];
      Object.assign(fitted, { tab: 'model', arrangement: 'ranked', sortKey: 'induction', sortAscending: false, scoreMin: 0, scoreMax: 1, rowQuery: null }, top ? { mode: 'head', layer: top.layer, head: top.head } : {});
    }
    if (fitted.tab === 'compare' && !this.compareTab.session) fitted.tab = 'head';
    // The same analysis again (a reloaded panel) opens where it was scrolled to; another one at the top-left.
    if (fitted.headScroll) this.headTab.view.restoreScrollCell(fitted.headScroll);
    else this.headTab.view.scrollHome();
    if (fitted.modelScroll) {
      const { x, y } = fitted.modelScroll;
      this.modelTab.view.restoreScroll(() => ({ x, y }));
    }
    // The head view's first view is asked for before the rest of the first screen is built: the
    // engine computes it meanwhile (the toolbar, the notices and their layout are not on its path).
    if (fitted.tab === 'head' && !session.source.needsWork(fitted)) session.shown(fitted, fitted);
    this.el.placeholder.hidden = true;
    this.el.content.hidden = false;
    this.el.modelName.textContent = raw.model.name;
    this.el.modelName.title = `${raw.model.source} (${raw.model.modelType})`;
    this.el.tokenCount.textContent = t('{0} tokens · {1} layers × {2} heads', session.n, session.stack.layers, session.stack.heads);
    this.renderNotices(session);
    this.store.replace(fitted);
    // Re-send the focus so the editor decorations match the restored state.
    if (this.store.state.focus !== null) this.postFocus();
  }

  private renderNotices(session: ResultSession): void {
    const cut = session.truncatedAt;
    this.el.truncated.hidden = cut === null;
    if (cut !== null) {
      const rest = session.result.text.length - cut;
      this.el.truncated.textContent = t('Only the first {0} tokens were analyzed: the last {1} characters of the selected text (from “{2}…”) are not in this view.', session.n, rest, session.result.text.slice(cut, cut + 24).trim());
    }
    this.el.probeInfo.hidden = !session.result.probe;
    if (session.result.probe) {
      const { line, detail } = describeProbe(session.result.probe, session.result.tokens, session.result.model.name);
      this.el.probeInfo.textContent = line;
      this.el.probeInfo.title = detail;
    }
    this.el.pairInfo.hidden = session.pairText === undefined;
    if (session.pairText !== undefined) {
      const a = session.result.tokens.filter((t) => t.segment === 0).length;
      const b = session.n - a;
      this.el.pairInfo.textContent = session.isPair
        ? t('Sentence pair: A = {0} tokens (the primary selection), B = {1} tokens. Choose A → B or B → A under Pair.', a, b)
        : t('{0} does not mark sentence pairs (no segment ids): A and B are shown as one sequence. Pair filters need a segment-pair model such as BERT.', session.result.model.name);
    }
  }

  private setCursorToken(index: number | null, reveal: boolean): void {
    const n = this.current?.n ?? 0;
    this.cursor = typeof index === 'number' && index >= 0 && index < n ? index : null;
    const shown = this.shown();
    const row = this.cursor === null || !shown ? null : rowOfToken(shown.view, this.cursor);
    this.headTab.view.cursorRow = row;
    if (row !== null && reveal) this.headTab.view.revealRow(row);
    this.headTab.view.requestRender();
    this.headTab.renderDetails();
  }

  // ---------------------------------------------------------------- state → views

  private onStateChange(s: PanelState, before: PanelState): void {
    this.render();
    const selectionChanged =
      before.mode !== s.mode || before.layer !== s.layer || before.head !== s.head || before.special !== s.special || before.mergeWords !== s.mergeWords;
    if (selectionChanged && s.focus !== null && !this.preparing && this.current) this.postFocus();
  }

  /** Renders every part from the state: header, toolbar, the open tab. */
  private render(): void {
    const session = this.current;
    const s = this.store.state;
    this.toolbar.render(s, session);
    if (!session) return;
    const info = MODE_INFO[s.mode];
    const sel = this.selection();
    const where = describeWhere(sel, session.stack.layers, session.stack.heads);
    const parts = [describeSpecial(s.special)];
    if (s.mergeWords) parts.push(t('words merged'));
    if (session.isPair && s.pairFilter !== 'all') parts.push(PAIR_FILTER_SHORT[s.pairFilter]);
    if (s.norm !== 'linear') parts.push(t('{0} colours', COLOR_NORM_INFO[s.norm].label.toLowerCase()));
    this.el.modeBadge.textContent = `${info.label} — ${where} · ${parts.join(' · ')}${describeGeneration(session.result)}`;
    this.el.modeExplanation.textContent =
      `${info.label}: ${info.explanation} ${SPECIAL_HANDLING_INFO[s.special].explanation}` + (s.mergeWords ? ` ${t('Words merged: a word’s column sums its pieces, its row averages them.')}` : '');
    this.el.modeExplanation.title = this.el.modeExplanation.textContent;
    (this.el.tabs as HTMLElement & { selectedIndex: number }).selectedIndex = VIEW_TABS.indexOf(s.tab);
    this.headTab.element.hidden = s.tab !== 'head';
    this.linesTab.element.hidden = s.tab !== 'lines';
    this.modelTab.element.hidden = s.tab !== 'model';
    this.stepTab.element.hidden = s.tab !== 'step';
    this.compareTab.element.hidden = s.tab !== 'compare';
    if (session.source.needsWork(sel)) this.prepare(sel);
    else if (this.preparing) {
      // The user moved on to a mode that needs no preparation: drop the pending work.
      this.preparing = undefined;
      this.headTab.computing.textContent = '';
    }
    // Only the open tab is drawn; switching tabs is a state change, so it renders then.
    if (s.tab === 'head') {
      this.headTab.render(this.preparing !== undefined || this.shown() === undefined);
      this.showWaiting(session);
    }
    if (s.tab === 'lines') this.linesTab.render();
    if (s.tab === 'model') this.modelTab.render();
    if (s.tab === 'step') this.stepTab.render();
    if (s.tab === 'compare') this.compareTab.render();
  }

  /**
   * Computes a slow mode in slices of ~12 ms between frames, showing progress; the panel stays
   * responsive and the old view is dimmed (and not hoverable) meanwhile.
   */
  private prepare(sel: ModeSelection): void {
    const session = this.current!;
    const key = `${sel.mode}.${sel.layer}.${session.id}`;
    if (this.preparing?.key === key) return;
    const steps = session.source.prepare(sel);
    const job = { key, id: session.id };
    this.preparing = job;
    const status = this.headTab.computing;
    const label = MODE_INFO[sel.mode].label.toLowerCase();
    status.textContent = t('Computing {0} through layer {1}…', label, sel.layer);
    const slice = () => {
      if (this.preparing !== job) return;
      const started = performance.now();
      let r = steps.next();
      while (!r.done && performance.now() - started < 12) r = steps.next();
      if (!r.done) {
        status.textContent = t('Computing {0} through layer {1}: {2}%', label, sel.layer, Math.round(r.value * 100));
        setTimeout(slice, 0);
        return;
      }
      this.preparing = undefined;
      status.textContent = '';
      if (this.current?.id === job.id) {
        this.render();
        if (this.store.state.focus !== null) this.postFocus();
      }
    };
    setTimeout(slice, 0);
  }

  /** The head view says when its view is on its way, or why it could not come. */
  private showWaiting(session: ResultSession): void {
    if (this.preparing) return;
    const status = this.headTab.computing;
    const failure = session.source.failure;
    const shown = this.shown();
    // A view served in tiles is shown from its overview; its tiles can still fail to come.
    const tileFailure = shown?.kind === 'tiled' ? shown.tiled.failure : undefined;
    const pending = session.pendingLayer(this.selection());
    status.textContent = shown
      ? tileFailure ? t('The exact values of this view could not be loaded: {0}', tileFailure) : ''
      : failure
        ? t('This view could not be loaded: {0}', failure)
        : pending !== undefined
          ? t('Layer {0} is still being computed ({1} of {2} layers done): this view appears as soon as the model reaches it.', pending, session.layersDone, session.stack.layers)
          : session.source.waiting ? t('Loading this view…') : '';
  }

  private postFocus(): void {
    const session = this.current;
    // While a slow mode is computed, the focus is sent when it is ready (see prepare).
    if (!session || this.preparing) return;
    const shown = this.shown();
    const row = this.focusRow();
    if (row === null || !shown) {
      if (!shown && this.store.state.focus !== null) this.focusWaiting = true;
      else this.channel.post({ type: 'focusQuery', resultId: session.id, index: null });
      return;
    }
    const item = shown.view.items[row];
    const sel = this.selection();
    const state = this.store.state;
    void session.source.focusWeights(sel, state.special, item.tokens).then(
      (weights) => {
        // Only if nothing moved on meanwhile.
        const now = this.store.state;
        if (this.current !== session || now.focus !== state.focus || now.mode !== sel.mode || now.layer !== sel.layer || now.head !== sel.head || now.special !== state.special) return;
        this.channel.post({ type: 'focusQuery', resultId: session.id, index: item.tokens[0], weights });
      },
      () => undefined,
    );
  }
}

/** Why an analysis message cannot be shown, or undefined. */
function analysisProblem(info: AnalysisInfo, summaries: BlockSummaries[]): string | undefined {
  if (typeof info !== 'object' || info === null || !Array.isArray(info.tokens) || typeof info.model !== 'object' || info.model === null) return 'it is malformed';
  if (!Array.isArray(info.blocks) || info.blocks.length === 0) return 'it has no attention blocks';
  if (!Array.isArray(summaries) || summaries.length === 0) return 'it came without summaries';
  const s = summaries.find((b) => b.block === info.blocks[0].kind) ?? summaries[0];
  if (!Number.isInteger(s.layers) || !Number.isInteger(s.heads) || s.layers < 1 || s.heads < 1) return 'its summaries have no layers or heads';
  if (!Array.isArray(s.scores) || s.scores.length !== s.layers * s.heads) return `its summaries score ${Array.isArray(s.scores) ? s.scores.length : 0} heads, not ${s.layers * s.heads}`;
  if (info.tokens.length === 0) return 'it has no tokens';
  return undefined;
}
