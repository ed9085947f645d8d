import * as assert from 'assert';
import type { TokenInfo } from '../../../src/protocol/types';
import { tokenAtOffset, tokensInRange } from '../../../src/analysis/offsets';
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
