import * as assert from 'assert';
import type { TokenInfo } from '../../../src/protocol/types';
import { rangeAfterEdits, tokenAtOffset, tokensInRange } from '../../../src/analysis/offsets';
import { fixtureResult } from './fixture';

const t = (start: number, end: number, special = false, segment = 0): TokenInfo => ({
  id: 0, raw: 'x', display: 'x', start, end, special, segment,
});

describe('analysis/offsets', () => {
  // "ab cd": [CLS] ab(0-2) cd(3-5) [SEP]
  const tokens = [t(-1, -1, true), t(0, 2), t(3, 5), t(-1, -1, true)];

  it('finds the token covering an offset', () => {
    assert.strictEqual(tokenAtOffset(tokens, 0), 1);
    assert.strictEqual(tokenAtOffset(tokens, 1), 1);
    assert.strictEqual(tokenAtOffset(tokens, 3), 2);
    assert.strictEqual(tokenAtOffset(tokens, 4), 2);
  });

  it('a cursor just after a word belongs to it; whitespace between words prefers the next token', () => {
    assert.strictEqual(tokenAtOffset(tokens, 2), 1);
    assert.strictEqual(tokenAtOffset(tokens, 5), 2);
    assert.strictEqual(tokenAtOffset([t(0, 2), t(2, 4)], 2), 1);
  });

  it('nothing outside the analyzed text; special tokens cover nothing', () => {
    assert.strictEqual(tokenAtOffset(tokens, 6), null);
    assert.strictEqual(tokenAtOffset(tokens, -1), null);
    assert.strictEqual(tokenAtOffset([t(-1, -1, true)], 0), null);
  });

  it('respects the segment of sentence pairs', () => {
    const pair = [t(0, 3), t(-1, -1, true), t(0, 3, false, 1)];
    assert.strictEqual(tokenAtOffset(pair, 1, 0), 0);
    assert.strictEqual(tokenAtOffset(pair, 1, 1), 2);
  });

  it('maps UTF-16 offsets past astral characters (emoji count 2 units)', () => {
    const r = fixtureResult('bert', 2); // ends with "// sum 🎂"
    const emoji = r.text.indexOf('🎂');
    const index = tokenAtOffset(r.tokens, emoji + 1);
    assert.notStrictEqual(index, null);
    const token = r.tokens[index!];
    assert.strictEqual(r.text.slice(token.start, token.end), '🎂');
    // Every non-special token maps back to itself from its first unit.
    r.tokens.forEach((tok, i) => {
      if (!tok.special) assert.strictEqual(tokenAtOffset(r.tokens, tok.start), i);
    });
  });

  it('lists the tokens overlapping a range', () => {
    assert.deepStrictEqual(tokensInRange(tokens, 1, 4), [1, 2]);
    assert.deepStrictEqual(tokensInRange(tokens, 2, 3), []);
    assert.deepStrictEqual(tokensInRange(tokens, 4, 4), [2]);
  });
});

describe('analysis/offsets: rangeAfterEdits', () => {
  const range = { start: 10, end: 20 };
  const edit = (rangeOffset: number, rangeLength: number, text: string) => ({ rangeOffset, rangeLength, text });

  it('moves with edits before it and ignores edits after it (an insertion at either end stays outside)', () => {
    assert.deepStrictEqual(rangeAfterEdits(range, [edit(2, 3, '')]), { start: 7, end: 17 });
    assert.deepStrictEqual(rangeAfterEdits(range, [edit(10, 0, 'ab')]), { start: 12, end: 22 });
    assert.deepStrictEqual(rangeAfterEdits(range, [edit(20, 0, 'xyz'), edit(25, 4, '')]), range);
  });

  it('grows and shrinks with edits inside it and covers edits across its ends', () => {
    assert.deepStrictEqual(rangeAfterEdits(range, [edit(14, 3, 'big dog')]), { start: 10, end: 24 });
    assert.deepStrictEqual(rangeAfterEdits(range, [edit(12, 8, '')]), { start: 10, end: 12 });
    assert.deepStrictEqual(rangeAfterEdits(range, [edit(8, 4, 'X')]), { start: 8, end: 17 });
    assert.deepStrictEqual(rangeAfterEdits(range, [edit(18, 5, 'tail!')]), { start: 10, end: 23 });
  });

  it('applies several changes of one event (offsets of the document before it) in any order', () => {
    const edits = [edit(0, 1, 'AAAA'), edit(15, 0, '++'), edit(30, 2, '')];
    assert.deepStrictEqual(rangeAfterEdits(range, edits), { start: 13, end: 25 });
    assert.deepStrictEqual(rangeAfterEdits(range, [...edits].reverse()), { start: 13, end: 25 });
  });
});
