/**
 * The Get Started walkthrough in a real VS Code: it is contributed with its four steps, the strings
 * come from package.nls.json (test/unit/l10n.test.ts checks them), and its first step's command
 * opens the sample text selected, ready for Show Attention.
 */
import * as assert from 'assert';
import * as vscode from 'vscode';
import { getApi, resetWindow, waitFor } from './helpers';

describe('Get Started walkthrough', function () {
  this.timeout(60_000);

  after(async () => {
    await resetWindow(await getApi());
  });

  it('is contributed with its four steps and the sample command', async () => {
    await getApi();
    const extension = vscode.extensions.all.find((e) => e.packageJSON?.name === 'attention-inspector');
    assert.ok(extension, 'the extension is installed');
    const walkthrough = extension.packageJSON.contributes.walkthroughs[0];
    assert.deepStrictEqual(walkthrough.steps.map((s: { id: string }) => s.id), ['selectText', 'showAttention', 'hover', 'pickModel']);
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('attentionInspector.openSample'));
    // English UI: vscode.l10n has no bundle and returns the source strings.
    assert.strictEqual(vscode.l10n.t('Layer {0}', 2), 'Layer 2');
  });

  it('Open Sample Text opens the sample with the text selected', async () => {
    await vscode.commands.executeCommand('attentionInspector.openSample');
    await waitFor(() => vscode.window.activeTextEditor?.document.isUntitled === true, 'the sample to become the active editor');
    const editor = vscode.window.activeTextEditor;
    assert.ok(editor, 'an editor is open');
    const selected = editor.document.getText(editor.selection);
    assert.match(selected, /^The quick brown fox .* again\.$/);
    assert.strictEqual(editor.document.isUntitled, true);
  });
});
