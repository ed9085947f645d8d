/**
 * End to end, as a user: the packaged VSIX installed into code-server (a real VS Code), driven
 * through its UI in headless Chromium. Open a file with Quick Open, select a sentence, run Show
 * Attention from the command palette, read a weight off the heatmap, click a token, export a PNG;
 * then the panel at 1024×700, 1600×900 and 2560×1440 (heatmap visible, cells ≥ 12 px for 24 tokens
 * at 1600×900, a stable layout), dropdowns that still say what is drawn after a new result and
 * after a window reload, and screenshots of the workbench (its default light theme; dark and
 * high-contrast rendering is covered by the browser tests).
 * Screenshots go to test-results/e2e/; with UPDATE_SCREENSHOTS=1 the README's are refreshed in
 * media/screenshots/ from the workbench.
 *
 * Run with `node scripts/run-tests.js e2e` (it packages the VSIX first and sets ATTENTION_VSIX).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import type { AttentionResult } from '../../src/protocol/types';
import { loadModel } from '../../src/models';
import { colorOf, colorRangeFor } from '../../src/analysis/colormap';
import { decodePng, pixel } from '../browser/png';
import { QUIET_SETTINGS, launchChromium, startCodeServer, workbenchUrl, type CodeServer } from '../vscode-host';

const SENTENCE = 'I am making a cake, and the kitchen smells of it.';
/** 24 tokens with the built-in model (its <|begin_of_text|> included). */
const LONG_SENTENCE = 'The river bends past the old mill, where children fish for trout in the summer.';
/** Random words written twice: the built-in model's induction head (layer 3, head 3) lights up on the second copy. */
const INDUCTION_TEXT = 'support instru return operation email mapping sight introdu title ear screen consider poss platform cap smooth support instru return operation email mapping sight introdu title ear screen consider poss platform cap smooth';
const SCREENSHOTS = path.resolve('test-results', 'e2e');
const README_SCREENSHOTS = path.resolve('media', 'screenshots');
const SIZES = [
  { width: 1024, height: 700 },
  { width: 1600, height: 900 },
  { width: 2560, height: 1440 },
];

describe('end to end: the packaged extension in code-server', function () {
  this.timeout(180_000);
  let server: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  let installed: string;
  /** What the engine computes for SENTENCE with the model the extension uses (its built-in one). */
  let expected: AttentionResult;

  const panel = (): FrameLocator => page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  const heatmap = () => panel().locator('[data-testid="heatmap"]');
  const statusSelection = () => page.locator('[id="status.editor.selection"]');
  const screenshot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });

  /**
   * The heatmap's layout, from the data attributes the canvas publishes (see webview/TESTING.md):
   * cells are `cell` px squares starting at (gridLeft, gridTop), scrolled by (scrollX, scrollY)
   * inside a canvas of width × height CSS px.
   */
  async function heatmapGeometry() {
    const d = await heatmap().evaluate((c) => ({ ...(c as HTMLCanvasElement).dataset, width: c.getBoundingClientRect().width, height: c.getBoundingClientRect().height }) as Record<string, string | undefined> & { width: number; height: number });
    const g = { cell: Number(d.cellSize), gridLeft: Number(d.gridLeft), gridTop: Number(d.gridTop), scrollX: Number(d.scrollX), scrollY: Number(d.scrollY), size: Number(d.size), width: d.width, height: d.height };
    return {
      ...g,
      /** A point in a cell: its centre by default; large cells print their value in the middle. */
      cellCenter: (row: number, col: number, fraction = 0.5) => ({ x: g.gridLeft + (col + fraction) * g.cell - g.scrollX, y: g.gridTop + (row + fraction) * g.cell - g.scrollY }),
      rowLabel: (row: number) => ({ x: g.gridLeft - 12, y: g.gridTop + (row + 0.5) * g.cell - g.scrollY }),
      /**
       * Rows in the upper part of the canvas: a long text scrolls, and (seen with code-server) the
       * heatmap area shrinks by ~35 px while the hover details are shown, which would take the
       * pointer off a cell near the bottom edge.
       */
      rowVisible: (row: number) => {
        const y = g.gridTop + (row + 0.5) * g.cell - g.scrollY;
        return y > g.gridTop && y < g.height * 0.6;
      },
    };
  }

  /** Types into the quick input once it is open (keys typed before it opens would go to the editor). */
  async function quickInput(text: string, waitForRow?: string | RegExp): Promise<void> {
    const widget = page.locator('.quick-input-widget');
    await page.locator('.quick-input-widget input').first().waitFor({ state: 'visible' });
    await page.keyboard.type(text);
    // The list filters as it is typed: wait until the row wanted is the focused one before accepting
    // (moving down to it where a longer title that also matches, such as "Continue and Show Attention", comes first).
    if (waitForRow) {
      const focused = page.locator('.quick-input-list .monaco-list-row.focused').first();
      const matches = async () => {
        await focused.waitFor();
        const label = await focused.innerText();
        return typeof waitForRow === 'string' ? label.includes(waitForRow) : waitForRow.test(label);
      };
      for (let tries = 0; !(await matches()); tries++) {
        // Give the filter time to settle before moving: only a settled list is worth stepping through.
        await page.waitForTimeout(300);
        if (await matches()) break;
        if (tries === 8) throw new Error(`the quick input list never focused a row matching ${waitForRow} (focused: ${JSON.stringify(await focused.innerText())})`);
        await page.keyboard.press('ArrowDown');
      }
    }
    await page.keyboard.press('Enter');
    // On a loaded machine an Enter can arrive before the list is ready to accept it: then click the row
    // (a click, unlike a second Enter, cannot reach the editor if the widget closes meanwhile).
    if (waitForRow && !(await widget.waitFor({ state: 'hidden', timeout: 5000 }).then(() => true, () => false))) {
      await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: waitForRow }).first().click({ timeout: 2000 }).catch(() => undefined);
    }
  }

  before(async () => {
    const vsix = process.env.ATTENTION_VSIX;
    assert.ok(vsix && fs.existsSync(vsix), `ATTENTION_VSIX must name the packaged extension (got ${vsix}): run this through 'node scripts/run-tests.js e2e', which packages it first`);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'attention-inspector-e2e-'));
    fs.cpSync(path.resolve('test', 'workspace'), workspace, { recursive: true });
    server = await startCodeServer({ installExtensions: [vsix], userSettings: QUIET_SETTINGS });
    const folder = fs.readdirSync(server.extensionsDir).find((name) => name.startsWith('attention-inspector.attention-inspector-'));
    assert.ok(folder, `the VSIX did not install: ${fs.readdirSync(server.extensionsDir).join(', ')}`);
    installed = path.join(server.extensionsDir, folder);

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.goto(workbenchUrl(server, workspace), { timeout: 180_000 });
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // The explorer shows the folder once the remote connection is up.
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'sample.md' }).waitFor({ timeout: 60_000 });
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      await screenshot(`failed-${this.currentTest.title.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    if (server) fs.rmSync(server.tempRoot, { recursive: true, force: true });
    if (workspace) fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('the VSIX installs with code-server --install-extension and carries this platform\'s engine', async () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
    const ours = JSON.parse(fs.readFileSync('package.json', 'utf8'));
    assert.strictEqual(manifest.version, ours.version);
    for (const file of [manifest.main.replace(/^\.\//, ''), 'dist/worker.js', 'dist/webview.js', `node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`]) {
      assert.ok(fs.existsSync(path.join(installed, file)), `${file} is in the installed extension`);
    }
    // The reference values for the UI checks: the engine on the model the extension ships.
    const model = await loadModel(path.join(installed, 'media', 'builtin-model'));
    try {
      expected = await model.analyze(SENTENCE);
    } finally {
      await model.dispose();
    }
    assert.ok(expected.tokens.length >= 6, 'the sentence has tokens to look at');
  });

  /** Selects `text` in sample.md with Find (which selects the match; closing Find keeps it). */
  async function selectText(text: string, line: number): Promise<void> {
    await page.locator('.monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+F');
    await page.locator('.find-widget textarea, .find-widget input').first().waitFor({ state: 'visible' });
    await page.keyboard.press('Control+A');
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Escape');
    await assertStatusSelection(`Ln ${line}, Col ${text.length + 1} (${text.length} selected)`);
  }

  /** Token count of `text` under the built-in model the extension uses. */
  async function builtinTokens(text: string): Promise<number> {
    const model = await loadModel(path.join(installed, 'media', 'builtin-model'));
    try {
      return (await model.analyze(text)).tokens.length;
    } finally {
      await model.dispose();
    }
  }

  /** Runs Show Attention from the palette and waits for a heatmap of `tokens` rows. */
  async function showAttention(tokens: number): Promise<void> {
    await page.keyboard.press('F1');
    await quickInput('Attention Inspector: Show Attention', /Inspector: Show Attention(?! Between)/);
    await heatmap().waitFor({ state: 'visible', timeout: 60_000 });
    await assertEventually(async () => (await heatmapGeometry()).size === tokens, `a heatmap with ${tokens} rows`);
  }

  /** The panel's idea of its own layout: frames drawn so far, cell size, the canvas box in the page. */
  async function panelLayout() {
    const d = await heatmap().evaluate((c) => ({ ...(c as HTMLCanvasElement).dataset }) as Record<string, string | undefined>);
    const box = await heatmap().boundingBox();
    const frame = await page.locator('iframe.webview.ready').boundingBox();
    return { frames: Number(d.framesDrawn ?? d.frames), cell: Number(d.cellSize), size: Number(d.size), labels: d.labels, box, frame };
  }

  /** Two screenshots of the heatmap a second apart are identical, and nothing was drawn meanwhile. */
  async function assertStable(what: string): Promise<void> {
    await page.waitForTimeout(1500);
    const before = await panelLayout();
    const a = await heatmap().screenshot();
    await page.waitForTimeout(1000);
    const b = await heatmap().screenshot();
    const after = await panelLayout();
    assert.strictEqual(after.frames, before.frames, `${what}: ${after.frames - before.frames} frames drawn while idle (a resize loop?)`);
    assert.ok(a.equals(b), `${what}: two frames a second apart differ`);
  }

  /** What the panel's dropdowns say: their values and the labels they display. */
  async function dropdowns(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const id of ['mode', 'layer', 'head']) {
      out[id] = await panel().locator(`#${id}`).evaluate((el) => {
        const select = el as HTMLElement & { value: string; selectedIndex: number };
        const option = el.querySelectorAll('vscode-option')[select.selectedIndex] as HTMLElement | undefined;
        return `${select.value}=${option?.textContent ?? '?'}`;
      });
    }
    return out;
  }

  async function chooseInPanel(id: string, label: string): Promise<void> {
    await panel().locator(`#${id}`).click();
    await panel().locator(`#${id} .option`, { hasText: label }).first().click();
  }

  async function readmeShot(name: string): Promise<void> {
    await screenshot(name);
    if (process.env.UPDATE_SCREENSHOTS === '1') fs.copyFileSync(path.join(SCREENSHOTS, `${name}.png`), path.join(README_SCREENSHOTS, `${name}.png`));
  }

  it('opens a file with Quick Open and selects a sentence', async () => {
    await page.keyboard.press('Control+P');
    await quickInput('sample.md', 'sample.md');
    await page.locator('.tabs-container .tab.active', { hasText: 'sample.md' }).waitFor();
    await selectText(SENTENCE, 4);
  });

  it('runs Show Attention from the command palette and shows the heatmap', async () => {
    await showAttention(expected.tokens.length);
    assert.match(await panel().locator('[data-testid="mode-badge"]').innerText(), /layer 0, head 0/);
    await screenshot('1-heatmap');
  });

  it('paints each cell in the colour of the engine\'s weight', async () => {
    const g = await heatmapGeometry();
    const n = expected.tokens.length;
    const head = new Float32Array(expected.attentions.buffer).subarray(0, n * n); // layer 0, head 0
    const range = colorRangeFor(head, 'max');
    // What is on screen: the canvas as the workbench composited it.
    const shot = decodePng(await heatmap().screenshot());
    const rows = Array.from({ length: n }, (_, i) => i).filter((i) => g.rowVisible(i) && i < n - 1); // the cursor's row (last token) is highlighted
    assert.ok(rows.length >= 4, 'rows in view');
    const cells = [[rows[1], 0], [rows[2], 1], [rows[3], rows[3]], [rows.at(-1)!, 2], [rows[1], rows[1] + 3]];
    for (const [i, j] of cells) {
      const p = g.cellCenter(i, j, 0.2);
      const shown = pixel(shot, Math.round(p.x), Math.round(p.y)).slice(0, 3);
      const want = colorOf(head[i * n + j], range, 'viridis');
      assert.ok(shown.every((v, k) => Math.abs(v - want[k]) <= 2), `cell ${i},${j} (weight ${head[i * n + j].toFixed(4)}) is rgb(${shown}), expected rgb(${want})`);
    }
  });

  it('hovering a cell shows the weight the engine computed', async () => {
    const g = await heatmapGeometry();
    const n = expected.tokens.length;
    // The last query row in view and a key before it (a causal model gives later keys 0).
    const query = Array.from({ length: n }, (_, i) => i).filter((i) => g.rowVisible(i)).pop();
    assert.ok(query !== undefined && query >= 3, `rows in view: the canvas is ${g.height} px high`);
    const key = 2;
    await heatmap().hover({ position: g.cellCenter(query, key) });
    const tooltip = panel().locator('[data-testid="tooltip"]');
    await tooltip.waitFor({ state: 'visible' });
    const text = await tooltip.innerText();
    const match = /: ([0-9.]+) \(layer 0, head 0\)/.exec(text);
    assert.ok(match, `tooltip "${text}" shows a weight for layer 0, head 0`);
    const weight = new Float32Array(expected.attentions.buffer)[query * n + key];
    assert.strictEqual(match[1], weight.toFixed(6), `tooltip "${text}" vs the engine's ${weight}`);
    assert.ok(text.includes(expected.tokens[query].display.trim()) && text.includes(expected.tokens[key].display.trim()), `tooltip "${text}" names the query and key tokens`);
    await screenshot('2-hover');
  });

  it('clicking a token label selects that token in the editor', async () => {
    const g = await heatmapGeometry();
    const index = expected.tokens.findIndex((t, i) => i > 1 && !t.special && t.end - t.start >= 2 && g.rowVisible(i));
    assert.ok(index > 0, 'a token of two characters or more in view');
    const token = expected.tokens[index];
    await heatmap().click({ position: g.rowLabel(index) });
    // The sentence starts line 4; the cursor sits at the token's end.
    await assertStatusSelection(`Ln 4, Col ${token.end + 1} (${token.end - token.start} selected)`);
    await screenshot('3-token-selected');
  });

  it('exports the heatmap as a PNG file', async () => {
    // A panel beside the editor is narrow: the exports sit behind the Export button.
    if (!(await panel().locator('[data-testid="export-png"]').isVisible())) await panel().locator('[data-testid="exports-toggle"]').click();
    await panel().locator('[data-testid="export-png"]').click();
    // code-server saves through VS Code's own file dialog: a quick input holding the proposed path.
    const input = page.locator('.quick-input-widget input').first();
    await input.waitFor({ state: 'visible' });
    await assertEventually(async () => (await input.inputValue()).endsWith('.png'), 'the save dialog to propose a .png name');
    const proposed = await input.inputValue();
    await screenshot('4-save-dialog');
    await page.keyboard.press('Enter');
    const file = path.join(workspace, path.basename(proposed));
    await assertEventually(async () => fs.existsSync(file) && fs.statSync(file).size > 0, `${file} to be written`);
    assert.match(path.basename(file), /L0-H0/, 'the name says which layer and head');
    const png = decodePng(fs.readFileSync(file));
    const g = await heatmapGeometry();
    // At least 2× pixel density: the grid alone is n cells of ≥ 10 px, doubled.
    assert.ok(png.width >= 2 * g.size * 10 && png.height >= 2 * g.size * 10, `PNG is ${png.width}×${png.height}`);
    const colours = new Set<number>();
    for (let i = 0; i < png.rgba.length; i += 4 * 97) colours.add((png.rgba[i] << 16) | (png.rgba[i + 1] << 8) | png.rgba[i + 2]);
    assert.ok(colours.size >= 8, `the image has content (${colours.size} colours sampled)`);
    await screenshot('5-exported');
  });

  it('24 tokens at 1600×900: cells of at least 12 px, labels, a stable layout', async function () {
    this.timeout(300_000);
    await page.setViewportSize({ width: 1600, height: 900 });
    await selectText(LONG_SENTENCE, 8);
    await showAttention(24);
    await assertStable('1600×900, 24 tokens');
    const g = await panelLayout();
    assert.ok(g.cell >= 12, `24 tokens drawn at ${g.cell} px`);
    assert.strictEqual(g.labels, 'shown');
    await screenshot('6-24-tokens-1600x900');
  });

  for (const size of SIZES) {
    it(`at ${size.width}×${size.height} the heatmap is visible and the layout settles`, async function () {
      this.timeout(300_000);
      await page.setViewportSize(size);
      await assertStable(`${size.width}×${size.height}`);
      const g = await panelLayout();
      assert.ok(g.box && g.frame, 'the heatmap and its panel are on the page');
      // Visible: inside the panel's frame and the window, and big enough to read.
      assert.ok(g.box.y >= g.frame.y - 1 && g.box.y + g.box.height <= Math.min(g.frame.y + g.frame.height, size.height) + 1, `heatmap at y ${g.box.y}–${g.box.y + g.box.height}, panel ${g.frame.y}–${g.frame.y + g.frame.height}`);
      assert.ok(g.box.height >= 200 && g.box.width >= 200, `heatmap area ${g.box.width}×${g.box.height}`);
      assert.ok(g.cell * 24 <= g.box.height && g.cell * 24 <= g.box.width, 'fitted to the space it has');
      if (size.width === 1600) assert.ok(g.cell >= 12, `24 tokens at ${g.cell} px`);
      const scrolled = await panel().locator('body').evaluate(() => [document.scrollingElement!.scrollTop, document.getElementById('app')!.scrollTop]);
      assert.deepStrictEqual(scrolled, [0, 0], 'the panel page itself never scrolls');
      await screenshot(`7-size-${size.width}x${size.height}`);
    });
  }

  it('the dropdowns show what is drawn after a new result', async function () {
    this.timeout(420_000);
    await page.setViewportSize({ width: 1600, height: 900 });
    await chooseInPanel('layer', 'Layer 2');
    await chooseInPanel('head', 'Head 5');
    await assertEventually(async () => /layer 2, head 5/.test(await panel().locator('[data-testid="mode-badge"]').innerText()), 'the badge to say layer 2, head 5');
    await selectText(SENTENCE, 4);
    await showAttention(expected.tokens.length);
    await page.waitForTimeout(500);
    assert.deepStrictEqual(await dropdowns(), { mode: 'head=Single head', layer: '2=Layer 2', head: '5=Head 5' });
    assert.match(await panel().locator('[data-testid="mode-badge"]').innerText(), /^Single head — layer 2, head 5 · /);
    await chooseInPanel('mode', 'Mean of layer');
    await selectText(LONG_SENTENCE, 8);
    await showAttention(24);
    await page.waitForTimeout(500);
    assert.deepStrictEqual(await dropdowns(), { mode: 'layerMean=Mean of layer', layer: '2=Layer 2', head: '5=Head 5' });
    assert.match(await panel().locator('[data-testid="mode-badge"]').innerText(), /^Mean of layer — layer 2, mean of 8 heads/);
  });

  it('the dropdowns show what is drawn after a window reload', async function () {
    this.timeout(420_000);
    await page.keyboard.press('F1');
    await quickInput('Developer: Reload Window', 'Reload Window');
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // The panel comes back and the extension recomputes the last result.
    await heatmap().waitFor({ state: 'visible', timeout: 90_000 });
    await assertEventually(async () => (await heatmapGeometry()).size === 24, 'the restored result', 60_000);
    await page.waitForTimeout(500);
    assert.deepStrictEqual(await dropdowns(), { mode: 'layerMean=Mean of layer', layer: '2=Layer 2', head: '5=Head 5' });
    assert.match(await panel().locator('[data-testid="mode-badge"]').innerText(), /^Mean of layer — layer 2, mean of 8 heads/);
    await assertStable('after the reload');
    await chooseInPanel('mode', 'Single head');
  });

  it('screenshots: the induction head', async function () {
    this.timeout(420_000);
    await page.setViewportSize({ width: 1600, height: 900 });
    await page.locator('.tabs-container .tab', { hasText: 'sample.md' }).first().click();
    await page.locator('.monaco-editor .view-lines').first().waitFor({ state: 'visible', timeout: 60_000 });
    // Random words written twice: the README's first picture.
    const model = await loadModel(path.join(installed, 'media', 'builtin-model'));
    let tokens: number;
    try {
      tokens = (await model.analyze(INDUCTION_TEXT)).tokens.length;
    } finally {
      await model.dispose();
    }
    await selectText(INDUCTION_TEXT, 9);
    await showAttention(tokens);
    await chooseInPanel('mode', 'Single head');
    await chooseInPanel('layer', 'Layer 3');
    await chooseInPanel('head', 'Head 3');
    await page.mouse.move(5, 5);
    await assertStable('induction head');
    await readmeShot('induction-head-light');
  });

  it('screenshots: heatmap with a hovered cell, line view and model view', async function () {
    this.timeout(420_000);
    await selectText(LONG_SENTENCE, 8);
    await showAttention(24);
    await chooseInPanel('layer', 'Layer 2');
    await chooseInPanel('head', 'Head 0');
    for (const theme of ['light'] as const) {
      const g = await heatmapGeometry();
      await heatmap().hover({ position: g.cellCenter(12, 11) });
      await panel().locator('[data-testid="tooltip"]').waitFor({ state: 'visible' });
      await readmeShot(`head-view-${theme}`);
      await page.mouse.move(5, 5);
      await panel().locator('[data-testid="tab-lines"]').click();
      await panel().locator('[data-testid="lines"]').waitFor({ state: 'visible' });
      await page.waitForTimeout(800);
      await readmeShot(`line-view-${theme}`);
      await panel().locator('[data-testid="tab-model"]').click();
      await assertEventually(async () => (await panel().locator('[data-testid="model-grid"]').getAttribute('data-pending')) === 'false', 'every visible thumbnail drawn');
      await readmeShot(`model-view-${theme}`);
      await panel().locator('[data-testid="tab-head"]').click();
    }
  });

  it('Compare With… the clipboard text: A, B and B − A side by side (screenshot)', async function () {
    this.timeout(300_000);
    await page.setViewportSize({ width: 1600, height: 900 });
    const other = 'The dog sat on the mat.';
    // The workbench reads the browser's clipboard: let the page use it, and put text B there.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin });
    await page.evaluate((text) => navigator.clipboard.writeText(text), other);
    await page.locator('.tabs-container .tab', { hasText: 'sample.md' }).first().click();
    await selectText('The cat sat on the mat.', 3);
    await showAttention((await builtinTokens('The cat sat on the mat.')));
    await page.keyboard.press('F1');
    await quickInput('Attention Inspector: Compare With', 'Compare With');
    await quickInput('clipboard', 'The clipboard text');
    const delta = panel().locator('[data-testid="compare-delta"]');
    await delta.waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await panel().locator('[data-testid="compare-sources"]').innerText(), /B: .* · “The dog sat on the mat\.”/);
    assert.match(await panel().locator('[data-testid="alignment-summary"]').innerText(), /substituted/);
    const ticks = await panel().locator('[data-testid="compare-delta-legend-ticks"] span').allInnerTexts();
    assert.deepStrictEqual([ticks[0][0], ticks[1], ticks[2][0]], ['−', '0', '+']);
    // Hover a Δ cell: both values and the difference.
    const d = await delta.evaluate((c) => ({ ...(c as HTMLCanvasElement).dataset }) as Record<string, string>);
    await delta.hover({ position: { x: Number(d.gridLeft) + 2.5 * Number(d.cellSize), y: Number(d.gridTop) + 3.5 * Number(d.cellSize) } });
    const tip = panel().locator('[data-testid="tooltip"]');
    await tip.waitFor({ state: 'visible' });
    assert.match(await tip.innerText(), /A \d\.\d{6} · B \d\.\d{6} · Δ /);
    await page.waitForTimeout(500);
    await readmeShot('compare-view-light');
    await page.mouse.move(5, 5);
    await panel().locator('[data-testid="tab-head"]').click();
  });

  it('screenshots: the panel in a small and a large window', async function () {
    this.timeout(300_000);
    for (const size of [SIZES[0], SIZES[2]]) {
      await page.setViewportSize(size);
      await assertStable(`${size.width}×${size.height}, screenshot`);
      await readmeShot(`panel-${size.width}x${size.height}-light`);
    }
    await page.setViewportSize({ width: 1600, height: 900 });
  });

  it('Probe Heads with Repeated Random Tokens: the model view ranks every head by induction score, L3H3 and L3H2 first', async function () {
    this.timeout(300_000);
    await page.setViewportSize({ width: 1600, height: 900 });
    await page.keyboard.press('F1');
    await quickInput('Attention Inspector: Probe Heads with Repeated Random Tokens', 'Probe Heads with Repeated Random Tokens');
    await panel().locator('[data-testid="probe-banner"]').waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await panel().locator('[data-testid="probe-banner"]').innerText(), /^Probe: 64 random tokens \(seed 0\) written twice after <\|begin_of_text\|>, 129 tokens/);
    assert.match(await panel().locator('[data-testid="probe-banner"]').getAttribute('title') ?? '', /from the 8,190 ordinary tokens/);
    // The top head is the one selected: the heatmap opens on it.
    assert.match(await panel().locator('[data-testid="mode-badge"]').innerText(), /^Single head — layer 3, head 3/);
    const grid = panel().locator('[data-testid="model-grid"]');
    await assertEventually(async () => (await grid.getAttribute('data-order'))?.startsWith('3.3 3.2 ') === true, 'L3H3 then L3H2 first', 30_000, async () => `order ${await grid.getAttribute('data-order')}`);
    assert.strictEqual(await grid.getAttribute('data-tiles'), '32');
    await assertEventually(async () => (await grid.getAttribute('data-pending')) === 'false', 'every visible thumbnail drawn');
    await page.mouse.move(5, 5);
    await page.waitForTimeout(500);
    await readmeShot('probe-light');
    await panel().locator('[data-testid="tab-head"]').click();
  });

  async function assertStatusSelection(text: string): Promise<void> {
    await assertEventually(async () => (await statusSelection().innerText()).trim() === text, `the status bar to read "${text}"`, 10_000, async () => `it reads "${await statusSelection().innerText()}"`);
  }
});

async function assertEventually(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000, seen?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen ? `; ${await seen()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
