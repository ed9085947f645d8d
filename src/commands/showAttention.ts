/**
 * "Attention Inspector: Show Attention": takes the primary selection (or the current line), makes
 * sure the configured model is loaded in the worker, computes the attention with progress and
 * Cancel, and shows it in the panel. A new invocation supersedes one still running.
 */
import * as vscode from 'vscode';
import { modelOrigin } from '../hub';
import { compareSizeProblem } from '../analysis/compare';
import type { AnalyzeOptions, AttentionResult, GenerateOptions } from '../protocol/types';
import type { AnalysisInfo } from '../protocol/views';
import { fullResultOf } from '../analysis/fullResult';
import type { Notifier } from '../notifications';
import type { AttentionPanel, PairSource } from '../panel/attentionPanel';
import { EngineRequestError, type EngineClient, type KeptReply } from '../worker/engineClient';
import type { DecoderTexts } from './decoderText';
import type { ModelResolver } from './modelResolver';
import { PhasedProgress } from './progress';
import { errorParts, localizeError } from '../l10n/errors';
import { uiLanguage } from '../l10n/runtime';

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
  /** "Continue and Show Attention": continue the text greedily first, then show prompt + generated tokens. */
  generate?: GenerateOptions;
}

/** Error codes (engine or model source) for which picking another model is the helpful action. */
const MODEL_PROBLEMS = new Set([
  'unsupported-architecture', 'pickle-only', 'missing-file', 'bad-checkpoint', 'invalid-spec', 'folder-not-found', 'no-config',
  'no-safetensors', 'incomplete-weights', 'no-tokenizer', 'repo-not-found', 'revision-not-found', 'offline-not-cached', 'engine-crashed',
]);
/** Error codes for which a Hugging Face token is the fix. */
const TOKEN_PROBLEMS = new Set(['unauthorized', 'invalid-token']);

interface RunContext {
  engine: EngineClient;
  model: Awaited<ReturnType<ModelResolver['resolve']>>;
  signal: AbortSignal;
  bar: PhasedProgress;
  started: number;
  /** The panel shows analysis `id` before its pass ended (progressive summaries): a failure then takes it off. */
  showedEarly: (id: number) => void;
}

/** The text analysis the panel shows, and what analyzes it again under its id (after Compare With… loaded another model). */
interface Shown {
  analysisId: number;
  text: string;
  options: AnalyzeOptions;
  /** The model spec it was analyzed with ('' = built-in). */
  spec: string;
}

/** Compare With…: B's text and model, and why B cannot be set against A (checked once B's tokens are known). */
export interface CompareRequest {
  text: string;
  /** B's model spec (the same as A's for another text). */
  spec: string;
  sameText: boolean;
  problem: (b: AnalysisInfo) => string | null;
}

export class ShowAttention {
  private running: AbortController | undefined;
  private shown: Shown | undefined;
  /** Set while Compare With… has another model loaded: resolves once the panel's analysis is kept again. */
  private restoring: Promise<void> | undefined;
  /** Show Attention runs started (a compare does not make A whole again once a newer text is on its way). */
  private showRuns = 0;
  /** How the result on screen was made: generated (Continue and Show Attention) or not; a recompute after an edit does the same. */
  private shownGenerate: GenerateOptions | undefined;

  constructor(
    private readonly engine: () => EngineClient,
    private readonly panel: AttentionPanel,
    private readonly models: ModelResolver,
    private readonly notifier: Notifier,
    /** Called with each request that produced a result (the panel serializer re-runs the last one). */
    private readonly onShown: (request: AnalysisRequest) => void = () => {},
    private readonly decoderTexts?: DecoderTexts,
  ) {}

  /** The command: from the active editor's primary selection, or its current line. `generate`: Continue and Show Attention. */
  async fromEditor(editor: vscode.TextEditor | undefined = vscode.window.activeTextEditor, generate?: GenerateOptions): Promise<void> {
    if (!editor) {
      await this.notifier.notify('warning', generate ? vscode.l10n.t('Open a file and select the text to continue, then run Continue and Show Attention.') : vscode.l10n.t('Open a file and select the text to analyze, then run Show Attention.'));
      return;
    }
    const document = editor.document;
    let range: vscode.Range = editor.selection;
    if (editor.selection.isEmpty) {
      range = document.lineAt(editor.selection.active.line).range;
      void vscode.window.setStatusBarMessage(`$(info) ${vscode.l10n.t('Attention Inspector: no selection, analyzing line {0}', range.start.line + 1)}`, 5000);
      this.notifier.log(`No selection: analyzing line ${range.start.line + 1}`);
    }
    const text = document.getText(range);
    if (text.trim().length === 0) {
      await this.notifier.notify('warning', editor.selection.isEmpty ? vscode.l10n.t('Line {0} is empty: select the text to analyze.', range.start.line + 1) : vscode.l10n.t('The selection is only whitespace: select the text to analyze.'));
      return;
    }
    await this.run({ document, offset: document.offsetAt(range.start), text, askTarget: !generate, ...(generate ? { generate } : {}) });
  }

  /** "Continue and Show Attention": greedy continuation of the selection for attentionInspector.generateTokens tokens. */
  async continueFromEditor(editor: vscode.TextEditor | undefined = vscode.window.activeTextEditor): Promise<void> {
    await this.fromEditor(editor, { maxNewTokens: configuredGenerateTokens() });
  }

  /** The model spec the panel's analysis was made with (Compare With… another text uses it too). */
  get shownSpec(): string {
    return this.shown?.spec ?? this.models.spec;
  }

  /** Views of the panel's analysis wait while Compare With… has another model loaded (the engine holds one model). */
  async whenShownKept(): Promise<void> {
    await this.restoring;
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
    const spec = this.models.spec;
    await this.execute(async ({ engine, model, signal, bar, started, showedEarly }) => {
      if (request.generate) {
        bar.report('analyze', 'Generating…', 0);
        const analysis = await engine.generateKept(request.text, request.generate, { signal, onProgress: (message, fraction) => bar.report('analyze', message, fraction), withTensors: this.panel.keepsTensors });
        const g = analysis.info.generation;
        const how = `${g?.stoppedBy === 'eos' ? ' (stopped at the end-of-sequence token)' : g?.stoppedBy === 'max-positions' ? " (stopped at the model's longest sequence)" : ''}${g?.settings.length ? ` with generation_config.json's ${g.settings.join(', ')}` : ''}`;
        if (!this.show(engine, analysis, model, signal, `Generated ${g?.newIds.length ?? 0} tokens greedily with ${analysis.info.model.name}${how} in ${analysis.info.timings.computeMs.toFixed(0)} ms (total ${Date.now() - started} ms)`, request)) return;
        this.shownGenerate = request.generate;
        this.shown = undefined;
        this.onShown(request);
        return;
      }
      let options = request.options ?? {};
      const loadedModel = engine.currentModel;
      if (loadedModel?.decoder && options.target === undefined) {
        const target = request.askTarget && this.decoderTexts ? await this.decoderTexts.ask(loadedModel) : this.decoderTexts?.remembered(loadedModel) ?? '';
        if (target === undefined || signal.aborted) {
          this.notifier.log('No decoder text given: nothing analyzed');
          return;
        }
        options = { ...options, target };
      }
      const computing = vscode.l10n.t('Computing attention…');
      bar.report('analyze', computing, 0);
      // The engine keeps the analysis (an encoder-decoder's three blocks too); the panel asks for
      // views. The test API keeps the tensors in the host as well, never posted to the webview.
      const origin = modelOrigin(model);
      const analysis = await engine.analyzeKept(request.text, options, {
        signal,
        onProgress: (message, fraction) => bar.report('analyze', engineProgress(message, computing), fraction),
        withTensors: this.panel.keepsTensors,
        // Progressive: the panel opens on the first layers' summaries and fills in while the pass runs.
        onSummaries: (analysisId, info, summaries) => {
          if (signal.aborted) return;
          showedEarly(analysisId);
          this.panel.showAnalysis({ analysisId, info: { ...info, origin }, summaries }, request.document, request.offset, request.pair);
        },
      });
      this.shownGenerate = undefined;
      if (!this.show(engine, analysis, model, signal, `Analyzed ${analysis.info.tokens.length} tokens with ${analysis.info.model.name} in ${analysis.info.timings.computeMs.toFixed(0)} ms (total ${Date.now() - started} ms)`, request)) return;
      this.shown = { analysisId: analysis.analysisId, text: request.text, options, spec };
      this.onShown(request);
    }, (error, signal) => this.report(error, request, signal));
  }

  /**
   * "Probe Heads with Repeated Random Tokens": `length` seeded random tokens written twice, through
   * the configured model; the panel opens on the heads ranked by induction score.
   */
  async probe(length: number, seed: number): Promise<void> {
    await this.execute(async ({ engine, model, signal, bar, started }) => {
      const probing = vscode.l10n.t('Probing with {0} random tokens repeated twice (seed {1})…', length, seed);
      bar.report('analyze', probing, 0);
      const analysis = await engine.probeKept(length, seed, { signal, onProgress: (message, fraction) => bar.report('analyze', engineProgress(message, probing), fraction), withTensors: this.panel.keepsTensors });
      this.show(engine, analysis, model, signal, `Probed ${analysis.info.model.name} with ${analysis.info.tokens.length} tokens (${length} random tokens twice, seed ${seed}) in ${Date.now() - started} ms`);
    }, (error, signal) => this.report(error, undefined, signal));
  }

  /** Shows a kept analysis (with the model's origin for Copy as Python) unless the run was cancelled; false when it was. */
  private show(engine: EngineClient, analysis: KeptReply, model: RunContext['model'], signal: AbortSignal, log: string, request?: AnalysisRequest): boolean {
    if (signal.aborted) {
      engine.forget(analysis.analysisId);
      return false;
    }
    const origin = modelOrigin(model);
    const info = { ...analysis.info, origin };
    const result = analysis.result && { ...analysis.result, origin };
    this.notifier.log(log);
    this.panel.showAnalysis({ ...analysis, info, result }, request?.document, request?.offset ?? 0, request?.pair);
    return true;
  }

  /**
   * Finds and loads the configured model (progress with Cancel), then runs `work`, superseding any
   * run still going. Resolves when the run has ended; a failure is reported after the progress
   * notification closed, and its notification is not waited for (it waits for the user), so neither
   * the progress nor its status-bar spinner outlives the run.
   */
  private async execute(work: (run: RunContext) => Promise<void>, onFailure: (error: unknown, signal: AbortSignal) => Promise<void>): Promise<void> {
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    this.showRuns++;
    const started = Date.now();
    const failure = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Attention Inspector', cancellable: true },
      async (progress, token): Promise<{ error: unknown } | undefined> => {
        token.onCancellationRequested(() => controller.abort());
        const bar = new PhasedProgress((value) => progress.report(value));
        let early: number | undefined;
        try {
          bar.report('download', vscode.l10n.t('Finding the model…'));
          const model = await this.models.resolve(controller.signal, (message, fraction) => bar.report('download', message, fraction));
          const engine = this.engine();
          await this.ensureLoaded(engine, model, controller.signal, bar, (loading) => this.panel.showBusy(loading));
          await work({ engine, model, signal: controller.signal, bar, started, showedEarly: (id) => (early = id) });
          return undefined;
        } catch (error) {
          // A pass stopped after the panel showed its first layers: that partial analysis is not kept.
          if (early !== undefined && this.panel.shows(early)) this.panel.showError(controller.signal.aborted ? vscode.l10n.t('The analysis was cancelled before it finished.') : localizeError(errorParts(error)));
          return { error };
        } finally {
          if (this.running === controller) this.running = undefined;
        }
      },
    );
    if (failure) void onFailure(failure.error, controller.signal);
  }

  /**
   * Compare With…: A's tensors from the engine first (it holds one model: B's may replace A's), then
   * B analyzed (another text, or the same text under `spec`) and its tensors, each within
   * COMPARE_MAX_BYTES; then A is analyzed again under its own id if B's model replaced it, so the
   * panel's views and step by step keep answering for A. Resolves with both results, or undefined
   * when refused, cancelled or failed (said to the user here).
   */
  async compare(request: CompareRequest): Promise<{ analysisId: number; base: AttentionResult; other: AttentionResult } | undefined> {
    const shown = this.shown;
    const info = this.panel.currentAnalysis;
    if (!shown || !info || !this.panel.shows(shown.analysisId)) {
      await this.notifier.notify('warning', 'Nothing to compare yet: run Show Attention on a text first, then Compare With… another model or another text.');
      return undefined;
    }
    const size = (i: AnalysisInfo, tokens = i.tokens.length) => ({ layers: i.model.numLayers, heads: i.model.numHeads, tokens });
    // Before anything is computed: A's own size (and B's too where B is the same text).
    const early = compareSizeProblem(size(info), size(info, request.sameText ? info.tokens.length : 1));
    if (early) {
      await this.notifier.notify('error', early);
      return undefined;
    }
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    const signal = controller.signal;
    const runs = this.showRuns;
    const superseded = () => this.showRuns !== runs || !this.panel.shows(shown.analysisId);
    let replaced = false;
    let release = () => {};
    let gate: Promise<void> | undefined;
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Attention Inspector: Compare', cancellable: true },
      async (progress, token): Promise<{ result?: { base: AttentionResult; other: AttentionResult }; problem?: string; error?: unknown }> => {
        token.onCancellationRequested(() => controller.abort());
        const bar = new PhasedProgress((value) => progress.report(value));
        try {
          bar.report('download', 'Fetching the attention shown (A)…');
          const base = await this.panel.fullResult();
          bar.report('download', 'Finding the model…');
          const model = await this.models.resolve(signal, (message, fraction) => bar.report('download', message, fraction), request.spec);
          const engine = this.engine();
          await this.ensureLoaded(engine, model, signal, bar, () => {
            // A's analysis goes with its model: the panel's views wait until it is analyzed again.
            replaced = true;
            this.restoring = gate = new Promise<void>((resolve) => (release = resolve));
          });
          bar.report('analyze', 'Computing attention (B)…', 0);
          // The same text keeps A's options (a truncation, the decoder text); another text starts afresh.
          const options: AnalyzeOptions = request.sameText ? shown.options : {};
          const kept = await engine.analyzeKept(request.text, options, { signal, onProgress: (message, fraction) => bar.report('analyze', message, fraction) });
          try {
            const problem = request.problem(kept.info) ?? compareSizeProblem(size(info), size(kept.info));
            if (problem) return { problem };
            const other = await fullResultOf(kept.info, kept.summaries, async (block) => {
              const reply = await engine.view(kept.analysisId, { kind: 'tensor', block }, signal);
              if (reply.kind !== 'tensor') throw new Error('The engine sent no tensor.');
              return reply.tensor;
            });
            this.notifier.log(`Compare: analyzed ${other.tokens.length} tokens with ${other.model.name}`);
            return { result: { base, other: { ...other, origin: modelOrigin(model) } } };
          } finally {
            engine.forget(kept.analysisId);
          }
        } catch (error) {
          return { error };
        } finally {
          // Cancelled or not, A is made whole again — unless a newer Show Attention took over (it shows another analysis).
          if (replaced && !superseded()) {
            bar.report('load', 'Loading the model of the text shown (A) again…', 0);
            await this.reanalyze(shown).catch((err: unknown) => {
              if (!superseded()) this.panel.showError(`The analysis shown could not be made again after Compare With…: ${err instanceof Error ? err.message : String(err)}`);
            });
          }
          if (this.running === controller) this.running = undefined;
          if (gate && this.restoring === gate) this.restoring = undefined;
          release();
        }
      },
    );
    if (outcome.problem) {
      await this.notifier.notify('error', outcome.problem);
      return undefined;
    }
    if (outcome.error !== undefined) {
      const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      const code = String((outcome.error as { info?: { code?: unknown } })?.info?.code ?? (outcome.error as { code?: unknown })?.code ?? '');
      if (code === 'cancelled' || signal.aborted) this.notifier.log(`Compare cancelled: ${message}`);
      else void this.notifier.notify('error', `Compare With…: ${message}`, 'Open Log').then((action) => action === 'Open Log' && this.notifier.channel.show());
      return undefined;
    }
    return outcome.result && { analysisId: shown.analysisId, ...outcome.result };
  }

  /** Loads `model` in the engine unless it is loaded (with this memory limit); `beforeLoad` runs only when it loads. */
  private async ensureLoaded(engine: EngineClient, model: RunContext['model'], signal: AbortSignal, bar?: PhasedProgress, beforeLoad: (loading: string) => void = () => {}): Promise<void> {
    const memoryLimitGB = configuredMemoryLimitGB();
    if (engine.isLoaded(model.folder, memoryLimitGB)) return;
    const loading = vscode.l10n.t('Loading {0}…', model.name);
    beforeLoad(loading);
    bar?.report('load', loading, 0);
    const loaded = await engine.load(model.folder, { name: model.name, source: model.source, memoryLimitGB }, { signal, onProgress: (message, fraction) => bar?.report('load', engineProgress(message, loading), fraction) });
    this.notifier.log(`Loaded ${model.name} (${loaded.model.modelType}, ${loaded.model.numLayers} layers × ${loaded.model.numHeads} heads) in ${loaded.loadMs.toFixed(0)} ms`);
  }

  /** Loads the model of `shown` and analyzes its text again under its own analysis id (not cancellable: the panel shows it). */
  private async reanalyze(shown: Shown): Promise<void> {
    const signal = new AbortController().signal;
    const model = await this.models.resolve(signal, () => {}, shown.spec);
    const engine = this.engine();
    await this.ensureLoaded(engine, model, signal);
    await engine.analyzeKept(shown.text, shown.options, { signal, withTensors: this.panel.keepsTensors, reuseId: shown.analysisId });
    this.notifier.log(`Compare: ${model.name} loaded again; the analysis shown is kept again`);
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
      await this.notifier.notify('warning', vscode.l10n.t('The analyzed document was closed; select text again and run Show Attention.'));
      return;
    }
    const length = document.getText().length;
    const start = Math.min(info.range.start, length);
    const end = Math.min(Math.max(info.range.end, start), length);
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
    const generate = askTarget ? undefined : this.shownGenerate;
    if (editor && !editor.selection.isEmpty && editor.selection.contains(document.positionAt(start)) && !askTarget) return this.fromEditor(editor, generate);
    const text = document.getText(new vscode.Range(document.positionAt(start), document.positionAt(end)));
    if (text.trim().length === 0) {
      await this.notifier.notify('warning', vscode.l10n.t('The analyzed text was deleted: select text again and run Show Attention.'));
      return;
    }
    await this.run({ document, offset: start, text, askTarget, ...(generate ? { generate } : {}) });
  }

  /** Reports a failed run with the action that helps; `request` is the text's (undefined for the probe). */
  private async report(err: unknown, request: AnalysisRequest | undefined, signal: AbortSignal): Promise<void> {
    const info = err instanceof EngineRequestError ? err.info : undefined;
    const code = String(info?.code ?? (err as { code?: unknown })?.code ?? '');
    const english = err instanceof Error ? err.message : String(err);
    if (code === 'cancelled' || signal.aborted) {
      this.notifier.log(`Cancelled: ${english}`);
      return;
    }
    const message = localizeError({ ...errorParts(err), code });
    this.panel.showError(message);
    const openLog = vscode.l10n.t('Open Log');
    const selectModel = vscode.l10n.t('Select Model');
    if (code === 'too-long' && info?.limit && request) {
      const analyzeFirst = vscode.l10n.t('Analyze First {0} Tokens', info.limit);
      const action = await this.notifier.notify('error', message, analyzeFirst, openLog);
      if (action === analyzeFirst) await this.run({ ...request, askTarget: false, options: { ...request.options, truncateTo: info.limit } });
      else if (action === openLog) this.notifier.channel.show();
      return;
    }
    if (code === 'memory-limit') {
      const openSettings = vscode.l10n.t('Open Settings');
      const action = await this.notifier.notify('error', message, openSettings, selectModel);
      if (action === openSettings) void vscode.commands.executeCommand('workbench.action.openSettings', 'attentionInspector.memoryLimitGB');
      else if (action === selectModel) void vscode.commands.executeCommand('attentionInspector.selectModel');
      return;
    }
    const setToken = vscode.l10n.t('Set Hugging Face Token');
    const actions = TOKEN_PROBLEMS.has(code) ? [setToken, selectModel] : MODEL_PROBLEMS.has(code) ? [selectModel, openLog] : [openLog];
    const action = await this.notifier.notify('error', message, ...actions);
    if (action === selectModel) void vscode.commands.executeCommand('attentionInspector.selectModel');
    else if (action === setToken) void vscode.commands.executeCommand('attentionInspector.setHuggingFaceToken');
    else if (action === openLog) this.notifier.channel.show();
  }
}

/** `attentionInspector.generateTokens`: how many tokens Continue and Show Attention adds (default 16). */
function configuredGenerateTokens(): number {
  const value = vscode.workspace.getConfiguration('attentionInspector').get<number>('generateTokens', 16);
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? Math.min(value, 1024) : 16;
}

/**
 * The engine reports its progress in English ("Building layers 1–4 of 16"); in another UI language
 * the phase's own translated text is shown instead (the bar still moves with the engine's fractions).
 */
function engineProgress(message: string, translated: string): string {
  return uiLanguage().toLowerCase().startsWith('en') ? message : translated;
}

/** `attentionInspector.memoryLimitGB` (a machine setting), or undefined for the engine's default (half the machine's memory). */
function configuredMemoryLimitGB(): number | undefined {
  const value = vscode.workspace.getConfiguration('attentionInspector').get<number | null>('memoryLimitGB', null);
  return typeof value === 'number' && value > 0 ? value : undefined;
}
