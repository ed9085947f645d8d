/**
 * An encoder-decoder's three attention blocks in the real webview bundle: the switcher shows them,
 * the square blocks go through the usual heatmap, the cross block has its rectangular heatmap with
 * exact weights on hover, and editor links carry only tokens of the document.
 * Build first (node esbuild.js), then: npx mocha --no-config --timeout 120000 out/test/browser/blocks.test.js
 */
import * as assert from 'assert';
import * as path from 'path';
import type { AttentionResult } from '../../src/protocol/types';
import type { WebviewToHost } from '../../src/protocol/webview';
import { loadModel } from '../../src/models';
import { readTensorRange } from '../../src/analysis/tensor';
import { FIXTURES_2_ROOT, openFixture } from '../helpers/fixtures';
import { clickHeadCell, cspViolations, frames, openHarness, type Harness } from './harness';

async function chooseOption(h: Harness, selectId: string, optionLabel: string): Promise<void> {
  await h.page.locator(`#${selectId}`).click();
  await h.page.locator(`#${selectId} .option`, { hasText: optionLabel }).first().click();
  await frames(h.page);
}

async function posted<T extends WebviewToHost['type']>(h: Harness, type: T): Promise<Extract<WebviewToHost, { type: T }>[]> {
  return (await h.posted()).filter((m) => m.type === type) as Extract<WebviewToHost, { type: T }>[];
}

describe('webview: encoder-decoder blocks', function () {
  this.timeout(120000);
  let h: Harness;
  let result: AttentionResult;

  before(async () => {
    const fixture = openFixture('bart', FIXTURES_2_ROOT);
    const model = await loadModel(path.join(FIXTURES_2_ROOT, 'bart'));
    try {
      result = await model.analyze(fixture.cases[0].text, { target: fixture.cases[0].decoder_text });
    } finally {
      await model.dispose();
      fixture.close();
    }
    h = await openHarness({ theme: 'dark' });
    await h.send({ type: 'result', resultId: 3, result });
  });

  after(async () => {
    await h?.close();
  });

  afterEach(async () => {
    assert.deepStrictEqual(await cspViolations(h), [], 'Content Security Policy violations');
    assert.deepStrictEqual(h.problems, [], 'console errors in the webview');
  });

  it('offers the three blocks and starts on the encoder self-attention, linked to the editor', async () => {
    assert.ok(await h.page.locator('[data-testid="block-bar"]').isVisible());
    const options = await h.page.locator('#attention-block vscode-option').allInnerTexts();
    assert.deepStrictEqual(options, ['Encoder self-attention (11 × 11)', 'Decoder self-attention (16 × 16)', 'Cross-attention (16 × 11)']);
    assert.match(await h.page.locator('.token-count').innerText(), /^11 tokens · 3 layers × 4 heads/);
    await clickHeadCell(h, 2, 1);
    const reveal = (await posted(h, 'revealToken')).pop();
    assert.deepStrictEqual(reveal, { type: 'revealToken', resultId: 3, index: 1, queryIndex: 2 });
  });

  it('the decoder block shows the decoder tokens, and its cells link nothing in the editor', async () => {
    await chooseOption(h, 'attention-block', 'Decoder self-attention');
    assert.match(await h.page.locator('.token-count').innerText(), /^16 tokens · 2 layers × 4 heads/);
    const before = (await posted(h, 'revealToken')).length;
    await clickHeadCell(h, 3, 2);
    assert.strictEqual((await posted(h, 'revealToken')).length, before, 'decoder tokens are not in the document');
  });

  it('the cross block: rectangular heatmap, exact weight on hover, a click selects the key token of the text', async () => {
    await chooseOption(h, 'attention-block', 'Cross-attention');
    assert.ok(await h.page.locator('[data-testid="cross-view"]').isVisible());
    assert.ok(!(await h.page.locator('[data-testid="head-panel"]').isVisible()), 'the square views are hidden');
    const box = (await h.page.locator('[data-testid="cross-canvas"]').boundingBox())!;
    const cell = box.width / 11;
    assert.ok(Math.abs(box.height / 16 - cell) < 0.01, 'one square cell per decoder × text token');
    const [row, col] = [5, 7];
    await h.page.mouse.move(box.x + (col + 0.5) * cell, box.y + (row + 0.5) * cell);
    const cross = result.blocks![2];
    const weight = readTensorRange(cross.attentions, row * 11 + col, 1)[0];
    const readout = await h.page.locator('[data-testid="cross-readout"]').innerText();
    assert.ok(readout.endsWith(`: ${weight.toFixed(4)}`), readout);
    assert.match(readout, /\(decoder 5\) → .* \(text 7\)/);
    await h.page.mouse.click(box.x + (col + 0.5) * cell, box.y + (row + 0.5) * cell);
    assert.deepStrictEqual((await posted(h, 'revealToken')).pop(), { type: 'revealToken', resultId: 3, index: 7 });
  });

  it('the cross block exports its matrix as JSON, and "Decoder text…" asks the host', async () => {
    await h.page.locator('[data-testid="cross-export-json"]').click();
    const exported = (await posted(h, 'export')).pop()!;
    assert.strictEqual(exported.format, 'json');
    const json = JSON.parse(exported.data);
    assert.deepStrictEqual(json.shape, [16, 11]);
    assert.strictEqual(json.queryTokens.length, 16);
    assert.strictEqual(json.matrix[5][7].toFixed(6), readTensorRange(result.blocks![2].attentions, 5 * 11 + 7, 1)[0].toFixed(6));
    await h.page.locator('[data-testid="cross-export-npy"]').click();
    const npy = (await posted(h, 'export')).pop()!;
    assert.deepStrictEqual([npy.format, npy.block], ['npy', 'cross'], 'the host writes the cross tensor');
    await h.page.locator('[data-testid="edit-target"]').click();
    assert.ok((await posted(h, 'editTarget')).length === 1);
  });

  it('back to the encoder block: the head view returns', async () => {
    await chooseOption(h, 'attention-block', 'Encoder self-attention');
    assert.ok(await h.page.locator('[data-testid="head-panel"]').isVisible());
    assert.ok(!(await h.page.locator('[data-testid="cross-view"]').isVisible()));
  });
});
