/**
 * Attention on demand in the real webview bundle: the panel gets an analysis's summaries, asks for
 * each view by request id and analysis id, draws a view larger than one reply from its overview and exact tiles of the visible area, renders the model
 * view from the summaries, and ignores replies that belong to an analysis no longer shown. The
 * host is FakeHost, answering with the engine worker's own ViewServer.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { AttentionStack } from '../../src/analysis/tensor';
import { UNIT_RANGE, colorLut, lutIndex } from '../../src/analysis/colormap';
import { MAX_MESSAGE_BYTES, MAX_OVERVIEW_CELLS, MAX_REPLY_BYTES, type ViewRequest } from '../../src/protocol/views';
import { fixtureResult } from '../unit/analysis/fixture';
import { bertHeadVectors } from './bertVectors';
import { FakeHost, pageWithFakeHost } from './fakeHost';
import { at, canvasPixel, cellCenter, chooseOption, geometry, label, setControl, tooltip } from './geometry';
import { cspViolations, frames, openHarness, repoRoot, type Harness } from './harness';
import { syntheticResult } from './synthetic';

const headRequest = (layer: number, head: number): ViewRequest => ({ kind: 'matrix', block: 'self', mode: 'head', layer, head, special: 'show', mergeWords: false });

/** The cell under a client point (from the canvas geometry, webview/TESTING.md). */
function cellAt(g: Awaited<ReturnType<typeof geometry>>, x: number, y: number): { row: number; col: number } {
  return { row: Math.floor((y - g.top - g.gridTop + g.scrollY) / g.cell), col: Math.floor((x - g.left - g.gridLeft + g.scrollX) / g.cell) };
}

describe('attention on demand in Chromium', function () {
  this.timeout(240000);
  const page = pageWithFakeHost();
  let h: Harness;
  let host: FakeHost;
  beforeEach(() => ({ h, host } = page));

  it('asks for the view it shows by request id and analysis id, and draws the reply exactly', async () => {
    const result = fixtureResult('bert', 0);
    const stack = new AttentionStack(result.attentions);
    await host.analysis(21, result);
    const [first, ...rest] = await host.newRequests();
    assert.deepStrictEqual(rest, [], 'one request for the first screen');
    assert.strictEqual(first.resultId, 21);
    assert.ok(Number.isInteger(first.requestId) && first.requestId > 0);
    assert.deepStrictEqual(first.request, headRequest(0, 0));
    assert.strictEqual(await h.page.locator('[data-testid="computing"]').innerText(), 'Loading this view…');
    await host.answer(first);
    const g = await geometry(h);
    assert.strictEqual(g.size, 9);
    const p = cellCenter(g, 2, 3);
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await tooltip(h), `${label(result.tokens[2])} → ${label(result.tokens[3])}: ${at(stack.headMatrix(0, 0), 2, 3).toFixed(6)} (layer 0, head 0)`);
    assert.strictEqual(await h.page.locator('[data-testid="computing"]').innerText(), '');

    // Another head: one new request; back to the first: served from the panel's cache.
    await chooseOption(h, 'head', 'Head 1');
    const next = await host.newRequests();
    assert.strictEqual(next.length, 1);
    assert.deepStrictEqual(next[0].request, headRequest(0, 1));
    await host.answer(next[0]);
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /layer 0, head 1/);
    await chooseOption(h, 'head', 'Head 0');
    assert.deepStrictEqual(await host.newRequests(), [], 'head 0 again comes from the cache');
    assert.match(await h.page.locator('[data-testid="mode-badge"]').innerText(), /layer 0, head 0/);
  });

  it('renders the model view from the summaries, without asking for anything', async () => {
    const result = fixtureResult('bert', 0);
    await host.analysis(22, result);
    await host.serve();
    const before = host.requests.length;
    await h.page.locator('[data-testid="tab-model"]').click();
    await frames(h.page);
    assert.strictEqual(await h.page.locator('[data-testid="model-grid"]').getAttribute('data-tiles'), '12');
    assert.match(await h.page.locator('[data-testid="model-panel"]').innerText(), /12 of 12 heads/);
    assert.deepStrictEqual(await host.newRequests(), [], 'no request for thumbnails');
    assert.strictEqual(host.requests.length, before);
    // Other options than the summaries': the thumbnails are asked for once.
    await h.page.locator('[data-testid="tab-head"]').click();
    await frames(h.page);
  });

  it('progressive: the model view shows the layers computed so far and fills in as the rest arrive', async () => {
    const result = fixtureResult('bert', 0);
    await host.analysis(24, result, undefined, 1);
    await h.page.locator('[data-testid="tab-model"]').click();
    await frames(h.page);
    const info = h.page.locator('[data-testid="model-info"]');
    assert.match(await info.innerText(), /^Layers 0–0 of 3 computed so far/);
    assert.strictEqual(await h.page.locator('[data-testid="model-grid"]').getAttribute('data-tiles'), '12');
    const tilePixel = async (layer: number, head: number) =>
      h.page.evaluate(({ layer, head }) => {
        const c = document.querySelector('[data-testid="model-grid"]') as HTMLCanvasElement;
        const d = c.dataset;
        const index = d.order!.split(' ').indexOf(`${layer}.${head}`);
        const col = index % Number(d.columns);
        const row = Math.floor(index / Number(d.columns));
        const dpr = c.width / c.getBoundingClientRect().width;
        // Every pixel of the thumbnail: a blank one is one colour.
        const x = Number(d.tileLeft) + col * Number(d.tileStepX) - Number(d.scrollX);
        const y = Number(d.tileTop) + row * Number(d.tileStepY) - Number(d.scrollY);
        const size = Math.floor(Number(d.thumb) * dpr);
        const data = c.getContext('2d')!.getImageData(Math.floor(x * dpr), Math.floor(y * dpr), size, size).data;
        return new Set(Array.from({ length: data.length / 4 }, (_, i) => `${data[i * 4]},${data[i * 4 + 1]},${data[i * 4 + 2]}`)).size;
      }, { layer, head });
    assert.ok((await tilePixel(0, 1)) > 2, 'a computed layer is drawn');
    const pendingColours = await tilePixel(2, 1);
    await host.complete(24);
    await frames(h.page);
    assert.doesNotMatch(await info.innerText(), /computed so far/);
    assert.ok((await tilePixel(2, 1)) > pendingColours, 'the last layer filled in');
  });

  it('2,048 tokens: draws the overview at once, then the exact tile of the visible area; hover exact inside and outside it; no message over 16 MB', async () => {
    const n = 2048;
    const result = syntheticResult(n, { layers: 1, heads: 1 });
    const data = new Float32Array(result.attentions.buffer);
    let globalMax = 0;
    for (const v of data) if (v > globalMax) globalMax = v;
    await host.analysis(23, result);
    // A view larger than one reply: the overview is asked for first, never the whole matrix.
    const [first, ...others] = await host.newRequests();
    assert.deepStrictEqual(others, []);
    assert.strictEqual(first.request.kind, 'overview');
    if (first.request.kind !== 'overview') return;
    assert.ok(first.request.cells >= 16 && first.request.cells <= MAX_OVERVIEW_CELLS, `cells ${first.request.cells}`);
    await host.answer(first);
    await frames(h.page);
    const canvas = h.page.locator('[data-testid="heatmap"]');
    assert.strictEqual(await canvas.getAttribute('data-size'), String(n));
    const overviewCells = Number(await canvas.getAttribute('data-overview'));
    const factor = Math.ceil(n / first.request.cells);
    assert.strictEqual(overviewCells, Math.ceil(n / factor));
    assert.strictEqual(await canvas.getAttribute('data-tiles'), '', 'no tile yet');
    const lut = colorLut('viridis');
    const colourOf = (v: number) => {
      const k = lutIndex(v / globalMax, UNIT_RANGE) * 3;
      return [lut[k], lut[k + 1], lut[k + 2]];
    };
    // The overview is drawn where the cells are: a cell shows its block's max-pooled weight.
    let g = await geometry(h);
    const pooledMax = (row: number, col: number) => {
      const r0 = Math.floor(row / factor) * factor;
      const c0 = Math.floor(col / factor) * factor;
      let max = 0;
      for (let i = r0; i < Math.min(n, r0 + factor); i++) for (let j = c0; j < Math.min(n, c0 + factor); j++) max = Math.max(max, data[i * n + j]);
      return max;
    };
    const probe = { row: 40, col: 13 };
    const p = cellCenter(g, probe.row, probe.col);
    assert.deepStrictEqual(await canvasPixel(h, 'heatmap', p.x, p.y), colourOf(pooledMax(probe.row, probe.col)), 'the overview is drawn');
    // The tile asked for holds every visible cell and fits one reply.
    const [tileRequest, ...more] = await host.newRequests();
    assert.deepStrictEqual(more, []);
    assert.strictEqual(tileRequest.request.kind, 'matrix');
    if (tileRequest.request.kind !== 'matrix') return;
    const rect = tileRequest.request as Required<Extract<ViewRequest, { kind: 'matrix' }>>;
    const box = (await canvas.boundingBox())!;
    const visible = cellAt(g, box.x + box.width - 1, box.y + box.height - 1);
    assert.ok(rect.rowStart === 0 && rect.colStart === 0, `tile from ${rect.rowStart}, ${rect.colStart}`);
    assert.ok(rect.rowCount > visible.row && rect.colCount > visible.col, `tile ${rect.rowCount} × ${rect.colCount} holds the visible ${visible.row + 1} × ${visible.col + 1}`);
    assert.ok(rect.rowCount * rect.colCount * 4 <= MAX_REPLY_BYTES);
    // Hover before the tile is here: the value is asked for by its row, and shown exact when it comes.
    const hoverCell = { row: 30, col: 20 };
    const hp = cellCenter(g, hoverCell.row, hoverCell.col);
    await h.page.mouse.move(hp.x, hp.y);
    assert.strictEqual(await tooltip(h), `w30 → w20: loading… (layer 0, head 0)`);
    const rowRequests = (await host.newRequests()).filter((m) => m.request.kind === 'matrix' && m.request.rowCount === 1);
    assert.strictEqual(rowRequests.length, 1, 'one row asked for');
    await host.answer(rowRequests[0]);
    assert.strictEqual(await tooltip(h), `w30 → w20: ${data[30 * n + 20].toFixed(6)} (layer 0, head 0)`);
    assert.match(await h.page.locator('[data-testid="row-sum"]').innerText(), /^Row sum: 1\.0000/);
    await h.page.mouse.move(box.x - 5, box.y - 5);
    // The tile arrives: exact colours, exact hover.
    await host.answer(tileRequest);
    await frames(h.page);
    assert.strictEqual(await canvas.getAttribute('data-tiles'), `0,0,${rect.rowCount},${rect.colCount}`);
    assert.deepStrictEqual(await canvasPixel(h, 'heatmap', p.x, p.y), colourOf(data[probe.row * n + probe.col]), 'the exact tile is drawn over the overview');
    const q = cellCenter(g, 55, 61);
    await h.page.mouse.move(q.x, q.y);
    assert.strictEqual(await tooltip(h), `w55 → w61: ${data[55 * n + 61].toFixed(6)} (layer 0, head 0)`);
    // Scrolled to the far corner: the tile follows the viewport.
    await h.page.evaluate(() => {
      const scroller = document.querySelector('[data-testid="heatmap"]')!.closest('.canvas-scroller') as HTMLElement;
      scroller.scrollTop = scroller.scrollHeight;
      scroller.scrollLeft = scroller.scrollWidth;
    });
    await frames(h.page);
    await host.serve();
    g = await geometry(h);
    const corner = cellAt(g, box.x + box.width * 0.5, box.y + box.height - 12);
    assert.ok(corner.row > n - 300 && corner.col > n - 600, `scrolled to ${corner.row}, ${corner.col}`);
    const tiles = (await canvas.getAttribute('data-tiles'))!.split(' ');
    assert.strictEqual(tiles.length, 2);
    const [r0, c0, rc, cc] = tiles[1].split(',').map(Number);
    assert.ok(corner.row >= r0 && corner.row < r0 + rc && corner.col >= c0 && corner.col < c0 + cc, `${tiles[1]} holds ${corner.row}, ${corner.col}`);
    const cp = cellCenter(g, corner.row, corner.col);
    await h.page.mouse.move(cp.x, cp.y);
    assert.strictEqual(await tooltip(h), `w${corner.row} → w${corner.col}: ${data[corner.row * n + corner.col].toFixed(6)} (layer 0, head 0)`);
    assert.ok(host.largestMessage <= MAX_REPLY_BYTES && host.largestMessage <= MAX_MESSAGE_BYTES, `largest message ${host.largestMessage} bytes`);
    assert.ok(host.bytesSent < n * n * 4, `${host.bytesSent} bytes sent for a ${n * n * 4}-byte view`);
  });

  it('per-row and log colours of a view served in tiles: overview and exact tile coloured as their weights say', async () => {
    const n = 2048;
    const result = syntheticResult(n, { layers: 1, heads: 1 });
    const data = new Float32Array(result.attentions.buffer);
    const rowMax = new Float64Array(n);
    let globalMax = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) rowMax[i] = Math.max(rowMax[i], data[i * n + j]);
    for (const m of rowMax) globalMax = Math.max(globalMax, m);
    await host.analysis(24, result);
    const [overview] = await host.newRequests();
    const cells = overview.request.kind === 'overview' ? overview.request.cells : 0;
    const factor = Math.ceil(n / cells);
    const pooledCells = Math.ceil(n / factor);
    await host.answer(overview);
    await frames(h.page);
    const [tile] = await host.newRequests();
    const lut = colorLut('viridis');
    const colour = (position: number) => {
      const k = lutIndex(position, UNIT_RANGE) * 3;
      return [lut[k], lut[k + 1], lut[k + 2]];
    };
    const pooled = (row: number, col: number) => {
      let max = 0;
      for (let i = row * factor; i < Math.min(n, (row + 1) * factor); i++) for (let j = col * factor; j < Math.min(n, (col + 1) * factor); j++) max = Math.max(max, data[i * n + j]);
      return max;
    };
    /** The overview row's largest cell: the largest weight of its view rows. */
    const pooledRowMax = (row: number) => Math.max(...Array.from({ length: Math.min(factor, n - row * factor) }, (_, k) => rowMax[row * factor + k]));
    const log = (v: number) => {
      const lo = globalMax / 1e4;
      return v > lo ? Math.min(1, (Math.log10(v) - Math.log10(lo)) / (Math.log10(globalMax) - Math.log10(lo))) : 0;
    };
    const g = await geometry(h);
    const probes = [{ row: 40, col: 13 }, { row: 121, col: 120 }, { row: 7, col: 300 }];
    for (const norm of ['row', 'log'] as const) {
      await setControl(h, 'norm', norm);
      // The overview (the tile not here yet): each overview cell under the mapping of the overview.
      for (const { row, col } of probes) {
        const [or, oc] = [Math.floor(row / factor), Math.floor(col / factor)];
        assert.ok(or < pooledCells && oc < pooledCells);
        const position = norm === 'row' ? pooled(or, oc) / pooledRowMax(or) : log(pooled(or, oc));
        const p = cellCenter(g, row, col);
        assert.deepStrictEqual(await canvasPixel(h, 'heatmap', p.x, p.y), colour(position), `${norm}: overview at ${row}, ${col}`);
      }
    }
    await host.answer(tile);
    await frames(h.page);
    assert.notStrictEqual(await h.page.locator('[data-testid="heatmap"]').getAttribute('data-tiles'), '');
    for (const norm of ['row', 'log'] as const) {
      await setControl(h, 'norm', norm);
      // The exact tile: per row against the view row's own maximum, log over the view's range.
      for (const { row, col } of probes) {
        const v = data[row * n + col];
        const p = cellCenter(g, row, col);
        assert.deepStrictEqual(await canvasPixel(h, 'heatmap', p.x, p.y), colour(norm === 'row' ? v / rowMax[row] : log(v)), `${norm}: tile at ${row}, ${col}`);
      }
    }
  });

  it('a tile asked for before the user scrolled on is cancelled, and its late reply is ignored', async () => {
    const n = 2048;
    const result = syntheticResult(n, { layers: 1, heads: 1 });
    await host.analysis(25, result);
    const [overview] = await host.newRequests();
    await host.answer(overview);
    await frames(h.page);
    const [old] = await host.newRequests();
    assert.strictEqual(old.request.kind, 'matrix');
    // Keyboard: the cursor jumps to the last cell (Ctrl+End) and the view scrolls there.
    await h.page.locator('[data-testid="heatmap"]').focus();
    await h.page.keyboard.press('Control+End');
    await frames(h.page);
    const fresh = await host.newRequests();
    const tiles = fresh.filter((m) => m.request.kind === 'matrix' && m.request.rowCount !== 1);
    assert.strictEqual(tiles.length, 1, 'one tile for the new place');
    const posted = await h.posted();
    assert.ok(posted.some((m) => m.type === 'cancel' && m.requestId === old.requestId), 'the old tile request was cancelled');
    // The old reply comes anyway: nothing is drawn from it.
    await host.answer(old);
    const canvas = h.page.locator('[data-testid="heatmap"]');
    assert.strictEqual(await canvas.getAttribute('data-tiles'), '');
    await host.answer(tiles[0]);
    await host.serve();
    const drawn = (await canvas.getAttribute('data-tiles'))!;
    const [r0, c0, rc, cc] = drawn.split(',').map(Number);
    assert.ok(r0 + rc === n && c0 + cc === n, `the new tile ${drawn} reaches the last cell`);
    const data = new Float32Array(result.attentions.buffer);
    assert.match(await h.page.locator('[data-testid="live"]').innerText(), new RegExp(`w2047 → w2047: ${data[n * n - 1].toFixed(6).replace('.', '\\.')}`));
  });

  it('switching head cancels exactly the tile (or overview) still on its way for the previous head; the new head is drawn from its own replies', async () => {
    const n = 2048;
    const result = syntheticResult(n, { layers: 1, heads: 3 });
    const stack = new AttentionStack(result.attentions);
    const cancels = async () => (await h.posted()).flatMap((m) => (m.type === 'cancel' ? [m.requestId] : []));
    await host.analysis(27, result);
    const [overview0] = await host.newRequests();
    assert.deepStrictEqual([overview0.request.kind, overview0.request.kind === 'overview' && overview0.request.head], ['overview', 0]);
    await host.answer(overview0);
    await frames(h.page);
    const [tile0, ...none] = await host.newRequests();
    assert.deepStrictEqual(none, []);
    assert.deepStrictEqual([tile0.request.kind, tile0.request.kind === 'matrix' && tile0.request.head], ['matrix', 0]);
    assert.deepStrictEqual(await cancels(), [], 'nothing cancelled yet');

    // Head 1 while head 0's tile is on its way: that tile is cancelled, nothing else.
    await chooseOption(h, 'head', 'Head 1');
    const [overview1, ...more] = await host.newRequests();
    assert.deepStrictEqual(more, []);
    assert.deepStrictEqual([overview1.request.kind, overview1.request.kind === 'overview' && overview1.request.head], ['overview', 1]);
    assert.deepStrictEqual(await cancels(), [tile0.requestId], "head 0's tile is cancelled, by its request id");

    // Head 2 while head 1's overview is on its way: the overview is cancelled.
    await chooseOption(h, 'head', 'Head 2');
    const [overview2] = await host.newRequests();
    assert.deepStrictEqual([overview2.request.kind, overview2.request.kind === 'overview' && overview2.request.head], ['overview', 2]);
    assert.deepStrictEqual(await cancels(), [tile0.requestId, overview1.requestId], "head 1's overview is cancelled");

    // The cancelled replies come anyway: nothing is drawn from them.
    await host.answer(tile0);
    await host.answer(overview1);
    const canvas = h.page.locator('[data-testid="heatmap"]');
    assert.strictEqual(await h.page.locator('[data-testid="computing"]').innerText(), 'Loading this view…');
    assert.strictEqual(await canvas.getAttribute('data-tiles'), '');
    assert.deepStrictEqual(await host.newRequests(), [], 'a stale reply asks for nothing');

    // Head 2's own replies draw it: its overview, then its tile, exact.
    await host.answer(overview2);
    await frames(h.page);
    const [tile2] = await host.newRequests();
    assert.deepStrictEqual([tile2.request.kind, tile2.request.kind === 'matrix' && tile2.request.head], ['matrix', 2]);
    await host.answer(tile2);
    await frames(h.page);
    assert.notStrictEqual(await canvas.getAttribute('data-tiles'), '');
    const g = await geometry(h);
    const p = cellCenter(g, 4, 3);
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await tooltip(h), `w4 → w3: ${at(stack.headMatrix(0, 2), 4, 3).toFixed(6)} (layer 0, head 2)`);
    // The details strip asks for the hovered row (the tile holds only part of it); left on its way.
    await h.page.mouse.move(1, 1);
    const [row2, ...rest] = await host.newRequests();
    assert.deepStrictEqual(rest, []);
    assert.deepStrictEqual(row2.request.kind === 'matrix' && [row2.request.head, row2.request.rowStart, row2.request.rowCount], [2, 4, 1]);
    assert.deepStrictEqual(await cancels(), [tile0.requestId, overview1.requestId], 'nothing else was cancelled');

    // Back to head 0: head 2's row is cancelled; head 0's overview is still here, its tile is asked for again.
    await chooseOption(h, 'head', 'Head 0');
    const again = await host.newRequests();
    assert.deepStrictEqual(again.map((m) => [m.request.kind, m.request.kind === 'matrix' && m.request.head]), [['matrix', 0]]);
    assert.deepStrictEqual(await cancels(), [tile0.requestId, overview1.requestId, row2.requestId], "head 2's row is cancelled");
    await host.answer(row2);
    await host.answer(again[0]);
    await frames(h.page);
    const p0 = cellCenter(await geometry(h), 4, 3);
    await h.page.mouse.move(p0.x, p0.y);
    assert.strictEqual(await tooltip(h), `w4 → w3: ${at(stack.headMatrix(0, 0), 4, 3).toFixed(6)} (layer 0, head 0)`);
  });

  it('a whole view on its way for the previous layer is cancelled too', async () => {
    const result = fixtureResult('bert', 0);
    const stack = new AttentionStack(result.attentions);
    await host.analysis(28, result);
    const [first] = await host.newRequests();
    assert.deepStrictEqual(first.request, headRequest(0, 0));
    await chooseOption(h, 'layer', 'Layer 1');
    const [second] = await host.newRequests();
    assert.deepStrictEqual(second.request, headRequest(1, 0));
    const cancels = (await h.posted()).flatMap((m) => (m.type === 'cancel' ? [m.requestId] : []));
    assert.deepStrictEqual(cancels, [first.requestId]);
    await host.answer(first);
    assert.strictEqual(await h.page.locator('[data-testid="computing"]').innerText(), 'Loading this view…');
    await host.answer(second);
    const g = await geometry(h);
    const p = cellCenter(g, 2, 3);
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await tooltip(h), `${label(result.tokens[2])} → ${label(result.tokens[3])}: ${at(stack.headMatrix(1, 0), 2, 3).toFixed(6)} (layer 1, head 0)`);
  });

  /** Reloads the page as VS Code reloads a webview (its state kept), and sends the analysis again as the host then does. */
  async function reloadWith(resultId: number, result: ReturnType<typeof syntheticResult>): Promise<void> {
    await h.page.reload();
    await h.page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
    // Request ids start again in the new page.
    host = new FakeHost(h);
    await host.analysis(resultId, result);
  }

  const savedState = () => h.page.evaluate(() => JSON.parse(sessionStorage.getItem('vscodeState') ?? 'null') as Record<string, unknown>);

  it('a reloaded panel opens the same analysis where the head view was scrolled, and asks for the tile there', async () => {
    const n = 2048;
    const result = syntheticResult(n, { layers: 1, heads: 1 });
    await host.analysis(29, result);
    await host.serve();
    await h.page.evaluate(() => document.querySelector('[data-testid="heatmap"]')!.closest('.canvas-scroller')!.scrollTo(3000, 2400));
    await frames(h.page);
    await host.serve();
    const before = await geometry(h);
    assert.deepStrictEqual([before.scrollX, before.scrollY], [3000, 2400]);
    assert.deepStrictEqual((await savedState()).headScroll, { row: 2400 / before.cell, col: 3000 / before.cell }, 'kept in cells');

    await reloadWith(29, result);
    const [overview, ...none] = await host.newRequests();
    assert.deepStrictEqual([overview.request.kind, none], ['overview', []]);
    await host.answer(overview);
    await frames(h.page);
    const after = await geometry(h);
    assert.deepStrictEqual([after.scrollX, after.scrollY, after.cell], [3000, 2400, before.cell], 'scrolled where it was');
    // The one tile asked for holds the cells on screen there.
    const [tile, ...others] = await host.newRequests();
    assert.deepStrictEqual(others, []);
    assert.strictEqual(tile.request.kind, 'matrix');
    const rect = await h.page.evaluate(() => document.querySelector('[data-testid="heatmap"]')!.getBoundingClientRect().toJSON() as DOMRect);
    const first = cellAt(after, after.left + after.gridLeft, after.top + after.gridTop);
    const last = cellAt(after, rect.right - 1, rect.bottom - 1);
    assert.deepStrictEqual(first, { row: 800, col: 1000 });
    const t = tile.request.kind === 'matrix' ? tile.request : undefined;
    assert.ok(
      t && t.rowStart! <= first.row && t.rowStart! + t.rowCount! > last.row && t.colStart! <= first.col && t.colStart! + t.colCount! > last.col,
      `tile ${JSON.stringify(t)} holds the visible cells ${JSON.stringify(first)}–${JSON.stringify(last)}`,
    );
    await host.answer(tile);
    const data = new Float32Array(result.attentions.buffer);
    const p = cellCenter(after, 810, 1020);
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await tooltip(h), `w810 → w1020: ${data[810 * n + 1020].toFixed(6)} (layer 0, head 0)`);

    // Another analysis opens at the top-left.
    await host.analysis(30, syntheticResult(n - 1, { layers: 1, heads: 1 }));
    await host.serve();
    const other = await geometry(h);
    assert.deepStrictEqual([other.size, other.scrollX, other.scrollY], [n - 1, 0, 0]);
  });

  it("a reloaded panel opens the model view where it was scrolled", async () => {
    const result = syntheticResult(16, { layers: 12, heads: 12 });
    await host.analysis(33, result);
    await h.page.locator('[data-testid="tab-model"]').click();
    await frames(h.page);
    const scroll = () =>
      h.page.evaluate(() => {
        const scroller = document.querySelector('[data-testid="model-grid"]')!.closest('.canvas-scroller')!;
        return { top: scroller.scrollTop, room: scroller.scrollHeight - scroller.clientHeight };
      });
    const { room } = await scroll();
    assert.ok(room > 300, `the grid scrolls (${room} px)`);
    await h.page.evaluate(() => document.querySelector('[data-testid="model-grid"]')!.closest('.canvas-scroller')!.scrollTo(0, 300));
    await frames(h.page);
    assert.deepStrictEqual((await savedState()).modelScroll, { x: 0, y: 300 });
    await reloadWith(33, result);
    await frames(h.page);
    assert.strictEqual((await scroll()).top, 300);
    assert.strictEqual(await h.page.locator('[data-testid="model-grid"]').getAttribute('data-scroll-y'), '300');
  });

  it('step by step asks for the one attention row it shows, not the whole view', async () => {
    const result = fixtureResult('bert', 0);
    await host.analysis(35, result);
    await host.serve();
    await h.page.locator('[data-testid="tab-step"]').click();
    await chooseOption(h, 'head', 'Head 1');
    assert.deepStrictEqual(await host.newRequests(), [], 'nothing until q, k and v are here');
    await h.send({ type: 'headVectors', resultId: 35, vectors: bertHeadVectors(0, 0, 1) });
    const [row, ...none] = await host.newRequests();
    assert.deepStrictEqual(none, []);
    assert.deepStrictEqual(row.request, { ...headRequest(0, 1), rowStart: 1, rowCount: 1 }, 'the query token\'s row of head 1');
    await host.answer(row);
    const check = await h.page.locator('[data-testid="step-check"]').innerText();
    assert.match(check, /Σ weights = 1\.000000/);
    assert.match(check, /the recomputation matches/);
    // Head 0's whole view is here already (the heatmap's): its row needs no request.
    await chooseOption(h, 'head', 'Head 0');
    await h.send({ type: 'headVectors', resultId: 35, vectors: bertHeadVectors(0, 0, 0) });
    assert.deepStrictEqual(await host.newRequests(), []);
    assert.match(await h.page.locator('[data-testid="step-check"]').innerText(), /the recomputation matches/);
  });

  it("the line view of a long text asks for the rows on screen and a hovered key's column, not the whole views", async () => {
    const n = 2048;
    // A sink on token 0 (half of every row): lines worth drawing, weights under 0.03 elsewhere.
    const result = syntheticResult(n, { layers: 1, heads: 2, sink: 0.5 });
    const stack = new AttentionStack(result.attentions);
    const weights = (head: number) => stack.headMatrix(0, head).data;
    await host.analysis(36, result);
    await host.serve();
    await h.page.locator('[data-testid="tab-lines"]').click();
    await frames(h.page);
    const lines = h.page.locator('[data-testid="lines"]');
    const geo = await h.page.evaluate(() => {
      const c = document.querySelector('[data-testid="lines"]') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, height: r.height, rowHeight: Number(c.dataset.rowHeight) };
    });
    const onScreen = Math.ceil(geo.height / geo.rowHeight);
    const matrixOf = (m: { request: ViewRequest }) => (m.request.kind === 'matrix' ? m.request : undefined);
    const [band, ...none] = await host.newRequests();
    assert.deepStrictEqual(none, []);
    const b = matrixOf(band)!;
    assert.deepStrictEqual([b.head, b.rowStart, b.colStart, b.colCount], [0, 0, 0, n], 'head 0: a band of rows over every column');
    assert.ok(b.rowCount! >= onScreen && b.rowCount! <= onScreen + 128, `${b.rowCount} rows for ${onScreen} on screen`);
    assert.strictEqual(await lines.getAttribute('data-lines'), '0', 'nothing drawn before its rows come');
    await host.answer(band);
    await frames(h.page);
    assert.ok(Number(await lines.getAttribute('data-lines')) >= onScreen, 'the lines of the rows on screen');

    // A query's tooltip names its exact top key.
    await h.page.mouse.move(geo.left + 20, geo.top + 8 + 2.5 * geo.rowHeight);
    const row2 = Array.from(weights(0).subarray(2 * n, 3 * n));
    const best = row2.indexOf(Math.max(...row2));
    const tip = await tooltip(h);
    assert.ok(tip.startsWith(`w2 (query 2) attends to — H0: w${best} ${row2[best].toFixed(6)}`), tip);

    // A hovered key: its column over every row is asked for, and its lines drawn from it.
    await h.page.mouse.move(geo.right - 20, geo.top + 8 + 0.5 * geo.rowHeight);
    await frames(h.page);
    const [column, ...rest] = await host.newRequests();
    assert.deepStrictEqual(rest, []);
    const c = matrixOf(column)!;
    assert.deepStrictEqual([c.head, c.rowStart, c.rowCount, c.colStart, c.colCount], [0, 0, n, 0, 1]);
    await host.answer(column);
    await frames(h.page);
    let into = 0;
    for (let i = 0; i < n; i++) if (weights(0)[i * n] >= 0.03) into++;
    assert.strictEqual(into, n);
    assert.strictEqual(await lines.getAttribute('data-lines'), String(into), 'a line from every query into key 0, from its column');
    await h.page.mouse.move(1, 1);

    // Scrolled to the end: the band there; back at the top before it came: that band is cancelled.
    const scrollTo = (top: number) =>
      h.page.evaluate((y) => document.querySelector('[data-testid="lines"]')!.closest('.canvas-scroller')!.scrollTo(0, y < 0 ? 1e9 : y), top);
    await scrollTo(-1);
    await frames(h.page);
    const [end] = await host.newRequests();
    const e = matrixOf(end)!;
    assert.ok(e.rowStart! + e.rowCount! === n && e.rowStart! > n - onScreen - 128, `band ${e.rowStart}+${e.rowCount}`);
    await scrollTo(0);
    await frames(h.page);
    const [top] = await host.newRequests();
    assert.strictEqual(matrixOf(top)!.rowStart, 0);
    assert.ok((await h.posted()).some((m) => m.type === 'cancel' && m.requestId === end.requestId), 'the band for the end is cancelled');
    await host.answer(end);
    await host.answer(top);
    await frames(h.page);
    assert.ok(Number(await lines.getAttribute('data-lines')) > 0);

    // Head 1 overlaid: its own band; the whole views were never asked for.
    await h.page.locator('.chip[data-head="1"]').click();
    await frames(h.page);
    const [band1] = await host.newRequests();
    const b1 = matrixOf(band1)!;
    assert.deepStrictEqual([b1.head, b1.rowStart, b1.colCount], [1, 0, n]);
    await host.answer(band1);
    await frames(h.page);
    assert.strictEqual(await lines.getAttribute('data-heads'), '0 1');
    const whole = host.requests.filter((m) => m.request.kind === 'matrix' && m.request.rowCount === undefined);
    assert.deepStrictEqual(whole, [], 'no view asked for whole');
  });

  it('a tile that cannot be had is said so over the overview', async () => {
    await host.analysis(26, syntheticResult(2048, { layers: 1, heads: 1 }));
    const [overview] = await host.newRequests();
    await host.answer(overview);
    const [tile] = await host.newRequests();
    assert.strictEqual(tile.request.kind, 'matrix');
    await h.send({ type: 'replyError', requestId: tile.requestId, resultId: 26, message: 'The engine stopped.' });
    assert.strictEqual(await h.page.locator('[data-testid="computing"]').innerText(), 'The exact values of this view could not be loaded: The engine stopped.');
    assert.strictEqual(await h.page.locator('[data-testid="heatmap"]').getAttribute('data-overview'), '1024', 'the overview stays');
    assert.deepStrictEqual(await host.newRequests(), [], 'the failed tile is not asked for again and again');
  });

  it('ignores replies for an analysis no longer shown, and tells the host to give up its requests', async () => {
    const a = fixtureResult('bert', 0);
    const b = fixtureResult('bert', 1);
    await host.analysis(31, a);
    const [forA] = await host.newRequests();
    await host.analysis(32, b);
    const posted = await h.posted();
    assert.ok(posted.some((m) => m.type === 'cancel' && m.requestId === forA.requestId), 'the old request was cancelled');
    const [forB] = await host.newRequests();
    assert.strictEqual(forB.resultId, 32);
    // The old analysis's reply arrives late: nothing changes.
    await host.answer(forA);
    assert.strictEqual(await h.page.locator('[data-testid="computing"]').innerText(), 'Loading this view…');
    // A reply naming another analysis than its request's is not taken either.
    await host.answer(forB, 31, await host.replyTo({ ...forA, requestId: forB.requestId }));
    assert.strictEqual(await h.page.locator('[data-testid="computing"]').innerText(), 'Loading this view…');
    await host.answer(forB);
    const g = await geometry(h);
    assert.strictEqual(g.size, b.tokens.length);
    const p = cellCenter(g, 1, 0);
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await tooltip(h), `${label(b.tokens[1])} → ${label(b.tokens[0])}: ${at(new AttentionStack(b.attentions).headMatrix(0, 0), 1, 0).toFixed(6)} (layer 0, head 0)`);
  });

  it('says so when a view cannot be had (the engine no longer keeps the analysis)', async () => {
    await host.analysis(41, fixtureResult('bert', 0));
    const [m] = await host.newRequests();
    await h.send({ type: 'replyError', requestId: m.requestId, resultId: 41, message: 'This analysis is no longer kept by the engine.' });
    assert.match(await h.page.locator('[data-testid="computing"]').innerText(), /could not be loaded: This analysis is no longer kept/);
  });

  it('2,048 tokens: hover stays within a frame (16 ms) on a view served in tiles', async () => {
    const n = 2048;
    await host.analysis(51, syntheticResult(n, { layers: 1, heads: 1 }));
    await host.serve();
    assert.ok(host.largestMessage <= MAX_MESSAGE_BYTES, `largest message ${host.largestMessage} bytes`);
    const g = await geometry(h);
    assert.strictEqual(g.size, n);
    const times = await h.page.evaluate(async () => {
      const canvas = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement;
      const r = canvas.getBoundingClientRect();
      const out: number[] = [];
      for (let k = 0; k < 40; k++) {
        const t = performance.now();
        canvas.dispatchEvent(new MouseEvent('mousemove', { clientX: r.left + 120 + k * 9, clientY: r.top + 120 + k * 7, bubbles: true }));
        const handler = performance.now() - t;
        await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
        // The handler, and drawing the frame it asked for.
        out.push(handler + Number(canvas.dataset.drawMs ?? 0));
      }
      return out.sort((x, y) => x - y);
    });
    const median = times[Math.floor(times.length / 2)];
    console.log(`      2,048 tokens: hover (handler + its frame's drawing), median ${median.toFixed(1)} ms, 90th percentile ${times[Math.floor(times.length * 0.9)].toFixed(1)} ms`);
    assert.ok(median <= 16, `hover takes ${median} ms (median)`);
    assert.match(await tooltip(h), /^w\d+ → w\d+: 0\.\d{6} \(layer 0, head 0\)$/);
  });
});

describe('4,096 tokens served in tiles, at 1024×700 and at 2560×1440 on a high-DPI screen', function () {
  this.timeout(300000);
  const n = 4096;
  const result = syntheticResult(n, { layers: 1, heads: 1 });
  const data = new Float32Array(result.attentions.buffer);

  for (const { viewport, dpr, theme } of [
    { viewport: { width: 1024, height: 700 }, dpr: 1, theme: 'light' as const },
    { viewport: { width: 2560, height: 1440 }, dpr: 2, theme: 'dark' as const },
  ]) {
    it(`${viewport.width}×${viewport.height} at ${dpr}×: overview, then the exact tile, crisp at device pixels, hover exact (screenshot)`, async () => {
      const h = await openHarness({ theme, viewport, deviceScaleFactor: dpr });
      try {
        const host = new FakeHost(h);
        await host.analysis(61, result);
        const [overview] = await host.newRequests();
        assert.strictEqual(overview.request.kind, 'overview');
        if (overview.request.kind !== 'overview') return;
        // At most the panel's device pixels, at most 1,024.
        assert.strictEqual(overview.request.cells, Math.min(MAX_OVERVIEW_CELLS, Math.max(viewport.width, viewport.height) * dpr));
        await host.answer(overview);
        const out = path.join(repoRoot(), 'test-results', 'browser');
        fs.mkdirSync(out, { recursive: true });
        // What the user sees until the tile comes: the max-pooled overview.
        await h.page.screenshot({ path: path.join(out, `tiled-${n}-${viewport.width}x${viewport.height}-overview.png`) });
        await host.serve();
        const canvas = h.page.locator('[data-testid="heatmap"]');
        const tiles = (await canvas.getAttribute('data-tiles'))!.split(' ');
        assert.strictEqual(tiles.length, 1, `tiles: ${tiles}`);
        const size = await canvas.evaluate((c: HTMLCanvasElement) => ({ width: c.width, css: c.getBoundingClientRect().width }));
        assert.strictEqual(size.width, Math.round(size.css * dpr), 'the canvas has a pixel per device pixel');
        const g = await geometry(h);
        const p = cellCenter(g, 77, 76);
        await h.page.mouse.move(p.x, p.y);
        assert.strictEqual(await tooltip(h), `w77 → w76: ${data[77 * n + 76].toFixed(6)} (layer 0, head 0)`);
        // The details strip's whole row comes on its own.
        assert.strictEqual(await host.serve(), 1);
        assert.match(await h.page.locator('[data-testid="row-sum"]').innerText(), /^Row sum: (1\.0000|0\.9999)/);
        assert.ok(host.largestMessage <= MAX_MESSAGE_BYTES, `largest message ${host.largestMessage} bytes`);
        console.log(`      ${viewport.width}×${viewport.height} at ${dpr}×: overview ${await canvas.getAttribute('data-overview')}² cells, tile ${tiles[0]}, ${(host.bytesSent / 1e6).toFixed(1)} MB sent in all, largest message ${(host.largestMessage / 1e6).toFixed(1)} MB`);
        await h.page.screenshot({ path: path.join(out, `tiled-${n}-${viewport.width}x${viewport.height}.png`) });
        assert.deepStrictEqual(await cspViolations(h), [], 'Content Security Policy violations');
        assert.deepStrictEqual(h.problems, [], 'console errors in the webview');
      } finally {
        await h.close();
      }
    });
  }
});
