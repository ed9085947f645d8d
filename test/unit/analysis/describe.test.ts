import * as assert from 'assert';
import { describeSelection, exportBaseName, figureTexts, safeFileName, viewJson } from '../../../src/analysis/describe';
import { AttentionStack } from '../../../src/analysis/tensor';
import { buildView } from '../../../src/analysis/view';
import { parseWebviewMessage } from '../../../src/protocol/webview';
import { fixtureResult } from './fixture';

describe('analysis/describe', () => {
  const r = fixtureResult('bert', 0);

  it('describes each mode with the layer and head it uses', () => {
    assert.strictEqual(describeSelection({ mode: 'head', layer: 2, head: 3 }, 3, 4), 'layer 2, head 3 · single head');
    assert.strictEqual(describeSelection({ mode: 'layerMean', layer: 1, head: 3 }, 3, 4), 'layer 1 · mean of 4 heads');
    assert.strictEqual(describeSelection({ mode: 'allMean', layer: 1, head: 3 }, 3, 4), 'all 3 layers × 4 heads · mean');
    assert.match(describeSelection({ mode: 'rollout', layer: 2, head: 0 }, 3, 4), /rollout through layer 2/);
    assert.match(describeSelection({ mode: 'valueWeighted', layer: 0, head: 1 }, 3, 4), /layer 0, head 1 · value-weighted/);
  });

  it('figure titles name model, layer, head, mode and special-token handling', () => {
    const t = figureTexts(r.model, { mode: 'head', layer: 1, head: 2 }, 'hideRenormalize', false, 'colour 0–1');
    assert.strictEqual(t.title, 'hf-tiny/bert — layer 1, head 2 · single head');
    assert.match(t.subtitle, /special tokens hidden, rows renormalised/);
    assert.match(t.subtitle, /colour 0–1/);
  });

  it('JSON of the view: tokens with ranges, axis and the matrix shown', () => {
    const stack = new AttentionStack(r.attentions);
    const view = buildView(stack.headMatrix(1, 2), r.tokens, { special: 'hide', mergeWords: true }, r.text);
    const json = viewJson(r, { mode: 'head', layer: 1, head: 2 }, true, true, 'hide', true, view);
    const parsed = JSON.parse(JSON.stringify(json));
    assert.strictEqual(parsed.tokens.length, 9);
    assert.deepStrictEqual(parsed.tokens[3], { index: 3, id: r.tokens[3].id, raw: 'makin', display: 'makin', start: 5, end: 10, special: false, segment: 0 });
    assert.deepStrictEqual(parsed.axis.map((a: { label: string }) => a.label), ['i', 'am', 'making', 'a', 'cake']);
    assert.strictEqual(parsed.matrix.length, 5);
    // matrix[making][cake] = mean over query pieces of the sum over key pieces.
    const h = stack.head(1, 2);
    const n = 9;
    const expected = (h[3 * n + 6] + h[3 * n + 7] + h[4 * n + 6] + h[4 * n + 7]) / 2;
    assert.ok(Math.abs(parsed.matrix[2][4] - expected) < 1e-6);
    assert.deepStrictEqual(parsed.selection, { mode: 'head', layer: 1, head: 2, description: 'layer 1, head 2 · single head' });
  });

  it('file names pass the host validation', () => {
    const name = safeFileName(exportBaseName({ ...r.model, name: 'org/model: "x"' }, { mode: 'rollout', layer: 2, head: 0 }), 'png');
    assert.strictEqual(name, 'attention-model-x-L2-rollout.png');
    const msg = parseWebviewMessage({ type: 'export', format: 'png', data: 'AAAA', suggestedName: name });
    assert.ok(msg, 'host refused the suggested name');
    assert.strictEqual(safeFileName('<<>>', 'svg'), 'attention.svg');
  });
});
