import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import { loadModel } from '../../src/models';
import { BUILTIN_NAME } from '../../src/hub';
import { openFixture } from '../helpers/fixtures';
import {
  COMMAND, EXTENSION_ID, awaitResult, closePanel, currentResultId, expectOnePanelTab, fixtureFolder, getApi, maxAbsDiff, openWorkspaceFile, panelTabs, resetWindow, resultMessages, select,
  setModel, shownText, showAttention, toFloat32, waitFor,
} from './helpers';

const SENTENCE = 'The cat sat on the mat.';
/** Text of sample.md that is also a case of the bert reference fixture (computed by transformers). */
const REFERENCE_TEXT = 'I am making a cake';
const PORTUGUESE_LINE = 'Sentei no banco da praça, depois fui ao banco sacar dinheiro.';

describe('Show Attention', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;
  let editor: vscode.TextEditor;

  before(async () => {
    api = await getApi();
    await resetWindow(api);
    await setModel(fixtureFolder('bert'));
    editor = await openWorkspaceFile('sample.md');
  });

  after(async () => {
    await resetWindow(api);
  });

  it('opens the panel beside the editor with the engine\'s attentions for the selection', async () => {
    select(editor, REFERENCE_TEXT);
    const shown = await showAttention(api, REFERENCE_TEXT);
    assert.ok(api.isPanelOpen(), 'panel not open');
    await expectOnePanelTab();
    assert.notStrictEqual(panelTabs()[0].group.viewColumn, vscode.ViewColumn.One, 'the panel opens beside the editor, not over it');

    // The same text through the engine, here in the test: the panel must show exactly that.
    const model = await loadModel(fixtureFolder('bert'));
    try {
      const expected = await model.analyze(REFERENCE_TEXT);
      assert.deepStrictEqual(shown.tokens, expected.tokens, 'tokens');
      assert.strictEqual(shown.model.modelType, 'bert');
      assert.strictEqual(shown.model.numLayers, expected.model.numLayers);
      assert.strictEqual(shown.model.numHeads, expected.model.numHeads);
      assert.deepStrictEqual(shown.attentions.shape, expected.attentions.shape, 'attention shape');
      const diff = maxAbsDiff(toFloat32(shown.attentions), toFloat32(expected.attentions));
      assert.ok(diff <= 1e-5, `panel attentions differ from the engine's by ${diff}`);
    } finally {
      await model.dispose();
    }

    // And what transformers computed for this text.
    const fixture = openFixture('bert', process.env.ATTENTION_TEST_FIXTURES);
    try {
      const index = fixture.cases.findIndex((c) => c.text === REFERENCE_TEXT && !c.text_pair);
      assert.ok(index >= 0, 'the bert fixture has a case for the sentence');
      assert.deepStrictEqual(shown.tokens.map((t) => t.id), fixture.cases[index].input_ids, 'token ids vs transformers');
      const reference = fixture.expected(`case${index}.attentions`);
      const diff = maxAbsDiff(toFloat32(shown.attentions), reference.data);
      assert.ok(diff <= 1e-4, `panel attentions differ from transformers' by ${diff}`);
    } finally {
      fixture.close();
    }

    // The panel was sent this very result.
    const messages = resultMessages(api);
    const last = messages[messages.length - 1];
    assert.strictEqual(last.type, 'analysis', 'the panel gets the analysis (its summaries), not the tensors');
    assert.strictEqual(shownText(last), shown.text);
    assert.deepStrictEqual(last.type === 'analysis' && last.analysis.tokens, shown.tokens);
  });

  it('the panel\'s webview loads and asks for the result', async () => {
    // The webview posts `ready` once its script has built the page; the host answers with the result
    // again, so a second result message with the same id shows the webview came up.
    const id = currentResultId(api);
    await waitFor(() => resultMessages(api).filter((m) => m.resultId === id).length >= 2, 'the webview to post ready', 30_000);
  });

  it('with an empty selection, analyzes the current line', async () => {
    const offset = editor.document.getText().indexOf(PORTUGUESE_LINE);
    const cursor = editor.document.positionAt(offset + 7);
    editor.selection = new vscode.Selection(cursor, cursor);
    const shown = await showAttention(api, PORTUGUESE_LINE);
    assert.strictEqual(shown.text, editor.document.lineAt(cursor.line).text);
    await expectOnePanelTab();
  });

  it('a second invocation supersedes the first: one panel, the latest result, one worker', async () => {
    await closePanel(api);
    await waitFor(() => api.liveWorkerCount() === 0, 'the worker to stop with the panel');
    const sentBefore = api.sentToWebview().length;
    const notificationsBefore = api.notifications().length;

    select(editor, PORTUGUESE_LINE);
    const first = vscode.commands.executeCommand(COMMAND);
    // The first run is loading the model in a fresh worker when the second one starts.
    await waitFor(() => api.sentToWebview().slice(sentBefore).some((m) => m.type === 'busy'), 'the first run to start loading the model');
    select(editor, SENTENCE);
    const second = vscode.commands.executeCommand(COMMAND);
    await awaitResult(api, SENTENCE, [first, second], notificationsBefore);

    const newResults = resultMessages(api).filter((m) => api.sentToWebview().indexOf(m) >= sentBefore);
    assert.deepStrictEqual([...new Set(newResults.map(shownText))], [SENTENCE], 'only the latest run reaches the panel');
    assert.strictEqual(new Set(newResults.map((m) => m.resultId)).size, 1, 'one new result');
    await expectOnePanelTab();
    assert.strictEqual(api.liveWorkerCount(), 1, 'one engine worker');
  });

  it('closing the panel stops the engine worker', async () => {
    assert.ok(api.liveWorkerCount() >= 1, 'a worker runs while the panel shows a result');
    await closePanel(api);
    await waitFor(() => api.liveWorkerCount() === 0, 'the worker to stop', 10_000, () => `${api.liveWorkerCount()} alive`);
    assert.strictEqual(panelTabs().length, 0);
    assert.strictEqual(api.currentResult(), undefined, 'no result kept for a closed panel');
  });

  it('with no model configured, uses the built-in model', async () => {
    await setModel('');
    try {
      select(editor, REFERENCE_TEXT);
      const shown = await showAttention(api, REFERENCE_TEXT);
      assert.strictEqual(shown.model.name, BUILTIN_NAME);
      assert.strictEqual(shown.model.modelType, 'llama');
      assert.strictEqual(shown.model.numLayers, 4);
      assert.strictEqual(shown.model.numHeads, 8);
      const extension = vscode.extensions.getExtension(EXTENSION_ID)!;
      const model = await loadModel(path.join(extension.extensionPath, 'media', 'builtin-model'));
      try {
        const expected = await model.analyze(REFERENCE_TEXT);
        assert.deepStrictEqual(shown.tokens, expected.tokens, 'tokens');
        const diff = maxAbsDiff(toFloat32(shown.attentions), toFloat32(expected.attentions));
        assert.ok(diff <= 1e-5, `panel attentions differ from the engine's by ${diff}`);
      } finally {
        await model.dispose();
      }
    } finally {
      await setModel(fixtureFolder('bert'));
    }
  });
});
