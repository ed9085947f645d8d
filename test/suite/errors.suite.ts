import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { AttentionInspectorApi } from '../../src/protocol/api';
import { COMMAND, fixtureFolder, getApi, openUntitled, resetWindow, setModel, waitFor } from './helpers';

describe('errors surface as notifications', function () {
  this.timeout(120_000);
  let api: AttentionInspectorApi;
  let scratch: string;

  /** Runs the command (an error notification waits for the user, so the command is not awaited). */
  async function runExpectingError(): Promise<{ severity: string; message: string }> {
    const before = api.notifications().length;
    void vscode.commands.executeCommand(COMMAND);
    await waitFor(() => api.notifications().length > before, 'a notification', 30_000);
    return api.notifications()[before];
  }

  before(async () => {
    api = await getApi();
    await resetWindow(api);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-errors-'));
  });

  afterEach(async () => {
    await resetWindow(api);
  });

  after(() => {
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('an unsupported architecture is named in an error notification', async () => {
    // A complete checkpoint whose config names an architecture the engine does not implement.
    const folder = path.join(scratch, 'xlnet-like');
    fs.cpSync(fixtureFolder('bert'), folder, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify({ ...config, model_type: 'xlnet', architectures: ['XLNetModel'] }));
    await setModel(folder);
    const editor = await openUntitled('The cat sat on the mat.');
    editor.selection = new vscode.Selection(0, 0, 0, 23);

    const notification = await runExpectingError();
    assert.strictEqual(notification.severity, 'error', JSON.stringify(notification));
    assert.match(notification.message, /xlnet/i, 'the message names the architecture');
    assert.strictEqual(api.currentResult(), undefined, 'no result shown');
  });

  it('text longer than the model accepts says how long it is and what the limit is', async () => {
    await setModel(fixtureFolder('bert'));
    const maxPositions = JSON.parse(fs.readFileSync(path.join(fixtureFolder('bert'), 'config.json'), 'utf8')).max_position_embeddings as number;
    // Far more words than positions: every word is at least one token.
    const text = Array.from({ length: maxPositions + 50 }, (_, i) => (i % 2 ? 'cat' : 'mat')).join(' ');
    const editor = await openUntitled(text);
    editor.selection = new vscode.Selection(editor.document.positionAt(0), editor.document.positionAt(text.length));

    const notification = await runExpectingError();
    assert.strictEqual(notification.severity, 'error', JSON.stringify(notification));
    assert.ok(notification.message.includes(String(maxPositions)), `the message states the limit ${maxPositions}: ${notification.message}`);
    assert.strictEqual(api.currentResult(), undefined, 'no result shown');
  });

  it('an empty line is refused with a warning that says what to do', async () => {
    await setModel(fixtureFolder('bert'));
    const editor = await openUntitled('first line\n\nthird line');
    editor.selection = new vscode.Selection(1, 0, 1, 0);
    const workersBefore = api.liveWorkerCount();
    const notification = await runExpectingError();
    assert.strictEqual(notification.severity, 'warning', JSON.stringify(notification));
    assert.match(notification.message, /select/i);
    assert.strictEqual(api.liveWorkerCount(), workersBefore, 'no engine started for nothing');
  });
});
