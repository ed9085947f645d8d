import * as assert from 'assert';
import { AlignmentTooLargeError, MAX_ALIGN_CELLS, alignTokens, describeAlignment, type AlignToken } from '../../../src/analysis/align';

/** Tokens from words: the id is a hash of the word, so equal words are equal tokens. */
const words = (text: string): AlignToken[] => text.split(' ').map((w) => ({ id: [...w].reduce((h, c) => h * 31 + c.charCodeAt(0), 7) % 50000, raw: w }));
const pairsOf = (a: string, b: string) => alignTokens(words(a), words(b)).pairs.map((p) => `${p.a}-${p.b}${p.kind === 'substituted' ? 's' : ''}`).join(' ');

describe('analysis/align', () => {
  it('identical sequences align one to one', () => {
    const al = alignTokens(words('the cat sat on the mat'), words('the cat sat on the mat'));
    assert.strictEqual(pairsOf('the cat sat on the mat', 'the cat sat on the mat'), '0-0 1-1 2-2 3-3 4-4 5-5');
    assert.deepStrictEqual(al.segments, [{ op: 'same', aStart: 0, aEnd: 6, bStart: 0, bEnd: 6 }]);
    assert.deepStrictEqual(al.counts, { same: 6, substituted: 0, deleted: 0, inserted: 0 });
  });

  it('a replaced word is a substitution at the same place', () => {
    const al = alignTokens(words('the cat sat down'), words('the dog sat down'));
    assert.strictEqual(pairsOf('the cat sat down', 'the dog sat down'), '0-0 1-1s 2-2 3-3');
    assert.deepStrictEqual(al.segments.map((s) => s.op), ['same', 'substituted', 'same']);
    assert.deepStrictEqual(al.counts, { same: 3, substituted: 1, deleted: 0, inserted: 0 });
  });

  it('an insertion in B leaves the inserted token without a partner', () => {
    const al = alignTokens(words('the cat sat'), words('the black cat sat'));
    assert.strictEqual(pairsOf('the cat sat', 'the black cat sat'), '0-0 1-2 2-3');
    assert.deepStrictEqual(Array.from(al.bToA), [0, -1, 1, 2]);
    assert.deepStrictEqual(Array.from(al.aToB), [0, 2, 3]);
    assert.deepStrictEqual(al.segments, [
      { op: 'same', aStart: 0, aEnd: 1, bStart: 0, bEnd: 1 },
      { op: 'inserted', aStart: 1, aEnd: 1, bStart: 1, bEnd: 2 },
      { op: 'same', aStart: 1, aEnd: 3, bStart: 2, bEnd: 4 },
    ]);
    assert.strictEqual(describeAlignment(al), '3 tokens aligned (3 identical), 1 only in B');
  });

  it('a deletion from A leaves the deleted tokens without a partner', () => {
    const al = alignTokens(words('a very very big dog barked'), words('a big dog barked'));
    assert.strictEqual(pairsOf('a very very big dog barked', 'a big dog barked'), '0-0 3-1 4-2 5-3');
    assert.deepStrictEqual(Array.from(al.aToB), [0, -1, -1, 1, 2, 3]);
    assert.deepStrictEqual(al.counts, { same: 4, substituted: 0, deleted: 2, inserted: 0 });
  });

  it('a replacement of unequal length is a deletion and an insertion, not a pairing', () => {
    const al = alignTokens(words('I like the red car'), words('I like a bright blue car'));
    assert.strictEqual(pairsOf('I like the red car', 'I like a bright blue car'), '0-0 1-1 4-5');
    assert.deepStrictEqual(al.segments.map((s) => s.op), ['same', 'deleted', 'inserted', 'same']);
    assert.deepStrictEqual(al.counts, { same: 3, substituted: 0, deleted: 2, inserted: 3 });
  });

  it('changes at the start and at the end', () => {
    assert.strictEqual(pairsOf('x b c y', 'z b c w'), '0-0s 1-1 2-2 3-3s');
    assert.strictEqual(pairsOf('b c', 'a b c d'), '0-1 1-2');
    assert.strictEqual(pairsOf('a b c d', 'b c'), '1-0 2-1');
  });

  it('finds a longest common subsequence in the changed middle (not just prefix and suffix)', () => {
    // Middle of A: x a y b z ; middle of B: a q b : the LCS "a b" is matched, q is substituted for y.
    assert.strictEqual(pairsOf('s x a y b z e', 's a q b e'), '0-0 2-1 3-2s 4-3 6-4');
  });

  it('tokens match on id and spelling together', () => {
    const a = [{ id: 1, raw: 'a' }, { id: 2, raw: 'b' }];
    const b = [{ id: 1, raw: 'a' }, { id: 2, raw: 'B' }];
    const al = alignTokens(a, b);
    assert.deepStrictEqual(al.pairs, [{ a: 0, b: 0, kind: 'same' }, { a: 1, b: 1, kind: 'substituted' }]);
  });

  it('empty sides', () => {
    assert.deepStrictEqual(alignTokens([], words('a b')).counts, { same: 0, substituted: 0, deleted: 0, inserted: 2 });
    assert.deepStrictEqual(alignTokens(words('a b'), []).segments, [{ op: 'deleted', aStart: 0, aEnd: 2, bStart: 0, bEnd: 0 }]);
    assert.deepStrictEqual(alignTokens([], []).pairs, []);
  });

  it('segments cover both sequences in order, and the maps agree with the pairs', () => {
    const a = words('one two three four five six seven eight nine ten');
    const b = words('zero one three four four and a half five seven nine ten eleven');
    const al = alignTokens(a, b);
    let ai = 0;
    let bi = 0;
    for (const s of al.segments) {
      assert.strictEqual(s.aStart, ai);
      assert.strictEqual(s.bStart, bi);
      ai = s.aEnd;
      bi = s.bEnd;
    }
    assert.strictEqual(ai, a.length);
    assert.strictEqual(bi, b.length);
    for (const p of al.pairs) {
      assert.strictEqual(al.aToB[p.a], p.b);
      assert.strictEqual(al.bToA[p.b], p.a);
      if (p.kind === 'same') assert.strictEqual(a[p.a].raw, b[p.b].raw);
    }
    // LCS length of the two word lists is 7: one three four five seven nine ten.
    assert.strictEqual(al.counts.same, 7);
  });

  it('refuses texts too different to align within the memory bound, saying so', () => {
    const side = Math.ceil(Math.sqrt(MAX_ALIGN_CELLS)) + 1;
    const a = Array.from({ length: side }, (_, i) => ({ id: i, raw: `a${i}` }));
    const b = Array.from({ length: side }, (_, i) => ({ id: side + i, raw: `b${i}` }));
    assert.throws(() => alignTokens(a, b), (e: unknown) => e instanceof AlignmentTooLargeError && /too many to align/.test(e.message));
  });
});
