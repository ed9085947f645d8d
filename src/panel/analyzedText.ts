/**
 * Where the analyzed text lives in its document, kept true while the user edits: edits after it
 * change nothing, edits before it shift it, edits inside it make the result stale (no token may
 * point at wrong text).
 */
import * as vscode from 'vscode';
import { rangeAfterEdits } from '../analysis/offsets';
import type { TokenInfo } from '../protocol/types';

export class AnalyzedText {
  private stale = false;
  /** Where the analyzed text is now, edits included: what a recompute analyzes. */
  private tracked: { start: number; end: number };

  constructor(
    readonly document: vscode.TextDocument,
    /** Offset of the analyzed text's first character in the document. */
    private baseOffset: number,
    readonly text: string,
    readonly tokens: readonly TokenInfo[],
  ) {
    this.tracked = { start: baseOffset, end: baseOffset + text.length };
  }

  /** Document offsets [start, end) of the analyzed text as edited since (equal to the text until it is edited). */
  get currentRange(): { start: number; end: number } {
    return { ...this.tracked };
  }

  get isStale(): boolean {
    return this.stale;
  }

  get start(): number {
    return this.baseOffset;
  }

  /** Applies a document change; returns true if the result just became stale. */
  applyChange(event: vscode.TextDocumentChangeEvent): boolean {
    if (event.document !== this.document) return false;
    this.tracked = rangeAfterEdits(this.tracked, event.contentChanges);
    if (this.stale) return false;
    const end = this.baseOffset + this.text.length;
    let shift = 0;
    for (const change of event.contentChanges) {
      const changeStart = change.rangeOffset;
      const changeEnd = change.rangeOffset + change.rangeLength;
      if (changeStart >= end) continue; // after the text (an insertion right at its end too)
      if (changeEnd <= this.baseOffset) {
        shift += change.text.length - change.rangeLength; // before it: the text moves
        continue;
      }
      this.stale = true;
      return true;
    }
    this.baseOffset += shift;
    // Safety net: the text at the tracked place must still be the analyzed text.
    if (this.document.getText(this.range(0, this.text.length)) !== this.text) {
      this.stale = true;
      return true;
    }
    return false;
  }

  markStale(): void {
    this.stale = true;
  }

  /** Document range of text offsets [start, end) of the analyzed text. */
  range(start: number, end: number): vscode.Range {
    return new vscode.Range(this.document.positionAt(this.baseOffset + start), this.document.positionAt(this.baseOffset + end));
  }

  tokenRange(index: number): vscode.Range | undefined {
    const t = this.tokens[index];
    if (!t || t.start < 0 || t.segment !== 0) return undefined;
    return this.range(t.start, t.end);
  }

  /** The token under a document position, or null (special tokens and gaps have none). */
  tokenAt(position: vscode.Position): number | null {
    if (this.stale) return null;
    const offset = this.document.offsetAt(position) - this.baseOffset;
    if (offset < 0 || offset > this.text.length) return null;
    let best: number | null = null;
    for (let i = 0; i < this.tokens.length; i++) {
      const t = this.tokens[i];
      if (t.start < 0 || t.segment !== 0) continue;
      if (t.start <= offset && offset < t.end) return i;
      // A cursor right after a token's last character still belongs to it.
      if (offset === t.end && t.end > t.start) best = i;
    }
    return best;
  }
}
