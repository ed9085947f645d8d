/**
 * The panel at any size, and controls that tell the truth (issue 13): the real webview bundle in
 * headless Chromium at panel sizes from a laptop's side-by-side panel (333 × 598) to a 4K screen.
 * Each test would have caught one of the defects reported: an unreachable heatmap, dropdowns that
 * fell back to layer 0, a resize feedback loop, postage-stamp cells, a page that tabbing scrolled,
 * stale tooltips and results, tiny weights printed as 0.000000, and the rest.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { WebviewToHost } from '../../src/protocol/webview';
import { colorOf, UNIT_RANGE } from '../../src/analysis/colormap';
import { fixtureDir, fixtureResult } from '../unit/analysis/fixture';
import { setControl as choose } from './geometry';
import { cspViolations, frames, openHarness, type Harness } from './harness';
import { syntheticResult } from './synthetic';

interface Layout {
  canvas: { top: number; bottom: number; left: number; right: number; height: number; width: number };
  scroller: { clientHeight: number; clientWidth: number };
  cell: number;
  labels: string;
  rows: number;
  cols: number;
  frames: number;
  gridLeft: number;
  gridTop: number;
  scrollX: number;
  scrollY: number;
  pageScroll: number;
  appScroll: number;
  innerHeight: number;
  innerWidth: number;
  documentHeight: number;
}

async function layout(h: Harness, testid = 'heatmap'): Promise<Layout> {
  return h.page.evaluate((id) => {
    const c = document.querySelector(`[data-testid="${id}"]`) as HTMLCanvasElement;
    const r = c.getBoundingClientRect();
    const scroller = c.closest('.canvas-scroller') as HTMLElement;
    const d = c.dataset;
    return {
      canvas: { top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height, width: r.width },
      scroller: { clientHeight: scroller.clientHeight, clientWidth: scroller.clientWidth },
      cell: Number(d.cellSize),
      labels: d.labels ?? '',
      rows: Number(d.rows),
      cols: Number(d.cols),
      frames: Number(d.frames),
      gridLeft: Number(d.gridLeft),
      gridTop: Number(d.gridTop),
      scrollX: Number(d.scrollX),
      scrollY: Number(d.scrollY),
      pageScroll: document.scrollingElement!.scrollTop,
      appScroll: document.getElementById('app')!.scrollTop,
      innerHeight: window.innerHeight,
      innerWidth: window.innerWidth,
      documentHeight: document.scrollingElement!.scrollHeight,
    };
  }, testid);
}

const value = (h: Harness, id: string) => h.page.evaluate((i) => (document.getElementById(i) as HTMLElement & { value: string }).value, id);
const text = (h: Harness, testid: string) => h.page.locator(`[data-testid="${testid}"]`).innerText();


/** Waits a second and returns whether nothing was drawn meanwhile and the layout stayed the same. */
async function stableFor(h: Harness, ms = 1000): Promise<{ before: Layout; after: Layout }> {
  await frames(h.page);
  await h.page.waitForTimeout(150);
  const before = await layout(h);
  await h.page.waitForTimeout(ms);
  return { before, after: await layout(h) };
}

function cellPoint(g: Layout, row: number, col: number): { x: number; y: number } {
  return { x: g.canvas.left + g.gridLeft + (col + 0.5) * g.cell - g.scrollX, y: g.canvas.top + g.gridTop + (row + 0.5) * g.cell - g.scrollY };
}

/** Clicks an export button, opening the Export group first where the panel is narrow. */
async function exportClick(h: Harness, id: string): Promise<void> {
  if (!(await h.page.locator(`[data-testid="${id}"]`).isVisible())) await h.page.locator('[data-testid="exports-toggle"]').click();
  await h.page.locator(`[data-testid="${id}"]`).click();
}

async function lastPosted<T extends WebviewToHost['type']>(h: Harness, type: T): Promise<Extract<WebviewToHost, { type: T }> | undefined> {
  return (await h.posted()).filter((m) => m.type === type).pop() as Extract<WebviewToHost, { type: T }> | undefined;
}

function check(h: () => Harness) {
  afterEach(async () => {
    assert.deepStrictEqual(await cspViolations(h()), [], 'Content Security Policy violations');
    assert.deepStrictEqual(h().problems, [], 'console errors in the webview');
  });
}

const SIZES = [
  { name: 'a laptop panel beside the editor', width: 333, height: 598, minCell: 9 },
  { name: 'half of a 1600 × 900 window', width: 640, height: 740, minCell: 12 },
  { name: 'half of a 4K screen', width: 1280, height: 1400, minCell: 24 },
];

for (const size of SIZES) {
  describe(`panel layout: ${size.name} (${size.width} × ${size.height})`, function () {
    this.timeout(120000);
    let h: Harness;
    before(async () => {
      h = await openHarness({ theme: 'dark', viewport: { width: size.width, height: size.height } });
    });
    after(() => h?.close());
    check(() => h);

    it('the heatmap is on screen, fitted by default, nothing below the fold', async () => {
      await h.send({ type: 'result', resultId: 1, result: syntheticResult(24) });
      const g = await layout(h);
      assert.ok(g.canvas.top >= 0 && g.canvas.bottom <= g.innerHeight, `heatmap spans ${g.canvas.top}–${g.canvas.bottom} of ${g.innerHeight}`);
      assert.ok(g.canvas.height >= Math.min(300, size.height * 0.45), `heatmap area is ${g.canvas.height} px high`);
      assert.ok(g.documentHeight <= g.innerHeight, `the page is ${g.documentHeight} px, taller than the panel`);
      assert.ok(g.cell >= size.minCell, `24 tokens at ${g.cell} px cells`);
      assert.strictEqual(g.labels, 'shown');
      // The whole grid fits: no scrolling needed in fit mode.
      assert.ok(g.gridTop + 24 * g.cell <= g.scroller.clientHeight && g.gridLeft + 24 * g.cell <= g.scroller.clientWidth, 'the fitted grid is inside the visible area');
      // The canvas is exactly the visible area (it once was 10 px taller, hiding the first row under the labels).
      assert.ok(g.canvas.height <= g.scroller.clientHeight + 0.5 && g.canvas.width <= g.scroller.clientWidth + 0.5);
    });

    it('reaches a stable layout: no resize loop, no drawing while idle (44 then 24 tokens)', async () => {
      await h.send({ type: 'result', resultId: 2, result: syntheticResult(44) });
      await h.send({ type: 'result', resultId: 3, result: syntheticResult(24) });
      const { before, after } = await stableFor(h);
      assert.strictEqual(after.frames, before.frames, `${after.frames - before.frames} frames drawn in a second of idleness`);
      assert.deepStrictEqual([after.cell, after.labels, after.canvas.height], [before.cell, before.labels, before.canvas.height]);
      const shotA = await h.page.locator('[data-testid="heatmap"]').screenshot();
      await h.page.waitForTimeout(1000);
      const shotB = await h.page.locator('[data-testid="heatmap"]').screenshot();
      assert.ok(shotA.equals(shotB), 'two frames a second apart differ');
    });

    it('keyboard use never scrolls the page away from the header', async () => {
      for (let i = 0; i < 30; i++) await h.page.keyboard.press('Tab');
      await h.page.locator('[data-testid="heatmap"]').focus();
      await h.page.keyboard.press('End');
      await h.page.keyboard.press('Control+End');
      const g = await layout(h);
      assert.deepStrictEqual([g.pageScroll, g.appScroll], [0, 0]);
      const header = await h.page.locator('.panel-header').boundingBox();
      assert.ok(header && header.y >= 0, 'the header is in view');
    });

    it('the toolbar opens and closes; the heatmap keeps room to work', async () => {
      const more = h.page.locator('[data-testid="more-controls"]');
      if (await more.isVisible()) {
        await more.click();
        await frames(h.page);
        assert.ok(await h.page.locator('#special').isVisible());
        const open = await layout(h);
        assert.ok(open.canvas.height >= 140 && open.canvas.bottom <= open.innerHeight, `with every control shown the heatmap is ${open.canvas.height} px`);
        await more.click();
        await frames(h.page);
        assert.ok(!(await h.page.locator('#special').isVisible()));
      } else {
        assert.ok(await h.page.locator('#special').isVisible(), 'wide panels show every control');
      }
    });
  });
}

describe('controls show what is drawn', function () {
  this.timeout(120000);
  let h: Harness;
  before(async () => {
    h = await openHarness({ theme: 'light', viewport: { width: 640, height: 740 } });
  });
  after(() => h?.close());
  check(() => h);

  it('after layer 2 / head 3 and eight new results, the dropdowns still say layer 2 / head 3', async () => {
    await h.send({ type: 'result', resultId: 1, result: fixtureResult('bert', 0) });
    await choose(h, 'layer', '2');
    await choose(h, 'head', '3');
    for (let run = 0; run < 8; run++) {
      await h.send({ type: 'result', resultId: 10 + run, result: fixtureResult('bert', run % 3) });
      await frames(h.page);
      assert.deepStrictEqual([await value(h, 'layer'), await value(h, 'head')], ['2', '3'], `run ${run}`);
      assert.match(await text(h, 'mode-badge'), /layer 2, head 3/);
      // What the component displays, not only its value: the selected option's label.
      const shown = await h.page.evaluate(() => ['layer', 'head'].map((id) => (document.getElementById(id) as HTMLElement & { selectedIndex: number }).selectedIndex));
      assert.deepStrictEqual(shown, [2, 3], `selected indexes on run ${run}`);
    }
  });

  it('in layer-mean mode the Mode dropdown says "Mean of layer" after a new result and after a reload', async () => {
    await choose(h, 'mode', 'layerMean');
    await h.send({ type: 'result', resultId: 30, result: fixtureResult('bert', 1) });
    assert.strictEqual(await value(h, 'mode'), 'layerMean');
    assert.match(await text(h, 'mode-badge'), /^Mean of layer — layer 2, mean of 4 heads/);
    await h.page.reload();
    await h.page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
    await h.send({ type: 'result', resultId: 31, result: fixtureResult('bert', 1) });
    await frames(h.page);
    assert.deepStrictEqual([await value(h, 'mode'), await value(h, 'layer'), await value(h, 'head')], ['layerMean', '2', '3']);
    assert.match(await text(h, 'mode-badge'), /^Mean of layer — layer 2, mean of 4 heads/);
    await choose(h, 'mode', 'head');
  });

  it('a new text opens fitted even after zooming, at the top-left, with no tooltip left over', async () => {
    await h.page.locator('#zoom-in').click();
    await h.page.locator('#zoom-in').click();
    const g = await layout(h);
    await h.page.mouse.move(cellPoint(g, 2, 2).x, cellPoint(g, 2, 2).y);
    assert.ok(await h.page.locator('[data-testid="tooltip"]').isVisible());
    // A long text whose cursor sits at its end (as after selecting it): it must not open scrolled there.
    await h.send({ type: 'result', resultId: 40, result: syntheticResult(200) });
    await h.send({ type: 'cursorToken', resultId: 40, index: 199, reveal: false });
    const long = await layout(h);
    assert.ok(!(await h.page.locator('[data-testid="tooltip"]').isVisible()), 'the old tooltip is gone');
    assert.deepStrictEqual([long.scrollX, long.scrollY], [0, 0]);
    assert.strictEqual(await h.page.evaluate(() => document.querySelector('.canvas-scroller')!.scrollTop), 0);
    // Moving the cursor later does scroll to it (zoomed in, so that row 150 is out of view).
    await h.page.mouse.move(1, 1);
    for (let i = 0; i < 8; i++) await h.page.locator('#zoom-in').click();
    await h.send({ type: 'cursorToken', resultId: 40, index: 150, reveal: true });
    await frames(h.page);
    const moved = await layout(h);
    assert.ok(moved.gridTop + 150 * moved.cell > moved.canvas.height, 'row 150 starts out of view');
    assert.ok(moved.scrollY > 0, 'the cursor row was revealed');
    await h.page.locator('#zoom-fit').click();
  });
});

describe('what the panel says', function () {
  this.timeout(120000);
  let h: Harness;
  before(async () => {
    h = await openHarness({ theme: 'dark', viewport: { width: 900, height: 760 } });
  });
  after(() => h?.close());
  check(() => h);

  it('tiny weights read 3.80e-6, not 0.000000', async () => {
    await h.send({ type: 'result', resultId: 1, result: syntheticResult(8, { tiny: true }) });
    const g = await layout(h);
    const p = cellPoint(g, 1, 0);
    await h.page.mouse.move(p.x, p.y);
    assert.match(await text(h, 'tooltip'), /^w1 → w0: 3\.80e-6 \(layer 0, head 0\)$/);
  });

  it('causal models do not list masked future tokens among the top attended', async () => {
    await h.send({ type: 'result', resultId: 2, result: syntheticResult(10, { causal: true }) });
    const g = await layout(h);
    await h.page.mouse.move(g.canvas.left + g.gridLeft - 12, cellPoint(g, 2, 0).y);
    const keys = await h.page.locator('[data-testid="top-keys"] li').allInnerTexts();
    assert.deepStrictEqual(keys.map((k) => k.split(/\s+/)[0]).sort(), ['w0', 'w1', 'w2']);
    assert.strictEqual(await text(h, 'row-sum'), 'Row sum: 1.000000');
  });

  it('says when "Analyze First N Tokens" cut the text', async () => {
    const full = syntheticResult(12);
    const cut = { ...full, text: `${full.text} and a tail that was not analyzed` };
    await h.send({ type: 'result', resultId: 3, result: cut });
    assert.match(await text(h, 'truncated-banner'), /^Only the first 12 tokens were analyzed: the last \d+ characters .*“and a tail/);
    await h.send({ type: 'result', resultId: 4, result: full });
    assert.ok(!(await h.page.locator('[data-testid="truncated-banner"]').isVisible()));
  });

  it('a failed analysis (another model) takes the old result off the panel', async () => {
    await h.send({ type: 'error', message: 'org/model: unsupported architecture "mamba".', clearsResult: true });
    assert.strictEqual(await text(h, 'error-banner'), 'org/model: unsupported architecture "mamba".');
    assert.ok(await h.page.locator('[data-testid="placeholder"]').isVisible());
    assert.ok(!(await h.page.locator('[data-testid="heatmap"]').isVisible()));
    assert.strictEqual(await text(h, 'model-name'), 'Attention Inspector');
    // Messages about the old result are ignored now.
    await h.send({ type: 'cursorToken', resultId: 4, index: 2 });
    await h.send({ type: 'result', resultId: 5, result: syntheticResult(6) });
    assert.ok(await h.page.locator('[data-testid="heatmap"]').isVisible());
  });

  it('a closed document is not "the text changed"', async () => {
    await h.send({ type: 'stale', resultId: 5, stale: true, reason: 'closed' });
    assert.match(await text(h, 'stale-banner'), /The document was closed/);
    await h.send({ type: 'stale', resultId: 5, stale: true, reason: 'edited' });
    assert.match(await text(h, 'stale-banner'), /The text changed/);
  });

  it('every export names its text: two texts, two .npy names', async () => {
    await h.clearPosted();
    await h.send({ type: 'result', resultId: 6, result: syntheticResult(6, { words: ['the', 'cat', 'sat', 'on', 'a', 'mat'] }) });
    await exportClick(h, 'export-npy');
    await h.send({ type: 'result', resultId: 7, result: syntheticResult(6, { words: ['dogs', 'bark', 'at', 'the', 'moon', 'tonight'] }) });
    await exportClick(h, 'export-npy');
    const names = (await h.posted()).filter((m): m is Extract<WebviewToHost, { type: 'export' }> => m.type === 'export').map((m) => m.suggestedName);
    assert.deepStrictEqual(names, ['attentions-synthetic-the-cat-sat-6-tokens.npy', 'attentions-synthetic-dogs-bark-at-6-tokens.npy']);
  });
});

describe('colour scales: linear, per row, log — stated in the legend and the exports', function () {
  this.timeout(120000);
  let h: Harness;
  before(async () => {
    h = await openHarness({ theme: 'light', viewport: { width: 1200, height: 800 } });
    await h.send({ type: 'result', resultId: 1, result: syntheticResult(10, { sink: 0.9 }) });
  });
  after(() => h?.close());
  check(() => h);

  const pixelAt = (x: number, y: number) =>
    h.page.evaluate(
      ({ x, y }) => {
        const c = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement;
        const r = c.getBoundingClientRect();
        const dpr = c.width / r.width;
        return Array.from(c.getContext('2d')!.getImageData(Math.floor((x - r.left) * dpr), Math.floor((y - r.top) * dpr), 1, 1).data.slice(0, 3));
      },
      { x, y },
    );

  it('per row: each row’s largest weight takes the top colour, whatever the other rows hold', async () => {
    const result = syntheticResult(10);
    await h.send({ type: 'result', resultId: 2, result });
    const a = new Float32Array(result.attentions.buffer).subarray(0, 100);
    // The row whose largest weight is smallest: dim on a linear scale over the whole matrix.
    const maxOf = (i: number) => Math.max(...a.subarray(i * 10, i * 10 + 10));
    const row = [...Array(10).keys()].reduce((best, i) => (maxOf(i) < maxOf(best) ? i : best), 0);
    const col = Array.from(a.subarray(row * 10, row * 10 + 10)).indexOf(maxOf(row));
    const at = async () => {
      const g = await layout(h);
      const p = cellPoint(g, row, col);
      return pixelAt(p.x - g.cell * 0.3, p.y - g.cell * 0.3);
    };
    const linear = await at();
    assert.deepStrictEqual(linear, colorOf(maxOf(row) / Math.max(...a), UNIT_RANGE, 'viridis'));
    await choose(h, 'norm', 'row');
    assert.deepStrictEqual(await at(), colorOf(1, UNIT_RANGE, 'viridis'));
    assert.notDeepStrictEqual(await at(), linear);
    assert.strictEqual(await text(h, 'legend-caption'), 'per row: 0 → row max');
    assert.strictEqual(await h.page.locator('[data-testid="legend-caption"]').getAttribute('title'), 'Per-row colour scale: each row runs from 0 to its own largest weight.');
    assert.match(await text(h, 'mode-badge'), /per row colours$/);
  });

  it('log: the legend spans four decades; SVG and JSON exports state the scale', async () => {
    await choose(h, 'norm', 'log');
    assert.match((await h.page.locator('[data-testid="legend-caption"]').getAttribute('title'))!, /^Log colour scale: \S+ \(and below\) to 0\.\d+, the largest weight shown\.$/);
    assert.match(await text(h, 'legend-caption'), /^log: \S+ → 0\.\d+$/);
    assert.deepStrictEqual((await text(h, 'legend-ticks')).split(/\s+/).length, 3);
    await h.clearPosted();
    await exportClick(h, 'export-svg');
    await exportClick(h, 'export-json');
    const [svg, json] = (await h.posted()) as Extract<WebviewToHost, { type: 'export' }>[];
    assert.match(svg.data, /Log colour scale/);
    assert.match(svg.data, /<g id="legend-ticks"[^>]*>(<text[^>]*>[^<]+<\/text>){3}<\/g>/);
    const parsed = JSON.parse(json.data);
    assert.strictEqual(parsed.colour.normalisation, 'log');
    assert.match(parsed.colour.caption, /^Log colour scale/);
    await choose(h, 'norm', 'linear');
    assert.match(await text(h, 'legend-caption'), /^linear: 0 → max \(0\.\d+\)$/);
  });
});

describe('sentence pairs: A → B / B → A / all', function () {
  this.timeout(120000);
  let h: Harness;
  const result = fixtureResult('bert', 4); // [CLS] the cat sat on the mat . [SEP] | wh ##er ##e d ##id the cat s ##it [UNK] [SEP]
  const textB = (JSON.parse(fs.readFileSync(path.join(fixtureDir('bert'), 'expected.json'), 'utf8')) as { cases: { text_pair: string }[] }).cases[4].text_pair;
  before(async () => {
    h = await openHarness({ theme: 'light', viewport: { width: 900, height: 800 } });
    await h.send({ type: 'result', resultId: 1, result, pair: { text: textB } });
  });
  after(() => h?.close());
  check(() => h);

  it('the filter shows A’s queries over B’s keys, and the reverse', async () => {
    assert.ok(await h.page.locator('#pairFilter').isVisible());
    assert.match(await text(h, 'pair-banner'), /A = 9 tokens .* B = 11 tokens/);
    await choose(h, 'pairFilter', 'ab');
    let g = await layout(h);
    assert.deepStrictEqual([g.rows, g.cols], [9, 11]);
    const stack = new Float32Array(result.attentions.buffer);
    const p = cellPoint(g, 2, 4); // A row 2 = "cat", B column 4 = view column 9 + 4 = "d"
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await text(h, 'tooltip'), `cat → id: ${stack[2 * 20 + 13].toFixed(6)} (layer 0, head 0)`); // B's 5th token, ##id
    assert.match(await text(h, 'mode-badge'), /A → B$/);
    await choose(h, 'pairFilter', 'ba');
    g = await layout(h);
    assert.deepStrictEqual([g.rows, g.cols], [11, 9]);
    await h.clearPosted();
    await exportClick(h, 'export-json');
    const json = JSON.parse((await lastPosted(h, 'export'))!.data);
    assert.deepStrictEqual([json.pair.filter, json.pair.rows.length, json.pair.cols.length, json.pair.textB], ['ba', 11, 9, textB]);
    await exportClick(h, 'export-svg');
    const svg = (await lastPosted(h, 'export'))!;
    assert.match(svg.suggestedName, /-B-to-A\.svg$/);
    assert.match(svg.data, /sentence pair: B → A/);
    await choose(h, 'pairFilter', 'all');
    g = await layout(h);
    assert.deepStrictEqual([g.rows, g.cols], [20, 20]);
  });

  it('the line view draws A on the left and B on the right under A → B', async () => {
    await choose(h, 'pairFilter', 'ab');
    await h.page.locator('[data-testid="tab-lines"]').click();
    await frames(h.page);
    const lines = h.page.locator('[data-testid="lines"]');
    assert.deepStrictEqual([await lines.getAttribute('data-rows'), await lines.getAttribute('data-cols')], ['9', '11']);
    await choose(h, 'pairFilter', 'all');
    await h.page.locator('[data-testid="tab-head"]').click();
  });
});

describe('line view, this token in every head, labels on the grid', function () {
  this.timeout(120000);
  let h: Harness;
  const result = fixtureResult('bert', 0);
  before(async () => {
    h = await openHarness({ theme: 'high-contrast', viewport: { width: 1000, height: 800 } });
    await h.send({ type: 'result', resultId: 1, result });
  });
  after(() => h?.close());
  check(() => h);

  it('line view: hover a query for its lines and weights; chips overlay heads', async () => {
    await h.page.locator('[data-testid="tab-lines"]').click();
    await frames(h.page);
    const lines = h.page.locator('[data-testid="lines"]');
    assert.strictEqual(await lines.getAttribute('data-heads'), '0');
    const point = await h.page.evaluate(() => {
      const c = document.querySelector('[data-testid="lines"]') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const rowHeight = Number(c.dataset.rowHeight);
      return { x: r.left + 20, y: r.top + 8 + 2.5 * rowHeight };
    });
    await h.page.mouse.move(point.x, point.y);
    const stack = new Float32Array(result.attentions.buffer);
    const row = Array.from(stack.subarray(2 * 9, 3 * 9));
    const best = row.indexOf(Math.max(...row));
    const tip = await text(h, 'tooltip');
    assert.ok(tip.startsWith(`am (query 2) attends to — H0: ${result.tokens[best].special ? result.tokens[best].raw : result.tokens[best].display.trim()} ${row[best].toFixed(6)}`), tip);
    await h.page.locator('.chip[data-head="2"]').click();
    await frames(h.page);
    assert.strictEqual(await lines.getAttribute('data-heads'), '0 2');
    assert.match(await text(h, 'lines-info'), /heads 0, 2 overlaid/);
    await h.page.mouse.click(point.x, point.y);
    assert.deepStrictEqual((await h.posted()).filter((m) => m.type === 'revealToken').pop(), { type: 'revealToken', resultId: 1, index: 2 });
  });

  it('this token in every head: one query’s row in each tile', async () => {
    await h.page.locator('[data-testid="tab-model"]').click();
    await frames(h.page);
    const grid = h.page.locator('[data-testid="model-grid"]');
    assert.strictEqual(await grid.getAttribute('data-labels'), 'shown', 'token labels on the grid where they fit');
    await choose(h, 'rowQuery', '2');
    assert.match(await text(h, 'model-info'), /^Where “am” \(token 2\) looks in every head/);
    const center = await h.page.evaluate(() => {
      const c = document.querySelector('[data-testid="model-grid"]') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const d = c.dataset;
      return { x: r.left + Number(d.tileLeft) + Number(d.thumb) / 2, y: r.top + Number(d.tileTop) + Number(d.thumb) / 2 };
    });
    await h.page.mouse.move(center.x, center.y);
    assert.match(await text(h, 'tooltip'), /^Layer 0, head 0: .* “am” attends to \S+ 0\.\d{6}, /);
    await choose(h, 'rowQuery', 'matrix');
  });
});
