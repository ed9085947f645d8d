import * as assert from 'assert';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import type { AttentionResult } from '../../src/protocol/types';
import type { HostToWebview } from '../../src/protocol/webview';
import { currentResultId, fixtureFolder, getApi, openWorkspaceFile, resetWindow, select, setModel, showAttention, waitFor } from './helpers';

const SENTENCE = 'The cat sat on the mat.';

describe('links between the panel and the editor', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;
  let editor: vscode.TextEditor;
  let result: AttentionResult;
  /** Document offset of the analyzed sentence (kept up to date when a test moves it). */
  let offset: number;

  const textTokens = () => result.tokens.map((t, index) => ({ ...t, index })).filter((t) => !t.special);
  const selectedText = () => vscode.window.activeTextEditor!.document.getText(vscode.window.activeTextEditor!.selection);

  before(async () => {
    api = await getApi();
    await resetWindow(api);
    await setModel(fixtureFolder('bert'));
    editor = await openWorkspaceFile('sample.md');
    offset = select(editor, SENTENCE);
    result = await showAttention(api, SENTENCE);
    assert.ok(textTokens().length >= 5, 'the sentence has text tokens');
  });

  after(async () => {
    await resetWindow(api);
  });

  it('clicking a token label selects that token\'s text in the editor', async () => {
    for (const token of textTokens()) {
      // Start from a selection elsewhere so each click must move it.
      editor.selection = new vscode.Selection(0, 0, 0, 0);
      await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api), index: token.index });
      const active = vscode.window.activeTextEditor;
      assert.strictEqual(active?.document, editor.document, 'the analyzed document is the active editor');
      assert.strictEqual(active.document.offsetAt(active.selection.start), offset + token.start, `start of ${token.raw}`);
      assert.strictEqual(active.document.offsetAt(active.selection.end), offset + token.end, `end of ${token.raw}`);
      assert.strictEqual(selectedText(), SENTENCE.slice(token.start, token.end));
    }
  });

  it('clicking a cell selects the key token', async () => {
    const [query, key] = [textTokens()[0], textTokens()[3]];
    await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api), index: key.index, queryIndex: query.index });
    assert.strictEqual(selectedText(), SENTENCE.slice(key.start, key.end));
  });

  it('a special token selects nothing, and messages for an old result or a bad index are ignored', async () => {
    const special = result.tokens.findIndex((t) => t.special);
    assert.ok(special >= 0, 'bert adds [CLS]');
    editor.selection = new vscode.Selection(0, 0, 0, 1);
    await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api), index: special });
    await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api) + 1, index: textTokens()[0].index });
    await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api), index: result.tokens.length });
    await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api), index: -1 });
    assert.deepStrictEqual(editor.selection, new vscode.Selection(0, 0, 0, 1), 'the selection did not move');
  });

  it('moving the cursor into a token highlights it in the panel, outside the text clears it', async () => {
    const cursorMessages = () => api.sentToWebview().filter((m): m is Extract<HostToWebview, { type: 'cursorToken' }> => m.type === 'cursorToken');
    for (const token of [textTokens()[1], textTokens()[4]]) {
      const before = cursorMessages().length;
      const inside = editor.document.positionAt(offset + token.start + (token.end - token.start > 1 ? 1 : 0));
      editor.selection = new vscode.Selection(inside, inside);
      await waitFor(() => cursorMessages().length > before && cursorMessages().at(-1)!.index === token.index, `the panel to be told about token ${token.index} (${token.raw})`, 10_000,
        () => `last: ${JSON.stringify(cursorMessages().at(-1))}`);
      assert.strictEqual(cursorMessages().at(-1)!.resultId, currentResultId(api));
    }
    const before = cursorMessages().length;
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await waitFor(() => cursorMessages().length > before && cursorMessages().at(-1)!.index === null, 'the highlight to clear', 10_000);
  });

  it('an edit before the analyzed text moves the links with it', async () => {
    assert.ok(await editor.edit((edit) => edit.insert(new vscode.Position(0, 0), 'Preface.\n')));
    offset += 'Preface.\n'.length;
    assert.strictEqual(api.isStale(), false, 'not stale after an edit elsewhere');
    const token = textTokens()[2];
    await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api), index: token.index });
    assert.strictEqual(editor.document.offsetAt(vscode.window.activeTextEditor!.selection.start), offset + token.start);
    assert.strictEqual(selectedText(), SENTENCE.slice(token.start, token.end));
  });

  it('an edit inside the analyzed text makes the result stale: the panel is told and tokens link nowhere', async () => {
    const sentBefore = api.sentToWebview().length;
    const cat = offset + SENTENCE.indexOf('cat');
    assert.ok(await editor.edit((edit) => edit.replace(new vscode.Range(editor.document.positionAt(cat), editor.document.positionAt(cat + 3)), 'dog')));
    await waitFor(() => api.isStale(), 'the result to become stale', 5_000);
    assert.ok(api.sentToWebview().slice(sentBefore).some((m) => m.type === 'stale' && m.stale), 'the panel was told');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api), index: textTokens()[1].index });
    assert.deepStrictEqual(vscode.window.activeTextEditor!.selection, new vscode.Selection(0, 0, 0, 0), 'a stale token must not select text');
  });
});
