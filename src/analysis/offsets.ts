/** Mapping between UTF-16 offsets in the analyzed text and tokens. */
import type { TokenInfo } from '../protocol/types';

/**
 * The token that covers a UTF-16 offset of the analyzed text: the one with start ≤ offset < end;
 * failing that, one that ends exactly at the offset (a cursor just after a word belongs to it).
 * Special tokens cover no text. Only tokens of `segment` are considered (sentence pairs number the
 * second text's offsets from its own start). Returns null when no token is there (whitespace, or
 * outside the analyzed text).
 */
export function tokenAtOffset(tokens: readonly TokenInfo[], offset: number, segment = 0): number | null {
  let endingHere: number | null = null;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.special || t.segment !== segment || t.start < 0 || t.end <= t.start) continue;
    if (t.start <= offset && offset < t.end) return i;
    if (t.end === offset && endingHere === null) endingHere = i;
  }
  return endingHere;
}

/** Tokens that overlap [start, end) (an empty range selects the token at `start`). */
export function tokensInRange(tokens: readonly TokenInfo[], start: number, end: number, segment = 0): number[] {
  if (end <= start) {
    const one = tokenAtOffset(tokens, start, segment);
    return one === null ? [] : [one];
  }
  const out: number[] = [];
  tokens.forEach((t, i) => {
    if (!t.special && t.segment === segment && t.start >= 0 && t.start < end && t.end > start) out.push(i);
  });
  return out;
}

export interface TextEdit {
  /** Offset and length of the replaced text in the document before the edit. */
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

/**
 * Where the text at [start, end) of a document is after the given edits (one change event: offsets
 * refer to the document before it, ranges do not overlap). Edits before it move it, edits inside or
 * across its ends grow or shrink it to cover what replaced them, edits after it change nothing; an
 * insertion exactly at either end stays outside.
 */
export function rangeAfterEdits(range: { start: number; end: number }, edits: readonly TextEdit[]): { start: number; end: number } {
  let { start, end } = range;
  // Back to front, so each edit's offsets are still those of the document it applies to.
  for (const edit of [...edits].sort((a, b) => b.rangeOffset - a.rangeOffset)) {
    const editStart = edit.rangeOffset;
    const editEnd = edit.rangeOffset + edit.rangeLength;
    const delta = edit.text.length - edit.rangeLength;
    if (editStart >= end) continue;
    if (editEnd <= start) {
      start += delta;
      end += delta;
      continue;
    }
    start = Math.min(start, editStart);
    end = Math.max(end, editEnd) + delta;
  }
  return { start, end };
}
