/**
 * The one attention panel: a webview beside the editor. It shows the latest result, keeps the
 * two-way link between tokens and the editor (selection, cursor, weight decorations, staleness),
 * and saves exports. Everything the webview sends is validated before use.
 */
import * as os from 'os';
import * as vscode from 'vscode';
import { buildInteractiveHtml, HtmlExportTooLarge, type HtmlExportRequest } from '../export/interactiveHtml';
import { encodeNpy } from '../export/npy';
import { pythonSnippet } from '../export/pythonSnippet';
import { attentionBlocks, type AttentionBlockKind, type AttentionResult, type TensorData } from '../protocol/types';
import type { AnalysisInfo, BlockSummaries, ViewReply, ViewRequest } from '../protocol/views';
import { parseWebviewMessage, type ExportFormat, type HostToWebview, type StaleReason, type WebviewToHost } from '../protocol/webview';
import { decodeHalfArray } from '../protocol/float16';
import type { CompareKind } from '../analysis/compare';
import { AnalyzedText } from './analyzedText';
import { fullResultOf } from '../analysis/fullResult';
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
  /** A view of an analysis the engine keeps (aborting `signal` cancels it in the engine). */
  view(analysisId: number, request: ViewRequest, signal: AbortSignal): Promise<ViewReply>;
  /** A whole block's attention tensor of a kept analysis (NumPy export). */
  tensor(analysisId: number, block: AttentionBlockKind): Promise<TensorData>;
  /** The panel no longer shows this analysis: the engine may drop it. */
  forget(analysisId: number): void;
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

/** The page's parts, built with the extension (esbuild.js): inlined into every interactive HTML export. */
const HTML_EXPORT_ASSETS = { script: ['dist', 'exportPage.js'], css: ['media', 'panel.css'] } as const;

export class AttentionPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  /** The analysis shown (its tokens, model, blocks; no tensors). */
  private info: AnalysisInfo | undefined;
  /** Its summaries (value norms for an interactive HTML export). */
  private summaries: BlockSummaries[] | undefined;
  /** Its full result, when the host holds the tensors (the test API only). */
  private full: AttentionResult | undefined;
  /** What was posted for it (reposted when the webview reloads). */
  private shownMessage: HostToWebview | undefined;
  /** The analysis id of what is shown (ids come from the engine client and are never reused). */
  private resultId = 0;
  /** The webview's view requests in flight, by request id. */
  private readonly requests = new Map<number, AbortController>();
  private analyzed: AnalyzedText | undefined;
  /** The second text of a sentence pair, when it is a selection in a document. */
  private analyzedPair: AnalyzedText | undefined;
  /** Compare With…: A's and B's tensors set side by side, until the next analysis. */
  private comparison: { base: AttentionResult; other: AttentionResult; kind: CompareKind } | undefined;
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

  /** The full result shown, when the host holds its tensors (the test API). */
  get currentResult(): AttentionResult | undefined {
    return this.full;
  }

  /** Whether the panel shows analysis `analysisId` (perhaps before its pass finished). */
  shows(analysisId: number): boolean {
    return this.info !== undefined && this.resultId === analysisId;
  }

  /** Whether the host keeps full results (for the test API) besides what the webview gets. */
  get keepsTensors(): boolean {
    return this.host.recordMessages === true;
  }

  /** The analysis shown (no tensors). */
  get currentAnalysis(): AnalysisInfo | undefined {
    return this.info;
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
    this.dropAnalysis();
    this.analyzed = undefined;
    this.analyzedPair = undefined;
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
    this.dropAnalysis();
    this.analyzed = undefined;
    this.analyzedPair = undefined;
    if (this.panel) this.panel.title = vscode.l10n.t('Attention');
    this.post({ type: 'error', message, clearsResult: true });
  }

  /** The shown analysis is replaced or gone: its requests stop and the engine may drop it. */
  private dropAnalysis(): void {
    for (const c of this.requests.values()) c.abort();
    this.requests.clear();
    if (this.info) this.host.forget(this.resultId);
    this.info = undefined;
    this.full = undefined;
    this.summaries = undefined;
    this.shownMessage = undefined;
    this.comparison = undefined;
  }

  /**
   * Shows analysis `analysisId` (kept by the engine) for `text` found at `offset` in `document`
   * (and the pair's second text). The webview gets its summaries (every block's, for an
   * encoder-decoder) and asks for the views it shows; no tensor is posted. `result` (every tensor)
   * is kept here for the test API only.
   */
  showAnalysis(
    analysis: { analysisId: number; info: AnalysisInfo; summaries: BlockSummaries[]; result?: AttentionResult },
    /** Where the text is; undefined for the probe, whose tokens are in no document. */
    document: vscode.TextDocument | undefined,
    offset: number,
    pair?: PairSource,
  ): void {
    this.open();
    const info = analysis.info;
    if (this.info && this.resultId === analysis.analysisId && this.shownMessage?.type === 'analysis') {
      // The same analysis, further along (its pass went on while the panel showed the first layers).
      this.info = info;
      this.full = analysis.result;
      this.shownMessage = { ...this.shownMessage, analysis: info, summaries: analysis.summaries };
      this.post({ type: 'summaries', resultId: this.resultId, summaries: analysis.summaries });
      return;
    }
    this.decorations.clear();
    this.dropAnalysis();
    this.info = info;
    this.full = analysis.result;
    this.resultId = analysis.analysisId;
    this.summaries = analysis.summaries;
    this.analyzed = document && new AnalyzedText(document, offset, info.text, info.tokens);
    this.analyzedPair = pair?.document && pair.offset !== undefined ? new AnalyzedText(pair.document, pair.offset, pair.text, info.tokens, 1) : undefined;
    const pairField = pair ? { pair: { text: pair.text } } : {};
    this.shownMessage = { type: 'analysis', resultId: this.resultId, analysis: info, summaries: analysis.summaries, ...pairField };
    this.post(this.shownMessage);
    this.panel!.title = info.probe ? vscode.l10n.t('Attention: {0} (probe)', info.model.name) : vscode.l10n.t('Attention: {0}', info.model.name);
    const editor = vscode.window.activeTextEditor;
    if (document && editor?.document === document) this.postCursor(editor.selection.active, false);
  }


  /**
   * Compare With…: shows B (`other`) beside analysis `analysisId` (the compare tab), with A's tensors
   * (`base`), until the next analysis; nothing when the panel moved on meanwhile.
   */
  showComparison(analysisId: number, base: AttentionResult, other: AttentionResult, kind: CompareKind): void {
    if (!this.shows(analysisId)) return;
    this.open();
    this.comparison = { base, other, kind };
    this.post({ type: 'compare', resultId: this.resultId, base, other, kind });
  }

  /** The comparison shown with the current analysis, if any. */
  get currentComparison(): { base: AttentionResult; other: AttentionResult; kind: CompareKind } | undefined {
    return this.comparison;
  }

  /** The analysis id of what is shown, if anything is. */
  get currentAnalysisId(): number | undefined {
    return this.info ? this.resultId : undefined;
  }

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
    return resultId === this.resultId && this.info !== undefined;
  }

  private validIndex(index: number): boolean {
    return this.info !== undefined && index < this.info.tokens.length;
  }

  /** Answers a view request of the webview, tied to its request id; a reply for an analysis no longer shown is not sent. */
  private async answer(requestId: number, resultId: number, request: ViewRequest): Promise<void> {
    if (!this.isCurrent(resultId)) {
      this.post({ type: 'replyError', requestId, resultId, message: vscode.l10n.t('This analysis is no longer shown.') });
      return;
    }
    const controller = new AbortController();
    this.requests.get(requestId)?.abort();
    this.requests.set(requestId, controller);
    try {
      const reply = await this.host.view(resultId, request, controller.signal);
      if (this.isCurrent(resultId) && !controller.signal.aborted) this.post({ type: 'reply', requestId, resultId, reply });
    } catch (err) {
      if (controller.signal.aborted || !this.isCurrent(resultId)) return;
      this.post({ type: 'replyError', requestId, resultId, message: localizeError(errorParts(err)) });
    } finally {
      if (this.requests.get(requestId) === controller) this.requests.delete(requestId);
    }
  }

  private async handle(message: WebviewToHost): Promise<void> {
    switch (message.type) {
      case 'ready':
        if (this.shownMessage) {
          this.post(this.shownMessage);
          if (this.analyzed?.isStale) this.post({ type: 'stale', resultId: this.resultId, stale: true, reason: this.staleReason });
          if (this.comparison) this.post({ type: 'compare', resultId: this.resultId, ...this.comparison });
        }
        return;
      case 'request':
        return this.answer(message.requestId, message.resultId, message.request);
      case 'cancel':
        this.requests.get(message.requestId)?.abort();
        this.requests.delete(message.requestId);
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
        if (!this.validIndex(message.index) || message.weights.length !== this.info!.tokens.length) return;
        this.decorations.show(this.analyzed, message.index, message.weights);
        return;
      case 'requestHeadVectors': {
        if (!this.isCurrent(message.resultId)) return;
        // Each block has its own layer and head counts (an encoder-decoder's decoder may differ).
        const blocks = this.info!.blocks;
        const block = blocks.find((b) => b.kind === (message.block ?? blocks[0].kind));
        if (!block || message.layer >= block.layers || message.head >= block.heads) return;
        const resultId = this.resultId;
        // The q, k, v of THIS analysis: the engine keeps it, whatever ran since.
        const reply = await this.host.view(resultId, { kind: 'headVectors', block: block.kind, layer: message.layer, head: message.head }, new AbortController().signal);
        if (this.isCurrent(resultId) && reply.kind === 'headVectors') this.post({ type: 'headVectors', resultId, vectors: reply.vectors });
        return;
      }
      case 'editTarget':
        if (this.info?.decoderTokens) this.host.editTarget?.();
        return;
      case 'export':
        return this.saveExport(message.format, message.data, message.suggestedName, message.block);
      case 'copyImage':
        // The webview writes the clipboard itself; this is its fallback when the platform refuses.
        void vscode.window.showInformationMessage(vscode.l10n.t('This platform does not let the panel put images on the clipboard: choose where to save the PNG instead.'));
        return this.saveExport('png', message.data, this.imageFallbackName());
      case 'exportHtml':
        if (!this.isCurrent(message.resultId)) return;
        return this.saveInteractiveHtml(message.state as HtmlExportRequest['state'], message.suggestedName);
      case 'copyPython':
        if (!this.info) return;
        await vscode.env.clipboard.writeText(pythonSnippet(this.info, message.view));
        void vscode.window.showInformationMessage(vscode.l10n.t('Copied a Python snippet that reproduces these attentions with transformers.'));
        return;
      case 'recompute':
        this.host.recompute();
        return;
    }
  }

  private async revealToken(index: number, queryIndex?: number): Promise<void> {
    const analyzed = this.analyzed;
    if (!analyzed && this.info?.probe) {
      void vscode.window.showInformationMessage(vscode.l10n.t('The probe’s random tokens are in no document, so they link to no text.'));
      return;
    }
    if (!analyzed || analyzed.isStale) {
      void vscode.window.showWarningMessage(vscode.l10n.t('The text changed since it was analyzed; recompute to link tokens to the editor again.'));
      return;
    }
    const token = this.info?.tokens[index];
    const target = token?.segment === 1 ? this.analyzedPair : analyzed;
    const range = target?.tokenRange(index);
    if (!target || !range) return; // special tokens (and a pair text from the clipboard) cover no text
    const visible = vscode.window.visibleTextEditors.find((e) => e.document === target.document);
    const editor = await vscode.window.showTextDocument(target.document, { viewColumn: visible?.viewColumn ?? vscode.ViewColumn.One, preserveFocus: false });
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    if (queryIndex !== undefined && this.info && target === analyzed) {
      // A cell: the key is selected, the query is outlined, and keys are painted with the query's row.
      const n = this.info.tokens.length;
      this.decorations.show(analyzed, queryIndex, Array.from({ length: n }, (_, j) => (j === index ? 1 : 0)));
    }
  }

  private async saveExport(format: ExportFormat, data: string, suggestedName: string, block?: AttentionBlockKind): Promise<void> {
    if (!this.info) return;
    let bytes: Uint8Array;
    if (format === 'npy') {
      // The block's own [layers, heads, queries, keys] tensor (an encoder-decoder has three), from the engine unless held here.
      const kind = block ?? this.info.blocks[0].kind;
      const a = this.full ? (attentionBlocks(this.full).find((b) => b.kind === kind) ?? attentionBlocks(this.full)[0]).attentions : await this.host.tensor(this.resultId, kind);
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

  /** "Export Interactive HTML" from the command palette: the webview answers with its view state. */
  requestHtmlExport(): boolean {
    if (!this.info || !this.panel) return false;
    this.panel.reveal(undefined, true);
    this.post({ type: 'requestExportHtml' });
    return true;
  }

  /** The shown analysis with every tensor: held here, or asked of the engine block by block. */
  async fullResult(): Promise<AttentionResult> {
    if (this.full) return this.full;
    const resultId = this.resultId;
    return fullResultOf(this.info!, this.summaries, (kind) => this.host.tensor(resultId, kind));
  }

  private async saveInteractiveHtml(state: HtmlExportRequest['state'], suggestedName: string): Promise<void> {
    const result = await this.fullResult();
    const read = async (parts: readonly string[]) => new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(this.extensionUri, ...parts)));
    const assets = { script: await read(HTML_EXPORT_ASSETS.script), css: await read(HTML_EXPORT_ASSETS.css) };
    let built: ReturnType<typeof buildInteractiveHtml>;
    try {
      const pair = this.shownMessage && 'pair' in this.shownMessage ? this.shownMessage.pair : undefined;
      built = buildInteractiveHtml({ result, state, ...(pair ? { pair } : {}) }, assets);
    } catch (err) {
      if (err instanceof HtmlExportTooLarge) {
        void vscode.window.showWarningMessage(err.message);
        return;
      }
      throw err;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(os.homedir());
    const name = suggestedName.endsWith('.html') ? suggestedName : `${suggestedName}.html`;
    const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.joinPath(folder, name), filters: { 'HTML page': ['html'] }, title: 'Export Interactive HTML' });
    if (!target) return;
    const bytes = new TextEncoder().encode(built.html);
    await vscode.workspace.fs.writeFile(target, bytes);
    this.host.log(`Exported interactive HTML to ${target.fsPath} (${bytes.byteLength} bytes, other heads as ${built.quantisation})`);
    const open = await vscode.window.showInformationMessage(vscode.l10n.t('Saved {0}: opens offline in any browser.', vscode.workspace.asRelativePath(target)), vscode.l10n.t('Reveal'));
    if (open) void vscode.commands.executeCommand('revealFileInOS', target);
  }

  private imageFallbackName(): string {
    const name = this.info?.model.name.split(/[\\/]/).pop() ?? 'attention';
    return `attention-${name}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}.png`.replace(/[\\/:*?"<>|]/g, '-');
  }

  dispose(): void {
    this.panel?.dispose();
    this.decorations.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
