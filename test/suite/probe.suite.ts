/**
 * "Probe Heads with Repeated Random Tokens" in a real VS Code: the command runs the engine's probe
 * on the configured model and shows it in the panel with its parameters; its tokens link to no
 * document. "Export Interactive HTML" with nothing shown says so.
 */
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import { fixtureFolder, getApi, resetWindow, setModel, waitFor } from './helpers';

describe('Probe Heads with Repeated Random Tokens', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;

  before(async () => {
    api = await getApi();
    await resetWindow(api);
  });

  after(async () => {
    await setModel(fixtureFolder('bert'));
    await resetWindow(api);
  });

  it('Export Interactive HTML with nothing shown asks for an analysis first', async () => {
    const before = api.notifications().length;
    await vscode.commands.executeCommand('attentionInspector.exportHtml');
    await waitFor(() => api.notifications().length > before, 'a notification');
    assert.match(api.notifications()[api.notifications().length - 1].message, /Nothing to export yet/);
  });

  it('runs the probe on the built-in model and opens the panel on it, with its parameters', async () => {
    await setModel('');
    await vscode.commands.executeCommand('attentionInspector.probeHeads', { length: 32, seed: 4 });
    await waitFor(() => api.currentResult()?.probe !== undefined, 'the probe result', 60_000);
    const result = api.currentResult()!;
    assert.deepStrictEqual({ length: result.probe!.length, seed: result.probe!.seed, prefix: result.probe!.prefix }, { length: 32, seed: 4, prefix: 1 });
    assert.strictEqual(result.tokens.length, 65);
    assert.deepStrictEqual(result.tokens.slice(1, 33).map((t) => t.id), result.tokens.slice(33).map((t) => t.id));
    assert.ok(api.isPanelOpen());
    // The panel gets the kept analysis (tokens, probe, summaries with the induction scores).
    const sent = api.sentToWebview().filter((m) => m.type === 'analysis').pop();
    assert.ok(sent && sent.type === 'analysis' && sent.analysis.probe?.seed === 4, `the panel was sent the probe: ${api.sentToWebview().map((m) => m.type).join(', ')}`);
    assert.ok(sent.summaries[0].scores.some((s) => s.layer === 3 && s.head === 3 && s.induction > 0.1), 'with its induction scores');
    // Its tokens are in no document: a click on one is answered, not followed.
    const resultId = sent.resultId;
    await api.receiveFromWebview({ type: 'revealToken', resultId, index: 3 });
    assert.strictEqual(vscode.window.activeTextEditor, undefined);
  });
});
