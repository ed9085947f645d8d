import * as assert from 'assert';
import type { TokenInfo } from '../../../src/protocol/types';
import {
  applySpecialHandling,
  buildView,
  mergeGroups,
  queryWeightsByToken,
  tokenLabel,
  wordGroups,
} from '../../../src/analysis/view';
import { AttentionStack } from '../../../src/analysis/tensor';
import { fixtureResult } from './fixture';

function tok(raw: string, start: number, end: number, special = false, display?: string): TokenInfo {
  return { id: 0, raw, display: display ?? (special ? raw : raw.replace(/^##/, '').replace(/^[Ġ▁]/u, ' ')), start, end, special, segment: 0 };
}

const m4 = (values: number[]) => ({ size: 4, data: new Float32Array(values) });

describe('analysis/view: special tokens', () => {
  const tokens = [tok('[CLS]', -1, -1, true), tok('a', 0, 1), tok('b', 2, 3), tok('[SEP]', -1, -1, true)];
  // Rows sum to 1.
  const m = m4([
    0.4, 0.2, 0.2, 0.2,
    0.5, 0.25, 0.125, 0.125,
    0.1, 0.3, 0.1, 0.5,
    0.25, 0.25, 0.25, 0.25,
  ]);

  it('show keeps everything (as a copy)', () => {
    const { matrix, indices } = applySpecialHandling(m, tokens, 'show');
    assert.deepStrictEqual(indices, [0, 1, 2, 3]);
    assert.deepStrictEqual(Array.from(matrix.data), Array.from(m.data));
    assert.notStrictEqual(matrix.data, m.data);
  });

  it('hide keeps the weights, rows sum to less than 1', () => {
    const { matrix, indices } = applySpecialHandling(m, tokens, 'hide');
    assert.deepStrictEqual(indices, [1, 2]);
    assert.deepStrictEqual(Array.from(matrix.data), [0.25, 0.125, 0.3, 0.1].map(Math.fround));
  });

  it('hide and renormalise rescales rows to 1', () => {
    const { matrix } = applySpecialHandling(m, tokens, 'hideRenormalize');
    const d = Array.from(matrix.data);
    [2 / 3, 1 / 3, 0.75, 0.25].forEach((v, i) => assert.ok(Math.abs(d[i] - v) < 1e-6, `${i}: ${d[i]}`));
  });

  it('a row with nothing left after hiding stays empty instead of dividing by zero', () => {
    const sink = m4([1, 0, 0, 0, 1, 0, 0, 0, 0.5, 0.5, 0, 0, 1, 0, 0, 0]);
    const { matrix } = applySpecialHandling(sink, tokens, 'hideRenormalize');
    assert.deepStrictEqual(Array.from(matrix.data), [0, 0, 1, 0]);
  });
});

describe('analysis/view: word merge', () => {
  it('sums over key pieces and averages over query pieces', () => {
    // tokens: x, y1, y2 — y1+y2 form one word.
    const m = { size: 3, data: new Float32Array([0.2, 0.3, 0.5, 0.6, 0.1, 0.3, 0.4, 0.4, 0.2]) };
    const merged = mergeGroups(m, [[0], [1, 2]]);
    const d = Array.from(merged.data);
    const expected = [0.2, 0.8, (0.6 + 0.4) / 2, (0.4 + 0.6) / 2];
    expected.forEach((v, i) => assert.ok(Math.abs(d[i] - v) < 1e-6, `${i}: ${d[i]} vs ${v}`));
  });

  it('groups WordPiece continuations (##) with their word', () => {
    const r = fixtureResult('bert', 0); // [CLS] i am makin ##g a ca ##ke [SEP]
    const groups = wordGroups(r.tokens, r.tokens.map((_, i) => i), r.text);
    assert.deepStrictEqual(groups, [[0], [1], [2], [3, 4], [5], [6, 7], [8]]);
    const view = buildView(new AttentionStack(r.attentions).headMatrix(0, 0), r.tokens, { special: 'show', mergeWords: true }, r.text);
    assert.deepStrictEqual(view.items.map((i) => i.label), ['[CLS]', 'i', 'am', 'making', 'a', 'cake', '[SEP]']);
    assert.deepStrictEqual(view.items[3].tokens, [3, 4]);
    assert.deepStrictEqual([view.items[5].start, view.items[5].end], [14, 18]);
    assert.strictEqual(r.text.slice(14, 18), 'cake');
    // Merged rows still sum to 1.
    for (let i = 0; i < view.size; i++) {
      const s = Array.from(view.data.subarray(i * view.size, (i + 1) * view.size)).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s - 1) < 1e-5, `row ${i}: ${s}`);
    }
  });

  it('WordPiece punctuation stays its own word', () => {
    const r = fixtureResult('bert', 2); // const total = items.reduce(...)
    const view = buildView(new AttentionStack(r.attentions).headMatrix(0, 0), r.tokens, { special: 'hide', mergeWords: true }, r.text);
    const labels = view.items.map((i) => i.label);
    assert.deepStrictEqual(labels.slice(0, 7), ['const', 'total', '=', 'items', '.', 'reduce', '(']);
  });

  it('byte-level BPE: Ġ starts a word, touching letters continue it, punctuation splits', () => {
    const text = 'Hello wonderful world.';
    const tokens = [tok('Hel', 0, 3), tok('lo', 3, 5), tok('Ġwon', 5, 9), tok('der', 9, 12), tok('ful', 12, 15), tok('Ġworld', 15, 21), tok('.', 21, 22)];
    assert.deepStrictEqual(wordGroups(tokens, [0, 1, 2, 3, 4, 5, 6], text), [[0, 1], [2, 3, 4], [5], [6]]);
  });

  it('SentencePiece: ▁ starts a word; a hidden token between pieces breaks the word', () => {
    const text = 'unbelievable';
    const tokens = [tok('<s>', -1, -1, true), tok('▁un', 0, 2), tok('believ', 2, 8), tok('able', 8, 12)];
    assert.deepStrictEqual(wordGroups(tokens, [1, 2, 3], text), [[0, 1, 2]]);
    assert.deepStrictEqual(wordGroups(tokens, [1, 3], text), [[0], [1]]);
  });

  it('labels tokens readably', () => {
    assert.strictEqual(tokenLabel(tok('Ġthe', 0, 4)), 'the');
    assert.strictEqual(tokenLabel(tok('Ġ', 0, 1, false, ' ')), '␣');
    assert.strictEqual(tokenLabel(tok('Ċ', 0, 1, false, '\n')), '↵');
    assert.strictEqual(tokenLabel(tok('<s>', -1, -1, true)), '<s>');
    assert.strictEqual(tokenLabel(tok('x', 0, 1, false, 'a\u0007')), 'a\\x07');
  });

  it('merged word labels come from the text', () => {
    const text = 'Sentei no banco';
    const tokens = [tok('sen', 0, 3), tok('##tei', 3, 6), tok('no', 7, 9), tok('banco', 10, 15)];
    const m = { size: 4, data: new Float32Array(16).fill(0.25) };
    const view = buildView(m, tokens, { special: 'show', mergeWords: true }, text);
    assert.deepStrictEqual(view.items.map((i) => i.label), ['Sentei', 'no', 'banco']);
  });
});

describe('analysis/view: focused query weights per token', () => {
  const tokens = [tok('[CLS]', -1, -1, true), tok('a', 0, 1), tok('##b', 1, 2), tok('[SEP]', -1, -1, true)];
  const m = m4([0.4, 0.2, 0.2, 0.2, 0.5, 0.25, 0.125, 0.125, 0.1, 0.3, 0.1, 0.5, 0.25, 0.25, 0.25, 0.25]);

  it('gives one weight per original token, hidden tokens 0, rows renormalised when asked', () => {
    assert.deepStrictEqual(queryWeightsByToken(m, tokens, 'show', [1]), [0.5, 0.25, 0.125, 0.125]);
    assert.deepStrictEqual(queryWeightsByToken(m, tokens, 'hide', [1]), [0, 0.25, 0.125, 0]);
    const w = queryWeightsByToken(m, tokens, 'hideRenormalize', [1]);
    [0, 2 / 3, 1 / 3, 0].forEach((v, i) => assert.ok(Math.abs(w[i] - v) < 1e-6));
  });

  it('a merged query word averages its pieces rows', () => {
    const w = queryWeightsByToken(m, tokens, 'show', [1, 2]);
    [0.3, 0.275, 0.1125, 0.3125].forEach((v, i) => assert.ok(Math.abs(w[i] - v) < 1e-6, `${i}: ${w[i]}`));
  });
});
