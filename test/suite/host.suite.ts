import * as assert from 'assert';
import * as vscode from 'vscode';

describe('VS Code host', () => {
  it('runs inside a real VS Code with its built-in commands', async () => {
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('workbench.action.files.newUntitledFile'), 'a built-in command is missing');
    assert.ok(vscode.version.length > 0);
  });
});
