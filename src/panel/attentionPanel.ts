/**
 * The one attention panel: a webview beside the editor. It shows the latest result, keeps the
 * two-way link between tokens and the editor (selection, cursor, weight decorations, staleness),
 * and saves exports. Everything the webview sends is validated before use.
 */
import * as os from 'os';
import * as vscode from 'vscode';
import { encodeNpy } from '../export/npy';
import { pythonSnippet } from '../export/pythonSnippet';
import { attentionBlocks, type AttentionBlockKind, type AttentionResult, type HeadVectors } from '../protocol/types';
import { parseWebviewMessage, type ExportFormat, type HostToWebview, type StaleReason, type WebviewToHost } from '../protocol/webview';
import { decodeHalfArray } from '../protocol/float16';
import { AnalyzedText } from './analyzedText';
import { getPanelHtml } from './html';
import { errorParts, localizeError } from '../l10n/errors';
import { WeightDecorations } from './weightDecorations';

export const PANEL_VIEW_TYPE = 'attentionInspector.panel';
const HISTORY_LIMIT = 200;

/** Where the second text of a sentence pair came from (a secondary selection, or the clipboard). */
export interface PairSource {
  text: string;
  /** Document and offset when the text is a selection (its tokens then link to the editor). */
  document?: vscode.TextDocument;
  offset?: number;
}

export interface PanelHost {
  log(line: string): void;
  /**
   * Keep the messages posted to the webview (with their buffers) for the test API. Only while that
   * API is in use: each result message holds the whole attention tensor.
   */
  recordMessages?: boolean;
  /** q, k, v for the step-by-step view, from the engine. */
  headVectors(layer: number, head: number, block?: AttentionBlockKind): Promise<HeadVectors>;
  /** Run the analysis again on the (changed) document. */
  recompute(): void;
  /** Encoder-decoders: ask for another decoder text and run again. */
  editTarget?(): void;
  /** The panel closed: release what it used. */
  onClosed(): void;
}

function saveFilters(format: ExportFormat): Record<string, string[]> {
  const names: Record<ExportFormat, string> = {
    png: vscode.l10n.t('PNG image'),
    svg: vscode.l10n.t('SVG image'),
    json: 'JSON',
    npy: vscode.l10n.t('NumPy array'),
  };
  return { [names[format]]: [format] };
}

export class AttentionPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private result: AttentionResult | undefined;
  private resultId = 0;
  private analyzed: AnalyzedText | undefined;
  /** The second text of a sentence pair, when it is a selection in a document. */
  private analyzedPair: AnalyzedText | undefined;
  private pairText: string | undefined;
  private staleReason: StaleReason = 'edited';
  private readonly decorations = new WeightDecorations();
  private readonly history: HostToWebview[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private panelDisposables: vscode.Disposable[] = [];

  constructor(private readonly extensionUri: vscode.Uri, private readonly host: PanelHost) {
    this.disposables.push(
      vscode.window.onDidChangeTextEditorSelection((e) => this.onSelection(e)),
      vscode.workspace.onDidChangeTextDocument((e) => this.onDocumentChange(e)),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (doc === this.analyzed?.document) this.setStale('closed');
      }),
    );
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  get currentResult(): AttentionResult | undefined {
    return this.result;
  }

  get isStale(): boolean {
    return this.analyzed?.isStale ?? false;
  }

  get sent(): readonly HostToWebview[] {
    return this.history;
  }

  /** Opens the panel beside the editor (or reveals it) without stealing focus from the editor. */
  open(): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, vscode.l10n.t('Attention'), { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, this.webviewOptions());
    this.attach(panel);
  }

  /** Adopts a panel VS Code restored after a window reload. */
  restore(panel: vscode.WebviewPanel): void {
    panel.webview.options = this.webviewOptions();
    this.attach(panel);
  }

  private webviewOptions(): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      // Only the bundle and media: nothing from the workspace or a model folder.
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    };
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.svg');
    // The webview shows its strings from the host's bundle (none for English: the source strings).
    panel.webview.html = getPanelHtml(panel.webview, this.extensionUri, { language: vscode.env.language, bundle: vscode.l10n.bundle });
    this.panelDisposables = [
      panel.webview.onDidReceiveMessage((raw) => this.receive(raw)),
      panel.onDidDispose(() => this.onPanelClosed()),
    ];
  }

  private onPanelClosed(): void {
    this.panel = undefined;
    this.panelDisposables.forEach((d) => d.dispose());
    this.panelDisposables = [];
    this.decorations.clear();
    // Release the result and everything recorded with it: a closed panel holds no tensors.
    this.result = undefined;
    this.analyzed = undefined;
    this.analyzedPair = undefined;
    this.pairText = undefined;
    this.history.length = 0;
    this.host.onClosed();
  }

  private post(message: HostToWebview): void {
    if (this.host.recordMessages) {
      this.history.push(message);
      if (this.history.length > HISTORY_LIMIT) this.history.shift();
    }
    void this.panel?.webview.postMessage(message);
  }

  showBusy(message: string): void {
    this.post({ type: 'busy', message });
  }

  /**
   * An analysis failed: the panel says so and drops the result it showed, which no longer answers
   * what was asked (another model, another text).
   */
  showError(message: string): void {
    this.decorations.clear();
    this.result = undefined;
    this.analyzed = undefined;
    this.analyzedPair = undefined;
    this.pairText = undefined;
    this.resultId++;
    if (this.panel) this.panel.title = vscode.l10n.t('Attention');
    this.post({ type: 'error', message, clearsResult: true });
  }

  /** Shows a new result for `text` found at `offset` in `document` (and the pair's second text). */
  showResult(result: AttentionResult, document: vscode.TextDocument, offset: number, pair?: PairSource): void {
    this.open();
    this.decorations.clear();
    this.result = result;
    this.resultId++;
    this.analyzed = new AnalyzedText(document, offset, result.text, result.tokens);
    this.pairText = pair?.text;
    this.analyzedPair = pair?.document && pair.offset !== undefined ? new AnalyzedText(pair.document, pair.offset, pair.text, result.tokens, 1) : undefined;
    this.post({ type: 'result', resultId: this.resultId, result, ...(pair ? { pair: { text: pair.text } } : {}) });
    this.panel!.title = vscode.l10n.t('Attention: {0}', result.model.name);
    const editor = vscode.window.activeTextEditor;
    if (editor?.document === document) this.postCursor(editor.selection.active, false);
  }

  /** The text and place of the current result (to recompute it, or restore after reload). */
  /** The analyzed text; `range`: its document offsets now, edits included. */
  get analyzedTextInfo(): { document: vscode.TextDocument; offset: number; text: string; range: { start: number; end: number } } | undefined {
    return this.analyzed && { document: this.analyzed.document, offset: this.analyzed.start, text: this.analyzed.text, range: this.analyzed.currentRange };
  }

  private setStale(reason: StaleReason): void {
    if (!this.analyzed || this.analyzed.isStale) return;
    this.analyzed.markStale();
    this.analyzedPair?.markStale();
    this.staleReason = reason;
    this.decorations.clear();
    this.post({ type: 'stale', resultId: this.resultId, stale: true, reason });
  }

  private onDocumentChange(event: vscode.TextDocumentChangeEvent): void {
    if (!this.analyzed || event.contentChanges.length === 0) return;
    const pairChanged = this.analyzedPair?.applyChange(event) ?? false;
    if (this.analyzed.applyChange(event) || pairChanged) {
      this.analyzed.markStale();
      this.staleReason = 'edited';
      this.decorations.clear();
      this.post({ type: 'stale', resultId: this.resultId, stale: true, reason: 'edited' });
    }
  }

  private onSelection(event: vscode.TextEditorSelectionChangeEvent): void {
    if (!this.analyzed || event.textEditor.document !== this.analyzed.document) return;
    this.postCursor(event.selections[0].active, true);
  }

  private postCursor(position: vscode.Position, reveal: boolean): void {
    if (!this.analyzed) return;
    const index = this.analyzed.tokenAt(position) ?? this.analyzedPair?.tokenAt(position) ?? null;
    this.post({ type: 'cursorToken', resultId: this.resultId, index, reveal });
  }

  /** Handles one message from the webview; resolves when done (tests await it). */
  async receive(raw: unknown): Promise<void> {
    const message = parseWebviewMessage(raw);
    if (!message) {
      this.host.log(`Ignored a malformed message from the panel: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    try {
      await this.handle(message);
    } catch (err) {
      const text = localizeError(errorParts(err));
      this.host.log(`Panel request ${message.type} failed: ${err instanceof Error ? err.message : String(err)}`);
      this.post({ type: 'error', message: text });
      void vscode.window.showErrorMessage(`Attention Inspector: ${text}`);
    }
  }

  private isCurrent(resultId: number): boolean {
    return resultId === this.resultId && this.result !== undefined;
  }

  private validIndex(index: number): boolean {
    return this.result !== undefined && index < this.result.tokens.length;
  }

  private async handle(message: WebviewToHost): Promise<void> {
    switch (message.type) {
      case 'ready':
        if (this.result) {
          this.post({ type: 'result', resultId: this.resultId, result: this.result, ...(this.pairText !== undefined ? { pair: { text: this.pairText } } : {}) });
          if (this.analyzed?.isStale) this.post({ type: 'stale', resultId: this.resultId, stale: true, reason: this.staleReason });
        }
        return;
      case 'revealToken':
        if (!this.isCurrent(message.resultId) || !this.validIndex(message.index)) return;
        if (message.queryIndex !== undefined && !this.validIndex(message.queryIndex)) return;
        return this.revealToken(message.index, message.queryIndex);
      case 'focusQuery':
        if (!this.isCurrent(message.resultId) || !this.analyzed || this.analyzed.isStale) return;
        if (message.index === null || !message.weights) {
          this.decorations.clear();
          return;
        }
        if (!this.validIndex(message.index) || message.weights.length !== this.result!.tokens.length) return;
        this.decorations.show(this.analyzed, message.index, message.weights);
        return;
      case 'requestHeadVectors': {
        if (!this.isCurrent(message.resultId)) return;
        // Each block has its own layer and head counts (an encoder-decoder's decoder may differ).
        const block = attentionBlocks(this.result!).find((b) => b.kind === (message.block ?? attentionBlocks(this.result!)[0].kind));
        if (!block || message.layer >= block.attentions.shape[0] || message.head >= block.attentions.shape[1]) return;
        const resultId = this.resultId;
        const vectors = await this.host.headVectors(message.layer, message.head, message.block);
        if (resultId === this.resultId) this.post({ type: 'headVectors', resultId, vectors });
        return;
      }
      case 'editTarget':
        if (this.result?.decoderTokens) this.host.editTarget?.();
        return;
      case 'export':
        return this.saveExport(message.format, message.data, message.suggestedName, message.block);
      case 'copyImage':
        // The webview writes the clipboard itself; this is its fallback when the platform refuses.
        void vscode.window.showInformationMessage(vscode.l10n.t('This platform does not let the panel put images on the clipboard: choose where to save the PNG instead.'));
        return this.saveExport('png', message.data, this.imageFallbackName());
      case 'copyPython':
        if (!this.result) return;
        await vscode.env.clipboard.writeText(pythonSnippet(this.result, message.view));
        void vscode.window.showInformationMessage(vscode.l10n.t('Copied a Python snippet that reproduces these attentions with transformers.'));
        return;
      case 'recompute':
        this.host.recompute();
        return;
    }
  }

  private async revealToken(index: number, queryIndex?: number): Promise<void> {
    const analyzed = this.analyzed;
    if (!analyzed || analyzed.isStale) {
      void vscode.window.showWarningMessage(vscode.l10n.t('The text changed since it was analyzed; recompute to link tokens to the editor again.'));
      return;
    }
    const token = this.result?.tokens[index];
    const target = token?.segment === 1 ? this.analyzedPair : analyzed;
    const range = target?.tokenRange(index);
    if (!target || !range) return; // special tokens (and a pair text from the clipboard) cover no text
    const visible = vscode.window.visibleTextEditors.find((e) => e.document === target.document);
    const editor = await vscode.window.showTextDocument(target.document, { viewColumn: visible?.viewColumn ?? vscode.ViewColumn.One, preserveFocus: false });
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    if (queryIndex !== undefined && this.result && target === analyzed) {
      // A cell: the key is selected, the query is outlined, and keys are painted with the query's row.
      const n = this.result.tokens.length;
      this.decorations.show(analyzed, queryIndex, Array.from({ length: n }, (_, j) => (j === index ? 1 : 0)));
    }
  }

  private async saveExport(format: ExportFormat, data: string, suggestedName: string, block?: AttentionBlockKind): Promise<void> {
    if (!this.result) return;
    let bytes: Uint8Array;
    if (format === 'npy') {
      // The block's own [layers, heads, queries, keys] tensor (an encoder-decoder has three).
      const blocks = attentionBlocks(this.result);
      const a = (blocks.find((b) => b.kind === block) ?? blocks[0]).attentions;
      const values = a.dtype === 'float16' ? decodeHalfArray(new Uint16Array(a.buffer)) : new Float32Array(a.buffer);
      bytes = encodeNpy(values, a.shape);
    } else if (format === 'png') {
      bytes = Buffer.from(data, 'base64');
    } else {
      bytes = Buffer.from(data, 'utf8');
    }
    const name = suggestedName.endsWith(`.${format}`) ? suggestedName : `${suggestedName}.${format}`;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(os.homedir());
    const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(folder, name), filters: saveFilters(format), title: vscode.l10n.t('Export {0}', format.toUpperCase()) });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, bytes);
    this.host.log(`Exported ${format} to ${target.fsPath} (${bytes.byteLength} bytes)`);
    const open = await vscode.window.showInformationMessage(vscode.l10n.t('Saved {0}', vscode.workspace.asRelativePath(target)), vscode.l10n.t('Reveal'));
    if (open) void vscode.commands.executeCommand('revealFileInOS', target);
  }

  private imageFallbackName(): string {
    const name = this.result?.model.name.split(/[\\/]/).pop() ?? 'attention';
    return `attention-${name}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.png`.replace(/[\\/:*?"<>|]/g, '-');
  }

  dispose(): void {
    this.panel?.dispose();
    this.decorations.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
