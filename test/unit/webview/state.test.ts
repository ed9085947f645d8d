import * as assert from 'assert';
import { DEFAULT_STATE, fitStateToResult, sanitizeState } from '../../../webview/state';

describe('webview/state', () => {
  it('falls back to defaults for anything missing or invalid', () => {
    assert.deepStrictEqual(sanitizeState(undefined), DEFAULT_STATE);
    assert.deepStrictEqual(sanitizeState('junk'), DEFAULT_STATE);
    const s = sanitizeState({ mode: 'rollout', layer: -1, head: 2.5, special: 'nope', zoom: 1000, focus: 'x', scoreMin: 2, tab: 'model' });
    assert.strictEqual(s.mode, 'rollout');
    assert.strictEqual(s.tab, 'model');
    assert.strictEqual(s.layer, 0);
    assert.strictEqual(s.head, 0);
    assert.strictEqual(s.special, 'show');
    assert.strictEqual(s.zoom, null);
    assert.strictEqual(s.focus, null);
    assert.strictEqual(s.scoreMin, 0);
  });

  it('keeps valid fields', () => {
    const saved = { ...DEFAULT_STATE, layer: 3, head: 7, special: 'hide', mergeWords: true, zoom: 18, focus: 4, resultKey: 'k' };
    assert.deepStrictEqual(sanitizeState(JSON.parse(JSON.stringify(saved))), saved);
  });

  it('fits layer and head into a smaller model and drops focus from another result', () => {
    const s = { ...DEFAULT_STATE, layer: 11, head: 11, focus: 5, stepQuery: 5, resultKey: 'a' };
    assert.deepStrictEqual(
      [fitStateToResult(s, 3, 4, 9, 'a')].map((x) => [x.layer, x.head, x.focus, x.stepQuery]),
      [[2, 3, 5, 5]],
    );
    const other = fitStateToResult(s, 12, 12, 9, 'b');
    assert.deepStrictEqual([other.layer, other.head, other.focus, other.stepQuery, other.resultKey], [11, 11, null, null, 'b']);
    assert.strictEqual(fitStateToResult(s, 12, 12, 4, 'a').focus, null); // token 5 no longer exists
  });

  it('a new text opens fitted; the same text keeps its zoom; overlaid heads stay inside the model', () => {
    const s = { ...DEFAULT_STATE, zoom: 20, lineHeads: [1, 5, 9], rowQuery: 3, resultKey: 'a' };
    assert.deepStrictEqual([fitStateToResult(s, 4, 8, 9, 'a')].map((x) => [x.zoom, x.lineHeads, x.rowQuery]), [[20, [1, 5], 3]]);
    assert.deepStrictEqual([fitStateToResult(s, 4, 8, 9, 'b')].map((x) => [x.zoom, x.rowQuery]), [[null, null]]);
  });

  it('keeps the head and model views\' scroll positions for the same result only, refusing junk', () => {
    const saved = { ...DEFAULT_STATE, headScroll: { row: 800, col: 1000.5 }, modelScroll: { x: 0, y: 300 }, resultKey: 'a' };
    assert.deepStrictEqual(sanitizeState(JSON.parse(JSON.stringify(saved))), saved);
    for (const junk of [{ row: -1, col: 2 }, { row: 1 }, { row: 'x', col: 2 }, { row: 1, col: Infinity }, 5, [1, 2]]) {
      assert.strictEqual(sanitizeState({ headScroll: junk }).headScroll, null, JSON.stringify(junk));
    }
    assert.strictEqual(sanitizeState({ modelScroll: { x: 1, y: -3 } }).modelScroll, null);
    assert.deepStrictEqual(sanitizeState({ headScroll: { row: 1, col: 2, extra: 3 } }).headScroll, { row: 1, col: 2 });
    const same = fitStateToResult(saved, 12, 12, 9, 'a');
    assert.deepStrictEqual([same.headScroll, same.modelScroll], [saved.headScroll, saved.modelScroll]);
    const other = fitStateToResult(saved, 12, 12, 9, 'b');
    assert.deepStrictEqual([other.headScroll, other.modelScroll], [null, null]);
  });

  it('keeps colour normalisation, pair filter and the toolbar row across reloads, refusing junk', () => {
    const saved = { ...DEFAULT_STATE, norm: 'log', pairFilter: 'ba', moreControls: true, lineHeads: [0, 2], tab: 'lines' };
    assert.deepStrictEqual(sanitizeState(JSON.parse(JSON.stringify(saved))), saved);
    const junk = sanitizeState({ norm: 'sqrt', pairFilter: 'x', lineHeads: [1, -2], moreControls: 'yes' });
    assert.deepStrictEqual([junk.norm, junk.pairFilter, junk.lineHeads, junk.moreControls], ['linear', 'all', [], false]);
  });
});
