/**
 * Attention blocks in the panel. An encoder-decoder's analysis has three (encoder self, decoder
 * self, cross); every other analysis has one, and then nothing here shows. The engine keeps the
 * analysis and every block's views are requests naming the block: the square blocks (encoder and
 * decoder self-attention) go through the panel's usual views as an analysis of their own (head
 * view, model grid, lines, hover, modes, step by step, exports), with that block's summaries; the
 * rectangular cross block (decoder queries × encoder keys) has its own view (./crossView.ts).
 * Editor links only ever name tokens of the document: a block's decoder-text tokens have no place
 * in the editor, and its keys/queries from the document keep their indices into the analysis's tokens.
 */
import { msg, t } from './i18n';
import type { ColorScaleName } from '../src/analysis/colormap';
import type { AttentionBlockKind, HeadVectors } from '../src/protocol/types';
import type { AnalysisInfo, BlockMeta, BlockSummaries, ViewReply, ViewRequest } from '../src/protocol/views';
import type { WebviewToHost } from '../src/protocol/webview';
import { CrossView } from './crossView';
import { button, h, select, selectValue, setOptions, setSelectValue } from './dom';

export interface BlockHooks {
  /** Show a square block through the panel's views: an analysis whose tokens are the block's, with the block's summaries. */
  showSquare(resultId: number, info: AnalysisInfo, summaries: BlockSummaries): void;
  showError(message: string): void;
  /** Hide or show the panel's own views (the cross block replaces them). */
  setMainHidden(hidden: boolean): void;
  post(message: WebviewToHost): void;
  /** Asks the host for a view of the analysis (the cross view's matrices). */
  request(resultId: number, request: ViewRequest, signal: AbortSignal): Promise<ViewReply>;
  colorScale(): ColorScaleName;
}

/** Block names in the UI language (the engine names them in English). */
const BLOCK_LABELS: Record<string, string> = {
  self: msg('Self-attention'),
  encoder: msg('Encoder self-attention'),
  decoder: msg('Decoder self-attention'),
  cross: msg('Cross-attention'),
};

/** Modes defined on a block: rollout multiplies a square stack through its layers, so not for cross. */
export function blockAllowsRollout(block: Pick<BlockMeta, 'kind'>): boolean {
  return block.kind !== 'cross';
}

/**
 * The analysis the panel's square views show for `block`: its tokens (for both axes) and its
 * layer/head counts, with the text its tokens' ranges point into.
 */
export function squareInfo(info: AnalysisInfo, block: BlockMeta): AnalysisInfo {
  return {
    ...info,
    text: block.querySide === 'target' ? info.target ?? '' : info.text,
    tokens: block.queryTokens,
    blocks: [block],
    model: { ...info.model, numLayers: block.layers, numHeads: block.heads, causal: block.causal },
  };
}

/**
 * What of a message from the views may reach the host while `block` is shown: token indices into the
 * document's tokens pass, decoder-text tokens are dropped (they are not in the editor).
 */
export function editorMessage(block: BlockMeta, message: WebviewToHost): WebviewToHost | null {
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

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

/** Why a block cannot be shown, or undefined: its tokens, its shape and its summaries must agree. */
export function blockProblem(block: BlockMeta | undefined, summaries: BlockSummaries | undefined): string | undefined {
  if (!block || typeof block !== 'object' || !Array.isArray(block.queryTokens) || !Array.isArray(block.keyTokens)) return 'an attention block is malformed';
  if (!isCount(block.layers) || !isCount(block.heads)) return `the ${String(block.kind)} block has no layers or heads`;
  if (block.queryTokens.length === 0 || block.keyTokens.length === 0) return `the ${String(block.kind)} block has no tokens`;
  if (!summaries || typeof summaries !== 'object') return `the ${String(block.kind)} block came without summaries`;
  if (summaries.layers !== block.layers || summaries.heads !== block.heads) return `the ${String(block.kind)} block's summaries are ${summaries.layers} × ${summaries.heads}, not ${block.layers} × ${block.heads}`;
  if (!Array.isArray(summaries.scores) || summaries.scores.length !== block.layers * block.heads) return `the ${String(block.kind)} block's summaries score ${Array.isArray(summaries.scores) ? summaries.scores.length : 0} heads, not ${block.layers * block.heads}`;
  return undefined;
}

export class BlockSwitcher {
  readonly element: HTMLElement;
  private readonly picker: HTMLElement;
  private readonly cross: CrossView;
  private info: AnalysisInfo | undefined;
  private summaries: BlockSummaries[] = [];
  private resultId = 0;
  private kind: AttentionBlockKind = 'self';

  constructor(private readonly hooks: BlockHooks) {
    this.picker = select('attention-block', t('Attention block'), []);
    this.picker.addEventListener('change', () => this.choose(selectValue(this.picker) as AttentionBlockKind));
    const target = button('edit-target', t('Decoder text…'), t('Type another decoder text and compute again'));
    target.addEventListener('click', () => this.hooks.post({ type: 'editTarget' }));
    this.element = h('div', { class: 'block-bar', 'data-testid': 'block-bar', hidden: true }, h('label', { class: 'field' }, `${t('Block')} `, this.picker), target);
    this.cross = new CrossView({ request: (id, request, signal) => hooks.request(id, request, signal), post: (m) => hooks.post(m), colorScale: () => hooks.colorScale() });
  }

  /** The cross-attention view (placed by the panel below its own views). */
  get crossElement(): HTMLElement {
    return this.cross.element;
  }

  /** The block shown now (undefined for single-stack analyses). */
  get current(): BlockMeta | undefined {
    return this.info?.blocks.find((b) => b.kind === this.kind);
  }

  /** A new analysis with several blocks: keeps the chosen block where the analysis has it, and shows it. */
  receive(resultId: number, info: AnalysisInfo, summaries: BlockSummaries[]): void {
    for (const block of info.blocks) {
      const problem = blockProblem(block, summaries.find((s) => s?.block === block?.kind));
      if (problem) {
        this.hooks.showError(t('The panel cannot show this result: {0}.', problem));
        return;
      }
    }
    if (this.resultId !== resultId) this.cross.clear();
    this.info = info;
    this.summaries = summaries;
    this.resultId = resultId;
    const blocks = info.blocks;
    if (!blocks.some((b) => b.kind === this.kind)) this.kind = blocks[0].kind;
    this.element.hidden = blocks.length < 2;
    setOptions(this.picker, blocks.map((b) => ({ value: b.kind, label: `${t(BLOCK_LABELS[b.kind] ?? b.label)} (${b.queryTokens.length} × ${b.keyTokens.length})` })), this.kind);
    this.choose(this.kind);
  }

  /** More summaries of the analysis shown (the square views take theirs from the panel's message). */
  updateSummaries(resultId: number, summaries: BlockSummaries[]): void {
    if (resultId !== this.resultId || !this.info) return;
    this.summaries = this.summaries.map((s) => summaries.find((n) => n?.block === s.block) ?? s);
  }

  choose(kind: AttentionBlockKind): void {
    const info = this.info;
    if (!info) return;
    const block = info.blocks.find((b) => b.kind === kind);
    if (!block) return;
    this.kind = kind;
    setSelectValue(this.picker, kind);
    const summaries = this.summaries.find((s) => s.block === kind);
    const cross = block.kind === 'cross';
    this.hooks.setMainHidden(cross);
    if (cross) this.cross.show(this.resultId, info, block, summaries);
    else {
      this.cross.hide();
      this.hooks.showSquare(this.resultId, squareInfo(info, block), summaries!);
    }
  }

  /** q, k, v for the cross view's step by step; false when they are not the cross block's (the step tab's). */
  receiveVectors(resultId: number, vectors: HeadVectors): boolean {
    if (resultId !== this.resultId || vectors?.block !== 'cross' || this.current?.kind !== 'cross') return false;
    this.cross.receiveVectors(vectors);
    return true;
  }

  /** A request to the host failed (its error is shown): the cross view's step by step asks again next time. */
  requestFailed(): void {
    this.cross.requestFailed();
  }

  /** An analysis failed, or a single-stack one is shown: nothing here shows. */
  clear(): void {
    this.info = undefined;
    this.summaries = [];
    this.resultId = 0;
    this.element.hidden = true;
    this.cross.clear();
  }

  /** Whether the panel's views show the document's tokens (so the editor's cursor can be marked in them). */
  showsDocumentTokens(): boolean {
    const block = this.current;
    return !block || block.querySide === 'input';
  }

  /** Filters what the views send to the host for the block shown (see `editorMessage`). */
  filter(message: WebviewToHost): WebviewToHost | null {
    const block = this.current;
    return block ? editorMessage(block, message) : message;
  }
}
