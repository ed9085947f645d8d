/**
 * "Show Attention Between Two Selections": a sentence pair from two selections (or a selection and
 * the clipboard) on the bert reference model, against what transformers computed for that pair; B's
 * tokens link back to the second selection; the message history of the test API is released with
 * the panel.
 */
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import { pairFromEditor } from '../../src/commands/showPair';
import { openFixture } from '../helpers/fixtures';
import { awaitResult, closePanel, currentResultId, fixtureFolder, getApi, maxAbsDiff, openUntitled, resetWindow, resultMessages, setModel, toFloat32, waitFor } from './helpers';

const PAIR_COMMAND = 'attentionInspector.showAttentionBetweenSelections';
const A = 'The cat sat on the mat.';
const B = 'Where did the cat sit?';

describe('Show Attention Between Two Selections', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;

  before(async () => {
    api = await getApi();
    await resetWindow(api);
    await setModel(fixtureFolder('bert'));
  });

  after(async () => {
    await resetWindow(api);
  });

  it('analyzes the primary and the second selection as a pair, as transformers does', async () => {
    const editor = await openUntitled(`${A} Then: ${B}\n`);
    const doc = editor.document;
    const a = new vscode.Selection(doc.positionAt(0), doc.positionAt(A.length));
    const bStart = doc.getText().indexOf(B);
    const b = new vscode.Selection(doc.positionAt(bStart), doc.positionAt(bStart + B.length));
    editor.selections = [a, b];
    const shown = await awaitResult(api, A, [vscode.commands.executeCommand(PAIR_COMMAND)], api.notifications().length);
    const fixture = openFixture('bert', process.env.ATTENTION_TEST_FIXTURES);
    try {
      const index = fixture.cases.findIndex((c) => c.text === A && c.text_pair === B);
      assert.ok(index >= 0, 'the bert fixture has this pair');
      const c = fixture.cases[index];
      assert.deepStrictEqual(shown.tokens.map((t) => t.id), c.input_ids, 'token ids vs transformers');
      assert.deepStrictEqual(shown.tokens.map((t) => t.segment), c.token_type_ids, 'segments vs transformers');
      const diff = maxAbsDiff(toFloat32(shown.attentions), fixture.expected(`case${index}.attentions`).data);
      assert.ok(diff <= 1e-4, `attentions differ from transformers by ${diff}`);
    } finally {
      fixture.close();
    }
    const message = resultMessages(api).pop()!;
    assert.deepStrictEqual(message.pair, { text: B });
    // A token of text B selects its place in the second selection.
    const cat = shown.tokens.findIndex((t) => t.segment === 1 && t.display.trim() === 'cat');
    await api.receiveFromWebview({ type: 'revealToken', resultId: currentResultId(api), index: cat });
    const active = vscode.window.activeTextEditor!;
    assert.strictEqual(active.document, doc);
    assert.strictEqual(doc.getText(active.selection), 'cat');
    assert.strictEqual(doc.offsetAt(active.selection.start), bStart + B.indexOf('cat'));
  });

  it('with one selection, text B comes from the clipboard', async () => {
    const editor = await openUntitled(`${A}\n`);
    editor.selection = new vscode.Selection(editor.document.positionAt(0), editor.document.positionAt(A.length));
    // The clipboard is read through the function the command uses (a browser workbench's clipboard needs a user gesture).
    const pair = await pairFromEditor(editor, async () => `  ${B}\n`);
    assert.ok(typeof pair !== 'string');
    assert.deepStrictEqual([pair.a.text, pair.b.text, pair.b.range], [A, B, undefined]);
    assert.match(String(await pairFromEditor(editor, async () => '   ')), /empty clipboard/);
  });

  it('with nothing selected it says what to do instead of analyzing', async () => {
    const editor = await openUntitled(`${A}\n`);
    editor.selection = new vscode.Selection(editor.document.positionAt(0), editor.document.positionAt(0));
    const before = api.notifications().length;
    // Not awaited: the command waits for the warning to be dismissed.
    void vscode.commands.executeCommand(PAIR_COMMAND);
    await waitFor(() => api.notifications().length > before, 'a warning');
    assert.match(api.notifications().at(-1)!.message, /Select text A/);
  });

  it('closing the panel releases the result and the recorded messages with their buffers', async () => {
    assert.ok(api.sentToWebview().length > 0);
    await closePanel(api);
    assert.strictEqual(api.currentResult(), undefined);
    assert.strictEqual(api.sentToWebview().length, 0);
  });
});
