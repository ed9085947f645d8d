import * as assert from 'assert';
import * as vscode from 'vscode';
import { COMMAND, EXTENSION_ID, getApi } from './helpers';

describe('activation', () => {
  it('the extension is installed, activates and returns its API', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not installed`);
    const api = await getApi();
    assert.ok(extension.isActive, 'not active after activate()');
    for (const name of ['currentResult', 'isPanelOpen', 'liveWorkerCount', 'sentToWebview', 'receiveFromWebview', 'notifications', 'isStale'] as const) {
      assert.strictEqual(typeof api[name], 'function', `API method ${name}`);
    }
    // Nothing runs before the user asks: no panel, no engine worker.
    assert.strictEqual(api.isPanelOpen(), false);
    assert.strictEqual(api.liveWorkerCount(), 0);
  });

  it('registers Show Attention and contributes it to the command palette', async () => {
    await getApi();
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes(COMMAND), `${COMMAND} is not registered`);
    const contributed = (vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON.contributes.commands as { command: string; title: string }[]).find((c) => c.command === COMMAND);
    assert.ok(contributed, `${COMMAND} is not contributed in package.json`);
    assert.strictEqual(contributed.title, 'Show Attention');
  });
});
