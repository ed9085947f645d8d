/**
 * Paints the analyzed text with one query token's attention weights: a few intensity steps, each a
 * theme colour the user can override (`attentionInspector.weightStep1..5`), plus an outline on the
 * query token itself.
 */
import * as vscode from 'vscode';
import type { AnalyzedText } from './analyzedText';

export const WEIGHT_STEPS = 5;

export class WeightDecorations implements vscode.Disposable {
  private readonly steps: vscode.TextEditorDecorationType[];
  private readonly query: vscode.TextEditorDecorationType;
  private painted = new Set<vscode.TextEditor>();

  constructor() {
    this.steps = Array.from({ length: WEIGHT_STEPS }, (_, i) =>
      vscode.window.createTextEditorDecorationType({ backgroundColor: new vscode.ThemeColor(`attentionInspector.weightStep${i + 1}`), rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed }),
    );
    this.query = vscode.window.createTextEditorDecorationType({
      border: '1px solid',
      borderColor: new vscode.ThemeColor('attentionInspector.queryToken'),
      borderRadius: '2px',
    });
  }

  /**
   * Shows `weights` (one per token, any non-negative scale) on every visible editor of the
   * analyzed document. Weights are scaled by the row's maximum so the strongest key is the darkest.
   */
  show(analyzed: AnalyzedText, queryIndex: number, weights: readonly number[]): void {
    const editors = vscode.window.visibleTextEditors.filter((e) => e.document === analyzed.document);
    const max = weights.reduce((m, w) => Math.max(m, w), 0);
    const buckets: vscode.Range[][] = Array.from({ length: WEIGHT_STEPS }, () => []);
    if (max > 0) {
      weights.forEach((w, i) => {
        const range = analyzed.tokenRange(i);
        if (!range || w <= 0) return;
        // Step 0 is the faintest; weights under 5% of the maximum are left unpainted.
        const relative = w / max;
        if (relative < 0.05) return;
        buckets[Math.min(WEIGHT_STEPS - 1, Math.floor(relative * WEIGHT_STEPS))].push(range);
      });
    }
    const queryRange = analyzed.tokenRange(queryIndex);
    for (const editor of editors) {
      this.steps.forEach((type, i) => editor.setDecorations(type, buckets[i]));
      editor.setDecorations(this.query, queryRange ? [queryRange] : []);
      this.painted.add(editor);
    }
  }

  clear(): void {
    for (const editor of this.painted) {
      this.steps.forEach((type) => editor.setDecorations(type, []));
      editor.setDecorations(this.query, []);
    }
    this.painted.clear();
  }

  dispose(): void {
    this.clear();
    this.steps.forEach((t) => t.dispose());
    this.query.dispose();
  }
}
