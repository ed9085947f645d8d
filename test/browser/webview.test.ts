/**
 * The real webview bundle in headless Chromium: renders fixture results, hover shows exact weights,
 * clicks post the editor messages, modes switch, exports produce valid PNG/SVG/JSON, keyboard and
 * screen-reader hooks work, state survives a reload, long inputs stay fast.
 * Build first (node esbuild.js), then: npx mocha --no-config --timeout 120000 out/test/browser/webview.test.js
 */
import * as assert from 'assert';
import type { AttentionResult } from '../../src/protocol/types';
import type { WebviewToHost } from '../../src/protocol/webview';
import { colorOf, colorRangeFor } from '../../src/analysis/colormap';
import { layerMean, rollout, valueWeighted } from '../../src/analysis/modes';
import { AttentionStack, ValueNormStack } from '../../src/analysis/tensor';
import { fixtureResult } from '../unit/analysis/fixture';
import { bertHeadVectors } from './bertVectors';
import { cspViolations, frames, openHarness, type Harness } from './harness';
import { at, canvasPixel, cellCenter, chooseOption, colLabelPoint, geometry, label, lastPosted, rowLabelPoint, tooltip } from './geometry';
import { decodePng, pixel } from './png';

describe('webview in Chromium', function () {
  this.timeout(120000);
  let h: Harness;
  let result: AttentionResult;
  let stack: AttentionStack;

  before(async () => {
    result = fixtureResult('bert', 0); // [CLS] i am makin ##g a ca ##ke [SEP]
    stack = new AttentionStack(result.attentions);
    h = await openHarness({ theme: 'light' });
  });

  after(async () => {
    await h?.close();
  });

  afterEach(async function () {
    const violations = await cspViolations(h);
    assert.deepStrictEqual(violations, [], 'Content Security Policy violations');
    assert.deepStrictEqual(h.problems, [], 'console errors in the webview');
  });

  it('says it is ready and shows a placeholder until a result arrives', async () => {
    assert.deepStrictEqual(await h.posted(), [{ type: 'ready' }]);
    assert.ok(await h.page.locator('[data-testid="placeholder"]').isVisible());
  });

  it('renders a fixture result: labelled heatmap, current mode visible, caution shown', async () => {
    await h.send({ type: 'result', resultId: 7, result });
    const g = await geometry(h);
    assert.strictEqual(g.size, 9);
    assert.ok(g.cell >= 10, `cells are ${g.cell}px`);
    assert.strictEqual(await h.page.locator('[data-testid="heatmap"]').getAttribute('data-labels'), 'shown');
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /^Single head — layer 0, head 0 · special tokens shown$/);
    assert.match(await h.page.locator('[data-testid="caution"]').innerText(), /a clue, not an explanation/);
    assert.match(await h.page.locator('[data-testid="mode-explanation"]').innerText(), /one head in one layer/);
    assert.strictEqual(await h.page.locator('[data-testid="model-name"]').innerText(), 'hf-tiny/bert');
  });

  it('paints each cell with the colour of its weight', async () => {
    const g = await geometry(h);
    const head = stack.headMatrix(0, 0);
    const range = colorRangeFor(head.data, 'max');
    for (const [i, j] of [[0, 0], [2, 3], [8, 4], [5, 5]]) {
      // Off centre: large cells print their value in the middle.
      const p = cellCenter(g, i, j, 0.15);
      const actual = await canvasPixel(h, 'heatmap', p.x, p.y);
      assert.deepStrictEqual(actual, colorOf(at(head, i, j), range, 'viridis'), `cell ${i},${j}`);
    }
  });

  it('hovering a cell shows "query → key: weight (layer, head)" with the exact weight', async () => {
    const g = await geometry(h);
    const p = cellCenter(g, 2, 3);
    await h.page.mouse.move(p.x, p.y);
    const expected = `${label(result.tokens[2])} → ${label(result.tokens[3])}: ${at(stack.headMatrix(0, 0), 2, 3).toFixed(6)} (layer 0, head 0)`;
    assert.strictEqual(expected.startsWith('am → makin: 0.'), true);
    assert.strictEqual(await tooltip(h), expected);
  });

  it('hovering a token label lists its top attended tokens and a row sum of 1', async () => {
    const g = await geometry(h);
    const p = rowLabelPoint(g, 2);
    await h.page.mouse.move(p.x, p.y);
    assert.match(await tooltip(h), /^am \(query 2, text 2–4\)/);
    assert.strictEqual(await h.page.locator('[data-testid="row-sum"]').innerText(), 'Row sum: 1.000000');
    const items = await h.page.locator('[data-testid="top-keys"] li').allInnerTexts();
    const row = Array.from(stack.head(0, 0).subarray(2 * 9, 3 * 9));
    const best = row.map((w, j) => ({ w, j })).sort((a, b) => b.w - a.w)[0];
    assert.strictEqual(items.length, 5);
    assert.strictEqual(items[0].replace(/\s+/g, ' '), `${label(result.tokens[best.j])} ${best.w.toFixed(6)}`);
    // The row and column of the hovered token are highlighted: the colour differs from the plain cell.
    const head = stack.headMatrix(0, 0);
    const cell = cellCenter(g, 2, 6);
    const shown = await canvasPixel(h, 'heatmap', cell.x, cell.y);
    assert.notDeepStrictEqual(shown, colorOf(at(head, 2, 6), colorRangeFor(head.data, 'max'), 'viridis'));
  });

  it('clicking a token label posts revealToken and focuses that query (editor decorations)', async () => {
    await h.clearPosted();
    const g = await geometry(h);
    const p = rowLabelPoint(g, 3);
    await h.page.mouse.click(p.x, p.y);
    const posted = await h.posted();
    assert.deepStrictEqual(posted[0], { type: 'revealToken', resultId: 7, index: 3 });
    const focus = posted.find((m) => m.type === 'focusQuery') as Extract<WebviewToHost, { type: 'focusQuery' }>;
    assert.strictEqual(focus.index, 3);
    assert.deepStrictEqual(focus.weights, Array.from(stack.head(0, 0).subarray(3 * 9, 4 * 9)));
    // A column label reveals the key token without changing the focus.
    await h.clearPosted();
    const c = colLabelPoint(g, 6);
    await h.page.mouse.click(c.x, c.y);
    assert.deepStrictEqual(await h.posted(), [{ type: 'revealToken', resultId: 7, index: 6 }]);
  });

  it('clicking a cell posts revealToken for the key with the query as queryIndex', async () => {
    await h.clearPosted();
    const g = await geometry(h);
    const p = cellCenter(g, 1, 5);
    await h.page.mouse.click(p.x, p.y);
    assert.deepStrictEqual(await h.posted(), [{ type: 'revealToken', resultId: 7, index: 5, queryIndex: 1 }]);
  });

  it('switches modes through the controls; weights follow the mode', async () => {
    const g0 = await geometry(h);
    const probe = async () => {
      const g = await geometry(h);
      const p = cellCenter(g, 4, 1);
      await h.page.mouse.move(p.x, p.y);
      return tooltip(h);
    };
    await chooseOption(h, 'mode', 'Mean of layer');
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /^Mean of layer — layer 0, mean of 4 heads · special tokens shown$/);
    assert.match(await h.page.locator('[data-testid="mode-explanation"]').innerText(), /average of all heads/);
    assert.strictEqual(await probe(), `g → i: ${at(layerMean(stack, 0), 4, 1).toFixed(6)} (layer 0, mean of heads)`);

    await chooseOption(h, 'layer', 'Layer 2');
    await chooseOption(h, 'mode', 'Rollout');
    assert.strictEqual(await probe(), `g → i: ${at(rollout(stack, 2), 4, 1).toFixed(6)} (rollout through layer 2)`);
    assert.match(await h.page.locator('[data-testid="mode-explanation"]').innerText(), /Abnar & Zuidema/);

    await chooseOption(h, 'mode', 'Value-weighted');
    await chooseOption(h, 'head', 'Head 3');
    const vw = valueWeighted(stack, new ValueNormStack(result.valueNorms), 2, 3);
    assert.strictEqual(await probe(), `g → i: ${at(vw, 4, 1).toFixed(6)} (layer 2, head 3, value-weighted)`);

    await chooseOption(h, 'mode', 'Single head');
    assert.strictEqual(await probe(), `g → i: ${at(stack.headMatrix(2, 3), 4, 1).toFixed(6)} (layer 2, head 3)`);
    assert.strictEqual((await geometry(h)).size, g0.size);
  });

  it('a focused query follows mode changes (focusQuery re-sent with the new weights)', async () => {
    const focus = await lastPosted(h, 'focusQuery');
    assert.deepStrictEqual(focus!.weights, Array.from(stack.head(2, 3).subarray(3 * 9, 4 * 9)));
  });

  it('hides special tokens (with and without renormalising) and merges sub-words into words', async () => {
    await chooseOption(h, 'special', 'Hide, renormalise rows');
    let g = await geometry(h);
    assert.strictEqual(g.size, 7);
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /special tokens hidden, rows renormalised/);
    const head = stack.head(2, 3);
    const rowSum = [1, 2, 3, 4, 5, 6, 7].reduce((a, j) => a + head[1 * 9 + j], 0);
    let p = cellCenter(g, 0, 1);
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await tooltip(h), `i → am: ${(head[1 * 9 + 2] / rowSum).toFixed(6)} (layer 2, head 3)`);

    await h.page.locator('[data-testid="merge"]').click();
    await frames(h.page);
    g = await geometry(h);
    assert.strictEqual(g.size, 5); // i am making a cake
    p = cellCenter(g, 2, 4);
    await h.page.mouse.move(p.x, p.y);
    const renorm = (q: number, k: number) => head[q * 9 + k] / [1, 2, 3, 4, 5, 6, 7].reduce((a, j) => a + head[q * 9 + j], 0);
    const expected = (renorm(3, 6) + renorm(3, 7) + renorm(4, 6) + renorm(4, 7)) / 2;
    assert.strictEqual(await tooltip(h), `making → cake: ${expected.toFixed(6)} (layer 2, head 3)`);

    // Back to the plain view for the next tests.
    await h.page.locator('[data-testid="merge"]').click();
    await chooseOption(h, 'special', 'Show special tokens');
    assert.strictEqual((await geometry(h)).size, 9);
  });

  it('keyboard: arrows move through cells (announced), Enter reveals, Space focuses, Escape clears', async () => {
    await h.page.locator('[data-testid="heatmap"]').focus();
    await h.page.keyboard.press('Home');
    await h.page.keyboard.press('Control+Home');
    await h.page.keyboard.press('ArrowRight');
    await h.page.keyboard.press('ArrowRight');
    await h.page.keyboard.press('ArrowDown');
    const live = await h.page.locator('[data-testid="live"]').innerText();
    assert.strictEqual(live, `Row 2 of 9, column 3: i → am: ${stack.head(2, 3)[1 * 9 + 2].toFixed(6)} (layer 2, head 3).`);
    await h.clearPosted();
    await h.page.keyboard.press('Enter');
    assert.deepStrictEqual(await h.posted(), [{ type: 'revealToken', resultId: 7, index: 2, queryIndex: 1 }]);
    await h.clearPosted();
    await h.page.keyboard.press('Space');
    const focus = (await h.posted()).find((m) => m.type === 'focusQuery') as Extract<WebviewToHost, { type: 'focusQuery' }>;
    assert.strictEqual(focus.index, 1);
    await h.page.keyboard.press('Escape');
    assert.deepStrictEqual(await lastPosted(h, 'focusQuery'), { type: 'focusQuery', resultId: 7, index: null });
  });

  it('cursorToken from the editor marks that row', async () => {
    await h.send({ type: 'cursorToken', resultId: 7, index: 6 });
    await h.page.mouse.move(1, 1);
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="details"]').innerText(), /“ca” attends to/);
    // A message about an older result is ignored.
    await h.send({ type: 'cursorToken', resultId: 6, index: 2 });
    assert.match(await h.page.locator('[data-testid="details"]').innerText(), /“ca” attends to/);
  });

  it('stale banner with a Recompute button', async () => {
    assert.ok(!(await h.page.locator('[data-testid="stale-banner"]').isVisible()));
    await h.send({ type: 'stale', resultId: 7, stale: true });
    assert.ok(await h.page.locator('[data-testid="stale-banner"]').isVisible());
    await h.clearPosted();
    await h.page.locator('[data-testid="recompute"]').click();
    assert.deepStrictEqual(await h.posted(), [{ type: 'recompute' }]);
    await h.send({ type: 'stale', resultId: 7, stale: false });
    assert.ok(!(await h.page.locator('[data-testid="stale-banner"]').isVisible()));
  });

  it('exports PNG: ≥2× pixels, title, labels, legend, and the cells in their colours', async () => {
    await h.clearPosted();
    await h.page.locator('[data-testid="export-png"]').click();
    await h.page.locator('[data-testid="export-svg"]').click();
    const png = (await lastPosted(h, 'export'))!;
    const posted = await h.posted();
    const pngMsg = posted.find((m) => m.type === 'export' && m.format === 'png') as Extract<WebviewToHost, { type: 'export' }>;
    const svgMsg = posted.find((m) => m.type === 'export' && m.format === 'svg') as Extract<WebviewToHost, { type: 'export' }>;
    assert.ok(png && pngMsg && svgMsg);
    assert.strictEqual(pngMsg.suggestedName, 'attention-bert-i-am-making-L2-H3-head.png');
    const image = decodePng(Buffer.from(pngMsg.data, 'base64'));
    // PNG and SVG share one layout: the PNG is exactly twice the SVG's size (device scale 1 here).
    const [, svgW, svgH] = svgMsg.data.match(/<svg[^>]* width="(\d+)" height="(\d+)"/)!.map(Number);
    assert.strictEqual(image.width, svgW * 2);
    assert.strictEqual(image.height, svgH * 2);
    // Every cell's centre has the colour the SVG gives that cell.
    const rects = [...svgMsg.data.match(/<g id="cells"[^>]*>(.*?)<\/g>/)![1].matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="#([0-9a-f]{6})"/g)];
    assert.ok(rects.length > 0);
    for (const r of rects) {
      const [x, y, w, hh] = [r[1], r[2], r[3], r[4]].map(Number);
      const rgb = [0, 2, 4].map((k) => parseInt(r[5].slice(k, k + 2), 16));
      const px = pixel(image, (x + Math.min(w, 10) / 2) * 2, (y + hh / 2) * 2);
      assert.deepStrictEqual(px.slice(0, 3), rgb, `rect at ${x},${y}`);
    }
    // Background where the theme says, and text (title) drawn in the top-left area.
    assert.deepStrictEqual(pixel(image, 2, 2), [255, 255, 255, 255]);
    let inked = 0;
    for (let y = 32; y < 68; y++) for (let x = 32; x < 400; x++) if (pixel(image, x, y)[0] < 128) inked++;
    assert.ok(inked > 100, 'no title text in the PNG');
  });

  it('exports SVG that parses as XML with title, both axes labelled and a legend', async () => {
    const svg = ((await h.posted()).find((m) => m.type === 'export' && m.format === 'svg') as Extract<WebviewToHost, { type: 'export' }>).data;
    const parsed = await h.page.evaluate((text) => {
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      const error = doc.querySelector('parsererror');
      return {
        error: error?.textContent ?? null,
        title: doc.querySelector('title')?.textContent,
        rowLabels: Array.from(doc.querySelectorAll('#row-labels text'), (t) => t.textContent),
        colLabels: Array.from(doc.querySelectorAll('#col-labels text'), (t) => t.textContent),
        legend: !!doc.querySelector('#legend'),
        ticks: Array.from(doc.querySelectorAll('#legend-ticks text'), (t) => t.textContent),
        texts: Array.from(doc.querySelectorAll('text'), (t) => t.textContent).join('\n'),
      };
    }, svg);
    assert.strictEqual(parsed.error, null);
    assert.strictEqual(parsed.title, 'hf-tiny/bert — layer 2, head 3 · single head');
    const labels = result.tokens.map(label);
    assert.deepStrictEqual(parsed.rowLabels, labels);
    assert.deepStrictEqual(parsed.colLabels, labels);
    assert.ok(parsed.legend);
    assert.strictEqual(parsed.ticks.length, 3);
    assert.match(parsed.texts, /special tokens shown/);
    assert.match(parsed.texts, /a clue, not an explanation/);
  });

  it('exports JSON of the current view and asks the host for NPY, Python and image copies', async () => {
    await h.clearPosted();
    // A platform that refuses images on the clipboard (as a webview without the permission does).
    await h.page.evaluate(() => {
      (navigator.clipboard as { write: unknown }).write = () => Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'));
    });
    await h.page.locator('[data-testid="export-json"]').click();
    await h.page.locator('[data-testid="export-npy"]').click();
    await h.page.locator('[data-testid="copy-python"]').click();
    await h.page.locator('[data-testid="copy-image"]').click();
    // The clipboard refused: the webview asks the host to save the PNG instead.
    await h.page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'copyImage'));
    const posted = await h.posted();
    const json = posted[0] as Extract<WebviewToHost, { type: 'export' }>;
    assert.strictEqual(json.format, 'json');
    const data = JSON.parse(json.data);
    assert.strictEqual(data.tokens.length, 9);
    assert.deepStrictEqual([data.tokens[2].start, data.tokens[2].end], [2, 4]);
    assert.deepStrictEqual(data.selection, { mode: 'head', layer: 2, head: 3, description: 'layer 2, head 3 · single head' });
    assert.strictEqual(data.matrix[4][1], Number(Math.fround(stack.head(2, 3)[4 * 9 + 1]).toPrecision(9)));
    assert.strictEqual(data.headScores.length, 12);
    assert.deepStrictEqual(posted[1], { type: 'export', format: 'npy', data: '', suggestedName: 'attentions-bert-i-am-making-9-tokens.npy' });
    assert.deepStrictEqual(posted[2], { type: 'copyPython', view: { mode: 'head', layer: 2, head: 3 } });
    const copy = posted[3] as Extract<WebviewToHost, { type: 'copyImage' }>;
    assert.strictEqual(copy.type, 'copyImage');
    assert.ok(decodePng(Buffer.from(copy.data, 'base64')).width > 100);
  });

  it('Copy image writes the PNG to the clipboard from the webview when the platform allows', async () => {
    await h.page.evaluate(() => delete (navigator.clipboard as { write?: unknown }).write); // the real one again
    await h.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: h.origin });
    await h.clearPosted();
    await h.page.locator('[data-testid="copy-image"]').click();
    await h.page.waitForFunction(() => /copied/.test(document.querySelector('[data-testid="live"]')!.textContent ?? ''));
    const clip = await h.page.evaluate(async () => {
      const items = await navigator.clipboard.read();
      const blob = await items[0].getType('image/png');
      const bytes = new Uint8Array(await blob.arrayBuffer());
      let bin = '';
      for (const b of bytes) bin += String.fromCharCode(b);
      return { types: items[0].types, base64: btoa(bin) };
    });
    assert.deepStrictEqual(clip.types, ['image/png']);
    assert.ok(decodePng(Buffer.from(clip.base64, 'base64')).width > 100);
    assert.deepStrictEqual((await h.posted()).filter((m) => m.type === 'copyImage'), [], 'no fallback when the clipboard took it');
    await h.context.clearPermissions();
  });

  it('model view: a thumbnail per head with scores; clicking one opens it in the head view', async () => {
    await h.page.locator('[data-testid="tab-model"]').click();
    await frames(h.page);
    const grid = h.page.locator('[data-testid="model-grid"]');
    assert.strictEqual(await grid.getAttribute('data-tiles'), '12');
    assert.match(await h.page.locator('[data-testid="model-panel"]').innerText(), /12 of 12 heads/);
    // Hover a tile: its scores; click: opens it.
    const center = await h.page.evaluate(() => {
      // Tile of layer 2, head 1: its index in data-order, then the grid geometry (webview/TESTING.md).
      const c = document.querySelector('[data-testid="model-grid"]') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const d = c.dataset;
      const index = d.order!.split(' ').indexOf('2.1');
      const col = index % Number(d.columns);
      const row = Math.floor(index / Number(d.columns));
      const x = r.left + Number(d.tileLeft) + col * Number(d.tileStepX) + Number(d.thumb) / 2 - Number(d.scrollX);
      const y = r.top + Number(d.tileTop) + row * Number(d.tileStepY) + Number(d.thumb) / 2 - Number(d.scrollY);
      return { x, y };
    });
    await h.page.mouse.move(center.x, center.y);
    assert.match(await tooltip(h), /^Layer 2, head 1: previous token 0\.\d\d, first token 0\.\d\d, self 0\.\d\d, entropy 0\.\d\d/);
    await h.page.mouse.click(center.x, center.y);
    await frames(h.page);
    assert.ok(await h.page.locator('[data-testid="head-panel"]').isVisible());
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /^Single head — layer 2, head 1 · /);
  });

  it('model view: ranking and filtering by a pattern score', async () => {
    await h.page.locator('[data-testid="tab-model"]').click();
    await chooseOption(h, 'arrangement', 'Ranked by score');
    await chooseOption(h, 'sortKey', 'Self');
    await h.page.locator('[data-testid="scoreMin"]').fill('0.3');
    await h.page.locator('[data-testid="scoreMin"]').press('Enter');
    await h.page.locator('[data-testid="scoreMin"]').blur();
    await frames(h.page);
    const shown = Number(await h.page.locator('[data-testid="model-grid"]').getAttribute('data-tiles'));
    let expected = 0;
    for (let l = 0; l < 3; l++) {
      for (let hd = 0; hd < 4; hd++) {
        const a = stack.head(l, hd);
        let self = 0;
        for (let i = 0; i < 9; i++) self += a[i * 9 + i];
        if (self / 9 >= 0.3) expected++;
      }
    }
    assert.strictEqual(shown, expected);
    assert.match(await h.page.locator('[data-testid="model-panel"]').innerText(), new RegExp(`${expected} of 12 heads`));
    await h.page.locator('[data-testid="scoreMin"]').fill('0');
    await h.page.locator('[data-testid="scoreMin"]').blur();
    await chooseOption(h, 'arrangement', 'Layers × heads');
  });

  it('step by step: requests q/k/v, recomputes the softmax and matches the attention row', async () => {
    await h.clearPosted();
    await h.page.locator('[data-testid="tab-step"]').click();
    await frames(h.page);
    const request = await lastPosted(h, 'requestHeadVectors');
    assert.deepStrictEqual(request, { type: 'requestHeadVectors', resultId: 7, layer: 2, head: 1 });
    assert.match(await h.page.locator('[data-testid="step-status"]').innerText(), /Loading q, k and v/);
    await h.send({ type: 'headVectors', resultId: 7, vectors: bertHeadVectors(0, 2, 1) });
    const check = await h.page.locator('[data-testid="step-check"]').innerText();
    assert.match(check, /Σ weights = 1\.000000/);
    assert.match(check, /the recomputation matches/);
    const diff = Number(check.match(/returned: ([\d.e−-]+)/)![1].replace('−', '-'));
    assert.ok(diff < 1e-5, `recomputed weights differ by ${diff}`);
    const rows = await h.page.locator('[data-testid="step-table"] tbody tr').count();
    assert.strictEqual(rows, 10); // 9 keys + the sum
    // Choosing another query updates the walkthrough without asking again.
    await h.clearPosted();
    await chooseOption(h, 'stepQuery', '5: a');
    assert.match(await h.page.locator('[data-testid="step-status"]').innerText(), /Query “a” \(token 5\), layer 2, head 1/);
    assert.deepStrictEqual((await h.posted()).filter((m) => m.type === 'requestHeadVectors'), []);
    await h.page.locator('[data-testid="tab-head"]').click();
    await frames(h.page);
    assert.ok(await h.page.locator('[data-testid="head-panel"]').isVisible());
  });

  it('re-reads theme colours when the body class changes (dark theme)', async () => {
    const g = await geometry(h);
    const corner = await canvasPixel(h, 'heatmap', g.left + 2, g.top + 2);
    assert.deepStrictEqual(corner, [255, 255, 255]);
    await h.setTheme('dark');
    const dark = await canvasPixel(h, 'heatmap', g.left + 2, g.top + 2);
    assert.deepStrictEqual(dark, [0x1f, 0x1f, 0x1f]);
    await h.setTheme('light');
  });

  it('view state survives a reload (getState/setState) when the same result is sent again', async () => {
    await h.page.locator('[data-testid="heatmap"]').focus();
    await h.page.keyboard.press('Space'); // focus query row 1 again
    await h.page.reload();
    await h.page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
    await h.clearPosted();
    await h.send({ type: 'result', resultId: 8, result });
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /^Single head — layer 2, head 1 · /);
    const focus = await lastPosted(h, 'focusQuery');
    assert.strictEqual(focus?.index, 1);
    assert.strictEqual(focus?.resultId, 8);
    // A different text drops the focus but keeps layer and head.
    await h.clearPosted();
    await h.send({ type: 'result', resultId: 9, result: fixtureResult('bert', 1) });
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /layer 2, head 1/);
    assert.strictEqual(await lastPosted(h, 'focusQuery'), undefined);
  });

  it('shows malformed results and errors as messages instead of breaking', async () => {
    const broken = { ...result, attentions: { ...result.attentions, shape: [3, 4, 9, 8] } };
    await h.send({ type: 'result', resultId: 10, result: broken });
    assert.match(await h.page.locator('[data-testid="error-banner"]').innerText(), /cannot show this result: attentions holds 3888 bytes, its shape \[3,4,9,8\] needs 3456/);
    await h.send({ type: 'error', message: 'The model could not be loaded.' });
    assert.strictEqual(await h.page.locator('[data-testid="error-banner"]').innerText(), 'The model could not be loaded.');
    await h.send({ type: 'busy', message: 'Computing attention…' });
    assert.strictEqual(await h.page.locator('[data-testid="busy-banner"]').innerText(), 'Computing attention…');
    await h.send({ type: 'result', resultId: 11, result });
    assert.ok(!(await h.page.locator('[data-testid="error-banner"]').isVisible()));
    assert.ok(!(await h.page.locator('[data-testid="busy-banner"]').isVisible()));
  });
});

describe('webview on high-DPI screens', function () {
  this.timeout(120000);
  let h: Harness;

  before(async () => {
    h = await openHarness({ theme: 'dark', deviceScaleFactor: 2 });
    await h.send({ type: 'result', resultId: 1, result: fixtureResult('gpt2', 1) });
  });

  after(async () => {
    await h?.close();
  });

  const backing = () =>
    h.page.evaluate(() =>
      ['heatmap', 'legend'].map((id) => {
        const c = document.querySelector(`[data-testid="${id}"]`) as HTMLCanvasElement;
        return c.width / c.clientWidth;
      }),
    );

  it('draws canvases at the device pixel ratio and exports PNG at ≥2×', async () => {
    assert.deepStrictEqual(await backing(), [2, 2]);
    await h.clearPosted();
    await h.page.locator('[data-testid="export-png"]').click();
    await h.page.locator('[data-testid="export-svg"]').click();
    const posted = (await h.posted()) as Extract<WebviewToHost, { type: 'export' }>[];
    const png = decodePng(Buffer.from(posted[0].data, 'base64'));
    const [, w] = posted[1].data.match(/<svg[^>]* width="(\d+)"/)!.map(Number);
    assert.strictEqual(png.width, w * 2);
    assert.deepStrictEqual(h.problems, []);
  });

  it('re-renders crisply at the new ratio after a browser zoom', async () => {
    // Zooming in raises devicePixelRatio and shrinks the CSS viewport by the same factor.
    const cdp = await h.context.newCDPSession(h.page);
    for (const [ratio, width, height] of [[2.5, 960, 640], [3, 800, 533], [1.25, 1920, 1280]]) {
      await cdp.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: ratio, mobile: false });
      await frames(h.page);
      await frames(h.page);
      const ratios = await backing();
      ratios.forEach((r) => assert.ok(Math.abs(r - ratio) < 0.02, `backing ratio ${r} at zoom ${ratio}`));
    }
    // The causal model's view shows nothing above the diagonal: the cell right of [0,0] is the lowest colour.
    const g = await geometry(h);
    const p = cellCenter(g, 0, 1, 0.3);
    assert.deepStrictEqual(await canvasPixel(h, 'heatmap', p.x, p.y), [0x44, 0x01, 0x54]);
    assert.deepStrictEqual(h.problems, []);
  });
});
