/**
 * An encoder-decoder's three attention blocks in the real webview bundle, on the view protocol: the
 * host sends the analysis and the summaries of every block, never a tensor, and answers the
 * webview's view requests (FakeHost: the engine worker's own ViewServer). The switcher shows the
 * blocks, the square ones go through the usual heatmap and model view, the cross block has its
 * rectangular heatmap with the reference's exact weights on hover, every head's thumbnail and step
 * by step; editor links carry only tokens of the document.
 * Build first (node esbuild.js), then: npx mocha --no-config --timeout 120000 out/test/browser/blocks.test.js
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { AttentionResult } from '../../src/protocol/types';
import type { WebviewToHost } from '../../src/protocol/webview';
import type { AttentionModel } from '../../src/engine/model';
import { loadModel } from '../../src/models';
import { ATTENTION_TOLERANCE, FIXTURES_2_ROOT, openFixture, type Fixture } from '../helpers/fixtures';
import { FakeHost } from './fakeHost';
import { clickHeadCell, cspViolations, frames, openHarness, repoRoot, type Harness } from './harness';

async function chooseOption(h: Harness, selectId: string, optionLabel: string): Promise<void> {
  await h.page.locator(`#${selectId}`).click();
  await h.page.locator(`#${selectId} .option`, { hasText: optionLabel }).first().click();
  await frames(h.page);
}

async function posted<T extends WebviewToHost['type']>(h: Harness, type: T): Promise<Extract<WebviewToHost, { type: T }>[]> {
  return (await h.posted()).filter((m) => m.type === type) as Extract<WebviewToHost, { type: T }>[];
}

/** The reference cross-attention weight `[layer, head, row, col]` of fixture case 0 (transformers). */
function referenceCross(fixture: Fixture, layer: number, head: number, row: number, col: number): number {
  const ref = fixture.expected('case0.cross_attentions');
  const [, heads, rows, cols] = ref.shape;
  return ref.data[((layer * heads + head) * rows + row) * cols + col];
}

/** The weight the cross readout shows (4 decimals) is the reference's, within the engine's tolerance and the rounding. */
async function assertReadout(h: Harness, expected: number): Promise<void> {
  const text = await h.page.locator('[data-testid="cross-readout"]').innerText();
  const shown = Number(text.slice(text.lastIndexOf(': ') + 2));
  assert.ok(Math.abs(shown - expected) <= ATTENTION_TOLERANCE + 5e-5, `${text} (reference ${expected})`);
}

describe('webview: encoder-decoder blocks on the view protocol', function () {
  this.timeout(120000);
  let h: Harness;
  let host: FakeHost;
  let result: AttentionResult;
  let fixture: Fixture;
  let model: AttentionModel;

  before(async () => {
    fixture = openFixture('bart', FIXTURES_2_ROOT);
    model = await loadModel(path.join(FIXTURES_2_ROOT, 'bart'));
    result = await model.analyze(fixture.cases[0].text, { target: fixture.cases[0].decoder_text });
    h = await openHarness({ theme: 'dark' });
    host = new FakeHost(h);
    await host.analysis(3, result);
    await host.serve();
  });

  after(async () => {
    await h?.close();
    await model?.dispose();
    fixture?.close();
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
    assert.ok(host.requests.length > 0 && host.requests.every((m) => m.resultId === 3 && m.request.block === 'encoder'), 'the head view asked for encoder views');
    await clickHeadCell(h, 2, 1);
    const reveal = (await posted(h, 'revealToken')).pop();
    assert.deepStrictEqual(reveal, { type: 'revealToken', resultId: 3, index: 1, queryIndex: 2 });
  });

  it('the decoder block: its views are asked for with the block, its cells link nothing in the editor, its model view comes from its summaries', async () => {
    await chooseOption(h, 'attention-block', 'Decoder self-attention');
    const asked = await host.newRequests();
    assert.ok(asked.length > 0 && asked.every((m) => m.request.block === 'decoder'), JSON.stringify(asked.map((m) => m.request)));
    for (const m of asked) await host.answer(m);
    await frames(h.page);
    assert.match(await h.page.locator('.token-count').innerText(), /^16 tokens · 2 layers × 4 heads/);
    const before = (await posted(h, 'revealToken')).length;
    await clickHeadCell(h, 3, 2);
    assert.strictEqual((await posted(h, 'revealToken')).length, before, 'decoder tokens are not in the document');
    await h.page.locator('[data-testid="tab-model"]').click();
    await frames(h.page);
    assert.strictEqual(await h.page.locator('[data-testid="model-grid"]').getAttribute('data-tiles'), '8', 'every decoder head in the model view');
    assert.deepStrictEqual(await host.newRequests(), [], 'the model view draws from the decoder summaries');
    await h.page.locator('[data-testid="tab-head"]').click();
    await frames(h.page);
  });

  it('the cross block: rectangular heatmap from a view request, the reference weight on hover, a click selects the key token of the text', async () => {
    await chooseOption(h, 'attention-block', 'Cross-attention');
    assert.ok(await h.page.locator('[data-testid="cross-view"]').isVisible());
    assert.ok(!(await h.page.locator('[data-testid="head-panel"]').isVisible()), 'the square views are hidden');
    const asked = await host.newRequests();
    assert.deepStrictEqual(asked.map((m) => m.request), [{ kind: 'matrix', block: 'cross', mode: 'head', layer: 0, head: 0, special: 'show', mergeWords: false }]);
    assert.match(await h.page.locator('[data-testid="cross-status"]').innerText(), /Loading this view/);
    await host.answer(asked[0]);
    await frames(h.page);
    assert.strictEqual(await h.page.locator('[data-testid="cross-status"]').innerText(), '');
    const box = (await h.page.locator('[data-testid="cross-canvas"]').boundingBox())!;
    const cell = box.width / 11;
    assert.ok(Math.abs(box.height / 16 - cell) < 0.01, 'one square cell per decoder × text token');
    const [row, col] = [5, 7];
    await h.page.mouse.move(box.x + (col + 0.5) * cell, box.y + (row + 0.5) * cell);
    await assertReadout(h, referenceCross(fixture, 0, 0, row, col));
    assert.match(await h.page.locator('[data-testid="cross-readout"]').innerText(), /\(decoder 5\) → .* \(text 7\)/);
    await h.page.mouse.click(box.x + (col + 0.5) * cell, box.y + (row + 0.5) * cell);
    assert.deepStrictEqual((await posted(h, 'revealToken')).pop(), { type: 'revealToken', resultId: 3, index: 7 });
  });

  it('the cross block in a model view: every head\'s thumbnail from the summaries; a click shows that head, exactly', async () => {
    assert.strictEqual(await h.page.locator('[data-testid="cross-grid"] .cross-thumb').count(), 8);
    assert.deepStrictEqual(await host.newRequests(), [], 'the thumbnails came with the summaries');
    await h.page.locator('[data-testid="cross-thumb-1-2"]').click();
    assert.strictEqual(await h.page.locator('[data-testid="cross-thumb-1-2"]').getAttribute('aria-pressed'), 'true');
    const asked = await host.newRequests();
    assert.deepStrictEqual(asked.map((m) => m.request), [{ kind: 'matrix', block: 'cross', mode: 'head', layer: 1, head: 2, special: 'show', mergeWords: false }]);
    await host.answer(asked[0]);
    await frames(h.page);
    const canvas = h.page.locator('[data-testid="cross-canvas"]');
    const cell = (await canvas.boundingBox())!.width / 11;
    await h.page.locator('[data-testid="cross-canvas"]').focus();
    await h.page.keyboard.press('ArrowDown');
    await h.page.keyboard.press('ArrowRight');
    await assertReadout(h, referenceCross(fixture, 1, 2, 1, 1));
    await canvas.hover({ position: { x: 3.5 * cell, y: 9.5 * cell } });
    await assertReadout(h, referenceCross(fixture, 1, 2, 9, 3));
    // The other modes of a rectangular block are requests of the cross block with their mode.
    const modeRequest = async (label: string, mode: string) => {
      await chooseOption(h, 'cross-mode', label);
      const asked = await host.newRequests();
      assert.deepStrictEqual(asked.map((m) => [m.request.kind, m.request.block, 'mode' in m.request ? m.request.mode : '']), [['matrix', 'cross', mode]]);
      await host.answer(asked[0]);
      await frames(h.page);
      await canvas.hover({ position: { x: 3.5 * cell, y: 9.5 * cell } });
    };
    await modeRequest('Mean of layer', 'layerMean');
    let mean = 0;
    for (let hd = 0; hd < 4; hd++) mean += referenceCross(fixture, 1, hd, 9, 3) / 4;
    await assertReadout(h, mean);
    assert.ok(await h.page.locator('#cross-head').evaluate((el) => el.hasAttribute('disabled')), 'a mean needs no head');
    await modeRequest('Mean of all', 'allMean');
    let all = 0;
    for (let l = 0; l < 2; l++) for (let hd = 0; hd < 4; hd++) all += referenceCross(fixture, l, hd, 9, 3) / 8;
    await assertReadout(h, all);
    await modeRequest('Value-weighted', 'valueWeighted');
    assert.match(await h.page.locator('[data-testid="cross-canvas"]').getAttribute('aria-label') ?? '', /^Value-weighted cross-attention, layer 1, head 2/);
    // A thumbnail goes back to the single head it shows.
    await h.page.locator('[data-testid="cross-thumb-1-2"]').click();
    assert.deepStrictEqual(await host.newRequests(), [], 'head 2 of layer 1 is still here');
    await frames(h.page);
    await assertReadout(h, referenceCross(fixture, 1, 2, 9, 3));
    const out = path.join(repoRoot(), 'test-results', 'browser');
    fs.mkdirSync(out, { recursive: true });
    await h.page.screenshot({ path: path.join(out, 'blocks-bart-cross.png'), fullPage: true });
  });

  it('step by step for a cross head: q of the decoder, k and v of the text, and the recomputation matches the reference row', async () => {
    assert.match(await h.page.locator('[data-testid="cross-canvas"]').getAttribute('aria-label') ?? '', /^Cross-attention, layer 1, head 2/);
    await h.page.locator('[data-testid="cross-step"] summary').click();
    await frames(h.page);
    const asked = (await posted(h, 'requestHeadVectors')).pop();
    assert.deepStrictEqual(asked, { type: 'requestHeadVectors', resultId: 3, layer: 1, head: 2, block: 'cross' });
    // The host answers with this analysis's q, k, v (the engine computes them; here the model the test loaded).
    const vectors = await model.headVectors(1, 2, 'cross');
    await h.send({ type: 'headVectors', resultId: 3, vectors });
    await h.page.evaluate(() => {
      const el = document.querySelector('#cross-step-query') as HTMLElement & { value: string };
      el.value = '4';
      el.dispatchEvent(new Event('change'));
    });
    await frames(h.page);
    const check = await h.page.locator('[data-testid="cross-step-check"]').innerText();
    assert.match(check, /the recomputation matches/);
    assert.match(await h.page.locator('[data-testid="cross-step-status"]').innerText(), /\(token 4\), layer 1, head 2/);
    // The "model" column is the reference's row (the view the heatmap got).
    const cells = await h.page.locator('[data-testid="cross-step-table"] tbody tr:not(.total) td:last-child').allInnerTexts();
    assert.strictEqual(cells.length, 11, 'one row per key token of the text');
    cells.forEach((c, j) => assert.ok(Math.abs(Number(c.replace('−', '-')) - referenceCross(fixture, 1, 2, 4, j)) <= ATTENTION_TOLERANCE + 1e-6, `key ${j}: ${c}`));
    await h.page.locator('[data-testid="cross-step"]').scrollIntoViewIfNeeded();
    await h.page.screenshot({ path: path.join(repoRoot(), 'test-results', 'browser', 'blocks-bart-cross-step.png') });
  });

  it('the cross block exports its matrix as JSON, the host writes the .npy, and "Decoder text…" asks the host', async () => {
    await h.page.locator('[data-testid="cross-export-json"]').click();
    const exported = (await posted(h, 'export')).pop()!;
    assert.strictEqual(exported.format, 'json');
    const json = JSON.parse(exported.data);
    assert.deepStrictEqual(json.shape, [16, 11]);
    assert.strictEqual(json.queryTokens.length, 16);
    assert.ok(Math.abs(json.matrix[5][7] - referenceCross(fixture, 1, 2, 5, 7)) <= ATTENTION_TOLERANCE, 'the exported matrix is the head shown');
    await h.page.locator('[data-testid="cross-export-npy"]').click();
    const npy = (await posted(h, 'export')).pop()!;
    assert.deepStrictEqual([npy.format, npy.block, npy.data], ['npy', 'cross', ''], 'the host writes the cross tensor');
    await h.page.locator('[data-testid="edit-target"]').click();
    assert.ok((await posted(h, 'editTarget')).length === 1);
  });

  it('back to the encoder block: the head view returns; the webview never asked for a whole tensor', async () => {
    await chooseOption(h, 'attention-block', 'Encoder self-attention');
    await host.serve();
    assert.ok(await h.page.locator('[data-testid="head-panel"]').isVisible());
    assert.ok(!(await h.page.locator('[data-testid="cross-view"]').isVisible()));
    assert.ok(host.requests.every((m) => m.request.kind !== 'tensor'));
  });
});
