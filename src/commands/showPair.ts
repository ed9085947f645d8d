/**
 * "Attention Inspector: Show Attention Between Two Selections": a sentence pair for segment-pair
 * models (BERT-style). Text A is the primary selection; text B the second selection (Alt+click or
 * Ctrl+D make one), or, with a single selection, the clipboard. The panel then filters A→B / B→A.
 */
import * as vscode from 'vscode';
import type { Notifier } from '../notifications';
import type { ShowAttention } from './showAttention';

export const SHOW_PAIR_COMMAND = 'attentionInspector.showAttentionBetweenSelections';

/** The two texts, or a sentence saying what is missing. */
export async function pairFromEditor(editor: vscode.TextEditor, readClipboard: () => Thenable<string>): Promise<
  { a: { range: vscode.Range; text: string }; b: { range?: vscode.Range; text: string } } | string
> {
  const document = editor.document;
  const selections = editor.selections.filter((s) => !s.isEmpty);
  if (selections.length === 0) return vscode.l10n.t('Select text A (and a second selection for text B, or copy text B to the clipboard), then run Show Attention Between Two Selections.');
  // The primary selection is text A; the next one in the document order of the others is text B.
  const primary = editor.selection.isEmpty ? selections[0] : editor.selection;
  const a = { range: primary as vscode.Range, text: document.getText(primary) };
  const second = selections.find((s) => !s.isEqual(primary));
  if (second) return { a, b: { range: second, text: document.getText(second) } };
  const clipboard = (await readClipboard()).trim();
  if (clipboard.length === 0) return vscode.l10n.t('Only one selection and an empty clipboard: add a second selection (Alt+click, or Ctrl+D) or copy text B first.');
  return { a, b: { text: clipboard } };
}

export async function showAttentionBetweenSelections(show: ShowAttention, notifier: Notifier, editor = vscode.window.activeTextEditor): Promise<void> {
  if (!editor) {
    await notifier.notify('warning', vscode.l10n.t('Open a file and select two texts (or one, with the other on the clipboard), then run Show Attention Between Two Selections.'));
    return;
  }
  const pair = await pairFromEditor(editor, () => vscode.env.clipboard.readText());
  if (typeof pair === 'string') {
    await notifier.notify('warning', pair);
    return;
  }
  if (pair.a.text.trim().length === 0 || pair.b.text.trim().length === 0) {
    await notifier.notify('warning', vscode.l10n.t('One of the two texts is only whitespace: select text A and text B.'));
    return;
  }
  const document = editor.document;
  notifier.log(`Sentence pair: A ${pair.a.text.length} characters, B ${pair.b.text.length} characters${pair.b.range ? '' : ' (from the clipboard)'}`);
  await show.run({
    document,
    offset: document.offsetAt(pair.a.range.start),
    text: pair.a.text,
    options: { textPair: pair.b.text },
    pair: { text: pair.b.text, ...(pair.b.range ? { document, offset: document.offsetAt(pair.b.range.start) } : {}) },
  });
}
