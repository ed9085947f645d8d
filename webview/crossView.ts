/**
 * An encoder-decoder's cross-attention (decoder queries × encoder keys) in the panel: a rectangular
 * heatmap of one head or the layer's mean of heads, every head's thumbnail (from the summaries),
 * exact weights on hover and from the keyboard, step by step for one decoder token, and exports.
 * The engine keeps the analysis: each matrix and q/k/v is a request with the block, never a tensor.
 */
import { t } from './i18n';
import { colorLut, lutIndex, type ColorScaleName } from '../src/analysis/colormap';
import { MODE_INFO } from '../src/analysis/modes';
import { headVectorsProblem } from '../src/analysis/stepByStep';
import { toArrayBuffer } from '../src/analysis/tensor';
import { tokenLabel } from '../src/analysis/view';
import type { HeadVectors, TokenInfo } from '../src/protocol/types';
import type { AnalysisInfo, BlockMeta, BlockSummaries, ViewReply, ViewRequest } from '../src/protocol/views';
import type { WebviewToHost } from '../src/protocol/webview';
import { button, h, select, selectValue, setOptions, setSelectValue } from './dom';
import { StepView } from './stepView';
import { fetchMatrix } from './views';

export interface CrossHooks {
  /** Asks the host for a view of the analysis; aborting `signal` gives it up. */
  request(resultId: number, request: ViewRequest, signal: AbortSignal): Promise<ViewReply>;
  post(message: WebviewToHost): void;
  colorScale(): ColorScaleName;
}

/** The modes defined on a rectangular block (rollout multiplies a square stack through its layers). */
export type CrossMode = 'head' | 'valueWeighted' | 'layerMean' | 'allMean';
const CROSS_MODES: readonly CrossMode[] = ['head', 'valueWeighted', 'layerMean', 'allMean'];

/** What the cross view shows: a mode, and the layer and head it uses (a mean ignores the head; the global mean the layer too). */
interface CrossSelection {
  mode: CrossMode;
  layer: number;
  head: number;
}

/** One cross matrix as shown: `rows` decoder tokens × `cols` tokens of the text. */
export interface CrossMatrix extends CrossSelection {
  rows: number;
  cols: number;
  data: Float32Array;
}

const usesHead = (mode: CrossMode) => mode === 'head' || mode === 'valueWeighted';

export class CrossView {
  readonly element: HTMLElement;
  private readonly modeSelect: HTMLElement;
  private readonly layerSelect: HTMLElement;
  private readonly headSelect: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly readout: HTMLElement;
  private readonly status: HTMLElement;
  private readonly keyLabels: HTMLElement;
  private readonly queryLabels: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly step: HTMLDetailsElement;
  private readonly stepQuery: HTMLElement;
  private readonly stepView = new StepView('cross-');
  private resultId = 0;
  private info: AnalysisInfo | undefined;
  private block: BlockMeta | undefined;
  private cell = 0;
  /** The cell the readout is about (hover or keyboard): read again when another matrix is drawn. */
  private readCell: { row: number; col: number } | undefined;
  /** Matrices that arrived, by layer and head (a few). */
  private readonly matrices = new Map<string, CrossMatrix>();
  private readonly inFlight = new Set<string>();
  private readonly vectors = new Map<string, HeadVectors>();
  private readonly vectorsPending = new Set<string>();
  private controller = new AbortController();

  constructor(private readonly hooks: CrossHooks) {
    this.modeSelect = select('cross-mode', t('Mode'), CROSS_MODES.map((m) => ({ value: m, label: MODE_INFO[m].label })));
    this.layerSelect = select('cross-layer', t('Decoder layer'), []);
    this.headSelect = select('cross-head', t('Head'), []);
    for (const el of [this.modeSelect, this.layerSelect, this.headSelect]) el.addEventListener('change', () => this.draw());
    this.canvas = h('canvas', { class: 'cross-canvas', 'data-testid': 'cross-canvas', tabindex: 0, role: 'img' }) as HTMLCanvasElement;
    this.readout = h('div', { class: 'cross-readout', 'data-testid': 'cross-readout', 'aria-live': 'polite' });
    this.status = h('p', { class: 'cross-status', 'data-testid': 'cross-status', role: 'status' });
    this.keyLabels = h('div', { class: 'cross-keys', 'data-testid': 'cross-keys' });
    this.queryLabels = h('div', { class: 'cross-queries', 'data-testid': 'cross-queries' });
    this.grid = h('div', { class: 'cross-grid', 'data-testid': 'cross-grid', role: 'group', 'aria-label': t('Every cross-attention head') });
    this.stepQuery = select('cross-step-query', t('Decoder token'), []);
    this.stepQuery.addEventListener('change', () => this.renderStep());
    this.step = h(
      'details',
      { class: 'cross-step', 'data-testid': 'cross-step' },
      h('summary', {}, t('Step by step for one decoder token')),
      h('div', { class: 'toolbar-row' }, h('label', { class: 'field' }, `${t('Decoder token')} `, this.stepQuery)),
      this.stepView.root,
    ) as HTMLDetailsElement;
    this.step.addEventListener('toggle', () => this.renderStep());
    const exportPng = button('cross-export-png', 'PNG', t('Save this cross-attention heatmap as a PNG image'));
    const exportJson = button('cross-export-json', 'JSON', t('Save the tokens and this cross-attention matrix as JSON'));
    const exportNpy = button('cross-export-npy', 'NPY', t('Save the full [layers, heads, n_dec, n_enc] cross-attention tensor as .npy'));
    exportNpy.addEventListener('click', () => this.export('npy'));
    exportPng.addEventListener('click', () => this.export('png'));
    exportJson.addEventListener('click', () => this.export('json'));
    this.element = h(
      'section',
      { class: 'cross-view', 'data-testid': 'cross-view', hidden: true, 'aria-label': t('Cross-attention') },
      h('div', { class: 'cross-toolbar' }, h('label', { class: 'field' }, `${t('Mode')} `, this.modeSelect), h('label', { class: 'field' }, `${t('Layer')} `, this.layerSelect), h('label', { class: 'field' }, `${t('Head')} `, this.headSelect), exportPng, exportJson, exportNpy),
      h('p', { class: 'cross-explanation' }, t('Rows: decoder tokens (queries). Columns: tokens of the selected text (keys). Each row sums to 1. Rollout is not defined here: cross-attention is not a square stack.')),
      this.status,
      h('div', { class: 'cross-body' }, h('span', { class: 'cross-corner' }), this.keyLabels, this.queryLabels, this.canvas),
      this.readout,
      this.grid,
      this.step,
    );
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('click', (e) => this.click(e));
    this.canvas.addEventListener('keydown', (e) => this.key(e));
  }

  /** Shows the cross block of analysis `resultId`; `summaries` gives every head's thumbnail. */
  show(resultId: number, info: AnalysisInfo, block: BlockMeta, summaries: BlockSummaries | undefined): void {
    const same = this.resultId === resultId && this.block === block;
    this.element.hidden = false;
    if (same) return;
    this.clear();
    this.element.hidden = false;
    this.resultId = resultId;
    this.info = info;
    this.block = block;
    setOptions(this.layerSelect, Array.from({ length: block.layers }, (_, l) => ({ value: String(l), label: t('Layer {0}', l) })), '0');
    setOptions(this.headSelect, Array.from({ length: block.heads }, (_, i) => ({ value: String(i), label: t('Head {0}', i) })), '0');
    setSelectValue(this.modeSelect, 'head');
    setSelectValue(this.layerSelect, '0');
    setSelectValue(this.headSelect, '0');
    this.keyLabels.replaceChildren(...block.keyTokens.map((token, j) => h('span', { class: 'cross-key', title: t('key {0}', j) }, tokenLabel(token))));
    this.queryLabels.replaceChildren(...block.queryTokens.map((token, i) => h('span', { class: token.generated ? 'cross-query generated' : 'cross-query', title: token.generated ? t('query {0} (generated)', i) : t('query {0}', i) }, tokenLabel(token))));
    setOptions(this.stepQuery, block.queryTokens.map((token, i) => ({ value: String(i), label: `${i}: ${tokenLabel(token)}` })), '0');
    this.buildGrid(block, summaries);
    this.draw();
  }

  /** Nothing is shown any more: requests in flight are given up. */
  clear(): void {
    this.controller.abort();
    this.controller = new AbortController();
    this.matrices.clear();
    this.inFlight.clear();
    this.vectors.clear();
    this.vectorsPending.clear();
    this.readCell = undefined;
    this.info = undefined;
    this.block = undefined;
    this.resultId = 0;
    this.element.hidden = true;
    this.step.open = false;
    this.grid.replaceChildren();
    this.readout.textContent = '';
    this.status.textContent = '';
  }

  hide(): void {
    this.element.hidden = true;
  }

  private selection(): CrossSelection {
    const block = this.block!;
    const value = selectValue(this.modeSelect) as CrossMode;
    const mode = CROSS_MODES.includes(value) ? value : 'head';
    const layer = mode === 'allMean' ? 0 : Math.min(block.layers - 1, Math.max(0, Number(selectValue(this.layerSelect)) || 0));
    const head = usesHead(mode) ? Math.min(block.heads - 1, Math.max(0, Number(selectValue(this.headSelect)) || 0)) : 0;
    return { mode, layer, head };
  }

  /** The matrix of the chosen layer and head (or mean of heads), or undefined while it is on its way (it is asked for). */
  crossMatrix(): CrossMatrix | undefined {
    if (!this.block) return undefined;
    return this.matrix(this.selection());
  }

  private matrix(sel: CrossSelection): CrossMatrix | undefined {
    const { mode, layer, head } = sel;
    const key = `${mode}.${layer}.${head}`;
    const cached = this.matrices.get(key);
    if (cached) return cached;
    const block = this.block;
    if (!block || this.inFlight.has(key)) return undefined;
    this.inFlight.add(key);
    const signal = this.controller.signal;
    const request: Extract<ViewRequest, { kind: 'matrix' }> = { kind: 'matrix', block: block.kind, mode, layer, head, special: 'show', mergeWords: false };
    fetchMatrix((r) => this.hooks.request(this.resultId, r, signal), request)
      .then((m) => {
        if (signal.aborted || this.block !== block) return;
        if (m.rowItems.length !== block.queryTokens.length || m.items.length !== block.keyTokens.length) throw new Error(t('the extension sent a {0} × {1} matrix for {2} decoder and {3} text tokens', m.rowItems.length, m.items.length, block.queryTokens.length, block.keyTokens.length));
        this.matrices.set(key, { rows: m.rowItems.length, cols: m.items.length, data: m.data, mode, layer, head });
        while (this.matrices.size > 16) this.matrices.delete(this.matrices.keys().next().value as string);
        this.status.textContent = '';
      })
      .catch((err: unknown) => {
        if (signal.aborted) return;
        this.status.textContent = t('This view could not be loaded: {0}', err instanceof Error ? err.message : String(err));
      })
      .finally(() => {
        this.inFlight.delete(key);
        if (signal.aborted || this.block !== block) return;
        this.draw();
        if (this.step.open) this.renderStep();
      });
    return undefined;
  }

  /** Every head's thumbnail from the summaries (max-pooled, 8-bit relative to each head's maximum); a click shows that head. */
  private buildGrid(block: BlockMeta, summaries: BlockSummaries | undefined): void {
    const thumbs = summaries?.thumbnails;
    const rows = thumbs?.rows ?? 0;
    const cols = thumbs?.cols ?? 0;
    const count = block.layers * block.heads;
    if (!thumbs || thumbs.count !== count || rows < 1 || cols < 1) {
      this.grid.replaceChildren();
      return;
    }
    const maxima = new Float32Array(toArrayBuffer(thumbs.maxima) ?? new ArrayBuffer(0));
    const data = new Uint8Array(toArrayBuffer(thumbs.data) ?? new ArrayBuffer(0));
    if (maxima.length !== count || data.length !== count * rows * cols) {
      this.grid.replaceChildren();
      return;
    }
    const lut = colorLut(this.hooks.colorScale());
    const scale = Math.max(1, Math.floor(48 / Math.max(rows, cols)));
    const layerRows: HTMLElement[] = [];
    for (let layer = 0; layer < block.layers; layer++) {
      const tiles: HTMLElement[] = [h('span', { class: 'cross-grid-label' }, t('Layer {0}', layer))];
      for (let head = 0; head < block.heads; head++) {
        const index = layer * block.heads + head;
        const canvas = h('canvas', { class: 'cross-thumb-canvas', width: cols, height: rows }) as HTMLCanvasElement;
        canvas.style.width = `${cols * scale}px`;
        canvas.style.height = `${rows * scale}px`;
        const ctx = canvas.getContext('2d');
        if (ctx) {
          const image = ctx.createImageData(cols, rows);
          const max = maxima[index];
          for (let i = 0; i < rows * cols; i++) {
            const k = lutIndex((data[index * rows * cols + i] / 255) * max, { min: 0, max: 1 }) * 3;
            image.data.set([lut[k], lut[k + 1], lut[k + 2], 255], i * 4);
          }
          ctx.putImageData(image, 0, 0);
        }
        const tile = h('button', { class: 'cross-thumb', type: 'button', 'data-testid': `cross-thumb-${layer}-${head}`, title: t('Layer {0}, head {1}', layer, head), 'aria-label': t('Show cross-attention layer {0}, head {1}', layer, head), 'aria-pressed': 'false' }, canvas);
        tile.addEventListener('click', () => {
          // The thumbnail is that head's plain attention: show it as it is.
          setSelectValue(this.modeSelect, 'head');
          setSelectValue(this.layerSelect, String(layer));
          setSelectValue(this.headSelect, String(head));
          this.draw();
        });
        tiles.push(tile);
      }
      layerRows.push(h('div', { class: 'cross-grid-row' }, ...tiles));
    }
    this.grid.replaceChildren(...layerRows);
  }

  /** Draws the chosen matrix (asking for it first when it is not here yet). */
  draw(): void {
    const block = this.block;
    if (!block) return;
    const sel = this.selection();
    const shownHead = usesHead(sel.mode) ? `cross-thumb-${sel.layer}-${sel.head}` : '';
    for (const tile of Array.from(this.grid.querySelectorAll('.cross-thumb'))) tile.setAttribute('aria-pressed', String(tile.getAttribute('data-testid') === shownHead));
    // A mean needs no head; the global mean no layer either.
    this.headSelect.toggleAttribute('disabled', !usesHead(sel.mode));
    this.layerSelect.toggleAttribute('disabled', sel.mode === 'allMean');
    const m = this.matrix(sel);
    if (!m) {
      if (!this.status.textContent) this.status.textContent = t('Loading this view…');
      this.canvas.dataset.ready = 'false';
      return;
    }
    const cell = Math.max(6, Math.min(28, Math.floor(640 / Math.max(m.cols, m.rows))));
    this.cell = cell;
    const ratio = Math.max(1, Math.ceil(window.devicePixelRatio || 1));
    this.canvas.width = m.cols * cell * ratio;
    this.canvas.height = m.rows * cell * ratio;
    this.canvas.style.width = `${m.cols * cell}px`;
    this.canvas.style.height = `${m.rows * cell}px`;
    // Labels line up with the heatmap's rows (decoder tokens) and columns (the text's tokens).
    const font = `${Math.min(13, Math.max(8, cell - 2))}px`;
    for (const label of Array.from(this.queryLabels.children) as HTMLElement[]) {
      label.style.height = `${cell}px`;
      label.style.lineHeight = `${cell}px`;
      label.style.fontSize = font;
    }
    for (const label of Array.from(this.keyLabels.children) as HTMLElement[]) {
      label.style.width = `${cell}px`;
      label.style.lineHeight = `${cell}px`;
      label.style.fontSize = font;
    }
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const lut = colorLut(this.hooks.colorScale());
    for (let i = 0; i < m.rows; i++) {
      for (let j = 0; j < m.cols; j++) {
        const k = lutIndex(m.data[i * m.cols + j], { min: 0, max: 1 }) * 3;
        ctx.fillStyle = `rgb(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]})`;
        ctx.fillRect(j * cell * ratio, i * cell * ratio, cell * ratio, cell * ratio);
      }
    }
    this.canvas.setAttribute(
      'aria-label',
      this.describe(m) +
        ' ' +
        t('Arrow keys read cells, Enter selects the key token in the editor.'),
    );
    this.canvas.dataset.focusRow = this.canvas.dataset.focusRow ?? '0';
    this.canvas.dataset.focusCol = this.canvas.dataset.focusCol ?? '0';
    this.canvas.dataset.ready = 'true';
    this.readout.textContent = this.readCell && this.readCell.row < m.rows && this.readCell.col < m.cols ? this.cellText(this.readCell.row, this.readCell.col) : '';
    if (this.step.open) this.renderStep();
  }

  /** What the heatmap shows, for screen readers. */
  private describe(m: CrossMatrix): string {
    switch (m.mode) {
      case 'head':
        return t('Cross-attention, layer {0}, head {1}: {2} decoder tokens by {3} tokens of the text.', m.layer, m.head, m.rows, m.cols);
      case 'valueWeighted':
        return t('Value-weighted cross-attention, layer {0}, head {1}: {2} decoder tokens by {3} tokens of the text.', m.layer, m.head, m.rows, m.cols);
      case 'layerMean':
        return t('Cross-attention, layer {0}, mean of heads: {1} decoder tokens by {2} tokens of the text.', m.layer, m.rows, m.cols);
      case 'allMean':
        return t('Cross-attention, mean of every layer and head: {0} decoder tokens by {1} tokens of the text.', m.rows, m.cols);
    }
  }

  private cellAt(event: MouseEvent): { row: number; col: number } | undefined {
    const m = this.crossMatrix();
    if (!m || this.cell === 0) return undefined;
    const box = this.canvas.getBoundingClientRect();
    const row = Math.floor((event.clientY - box.top) / this.cell);
    const col = Math.floor((event.clientX - box.left) / this.cell);
    return row >= 0 && row < m.rows && col >= 0 && col < m.cols ? { row, col } : undefined;
  }

  /** "decoder token → text token: weight" for a cell (hover and keyboard). */
  cellText(row: number, col: number): string {
    const block = this.block;
    const m = this.crossMatrix();
    if (!block || !m) return '';
    return t('{0} (decoder {1}) → {2} (text {3}): {4}', tokenLabel(block.queryTokens[row]), row, tokenLabel(block.keyTokens[col]), col, m.data[row * m.cols + col].toFixed(4));
  }

  private hover(event: MouseEvent): void {
    const at = this.cellAt(event);
    this.readCell = at;
    this.readout.textContent = at ? this.cellText(at.row, at.col) : '';
  }

  private click(event: MouseEvent): void {
    const at = this.cellAt(event);
    if (at) this.revealKey(at.col);
  }

  private revealKey(col: number): void {
    // Keys are the text's tokens: their indices are the analysis's token indices.
    this.hooks.post({ type: 'revealToken', resultId: this.resultId, index: col });
  }

  private key(event: KeyboardEvent): void {
    const m = this.crossMatrix();
    if (!m) return;
    let row = Number(this.canvas.dataset.focusRow ?? 0);
    let col = Number(this.canvas.dataset.focusCol ?? 0);
    if (event.key === 'ArrowDown') row = Math.min(m.rows - 1, row + 1);
    else if (event.key === 'ArrowUp') row = Math.max(0, row - 1);
    else if (event.key === 'ArrowRight') col = Math.min(m.cols - 1, col + 1);
    else if (event.key === 'ArrowLeft') col = Math.max(0, col - 1);
    else if (event.key === 'Enter') return this.revealKey(col);
    else return;
    event.preventDefault();
    this.canvas.dataset.focusRow = String(row);
    this.canvas.dataset.focusCol = String(col);
    this.readCell = { row, col };
    this.readout.textContent = this.cellText(row, col);
  }

  // ---------------------------------------------------------------- step by step

  /** q, k, v of a cross head arrived (asked for by `renderStep`). */
  receiveVectors(vectors: HeadVectors): void {
    const block = this.block;
    if (!block) return;
    const problem = headVectorsProblem(vectors, block.queryTokens.length, block.keyTokens.length);
    if (problem) {
      this.stepView.showMessage(t('The extension sent unusable q/k/v: {0}.', problem));
      return;
    }
    for (const name of ['q', 'k', 'v', 'bias'] as const) {
      const tensor = vectors[name];
      if (tensor) tensor.buffer = toArrayBuffer(tensor.buffer) ?? tensor.buffer;
    }
    const key = `${vectors.layer}.${vectors.head}`;
    this.vectorsPending.delete(key);
    this.vectors.set(key, vectors);
    this.renderStep();
  }

  /** The host could not answer a q/k/v request: ask again the next time. */
  requestFailed(): void {
    if (this.vectorsPending.size === 0) return;
    this.vectorsPending.clear();
    this.stepView.showMessage(t('The extension could not provide q, k and v (see the error above).'));
  }

  private renderStep(): void {
    const block = this.block;
    if (!block || !this.step.open) return;
    const { mode, layer, head } = this.selection();
    if (!usesHead(mode)) {
      this.stepView.showMessage(t('Step by step follows one head: choose Single head above.'));
      return;
    }
    const key = `${layer}.${head}`;
    const vectors = this.vectors.get(key);
    if (!vectors) {
      this.stepView.showMessage(t('Loading q, k and v for layer {0}, head {1}…', layer, head));
      if (!this.vectorsPending.has(key)) {
        this.vectorsPending.add(key);
        this.hooks.post({ type: 'requestHeadVectors', resultId: this.resultId, layer, head, block: block.kind });
      }
      return;
    }
    // The model's own weights of that head, whatever the mode shows.
    const m = this.matrix({ mode: 'head', layer, head });
    if (!m) {
      this.stepView.showMessage(t('Loading the attention of layer {0}, head {1}…', layer, head));
      return;
    }
    const query = Math.min(block.queryTokens.length - 1, Math.max(0, Number(selectValue(this.stepQuery)) || 0));
    // As the step tab does: the options again (unchanged) with the query marked, so the select shows it once it is visible.
    setOptions(this.stepQuery, block.queryTokens.map((token, i) => ({ value: String(i), label: `${i}: ${tokenLabel(token)}` })), String(query));
    const tokens: readonly TokenInfo[] = block.keyTokens;
    this.stepView.render({ tokens, queryTokens: block.queryTokens, layer, head, query, attentionRow: m.data.subarray(query * m.cols, (query + 1) * m.cols), modeIsNotHead: mode !== 'head' }, vectors);
  }

  // ---------------------------------------------------------------- exports

  private export(format: 'png' | 'json' | 'npy'): void {
    const block = this.block;
    const info = this.info;
    const m = this.crossMatrix();
    if (!block || !info) return;
    const model = info.model.name.replace(/[^\w.-]+/g, '_');
    if (format === 'npy') {
      // The host asks the engine for the tensor; nothing large crosses the webview.
      this.hooks.post({ type: 'export', format: 'npy', data: '', suggestedName: `${model}-cross.npy`, block: block.kind });
      return;
    }
    if (!m) return;
    const what = { head: `L${m.layer}-H${m.head}`, valueWeighted: `L${m.layer}-H${m.head}-value-weighted`, layerMean: `L${m.layer}-mean`, allMean: 'mean' }[m.mode];
    const name = `${model}-cross-${what}`;
    if (format === 'png') {
      const data = this.canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
      this.hooks.post({ type: 'export', format: 'png', data, suggestedName: `${name}.png` });
      return;
    }
    const token = (tk: TokenInfo) => ({ id: tk.id, raw: tk.raw, display: tk.display, start: tk.start, end: tk.end, special: tk.special });
    const json = {
      model: info.model.name,
      block: block.kind,
      mode: m.mode,
      ...(m.mode !== 'allMean' ? { layer: m.layer } : {}),
      ...(usesHead(m.mode) ? { head: m.head } : {}),
      text: info.text,
      target: info.target,
      queryTokens: block.queryTokens.map(token),
      keyTokens: block.keyTokens.map(token),
      shape: [m.rows, m.cols],
      matrix: Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols))),
    };
    this.hooks.post({ type: 'export', format: 'json', data: JSON.stringify(json, null, 1), suggestedName: `${name}.json` });
  }
}
