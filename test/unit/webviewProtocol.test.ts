import * as assert from 'assert';
import { parseWebviewMessage } from '../../src/protocol/webview';

describe('protocol/webview: parseWebviewMessage', () => {
  it('accepts every well-formed message', () => {
    const good: unknown[] = [
      { type: 'ready' },
      { type: 'copyPython' },
      { type: 'copyPython', view: { mode: 'rollout', layer: 3, head: 0 } },
      { type: 'recompute' },
      { type: 'revealToken', resultId: 1, index: 3 },
      { type: 'revealToken', resultId: 1, index: 3, queryIndex: 0 },
      { type: 'focusQuery', resultId: 2, index: null },
      { type: 'focusQuery', resultId: 2, index: 1, weights: [0.5, 0.5] },
      { type: 'requestHeadVectors', resultId: 2, layer: 0, head: 3 },
      { type: 'export', format: 'npy', data: '', suggestedName: 'attention.npy' },
      { type: 'export', format: 'svg', data: '<svg/>', suggestedName: 'a.svg' },
      { type: 'copyImage', data: 'iVBORw0KGgo=' },
    ];
    // JSON round trip: an absent optional field may come back as undefined.
    for (const m of good) assert.deepStrictEqual(JSON.parse(JSON.stringify(parseWebviewMessage(m))), m, JSON.stringify(m));
  });

  it('encoder-decoder blocks: head vectors and npy exports name their block; editTarget', () => {
    assert.deepStrictEqual(parseWebviewMessage({ type: 'requestHeadVectors', resultId: 1, layer: 0, head: 2, block: 'cross' }), { type: 'requestHeadVectors', resultId: 1, layer: 0, head: 2, block: 'cross' });
    assert.deepStrictEqual(parseWebviewMessage({ type: 'export', format: 'npy', data: '', suggestedName: 'a.npy', block: 'decoder' }), { type: 'export', format: 'npy', data: '', suggestedName: 'a.npy', block: 'decoder' });
    assert.deepStrictEqual(parseWebviewMessage({ type: 'editTarget', x: 1 }), { type: 'editTarget' });
  });

  it('drops fields it does not know', () => {
    assert.deepStrictEqual(parseWebviewMessage({ type: 'ready', extra: 1 }), { type: 'ready' });
  });

  it('refuses malformed messages', () => {
    const bad: unknown[] = [
      null,
      'ready',
      {},
      { type: 'nope' },
      { type: 'revealToken', resultId: 1 },
      { type: 'copyPython', view: { mode: 'head', layer: -1, head: 0 } },
      { type: 'copyPython', view: { mode: 7, layer: 0, head: 0 } },
      { type: 'copyPython', view: null },
      { type: 'revealToken', resultId: 1, index: -1 },
      { type: 'revealToken', resultId: 1, index: 1.5 },
      { type: 'revealToken', resultId: '1', index: 1 },
      { type: 'revealToken', resultId: 1, index: 1, queryIndex: 'x' },
      { type: 'focusQuery', resultId: 1, index: 1 },
      { type: 'focusQuery', resultId: 1, index: 1, weights: [NaN] },
      { type: 'focusQuery', resultId: 1, index: 1, weights: ['0.5'] },
      { type: 'requestHeadVectors', resultId: 1, layer: 0 },
      { type: 'export', format: 'exe', data: '', suggestedName: 'a.exe' },
      { type: 'export', format: 'png', data: 1, suggestedName: 'a.png' },
      { type: 'export', format: 'png', data: '', suggestedName: '../a.png' },
      { type: 'export', format: 'png', data: '', suggestedName: '' },
      { type: 'copyImage' },
      { type: 'requestHeadVectors', resultId: 1, layer: 0, head: 0, block: 'both' },
      { type: 'export', format: 'npy', data: '', suggestedName: 'a.npy', block: 'x' },
    ];
    for (const m of bad) assert.strictEqual(parseWebviewMessage(m), undefined, JSON.stringify(m));
  });
});
