/**
 * "Attention Inspector: Show Attention": takes the primary selection (or the current line), makes
 * sure the configured model is loaded in the worker, computes the attention with progress and
 * Cancel, and shows it in the panel. A new invocation supersedes one still running.
 */
import * as vscode from 'vscode';
import { modelOrigin } from '../hub';
import type { AnalyzeOptions, AttentionResult } from '../protocol/types';
import type { ResolvedModel } from '../hub';
import type { Notifier } from '../notifications';
import type { AttentionPanel, PairSource } from '../panel/attentionPanel';
import { EngineRequestError, type EngineClient } from '../worker/engineClient';
import type { DecoderTexts } from './decoderText';
import type { ModelResolver } from './modelResolver';
import { PhasedProgress } from './progress';

export interface AnalysisRequest {
  document: vscode.TextDocument;
  /** Offset of the text in the document. */
  offset: number;
  text: string;
  options?: AnalyzeOptions;
  /**
   * For an encoder-decoder without `options.target`: ask for the decoder text (the command does);
   * otherwise (recompute, restore) the one remembered for the model is used.
   */
  askTarget?: boolean;
  /** Text B of a sentence pair (options.textPair holds the same text). */
  pair?: PairSource;
}

/** Error codes (engine or model source) for which picking another model is the helpful action. */
const MODEL_PROBLEMS = new Set([
  'unsupported-architecture', 'pickle-only', 'missing-file', 'bad-checkpoint', 'invalid-spec', 'folder-not-found', 'no-config',
  'no-safetensors', 'incomplete-weights', 'no-tokenizer', 'repo-not-found', 'revision-not-found', 'offline-not-cached', 'engine-crashed',
]);
/** Error codes for which a Hugging Face token is the fix. */
const TOKEN_PROBLEMS = new Set(['unauthorized', 'invalid-token']);

export class ShowAttention {
  private running: AbortController | undefined;
  /** The request behind the panel's result (decoder text included) and the model spec it was analyzed with. */
  private shown: { request: AnalysisRequest & { options: AnalyzeOptions }; spec: string } | undefined;
  /** False once the engine analyzed something other than the panel's result (Compare With…). */
  private engineHoldsShown = false;

  constructor(
    private readonly engine: () => EngineClient,
    private readonly panel: AttentionPanel,
    private readonly models: ModelResolver,
    private readonly notifier: Notifier,
    /** Called with each request that produced a result (the panel serializer re-runs the last one). */
    private readonly onShown: (request: AnalysisRequest) => void = () => {},
    private readonly decoderTexts?: DecoderTexts,
  ) {}

  /** The command: from the active editor's primary selection, or its current line. */
  async fromEditor(editor: vscode.TextEditor | undefined = vscode.window.activeTextEditor): Promise<void> {
    if (!editor) {
      await this.notifier.notify('warning', 'Open a file and select the text to analyze, then run Show Attention.');
      return;
    }
    const document = editor.document;
    let range: vscode.Range = editor.selection;
    if (editor.selection.isEmpty) {
      range = document.lineAt(editor.selection.active.line).range;
      void vscode.window.setStatusBarMessage(`$(info) Attention Inspector: no selection, analyzing line ${range.start.line + 1}`, 5000);
      this.notifier.log(`No selection: analyzing line ${range.start.line + 1}`);
    }
    const text = document.getText(range);
    if (text.trim().length === 0) {
      await this.notifier.notify('warning', editor.selection.isEmpty ? `Line ${range.start.line + 1} is empty: select the text to analyze.` : 'The selection is only whitespace: select the text to analyze.');
      return;
    }
    await this.run({ document, offset: document.offsetAt(range.start), text, askTarget: true });
  }

  /** The model spec the panel's result was analyzed with (Compare With… another text uses it too). */
  get shownSpec(): string {
    return this.shown?.spec ?? this.models.spec;
  }

  /** Stops the run in progress, if any. */
  cancel(): void {
    this.running?.abort();
  }

  /**
   * Analyzes a request, superseding any run still going. Resolves when the run has ended; a failure
   * is reported after the progress notification closed, and its notification is not waited for
   * (it waits for the user), so neither the progress nor its status-bar spinner outlives the run.
   */
  async run(request: AnalysisRequest): Promise<void> {
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    const started = Date.now();
    const failure = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Attention Inspector', cancellable: true },
      async (progress, token): Promise<{ error: unknown } | undefined> => {
        token.onCancellationRequested(() => controller.abort());
        const bar = new PhasedProgress((value) => progress.report(value));
        try {
          const computed = await this.compute(request, controller.signal, bar);
          if (!computed || controller.signal.aborted) return undefined;
          const { result } = computed;
          this.notifier.log(`Analyzed ${result.tokens.length} tokens with ${result.model.name} in ${result.timings.computeMs.toFixed(0)} ms (total ${Date.now() - started} ms)`);
          this.panel.showResult(result, request.document, request.offset, request.pair);
          this.shown = { request: { ...request, options: computed.options, askTarget: false }, spec: this.models.spec };
          this.engineHoldsShown = true;
          this.onShown(request);
          return undefined;
        } catch (error) {
          return { error };
        } finally {
          if (this.running === controller) this.running = undefined;
        }
      },
    );
    if (failure) void this.report(failure.error, request, controller.signal);
  }

  /**
   * Resolves the model (the configured one, or `spec`), loads it if needed and analyzes the request's
   * text; undefined when the user gave no decoder text. Shared by Show Attention and Compare With….
   */
  private async compute(
    request: AnalysisRequest,
    signal: AbortSignal,
    bar: PhasedProgress,
    spec?: string,
    /** Compare With…: the panel keeps showing A, so it is not told about loading B's model. */
    quiet = false,
  ): Promise<{ result: AttentionResult; model: ResolvedModel; options: AnalyzeOptions } | undefined> {
    bar.report('download', 'Finding the model…');
    const model = await this.models.resolve(signal, (message, fraction) => bar.report('download', message, fraction), spec);
    const engine = this.engine();
    const memoryLimitGB = configuredMemoryLimitGB();
    if (!engine.isLoaded(model.folder, memoryLimitGB)) {
      if (!quiet) this.panel.showBusy(`Loading ${model.name}…`);
      bar.report('load', `Loading ${model.name}…`, 0);
      const loaded = await engine.load(model.folder, { name: model.name, source: model.source, memoryLimitGB }, { signal, onProgress: (message, fraction) => bar.report('load', message, fraction) });
      this.notifier.log(`Loaded ${model.name} (${loaded.model.modelType}, ${loaded.model.numLayers} layers × ${loaded.model.numHeads} heads) in ${loaded.loadMs.toFixed(0)} ms`);
    }
    let options = request.options ?? {};
    const loadedModel = engine.currentModel;
    if (loadedModel?.decoder && options.target === undefined) {
      const target = request.askTarget && this.decoderTexts ? await this.decoderTexts.ask(loadedModel) : this.decoderTexts?.remembered(loadedModel) ?? '';
      if (target === undefined || signal.aborted) {
        this.notifier.log('No decoder text given: nothing analyzed');
        return undefined;
      }
      options = { ...options, target };
    }
    bar.report('analyze', 'Computing attention…', 0);
    // Whatever the engine analyzes next is no longer what the panel shows (step by step asks the engine).
    this.engineHoldsShown = false;
    const result = await engine.analyze(request.text, options, { signal, onProgress: (message, fraction) => bar.report('analyze', message, fraction) });
    return { result: { ...result, origin: modelOrigin(model) }, model, options };
  }

  /**
   * Compare With…: analyzes a second text, or the same text under the model `spec`, with progress
   * and Cancel, without showing it (the panel shows it beside the current result). Resolves with the
   * result, or undefined when cancelled or failed (the failure is reported like Show Attention's).
   */
  async analyzeOther(text: string, spec: string | undefined, document: vscode.TextDocument, offset: number): Promise<AttentionResult | undefined> {
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    const request: AnalysisRequest = { document, offset, text, options: this.shown?.request.options.target !== undefined ? { target: this.shown.request.options.target } : {} };
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Attention Inspector: Compare', cancellable: true },
      async (progress, token): Promise<{ result?: AttentionResult; error?: unknown }> => {
        token.onCancellationRequested(() => controller.abort());
        const bar = new PhasedProgress((value) => progress.report(value));
        try {
          const computed = await this.compute(request, controller.signal, bar, spec, true);
          return { result: controller.signal.aborted ? undefined : computed?.result };
        } catch (error) {
          return { error };
        } finally {
          if (this.running === controller) this.running = undefined;
        }
      },
    );
    if (outcome.error !== undefined) {
      const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      const code = String((outcome.error as { info?: { code?: unknown } })?.info?.code ?? (outcome.error as { code?: unknown })?.code ?? '');
      if (code === 'cancelled' || controller.signal.aborted) this.notifier.log(`Compare cancelled: ${message}`);
      else void this.notifier.notify('error', `Compare With…: ${message}`, 'Open Log').then((action) => action === 'Open Log' && this.notifier.channel.show());
      return undefined;
    }
    if (outcome.result) this.notifier.log(`Compare: analyzed ${outcome.result.tokens.length} tokens with ${outcome.result.model.name}`);
    return outcome.result;
  }

  /**
   * Makes the engine hold the panel's analysis again (after Compare With… analyzed something else),
   * so that step by step's q, k, v are of the text and model shown.
   */
  async restoreShown(): Promise<void> {
    if (this.engineHoldsShown || !this.shown) return;
    const controller = new AbortController();
    const bar = new PhasedProgress(() => {});
    await this.compute(this.shown.request, controller.signal, bar, this.shown.spec, true);
    this.engineHoldsShown = true;
  }

  /** Encoder-decoders ("Decoder text…" in the panel): asks for another decoder text and analyzes the same text again. */
  async changeTarget(): Promise<void> {
    const info = this.panel.analyzedTextInfo;
    if (!info) return;
    if (this.panel.isStale) return this.recompute(true);
    await this.run({ document: info.document, offset: info.offset, text: info.text, askTarget: true });
  }

  /**
   * Recomputes after the document changed: the analyzed text as edited (not the rest of its lines).
   * `askTarget`: ask for the decoder text again.
   */
  async recompute(askTarget = false): Promise<void> {
    const info = this.panel.analyzedTextInfo;
    if (!info) return;
    const document = info.document;
    if (document.isClosed) {
      await this.notifier.notify('warning', 'The analyzed document was closed; select text again and run Show Attention.');
      return;
    }
    const length = document.getText().length;
    const start = Math.min(info.range.start, length);
    const end = Math.min(Math.max(info.range.end, start), length);
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
    if (editor && !editor.selection.isEmpty && editor.selection.contains(document.positionAt(start)) && !askTarget) return this.fromEditor(editor);
    const text = document.getText(new vscode.Range(document.positionAt(start), document.positionAt(end)));
    if (text.trim().length === 0) {
      await this.notifier.notify('warning', 'The analyzed text was deleted: select text again and run Show Attention.');
      return;
    }
    await this.run({ document, offset: start, text, askTarget });
  }

  private async report(err: unknown, request: AnalysisRequest, signal: AbortSignal): Promise<void> {
    const info = err instanceof EngineRequestError ? err.info : undefined;
    const code = String(info?.code ?? (err as { code?: unknown })?.code ?? '');
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'cancelled' || signal.aborted) {
      this.notifier.log(`Cancelled: ${message}`);
      return;
    }
    this.panel.showError(message);
    if (code === 'too-long' && info?.limit) {
      const analyzeFirst = `Analyze First ${info.limit} Tokens`;
      const action = await this.notifier.notify('error', message, analyzeFirst, 'Open Log');
      if (action === analyzeFirst) await this.run({ ...request, askTarget: false, options: { ...request.options, truncateTo: info.limit } });
      else if (action === 'Open Log') this.notifier.channel.show();
      return;
    }
    if (code === 'memory-limit') {
      const action = await this.notifier.notify('error', message, 'Open Settings', 'Select Model');
      if (action === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'attentionInspector.memoryLimitGB');
      else if (action === 'Select Model') void vscode.commands.executeCommand('attentionInspector.selectModel');
      return;
    }
    const actions = TOKEN_PROBLEMS.has(code) ? ['Set Hugging Face Token', 'Select Model'] : MODEL_PROBLEMS.has(code) ? ['Select Model', 'Open Log'] : ['Open Log'];
    const action = await this.notifier.notify('error', message, ...actions);
    if (action === 'Select Model') void vscode.commands.executeCommand('attentionInspector.selectModel');
    else if (action === 'Set Hugging Face Token') void vscode.commands.executeCommand('attentionInspector.setHuggingFaceToken');
    else if (action === 'Open Log') this.notifier.channel.show();
  }
}

/** `attentionInspector.memoryLimitGB` (a machine setting), or undefined for the engine's default (half the machine's memory). */
function configuredMemoryLimitGB(): number | undefined {
  const value = vscode.workspace.getConfiguration('attentionInspector').get<number | null>('memoryLimitGB', null);
  return typeof value === 'number' && value > 0 ? value : undefined;
}
