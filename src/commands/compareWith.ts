/**
 * "Attention Inspector: Compare With…": the panel's analysis (A) against a second one (B) — the same
 * text under another model with the same tokenizer, or another text (a second selection, or the
 * clipboard) under the same model. B is analyzed like Show Attention does and shown in the panel's
 * Compare tab beside A; what cannot be compared is refused before anything is computed where it can
 * be (shapes, encoder-decoders, sentence pairs, size) and right after B's tokens are known otherwise.
 * The engine keeps analyses, the panel holds no tensors: both sides' tensors are asked of the engine
 * once (ShowAttention.compare) and sent to the panel together.
 */
import * as vscode from 'vscode';
import { compareProblem, tokenizerMismatch, type CompareKind } from '../analysis/compare';
import type { Notifier } from '../notifications';
import type { AttentionPanel } from '../panel/attentionPanel';
import type { AnalysisInfo } from '../protocol/views';
import type { ModelResolver } from './modelResolver';
import { pickModelSpec } from './selectModel';
import type { ShowAttention } from './showAttention';

export const COMPARE_COMMAND = 'attentionInspector.compareWith';

/** Programmatic use (keybindings, tests): what to compare with, without the pickers. */
export interface CompareArgs {
  /** Another model spec (hub id, folder, '' for the built-in model): the same text under it. */
  model?: string;
  /** Another text under the same model. */
  text?: string;
}

export function parseCompareArgs(raw: unknown): CompareArgs | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.model === 'string' && r.text === undefined) return { model: r.model };
  if (typeof r.text === 'string' && r.model === undefined) return { text: r.text };
  return undefined;
}

interface Choice extends vscode.QuickPickItem {
  compare: CompareKind;
  text?: string;
}

/** Another text from the editor: a second selection that is not the analyzed text. */
function secondSelection(editor: vscode.TextEditor | undefined, analyzed: string): string | undefined {
  if (!editor) return undefined;
  for (const s of editor.selections) {
    if (s.isEmpty) continue;
    const text = editor.document.getText(s);
    if (text.trim().length > 0 && text !== analyzed) return text;
  }
  return undefined;
}

const oneLine = (text: string) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 59)}…` : flat;
};

export class CompareWith {
  constructor(
    private readonly show: ShowAttention,
    private readonly panel: AttentionPanel,
    private readonly models: ModelResolver,
    private readonly notifier: Notifier,
  ) {}

  async run(rawArgs?: unknown): Promise<void> {
    const a = this.panel.currentAnalysis;
    // A text in a document (a probe's random tokens are in none).
    if (!a || !this.panel.analyzedTextInfo || a.probe) {
      await this.notifier.notify('warning', 'Nothing to compare yet: run Show Attention on a text first, then Compare With… another model or another text.');
      return;
    }
    if (a.generation) {
      await this.notifier.notify('warning', 'The panel shows a generated continuation: Compare With… compares analyzed texts for now. Run Show Attention on a text first.');
      return;
    }
    if (a.decoderTokens || a.model.decoder) {
      await this.notifier.notify('warning', `${a.model.name} is an encoder-decoder: Compare With… works on single-stack models (decoder-only or encoder-only) for now, where one text gives one attention block per head.`);
      return;
    }
    if (a.tokens.some((t) => t.segment === 1)) {
      await this.notifier.notify('warning', 'The panel shows a sentence pair: Compare With… compares single texts. Run Show Attention on one text first.');
      return;
    }
    const args = parseCompareArgs(rawArgs);
    if (args?.model !== undefined && !vscode.workspace.isTrusted) {
      // As with the model setting: an untrusted workspace cannot make the extension read a folder it names.
      await this.notifier.notify('warning', 'Compare With… a model given by a command argument is not run in an untrusted workspace: run the command from the Command Palette and pick the model.');
      return;
    }
    const choice = args ? (args.model !== undefined ? { kind: 'model' as const, spec: args.model } : { kind: 'text' as const, text: args.text! }) : await this.ask(a);
    if (!choice) return;
    if (choice.kind === 'text' && choice.text.trim().length === 0) {
      await this.notifier.notify('warning', 'The other text is empty: select a second text (or copy one), then Compare With… again.');
      return;
    }
    const text = choice.kind === 'text' ? choice.text : a.text;
    const spec = choice.kind === 'model' ? choice.spec : this.show.shownSpec;
    this.notifier.log(`Compare With…: ${choice.kind === 'model' ? `the same text under ${spec === '' ? 'the built-in model' : spec}` : `another text (${text.length} characters) under ${a.model.name}`}`);
    const kind = choice.kind;
    const compared = await this.show.compare({ text, spec, sameText: kind === 'model', problem: (b) => this.problem(a, b, kind) });
    if (!compared) return;
    this.panel.showComparison(compared.analysisId, compared.base, compared.other, kind);
  }

  /** Why B cannot be set against A, or null. */
  problem(a: AnalysisInfo, b: AnalysisInfo, kind: CompareKind): string | null {
    const shape = compareProblem(a.model, b.model);
    if (shape) return shape;
    if (kind === 'model') return tokenizerMismatch({ name: a.model.name, tokens: a.tokens }, { name: b.model.name, tokens: b.tokens });
    return null;
  }

  private async ask(a: AnalysisInfo): Promise<{ kind: 'model'; spec: string } | { kind: 'text'; text: string } | undefined> {
    const editor = vscode.window.activeTextEditor;
    const second = secondSelection(editor, a.text);
    const clipboard = (await vscode.env.clipboard.readText()).trim();
    const items: Choice[] = [
      { compare: 'model', label: '$(server-environment) Another model, the same text', detail: `“${oneLine(a.text)}” under a model with the same tokenizer as ${a.model.name}` },
      second !== undefined
        ? { compare: 'text', text: second, label: '$(selection) The second selection, the same model', detail: `“${oneLine(second)}” under ${a.model.name}` }
        : { compare: 'text', label: '$(selection) The second selection, the same model', detail: 'Add a second selection first (Alt+click or Ctrl+D), or use the clipboard' },
      clipboard.length > 0 && clipboard !== a.text
        ? { compare: 'text', text: clipboard, label: '$(clippy) The clipboard text, the same model', detail: `“${oneLine(clipboard)}” under ${a.model.name}` }
        : { compare: 'text', label: '$(clippy) The clipboard text, the same model', detail: clipboard.length > 0 ? 'The clipboard holds the analyzed text itself' : 'The clipboard is empty' },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: `Compare ${a.model.name} on “${oneLine(a.text)}” with…`, matchOnDetail: true });
    if (!picked) return undefined;
    if (picked.compare === 'text') {
      if (picked.text === undefined) {
        await this.notifier.notify('warning', `${picked.detail}.`);
        return undefined;
      }
      return { kind: 'text', text: picked.text };
    }
    const spec = await pickModelSpec(this.models, this.notifier, `Compare with: a model with the same tokenizer as ${a.model.name}`);
    return spec === undefined ? undefined : { kind: 'model', spec };
  }
}
