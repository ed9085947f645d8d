/**
 * The compare tab in the real webview bundle (headless Chromium): the gpt2 fixture's analyses of
 * two texts, A shown as a kept analysis (views on demand), then both sent as Compare With… does. The tab opens with A, B and B − A side by side,
 * the legend of the difference reads in ± around 0, hovering shows both values and Δ (checked against
 * the engine's matrices), the distance list ranks heads by mean |Δ|, and the exports carry both sources.
 * Build first (node esbuild.js), then: npx mocha --no-config --timeout 120000 out/test/browser/compare.test.js
 */
import * as assert from 'assert';
import * as path from 'path';
import { alignTokens } from '../../src/analysis/align';
import { AttentionStack } from '../../src/analysis/tensor';
import { loadModel } from '../../src/models';
import type { AttentionResult } from '../../src/protocol/types';
import type { WebviewToHost } from '../../src/protocol/webview';
import { FIXTURES_ROOT } from '../helpers/fixtures';
import { FakeHost } from './fakeHost';
import { cspViolations, frames, openHarness, type Harness } from './harness';
import { decodePng } from './png';

interface Geometry {
  left: number;
  top: number;
  cell: number;
  gridLeft: number;
  gridTop: number;
  size: number;
}

async function geometry(h: Harness, testid: string): Promise<Geometry> {
  return h.page.evaluate((id) => {
    const c = document.querySelector(`[data-testid="${id}"]`) as HTMLCanvasElement;
    const r = c.getBoundingClientRect();
    const d = c.dataset;
    return { left: r.left, top: r.top, cell: Number(d.cellSize), gridLeft: Number(d.gridLeft), gridTop: Number(d.gridTop), size: Number(d.size) };
  }, testid);
}

async function hoverCell(h: Harness, testid: string, row: number, col: number): Promise<string> {
  const g = await geometry(h, testid);
  await h.page.mouse.move(g.left + g.gridLeft + (col + 0.5) * g.cell, g.top + g.gridTop + (row + 0.5) * g.cell);
  await frames(h.page);
  return h.page.locator('[data-testid="tooltip"]').innerText();
}

async function posted<T extends WebviewToHost['type']>(h: Harness, type: T): Promise<Extract<WebviewToHost, { type: T }>[]> {
  return (await h.posted()).filter((m) => m.type === type) as Extract<WebviewToHost, { type: T }>[];
}

const six = (x: number) => x.toFixed(6);
const signed = (x: number) => (x === 0 ? '0.000000' : `${x > 0 ? '+' : '−'}${Math.abs(x).toFixed(6)}`);

describe('webview: compare view', function () {
  this.timeout(120000);
  let h: Harness;
  let a: AttentionResult;
  let b: AttentionResult;

  before(async () => {
    const model = await loadModel(path.join(FIXTURES_ROOT, 'gpt2'));
    try {
      // "dog" → "mat" is a substitution; " on" is deleted from B, so both kinds of marks show.
      a = await model.analyze('The dog sat on the mat.');
      b = await model.analyze('The mat sat the mat.');
    } finally {
      await model.dispose();
    }
    h = await openHarness({ viewport: process.env.COMPARE_VIEWPORT ? JSON.parse(process.env.COMPARE_VIEWPORT) : { width: 1280, height: 800 } });
    // A arrives as main's panels get it: an analysis the engine keeps (summaries, views on request).
    const host = new FakeHost(h);
    await host.analysis(1, a);
    await host.serve();
    await frames(h.page);
    // Compare With… then sends A's and B's tensors together.
    await h.send({ type: 'compare', resultId: 1, base: a, other: b, kind: 'text' });
    await frames(h.page);
  });

  after(async () => {
    await h?.close();
  });

  afterEach(async () => {
    assert.deepStrictEqual(h.problems, [], 'no console errors or CSP violations');
    assert.deepStrictEqual(await cspViolations(h), []);
  });

  it('opens the compare tab with A, B and B − A, the sources and the alignment', async () => {
    if (process.env.COMPARE_SHOT) await h.page.screenshot({ path: process.env.COMPARE_SHOT });
    assert.strictEqual(await h.page.locator('[data-testid="tab-compare"]').isVisible(), true);
    assert.strictEqual(await h.page.locator('[data-testid="compare-panel"]').isVisible(), true);
    for (const side of ['a', 'b', 'delta']) assert.strictEqual(await h.page.locator(`[data-testid="compare-${side}"]`).isVisible(), true, side);
    const sources = await h.page.locator('[data-testid="compare-sources"]').innerText();
    assert.match(sources, /A: gpt2 · “The dog sat on the mat\.”/);
    assert.match(sources, /B: gpt2 · “The mat sat the mat\.”/);
    const al = alignTokens(a.tokens, b.tokens);
    assert.ok(al.counts.substituted >= 1 && al.counts.deleted >= 1, 'the texts give a substitution and a deletion');
    const summary = await h.page.locator('[data-testid="alignment-summary"]').innerText();
    assert.strictEqual(summary, `${al.pairs.length} tokens aligned (${al.counts.same} identical, ${al.counts.substituted} substituted), ${al.counts.deleted} only in A`);
    assert.strictEqual((await geometry(h, 'compare-a')).size, a.tokens.length);
    assert.strictEqual((await geometry(h, 'compare-b')).size, b.tokens.length);
    assert.strictEqual((await geometry(h, 'compare-delta')).size, al.pairs.length);
    // The strip marks what has no partner.
    assert.ok((await h.page.locator('[data-testid="alignment"] .chip.deleted').count()) >= 1);
    assert.ok((await h.page.locator('[data-testid="alignment"] .chip.substituted').count()) >= 2);
  });

  it('the difference legend is in ± around 0, on the diverging scale', async () => {
    const ticks = await h.page.locator('[data-testid="compare-delta-legend-ticks"] span').allInnerTexts();
    assert.strictEqual(ticks.length, 3);
    assert.match(ticks[0], /^−\d/);
    assert.strictEqual(ticks[1], '0');
    assert.match(ticks[2], /^\+\d/);
    assert.strictEqual(ticks[0].slice(1), ticks[2].slice(1), 'symmetric');
    assert.match(await h.page.locator('[data-testid="compare-delta-legend-caption"]').innerText(), /^B − A: ±/);
  });

  it('hovering a Δ cell shows A, B and Δ of the aligned tokens (the engine’s values)', async () => {
    const al = alignTokens(a.tokens, b.tokens);
    const layer = 0;
    const head = 0;
    const ma = new AttentionStack(a.attentions).head(layer, head);
    const mb = new AttentionStack(b.attentions).head(layer, head);
    const n = a.tokens.length;
    const m = b.tokens.length;
    // The substituted row against the first key.
    const row = al.pairs.findIndex((p) => p.kind === 'substituted');
    const col = 0;
    const pa = al.pairs[row];
    const pk = al.pairs[col];
    const va = ma[pa.a * n + pk.a];
    const vb = mb[pa.b * m + pk.b];
    const text = await hoverCell(h, 'compare-delta', row, col);
    assert.match(text, /dog→.*mat → The/);
    assert.ok(text.includes(`A ${six(va)} · B ${six(vb)} · Δ ${signed(Math.fround(vb - va))}`), text);
    assert.ok(text.endsWith('(layer 0, head 0)'), text);
  });

  it('hovering A shows the partner in B and Δ, or says there is none', async () => {
    const al = alignTokens(a.tokens, b.tokens);
    const ma = new AttentionStack(a.attentions).head(0, 0);
    const mb = new AttentionStack(b.attentions).head(0, 0);
    const n = a.tokens.length;
    const m = b.tokens.length;
    const q = n - 1;
    const k = 0;
    const va = ma[q * n + k];
    const vb = mb[al.aToB[q] * m + al.aToB[k]];
    const text = await hoverCell(h, 'compare-a', q, k);
    assert.ok(text.includes(`A ${six(va)} · B ${six(vb)} · Δ ${signed(vb - va)}`), text);
    const deleted = Array.from(al.aToB).findIndex((x) => x < 0);
    const none = await hoverCell(h, 'compare-a', deleted, 0);
    assert.match(none, /no aligned query in B/);
  });

  it('ranks heads by mean |Δ|: the list starts with the most changed head, and a click shows it', async () => {
    const al = alignTokens(a.tokens, b.tokens);
    const sa = new AttentionStack(a.attentions);
    const sb = new AttentionStack(b.attentions);
    const n = a.tokens.length;
    const m = b.tokens.length;
    // Mean |Δ| written out here (causal: key at or before query, over the aligned pairs).
    let best = { layer: -1, head: -1, mean: -1 };
    for (let l = 0; l < sa.layers; l++) {
      for (let hd = 0; hd < sa.heads; hd++) {
        const x = sa.head(l, hd);
        const y = sb.head(l, hd);
        let sum = 0;
        let count = 0;
        for (let i = 0; i < al.pairs.length; i++) for (let j = 0; j <= i; j++) {
          sum += Math.abs(y[al.pairs[i].b * m + al.pairs[j].b] - x[al.pairs[i].a * n + al.pairs[j].a]);
          count++;
        }
        if (sum / count > best.mean) best = { layer: l, head: hd, mean: sum / count };
      }
    }
    const first = h.page.locator('[data-testid="top-heads"] button').first();
    assert.strictEqual(await first.getAttribute('data-layer'), String(best.layer));
    assert.strictEqual(await first.getAttribute('data-head'), String(best.head));
    assert.match(await first.innerText(), new RegExp(best.mean.toFixed(6)));
    await first.click();
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="compare-title-a"]').innerText(), new RegExp(`layer ${best.layer}, head ${best.head}`));
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), new RegExp(`layer ${best.layer}, head ${best.head}`));
  });

  it('exports PNG, SVG and JSON of the difference with both sources in the title', async () => {
    await h.clearPosted();
    await h.page.locator('[data-testid="export-json"]').click({ force: true });
    await h.page.locator('[data-testid="export-svg"]').click({ force: true });
    await h.page.locator('[data-testid="export-png"]').click({ force: true });
    await frames(h.page);
    const exports = await posted(h, 'export');
    const json = JSON.parse(exports.find((e) => e.format === 'json')!.data);
    assert.strictEqual(json.format, 'attention-inspector/compare@1');
    assert.match(json.title, /^Δ attention gpt2: B “The mat sat the mat\.” − A “The dog sat on the mat\.” — layer \d, head \d/);
    const k = json.axis.length;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) assert.ok(Math.abs(json.delta[i][j] - (json.attentionB[i][j] - json.attentionA[i][j])) < 1e-6);
    assert.strictEqual(json.headDistances.length, 3 * 4);
    const svg = exports.find((e) => e.format === 'svg')!;
    assert.ok(svg.data.includes('<title>Δ attention gpt2: B “The mat sat the mat.” − A “The dog sat on the mat.”'), 'svg title');
    assert.match(svg.suggestedName, /^attention-delta-gpt2-the-mat-sat-minus-the-dog-sat-L\d-H\d-head\.svg$/);
    const png = decodePng(Buffer.from(exports.find((e) => e.format === 'png')!.data, 'base64'));
    assert.ok(png.width > 100 && png.height > 100);
  });

  it('switches to the difference alone, and a new result ends the comparison', async () => {
    await h.page.evaluate(() => {
      const el = document.querySelector('#compareLayout') as HTMLElement & { value: string };
      el.value = 'delta';
      el.dispatchEvent(new Event('change'));
    });
    await frames(h.page);
    assert.strictEqual(await h.page.locator('[data-testid="compare-a"]').isVisible(), false);
    assert.strictEqual(await h.page.locator('[data-testid="compare-delta"]').isVisible(), true);
    await new FakeHost(h).analysis(2, a);
    await frames(h.page);
    assert.strictEqual(await h.page.locator('[data-testid="tab-compare"]').isVisible(), false);
    assert.strictEqual(await h.page.locator('[data-testid="head-panel"]').isVisible(), true);
    // A comparison for an older result is ignored.
    await h.send({ type: 'compare', resultId: 1, base: a, other: b, kind: 'text' });
    await frames(h.page);
    assert.strictEqual(await h.page.locator('[data-testid="tab-compare"]').isVisible(), false);
  });
});
