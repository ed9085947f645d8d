/**
 * Command behaviour a user meets after the first result: Recompute after an edit analyzes the edited
 * text (not to the end of its line), and a failed run ends its progress (and status-bar spinner)
 * while its error notification still waits for an answer.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import { awaitResult, COMMAND, fixtureFolder, getApi, openUntitled, resetWindow, setModel, showAttention, waitFor } from './helpers';

describe('commands', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;

  before(async () => {
    api = await getApi();
    await resetWindow(api);
  });

  afterEach(async () => {
    await resetWindow(api);
  });

  it('Recompute after an edit analyzes the edited text, not the rest of its line', async () => {
    await setModel(fixtureFolder('bert'));
    const sentence = 'The cat sat on the mat.';
    const line = `Before it. ${sentence} And more text after it on the same line.`;
    const editor = await openUntitled(line);
    const start = line.indexOf(sentence);
    editor.selection = new vscode.Selection(0, start, 0, start + sentence.length);
    await showAttention(api, sentence);

    const cat = start + sentence.indexOf('cat');
    assert.ok(await editor.edit((edit) => edit.replace(new vscode.Range(0, cat, 0, cat + 3), 'big dog')));
    await waitFor(() => api.isStale(), 'the result to become stale', 5_000);
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    const edited = 'The big dog sat on the mat.';
    const before = api.notifications().length;
    const result = await awaitResult(api, edited, [api.receiveFromWebview({ type: 'recompute' })], before);
    assert.strictEqual(result.text, edited);
    assert.strictEqual(api.isStale(), false);
  });

  it('a failed run ends its progress while the error notification waits for the user', async () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-commands-'));
    try {
      const folder = path.join(scratch, 'xlnet-like');
      fs.cpSync(fixtureFolder('bert'), folder, { recursive: true });
      const config = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
      fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify({ ...config, model_type: 'xlnet' }));
      await setModel(folder);
      const editor = await openUntitled('The cat sat on the mat.');
      editor.selection = new vscode.Selection(0, 0, 0, 23);
      const before = api.notifications().length;
      let finished = false;
      const run = Promise.resolve(vscode.commands.executeCommand(COMMAND)).then(() => (finished = true));
      await waitFor(() => api.notifications().length > before, 'the error notification', 30_000);
      assert.strictEqual(api.notifications()[before].severity, 'error');
      // Nobody answers the notification: the command (and with it the progress) must end anyway.
      await waitFor(() => finished, 'the command to end with its notification unanswered', 10_000);
      await run;
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});
