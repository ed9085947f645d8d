/**
 * Attention blocks in the panel. An encoder-decoder's result has three (encoder self, decoder self,
 * cross); every other result has one, and then nothing here shows. The square blocks (encoder and
 * decoder self-attention) go through the panel's usual views as a result of their own, so head
 * view, model grid, hover, modes and exports all work on them; the rectangular cross block
 * (decoder queries × encoder keys) has its own heatmap here. Editor links only ever name tokens
 * of the document: a block's decoder-text tokens have no place in the editor, and its keys/queries
 * from the document keep their indices into the result's tokens.
 */
import { msg, t } from './i18n';
import { colorLut, lutIndex, type ColorScaleName } from '../src/analysis/colormap';
import { readTensorRange, tensorProblem, toArrayBuffer } from '../src/analysis/tensor';
import { tokenLabel } from '../src/analysis/view';
import { attentionBlocks, type AttentionBlock, type AttentionBlockKind, type AttentionResult } from '../src/protocol/types';
import type { WebviewToHost } from '../src/protocol/webview';
import { button, h, select, selectValue, setOptions, setSelectValue } from './dom';

export interface BlockHooks {
  /** Show a square block through the panel's views (a result whose tokens are the block's). */
  showSquare(resultId: number, result: AttentionResult): void;
  showError(message: string): void;
  /** Hide or show the panel's own views (the cross block replaces them). */
  setMainHidden(hidden: boolean): void;
  post(message: WebviewToHost): void;
  colorScale(): ColorScaleName;
}

/** Modes defined on a block: rollout multiplies a square stack through its layers, so not for cross. */
/** Block names in the UI language (the engine names them in English). */
const BLOCK_LABELS: Record<string, string> = {
  self: msg('Self-attention'),
  encoder: msg('Encoder self-attention'),
  decoder: msg('Decoder self-attention'),
  cross: msg('Cross-attention'),
};

export function blockAllowsRollout(block: Pick<AttentionBlock, 'kind'>): boolean {
  return block.kind !== 'cross';
}

/**
 * The result the panel's square views show for `block`: its tokens (for both axes), its matrices and
 * its layer/head counts, with the text its tokens' ranges point into.
 */
export function squareResult(full: AttentionResult, block: AttentionBlock): AttentionResult {
  const [numLayers, numHeads] = block.attentions.shape;
  return {
    ...full,
    text: block.querySide === 'target' ? full.target ?? '' : full.text,
    tokens: block.queryTokens,
    attentions: block.attentions,
    valueNorms: block.valueNorms,
    model: { ...full.model, numLayers, numHeads, causal: block.causal },
  };
}

/**
 * What of a message from the views may reach the host while `block` is shown: token indices into the
 * document's tokens pass, decoder-text tokens are dropped (they are not in the editor).
 */
export function editorMessage(block: AttentionBlock, message: WebviewToHost): WebviewToHost | null {
  const fromDocument = block.querySide === 'input' && block.keySide === 'input';
  switch (message.type) {
    case 'revealToken':
      if (fromDocument) return message;
      if (block.keySide === 'input' && message.queryIndex !== undefined) return { type: 'revealToken', resultId: message.resultId, index: message.index };
      return null;
    case 'focusQuery':
      return fromDocument ? message : { type: 'focusQuery', resultId: message.resultId, index: null };
    case 'requestHeadVectors':
      return { ...message, block: block.kind };
    case 'export':
      return message.format === 'npy' ? { ...message, block: block.kind } : message;
    default:
      return message;
  }
}

/** Why a block cannot be shown, or undefined: shapes must agree with its query and key tokens. */
export function blockProblem(block: AttentionBlock | undefined): string | undefined {
  if (!block || typeof block !== 'object' || !Array.isArray(block.queryTokens) || !Array.isArray(block.keyTokens)) return 'an attention block is malformed';
  const problem = tensorProblem(block.attentions, `${String(block.kind)} attentions`, 4) ?? tensorProblem(block.valueNorms, `${String(block.kind)} value norms`, 3);
  if (problem) return problem;
  const [, , rows, cols] = block.attentions.shape;
  if (rows !== block.queryTokens.length || cols !== block.keyTokens.length) return `the ${String(block.kind)} block is ${rows} × ${cols} for ${block.queryTokens.length} query and ${block.keyTokens.length} key tokens`;
  return undefined;
}

export class BlockSwitcher {
  readonly element: HTMLElement;
  readonly crossElement: HTMLElement;
  private readonly picker: HTMLElement;
  private readonly crossLayer: HTMLElement;
  private readonly crossHead: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly readout: HTMLElement;
  private readonly keyLabels: HTMLElement;
  private readonly queryLabels: HTMLElement;
  private full: AttentionResult | undefined;
  private resultId = 0;
  private kind: AttentionBlockKind = 'self';
  private cell = 0;

  constructor(private readonly hooks: BlockHooks) {
    this.picker = select('attention-block', t('Attention block'), []);
    this.picker.addEventListener('change', () => this.choose(selectValue(this.picker) as AttentionBlockKind));
    const target = button('edit-target', t('Decoder text…'), t('Type another decoder text and compute again'));
    target.addEventListener('click', () => this.hooks.post({ type: 'editTarget' }));
    this.element = h('div', { class: 'block-bar', 'data-testid': 'block-bar', hidden: true }, h('label', { class: 'field' }, `${t('Block')} `, this.picker), target);

    this.crossLayer = select('cross-layer', t('Decoder layer'), []);
    this.crossHead = select('cross-head', t('Head'), []);
    for (const el of [this.crossLayer, this.crossHead]) el.addEventListener('change', () => this.drawCross());
    this.canvas = h('canvas', { class: 'cross-canvas', 'data-testid': 'cross-canvas', tabindex: 0, role: 'img' }) as HTMLCanvasElement;
    this.readout = h('div', { class: 'cross-readout', 'data-testid': 'cross-readout', 'aria-live': 'polite' });
    this.keyLabels = h('div', { class: 'cross-keys', 'data-testid': 'cross-keys' });
    this.queryLabels = h('div', { class: 'cross-queries', 'data-testid': 'cross-queries' });
    const exportPng = button('cross-export-png', 'PNG', t('Save this cross-attention heatmap as a PNG image'));
    const exportJson = button('cross-export-json', 'JSON', t('Save the tokens and this cross-attention matrix as JSON'));
    const exportNpy = button('cross-export-npy', 'NPY', t('Save the full [layers, heads, n_dec, n_enc] cross-attention tensor as .npy'));
    exportNpy.addEventListener('click', () => this.exportCross('npy'));
    exportPng.addEventListener('click', () => this.exportCross('png'));
    exportJson.addEventListener('click', () => this.exportCross('json'));
    this.crossElement = h(
      'section',
      { class: 'cross-view', 'data-testid': 'cross-view', hidden: true, 'aria-label': t('Cross-attention') },
      h('div', { class: 'cross-toolbar' }, h('label', { class: 'field' }, `${t('Layer')} `, this.crossLayer), h('label', { class: 'field' }, `${t('Head')} `, this.crossHead), exportPng, exportJson, exportNpy),
      h('p', { class: 'cross-explanation' }, t('Rows: decoder tokens (queries). Columns: tokens of the selected text (keys). Each row sums to 1. Rollout is not defined here: cross-attention is not a square stack.')),
      h('div', { class: 'cross-body' }, h('span', { class: 'cross-corner' }), this.keyLabels, this.queryLabels, this.canvas),
      this.readout,
    );
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('click', (e) => this.click(e));
    this.canvas.addEventListener('keydown', (e) => this.key(e));
  }

  /** The block shown now (`self` for single-stack results). */
  get current(): AttentionBlock | undefined {
    return this.full && attentionBlocks(this.full).find((b) => b.kind === this.kind);
  }

  /** A new result: keeps the chosen block where the result has it, and shows it. */
  receive(resultId: number, full: AttentionResult): void {
    if (!full || typeof full !== 'object' || !Array.isArray(full.blocks) || full.blocks.length === 0) {
      // A single-stack result: the panel's views show it as it is (and check it).
      this.full = undefined;
      this.element.hidden = true;
      this.crossElement.hidden = true;
      this.hooks.showSquare(resultId, full);
      return;
    }
    {
      // Buffers may arrive as typed-array views depending on the transport; every block must be readable.
      for (const block of full.blocks) {
        for (const t of [block?.attentions, block?.valueNorms]) {
          const buffer = t && typeof t === 'object' ? toArrayBuffer(t.buffer) : undefined;
          if (buffer) t.buffer = buffer;
        }
        const problem = blockProblem(block);
        if (problem) {
          this.hooks.showError(t('The panel cannot show this result: {0}.', problem));
          return;
        }
      }
    }
    this.full = full;
    this.resultId = resultId;
    const blocks = attentionBlocks(full);
    if (!blocks.some((b) => b.kind === this.kind)) this.kind = blocks[0].kind;
    this.element.hidden = blocks.length < 2;
    setOptions(this.picker, blocks.map((b) => ({ value: b.kind, label: `${t(BLOCK_LABELS[b.kind] ?? b.label)} (${b.queryTokens.length} × ${b.keyTokens.length})` })), this.kind);
    this.choose(this.kind);
  }

  choose(kind: AttentionBlockKind): void {
    const full = this.full;
    if (!full) return;
    const block = attentionBlocks(full).find((b) => b.kind === kind);
    if (!block) return;
    this.kind = kind;
    setSelectValue(this.picker, kind);
    const cross = block.kind === 'cross';
    this.crossElement.hidden = !cross;
    this.hooks.setMainHidden(cross);
    if (cross) this.showCross(block);
    else this.hooks.showSquare(this.resultId, squareResult(full, block));
  }

  /** An analysis failed: nothing is shown any more. */
  clear(): void {
    this.full = undefined;
    this.element.hidden = true;
    this.crossElement.hidden = true;
  }

  /** Whether the panel's views show the document's tokens (so the editor's cursor can be marked in them). */
  showsDocumentTokens(): boolean {
    const block = this.current;
    return !block || block.querySide === 'input';
  }

  /** Filters what the views send to the host for the block shown (see `editorMessage`). */
  filter(message: WebviewToHost): WebviewToHost | null {
    const block = this.current;
    return block && this.full?.blocks ? editorMessage(block, message) : message;
  }

  // ---------------------------------------------------------------- the cross heatmap
  private showCross(block: AttentionBlock): void {
    const [layers, heads] = block.attentions.shape;
    setOptions(this.crossLayer, Array.from({ length: layers }, (_, l) => ({ value: String(l), label: t('Layer {0}', l) })), '0');
    setOptions(this.crossHead, [{ value: 'mean', label: t('Mean of heads') }, ...Array.from({ length: heads }, (_, i) => ({ value: String(i), label: t('Head {0}', i) }))], '0');
    setSelectValue(this.crossLayer, '0');
    setSelectValue(this.crossHead, '0');
    this.keyLabels.replaceChildren(...block.keyTokens.map((token, j) => h('span', { class: 'cross-key', title: t('key {0}', j) }, tokenLabel(token))));
    this.queryLabels.replaceChildren(...block.queryTokens.map((token, i) => h('span', { class: token.generated ? 'cross-query generated' : 'cross-query', title: token.generated ? t('query {0} (generated)', i) : t('query {0}', i) }, tokenLabel(token))));
    this.drawCross();
  }

  /** The `[n_dec, n_enc]` matrix of the chosen layer and head (or the mean of the heads). */
  crossMatrix(): { rows: number; cols: number; data: Float32Array; layer: number; head: number | 'mean' } | undefined {
    const block = this.current;
    if (!block || block.kind !== 'cross') return undefined;
    const [layers, heads, rows, cols] = block.attentions.shape;
    const layer = Math.min(layers - 1, Math.max(0, Number(selectValue(this.crossLayer)) || 0));
    const headValue = selectValue(this.crossHead);
    const size = rows * cols;
    if (headValue !== 'mean') {
      const head = Math.min(heads - 1, Math.max(0, Number(headValue) || 0));
      return { rows, cols, layer, head, data: Float32Array.from(readTensorRange(block.attentions, (layer * heads + head) * size, size)) };
    }
    const data = new Float32Array(size);
    for (let hd = 0; hd < heads; hd++) {
      const part = readTensorRange(block.attentions, (layer * heads + hd) * size, size);
      for (let i = 0; i < size; i++) data[i] += part[i] / heads;
    }
    return { rows, cols, layer, head: 'mean', data };
  }

  private drawCross(): void {
    const m = this.crossMatrix();
    if (!m) return;
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
      (m.head === 'mean' ? t('Cross-attention, layer {0}, mean of heads: {1} decoder tokens by {2} tokens of the text.', m.layer, m.rows, m.cols) : t('Cross-attention, layer {0}, head {1}: {2} decoder tokens by {3} tokens of the text.', m.layer, m.head, m.rows, m.cols)) +
        ' ' +
        t('Arrow keys read cells, Enter selects the key token in the editor.'),
    );
    this.canvas.dataset.focusRow = this.canvas.dataset.focusRow ?? '0';
    this.canvas.dataset.focusCol = this.canvas.dataset.focusCol ?? '0';
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
    const block = this.current;
    const m = this.crossMatrix();
    if (!block || !m) return '';
    return t('{0} (decoder {1}) → {2} (text {3}): {4}', tokenLabel(block.queryTokens[row]), row, tokenLabel(block.keyTokens[col]), col, m.data[row * m.cols + col].toFixed(4));
  }

  private hover(event: MouseEvent): void {
    const at = this.cellAt(event);
    this.readout.textContent = at ? this.cellText(at.row, at.col) : '';
  }

  private click(event: MouseEvent): void {
    const at = this.cellAt(event);
    if (at) this.revealKey(at.col);
  }

  private revealKey(col: number): void {
    // Keys are the text's tokens: their indices are the result's token indices.
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
    this.readout.textContent = this.cellText(row, col);
  }

  private exportCross(format: 'png' | 'json' | 'npy'): void {
    const block = this.current;
    const m = this.crossMatrix();
    if (!block || !m || !this.full) return;
    const name = `${this.full.model.name.replace(/[^\w.-]+/g, '_')}-cross-L${m.layer}-${m.head === 'mean' ? 'mean' : `H${m.head}`}`;
    if (format === 'npy') {
      // The host writes the tensor it holds; nothing large crosses back.
      this.hooks.post({ type: 'export', format: 'npy', data: '', suggestedName: `${this.full.model.name.replace(/[^\w.-]+/g, '_')}-cross.npy`, block: 'cross' });
      return;
    }
    if (format === 'png') {
      const data = this.canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
      this.hooks.post({ type: 'export', format: 'png', data, suggestedName: `${name}.png` });
      return;
    }
    const token = (t: AttentionBlock['queryTokens'][number]) => ({ id: t.id, raw: t.raw, display: t.display, start: t.start, end: t.end, special: t.special });
    const json = {
      model: this.full.model.name,
      block: 'cross',
      layer: m.layer,
      head: m.head,
      text: this.full.text,
      target: this.full.target,
      queryTokens: block.queryTokens.map(token),
      keyTokens: block.keyTokens.map(token),
      shape: [m.rows, m.cols],
      matrix: Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols))),
    };
    this.hooks.post({ type: 'export', format: 'json', data: JSON.stringify(json, null, 1), suggestedName: `${name}.json` });
  }
}
