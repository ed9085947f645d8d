/**
 * Extension entry point: wires the command, the engine worker, the panel and the model settings.
 * The engine runs in a worker thread started on first use and stopped when the panel closes.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from './protocol/api';
import { COMPARE_COMMAND, CompareWith } from './commands/compareWith';
import { DecoderTexts } from './commands/decoderText';
import { ModelResolver } from './commands/modelResolver';
import { ShowAttention, type AnalysisRequest } from './commands/showAttention';
import { PROBE_COMMAND, probeParameters } from './commands/probeHeads';
import { registerModelCommands } from './commands/selectModel';
import { SHOW_PAIR_COMMAND, showAttentionBetweenSelections } from './commands/showPair';
import { Notifier } from './notifications';
import { AttentionPanel, PANEL_VIEW_TYPE } from './panel/attentionPanel';
import { disableOnnxruntimeTelemetry } from './engine/telemetry';
import { WEIGHT_CACHE_ENV } from './engine/budget';
import { EngineClient } from './worker/engineClient';
import { setL10nBundle } from './l10n/runtime';
import { openSampleText, OPEN_SAMPLE_COMMAND } from './commands/sample';

const LAST_REQUEST_KEY = 'attentionInspector.lastRequest';

interface StoredRequest {
  uri: string;
  offset: number;
  text: string;
}

export function activate(context: vscode.ExtensionContext): AttentionInspectorApi {
  // In the host's main thread, before the engine creates its first onnxruntime session (README, Privacy).
  disableOnnxruntimeTelemetry();
  // Large models keep their float32 weights converted in the extension's storage (the engine
  // process inherits this; src/engine/onnx/weightCache.ts). Never in the model folder.
  process.env[WEIGHT_CACHE_ENV] ??= path.join(context.globalStorageUri.fsPath, 'weight-cache');
  // Modules without `vscode` (model picker entries, error texts) translate from the same bundle as vscode.l10n.t.
  setL10nBundle(vscode.l10n.bundle ?? {}, vscode.env.language);
  const notifier = new Notifier();
  const log = (line: string) => notifier.log(line);
  let engine: EngineClient | undefined;
  const getEngine = () => (engine ??= new EngineClient(path.join(context.extensionPath, 'dist', 'worker.js'), log));
  const stopEngine = () => {
    const old = engine;
    engine = undefined;
    void old?.dispose();
  };

  const models = new ModelResolver(context, log);
  let show: ShowAttention;
  const panel = new AttentionPanel(context.extensionUri, {
    log,
    // The test API's message history holds every posted tensor: only for the extension-host tests.
    recordMessages: context.extensionMode === vscode.ExtensionMode.Test,
    // While Compare With… has another model loaded, the panel's analysis is on its way back: views wait for it.
    view: async (analysisId, request, signal) => {
      await show.whenShownKept();
      return getEngine().view(analysisId, request, signal);
    },
    tensor: async (analysisId, block) => {
      await show.whenShownKept();
      const reply = await getEngine().view(analysisId, { kind: 'tensor', block }, new AbortController().signal);
      if (reply.kind !== 'tensor') throw new Error('The engine sent no tensor.');
      return reply.tensor;
    },
    forget: (analysisId) => engine?.forget(analysisId),
    recompute: () => void show.recompute(),
    editTarget: () => void show.changeTarget(),
    onClosed: () => {
      show.cancel();
      stopEngine();
      log('Panel closed: engine stopped');
    },
  });
  const remember = (request: AnalysisRequest) => {
    const stored: StoredRequest = { uri: request.document.uri.toString(), offset: request.offset, text: request.text };
    void context.workspaceState.update(LAST_REQUEST_KEY, stored);
  };
  show = new ShowAttention(getEngine, panel, models, notifier, remember, new DecoderTexts(context.globalState));
  const compare = new CompareWith(show, panel, models, notifier);

  context.subscriptions.push(
    notifier,
    panel,
    { dispose: stopEngine },
    vscode.commands.registerCommand('attentionInspector.showAttention', () => show.fromEditor()),
    vscode.commands.registerCommand('attentionInspector.continueAndShowAttention', () => show.continueFromEditor()),
    vscode.commands.registerCommand('attentionInspector.showLog', () => notifier.channel.show()),
    vscode.commands.registerCommand(OPEN_SAMPLE_COMMAND, () => openSampleText()),
    vscode.commands.registerCommand('attentionInspector.exportHtml', () => {
      if (!panel.requestHtmlExport()) void notifier.notify('warning', vscode.l10n.t('Nothing to export yet: run Show Attention (or Probe Heads with Repeated Random Tokens) first.'));
    }),
    vscode.commands.registerCommand(PROBE_COMMAND, (args?: unknown) => {
      const { length, seed } = probeParameters(args);
      return show.probe(length, seed);
    }),
    vscode.commands.registerCommand(SHOW_PAIR_COMMAND, () => showAttentionBetweenSelections(show, notifier)),
    vscode.commands.registerCommand(COMPARE_COMMAND, (args?: unknown) => compare.run(args)),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // A different model: release the old one in the worker (the next run loads the new one) —
      // unless the panel shows an analysis of it: its views and step by step still need it, and
      // loading the new model replaces it anyway.
      const changed = e.affectsConfiguration('attentionInspector.model') || e.affectsConfiguration('attentionInspector.offline') || e.affectsConfiguration('attentionInspector.hubEndpoint');
      if (changed && !panel.currentAnalysis) void engine?.release();
    }),
    vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
      async deserializeWebviewPanel(webviewPanel) {
        panel.restore(webviewPanel);
        // Recompute the last result if its text is still where it was.
        const stored = context.workspaceState.get<StoredRequest>(LAST_REQUEST_KEY);
        if (!stored) return;
        try {
          const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(stored.uri));
          const range = new vscode.Range(document.positionAt(stored.offset), document.positionAt(stored.offset + stored.text.length));
          if (document.getText(range) === stored.text) await show.run({ document, offset: stored.offset, text: stored.text });
        } catch (err) {
          log(`Could not restore the last result: ${(err as Error).message}`);
        }
      },
    }),
  );
  registerModelCommands(context, models, notifier);

  return {
    currentResult: () => panel.currentResult,
    isPanelOpen: () => panel.isOpen,
    liveWorkerCount: () => EngineClient.liveWorkerCount(),
    sentToWebview: () => panel.sent,
    receiveFromWebview: (message) => panel.receive(message),
    notifications: () => notifier.history,
    isStale: () => panel.isStale,
  };
}

export function deactivate(): void {
  // Disposables registered on the context stop the worker and clear decorations.
}
