/**
 * "Open Sample Text" (the walkthrough's first step): an untitled document with a short text and
 * the text selected, ready for Show Attention. The text stays English in every UI language: the
 * built-in model was trained on English, and its repeated phrase shows the induction heads.
 */
import * as vscode from 'vscode';

export const OPEN_SAMPLE_COMMAND = 'attentionInspector.openSample';

const SAMPLE = 'The quick brown fox jumps over the lazy dog. Then the quick brown fox jumps over the lazy dog again.\n';

export async function openSampleText(): Promise<void> {
  const document = await vscode.workspace.openTextDocument({ language: 'plaintext', content: SAMPLE });
  const editor = await vscode.window.showTextDocument(document);
  const end = document.positionAt(SAMPLE.trimEnd().length);
  editor.selection = new vscode.Selection(new vscode.Position(0, 0), end);
}
