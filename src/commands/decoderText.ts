/**
 * The decoder text of an encoder-decoder model (T5, BART, Marian, mBART): what its decoder reads
 * (a translation, a summary) while its cross-attention looks at the selected text. Asked for in an
 * input box when Show Attention runs with such a model, and remembered per model (on this machine
 * only: it never leaves VS Code's global state), so a recompute or a restored panel reuses it.
 */
import * as vscode from 'vscode';
import type { ModelSummary } from '../protocol/types';

const KEY_PREFIX = 'attentionInspector.decoderText:';
/** Longer decoder texts are refused by the engine anyway; keep the memento small. */
const MAX_LENGTH = 100_000;

export class DecoderTexts {
  constructor(private readonly memento: vscode.Memento) {}

  /** The decoder text last used with this model ('' if none yet). */
  remembered(model: Pick<ModelSummary, 'source'>): string {
    const value = this.memento.get<unknown>(KEY_PREFIX + model.source);
    return typeof value === 'string' ? value : '';
  }

  async remember(model: Pick<ModelSummary, 'source'>, text: string): Promise<void> {
    await this.memento.update(KEY_PREFIX + model.source, text.slice(0, MAX_LENGTH));
  }

  /** Asks for the decoder text, prefilled with the remembered one; undefined when the user cancels. */
  async ask(model: Pick<ModelSummary, 'source' | 'name' | 'modelType'>): Promise<string | undefined> {
    const text = await vscode.window.showInputBox({
      title: vscode.l10n.t('Decoder text for {0}', model.name),
      prompt: vscode.l10n.t('{0} ({1}) is an encoder-decoder: type what its decoder reads (e.g. the translation or summary to inspect). Its cross-attention shows how each of these tokens looks at the selected text.', model.name, model.modelType),
      placeHolder: vscode.l10n.t('Decoder text (may be empty: the decoder then sees only its start token and special tokens)'),
      value: this.remembered(model),
      ignoreFocusOut: true,
      validateInput: (value) => (value.length > MAX_LENGTH ? vscode.l10n.t('At most {0} characters.', MAX_LENGTH) : undefined),
    });
    if (text !== undefined) await this.remember(model, text);
    return text;
  }
}
