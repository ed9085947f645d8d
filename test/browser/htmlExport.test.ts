/**
 * "Export Interactive HTML": the file the host writes (src/export/interactiveHtml.ts, with the real
 * dist/exportPage.js bundle and media/panel.css), opened from disk in headless Chromium. Hovering a
 * cell of the exported head shows the engine's own value; other heads are float16 copies; the page
 * makes no request at all and its CSP forbids connections; the file's size stays bounded.
 * Build first (node esbuild.js), then: npx mocha --no-config --timeout 120000 out/test/browser/htmlExport.test.js
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { formatWeight } from '../../src/analysis/describe';
import { tokenLabel } from '../../src/analysis/view';
import type { AttentionModel } from '../../src/engine/model';
import { buildInteractiveHtml, chooseQuantisation, HtmlExportTooLarge, MAX_HTML_BYTES } from '../../src/export/interactiveHtml';
import { decodePayloadResult, dequantiseSqrt8, quantiseSqrt8, type InteractivePayload } from '../../src/export/interactivePayload';
import { loadModel } from '../../src/models';
import type { AttentionResult } from '../../src/protocol/types';
import { FIXTURES_2_ROOT, openFixture, type Fixture } from '../helpers/fixtures';
import { CHROMIUM, cspViolations, openHarness, repoRoot, type Harness } from './harness';

const ROOT = repoRoot();
const TEXT = 'support instru return operation email mapping sight title ear screen\nsupport instru return operation email mapping sight title ear screen';

function assets() {
  const script = path.join(ROOT, 'dist', 'exportPage.js');
  if (!fs.existsSync(script)) throw new Error(`${script} not found: build first (node esbuild.js)`);
  return { script: fs.readFileSync(script, 'utf8'), css: fs.readFileSync(path.join(ROOT, 'media', 'panel.css'), 'utf8') };
}

function payloadOf(html: string): InteractivePayload {
  const m = /<script type="application\/json" id="attention-data">([^<]*)<\/script>/.exec(html);
  assert.ok(m, 'the page embeds its data');
  return JSON.parse(m[1]) as InteractivePayload;
}

interface Geometry { left: number; top: number; cell: number; gridLeft: number; gridTop: number; scrollX: number; scrollY: number }

async function cellPoint(page: Page, row: number, col: number): Promise<{ x: number; y: number }> {
  const g = await page.evaluate(() => {
    const c = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement;
    const r = c.getBoundingClientRect();
    const d = c.dataset;
    return { left: r.left, top: r.top, cell: Number(d.cellSize), gridLeft: Number(d.gridLeft), gridTop: Number(d.gridTop), scrollX: Number(d.scrollX), scrollY: Number(d.scrollY) } as Geometry;
  });
  // Off centre: large cells print their value in the middle.
  return { x: g.left + g.gridLeft + (col + 0.3) * g.cell - g.scrollX, y: g.top + g.gridTop + (row + 0.3) * g.cell - g.scrollY };
}

async function frames(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
}

/** Opens the exported page from disk in `context` and waits for its heatmap; console errors go to `problems`. */
async function openExportedPage(context: BrowserContext, file: string, problems: string[]): Promise<Page> {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`file://${file}`);
  await page.locator('[data-testid="heatmap"]').waitFor({ state: 'visible' });
  await frames(page);
  return page;
}

describe('interactive HTML export in Chromium', function () {
  this.timeout(120000);
  let model: AttentionModel;
  let result: AttentionResult;
  let context: BrowserContext;
  let page: Page;
  let file: string;
  let html: string;
  const requests: string[] = [];
  const problems: string[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-html-'));

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium`);
    model = await loadModel(path.join(ROOT, 'media', 'builtin-model'), { name: 'built-in' });
    result = await model.analyze(TEXT);
    ({ html } = buildInteractiveHtml({ result, state: { tab: 'head', mode: 'head', layer: 3, head: 3 } }, assets()));
    file = path.join(dir, 'attention.html');
    fs.writeFileSync(file, html);
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1200, height: 800 },
    });
    context.on('request', (r) => requests.push(r.url()));
    await context.addInitScript(() => {
      const w = window as unknown as { __csp: string[] };
      w.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI}`));
    });
    page = await openExportedPage(context, file, problems);
  });

  after(async () => {
    await context?.close();
    await model?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('opens on the exported view with no console error and no CSP violation', async () => {
    assert.match(await page.locator('[data-testid="mode-badge"]').innerText(), /^Single head — layer 3, head 3/);
    assert.strictEqual(await page.locator('[data-testid="model-name"]').innerText(), 'built-in');
    assert.match(await page.locator('[data-testid="export-note"]').innerText(), /layer 3, head 3 exact \(float32\), the other heads stored as float16/);
    assert.deepStrictEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);
    assert.deepStrictEqual(problems, []);
  });

  it('hovering a cell of the exported head shows the engine’s float32 value', async () => {
    const n = result.tokens.length;
    const a = new Float32Array(result.attentions.buffer);
    const at = (l: number, hh: number, i: number, j: number) => a[((l * 8 + hh) * n + i) * n + j];
    // The second "return" (query) → "operation" after the first one (key): an induction cell.
    const q = result.tokens.findIndex((t, i) => i > n / 2 && t.display.trim() === 'return');
    const k = result.tokens.findIndex((t) => t.display.trim() === 'operation');
    assert.ok(q > 0 && k > 0 && k < q);
    for (const [i, j] of [[q, k], [q, 0], [5, 3]]) {
      const p = await cellPoint(page, i, j);
      await page.mouse.move(p.x, p.y);
      const text = await page.locator('[data-testid="tooltip"]').innerText();
      assert.strictEqual(text, `${tokenLabel(result.tokens[i])} → ${tokenLabel(result.tokens[j])}: ${formatWeight(at(3, 3, i, j))} (layer 3, head 3)`);
    }
    assert.ok(at(3, 3, q, k) > 0.3, `an induction head: ${at(3, 3, q, k)}`);
  });

  it('other heads are float16 copies: within half a unit in the last place', async () => {
    await page.locator('#head').click();
    await page.locator('#head .option', { hasText: 'Head 1' }).first().click();
    await frames(page);
    assert.match(await page.locator('[data-testid="mode-badge"]').innerText(), /layer 3, head 1/);
    const n = result.tokens.length;
    const a = new Float32Array(result.attentions.buffer);
    const p = await cellPoint(page, 6, 2);
    await page.mouse.move(p.x, p.y);
    const text = await page.locator('[data-testid="tooltip"]').innerText();
    const shown = Number(/: ([0-9.e+-]+) \(layer 3, head 1\)$/.exec(text)?.[1]);
    const engine = a[((3 * 8 + 1) * n + 6) * n + 2];
    assert.ok(Math.abs(shown - engine) <= engine * 2 ** -11 + 1e-6, `${shown} vs ${engine}`);
  });

  it('the model view ranks the heads by induction score, as in the panel', async () => {
    await page.locator('[data-testid="tab-model"]').click();
    await frames(page);
    await page.locator('#sortKey').click();
    await page.locator('#sortKey .option', { hasText: 'Induction' }).first().click();
    await frames(page);
    assert.match(await page.locator('[data-testid="model-info"]').innerText(), /heads have induction between 0 and 1/);
    assert.deepStrictEqual(problems, []);
  });

  it('makes no request but the file itself, and its CSP forbids connections', async () => {
    assert.deepStrictEqual(requests.filter((u) => !u.startsWith('file://') && !u.startsWith('blob:') && !u.startsWith('data:')), []);
    assert.deepStrictEqual(requests.filter((u) => u.startsWith('file://')), [`file://${file}`]);
    const csp = /http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'none'/);
    // The page's own markup (inlined code and data aside) loads nothing.
    const markup = html.replace(/<script[^>]*>[\s\S]*?<\/script>/g, '<script></script>').replace(/<style>[\s\S]*?<\/style>/g, '<style></style>');
    assert.doesNotMatch(markup, /\ssrc=|<link|https?:/i);
    assert.strictEqual((html.match(/<script/g) ?? []).length - (assets().script.match(/<script/g) ?? []).length, 2, 'the data and the inlined bundle, nothing else');
    // A connection attempted from the page is refused by the policy.
    const refused = await page.evaluate(async () => {
      try {
        await fetch('http://127.0.0.1:9/probe');
        return false;
      } catch {
        return true;
      }
    });
    assert.ok(refused);
    const violations = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
    assert.ok(violations.some((v) => v.startsWith('connect-src')), violations.join('; '));
  });

  it('size: float16 weights plus the page, under the bound; 8 bits past it; refused with the token count that fits', () => {
    const bytes = fs.statSync(file).size;
    const values = result.attentions.shape.reduce((x, y) => x * y, 1);
    const page = assets();
    assert.ok(bytes <= page.script.length + page.css.length + values * (8 / 3) + 200_000, `${bytes} bytes`);
    assert.ok(bytes <= MAX_HTML_BYTES);
    assert.strictEqual(payloadOf(html).quantisation, 'float16');
    // A tighter bound switches to 8 bits, decoded within √p/255 of each weight (exact head still exact).
    const bound = values * 2 + page.script.length + page.css.length + 64 * 1024 + 4096;
    const small = buildInteractiveHtml({ result, state: { layer: 3, head: 3 }, maxBytes: bound }, page);
    assert.strictEqual(small.quantisation, 'sqrt8');
    assert.ok(small.html.length < bound, `${small.html.length} vs ${bound}`);
    const decoded = decodePayloadResult(payloadOf(small.html));
    const original = new Float32Array(result.attentions.buffer);
    const back = new Float32Array(decoded.attentions.buffer);
    const n = result.tokens.length;
    for (let k = 0; k < original.length; k++) {
      const exactHead = Math.floor(k / (n * n)) === 3 * 8 + 3;
      if (exactHead) assert.strictEqual(back[k], original[k]);
      else assert.ok(Math.abs(back[k] - original[k]) <= Math.sqrt(original[k]) / 255 + 1 / 255 ** 2, `${k}: ${back[k]} vs ${original[k]}`);
    }
    assert.throws(() => chooseQuantisation(result, 10_000), (err: unknown) => err instanceof HtmlExportTooLarge && /Analyze at most \d+ tokens/.test(err.message));
    const q = quantiseSqrt8(Float32Array.from([0, 1e-4, 0.25, 1]));
    assert.deepStrictEqual([...dequantiseSqrt8(q)].map((v) => Number(v.toFixed(6))), [0, Number(((Math.round(255 * 0.01) / 255) ** 2).toFixed(6)), Number(((Math.round(127.5) / 255) ** 2).toFixed(6)), 1]);
  });
});

describe('the probe in the panel (Chromium)', function () {
  this.timeout(120000);
  let h: Harness;
  let model: AttentionModel;

  before(async () => {
    model = await loadModel(path.join(ROOT, 'media', 'builtin-model'), { name: 'built-in' });
    h = await openHarness({ theme: 'dark' });
  });

  after(async () => {
    await h?.close();
    await model?.dispose();
  });

  it('opens on the model view ranked by induction, the top head selected, the probe stated', async () => {
    const result = await model.analyzeProbe(64, 0);
    await h.send({ type: 'result', resultId: 3, result });
    const banner = h.page.locator('[data-testid="probe-banner"]');
    assert.match(await banner.innerText(), /^Probe: 64 random tokens \(seed 0\) written twice after <\|begin_of_text\|>, 129 tokens; heads ranked by induction score\. A perfect induction head scores 0\.496 here\.$/);
    assert.match((await banner.getAttribute('title')) ?? '', /TransformerLens/);
    assert.ok(await h.page.locator('[data-testid="model-panel"]').isVisible());
    assert.match((await h.page.locator('[data-testid="model-grid"]').getAttribute('data-order')) ?? '', /^3\.3 3\.2 /);
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /^Single head — layer 3, head 3/);
    // Another text takes the banner away.
    await h.send({ type: 'result', resultId: 4, result: await model.analyze('The cat sat on the mat.') });
    assert.ok(await banner.isHidden());
    assert.deepStrictEqual(await cspViolations(h), []);
    assert.deepStrictEqual(h.problems, []);
  });
});

describe('interactive HTML export of an encoder-decoder (Chromium)', function () {
  this.timeout(120000);
  let context: BrowserContext;
  let page: Page;
  let result: AttentionResult;
  const problems: string[] = [];
  let dir: string;
  let fixture: Fixture;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-html-seq2seq-'));
    fixture = openFixture('bart', FIXTURES_2_ROOT);
    const model = await loadModel(fixture.folder);
    try {
      result = await model.analyze(fixture.cases[0].text, { target: fixture.cases[0].decoder_text });
    } finally {
      await model.dispose();
    }
    const { html } = buildInteractiveHtml({ result, state: { tab: 'head', mode: 'head', layer: 0, head: 0 } }, assets());
    const file = path.join(dir, 'attention.html');
    fs.writeFileSync(file, html);
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'], viewport: { width: 1200, height: 800 } });
    page = await openExportedPage(context, file, problems);
  });

  after(async () => {
    await context?.close();
    fixture?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the page serves its own views: three blocks, the cross head within float16 of the transformers reference', async () => {
    const options = await page.locator('#attention-block vscode-option').allInnerTexts();
    assert.deepStrictEqual(options, ['Encoder self-attention (11 × 11)', 'Decoder self-attention (16 × 16)', 'Cross-attention (16 × 11)']);
    await page.locator('#attention-block').click();
    await page.locator('#attention-block .option', { hasText: 'Cross-attention' }).first().click();
    await frames(page);
    const canvas = page.locator('[data-testid="cross-canvas"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="cross-canvas"]')?.getAttribute('data-ready') === 'true');
    const cell = (await canvas.boundingBox())!.width / 11;
    await canvas.hover({ position: { x: 7.5 * cell, y: 5.5 * cell } });
    const text = await page.locator('[data-testid="cross-readout"]').innerText();
    const ref = fixture.expected('case0.cross_attentions');
    const expected = ref.data[5 * 11 + 7];
    assert.ok(Math.abs(Number(text.slice(text.lastIndexOf(': ') + 2)) - expected) <= 1e-3, `${text} vs ${expected}`);
    assert.strictEqual(await page.locator('[data-testid="cross-grid"] .cross-thumb').count(), 8);
    assert.deepStrictEqual(problems, []);
  });
});
