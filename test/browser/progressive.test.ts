/**
 * Views during the pass (issue 10, "progressive"), in the real webview bundle: while only the first
 * layers' summaries have come, a computed layer's head opens at once (from a model-view thumbnail
 * or the layer and head pickers) and shows its exact matrix; a layer not computed yet is shown as
 * pending, not as an error, and is drawn when its reply comes. Also measured: the time from the
 * summaries arriving to the first view drawn at 2,048 tokens, with a host that answers at once in
 * the page (the engine's own time to serve a head is measured by the worker tests and bench/kept.ts).
 */
import * as assert from 'assert';
import { FullResultKept } from '../../src/analysis/fullResultKept';
import { AttentionStack } from '../../src/analysis/tensor';
import { ViewServer } from '../../src/analysis/viewServer';
import { MAX_REPLY_BYTES, type ViewRequest } from '../../src/protocol/views';
import type { AttentionResult } from '../../src/protocol/types';
import { fixtureResult } from '../unit/analysis/fixture';
import { FakeHost, pageWithFakeHost, partial } from './fakeHost';
import { at, cellCenter, chooseOption, geometry, label, tooltip } from './geometry';
import { frames, type Harness } from './harness';
import { syntheticResult } from './synthetic';

const headRequest = (layer: number, head: number): ViewRequest => ({ kind: 'matrix', block: 'self', mode: 'head', layer, head, special: 'show', mergeWords: false });

describe('views during the pass in Chromium', function () {
  this.timeout(240000);
  const page = pageWithFakeHost();
  let h: Harness;
  let host: FakeHost;
  beforeEach(() => ({ h, host } = page));

  const computing = () => h.page.locator('[data-testid="computing"]').innerText();

  /** Hovers a cell of the heatmap and checks its tooltip is the reference weight of `layer`, `head`. */
  async function checkCell(stack: AttentionStack, tokens: Parameters<typeof label>[0][], layer: number, head: number, row: number, col: number): Promise<void> {
    const g = await geometry(h);
    assert.strictEqual(g.size, tokens.length);
    const p = cellCenter(g, row, col);
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await tooltip(h), `${label(tokens[row])} → ${label(tokens[col])}: ${at(stack.headMatrix(layer, head), row, col).toFixed(6)} (layer ${layer}, head ${head})`);
    await h.page.mouse.move(1, 1);
  }

  it('opens a computed layer\'s head at once while later layers are pending; a pending layer says so and is drawn when it comes', async () => {
    const result = fixtureResult('bert', 0);
    const stack = new AttentionStack(result.attentions);
    await host.analysis(71, result, undefined, 1);
    // The first screen: layer 0, computed, asked for and drawn exactly.
    const [first, ...none] = await host.newRequests();
    assert.deepStrictEqual(none, []);
    assert.deepStrictEqual(first.request, headRequest(0, 0));
    await host.answer(first);
    await checkCell(stack, result.tokens, 0, 0, 2, 3);
    assert.strictEqual(await computing(), '');

    // A thumbnail of the computed layer in the model view opens that head.
    await h.page.locator('[data-testid="tab-model"]').click();
    await frames(h.page);
    assert.match(await h.page.locator('[data-testid="model-info"]').innerText(), /^Layers 0–0 of 3 computed so far/);
    const tile = await h.page.evaluate(() => {
      const c = document.querySelector('[data-testid="model-grid"]') as HTMLCanvasElement;
      const d = c.dataset;
      const index = d.order!.split(' ').indexOf('0.2');
      const r = c.getBoundingClientRect();
      const x = Number(d.tileLeft) + (index % Number(d.columns)) * Number(d.tileStepX) - Number(d.scrollX) + Number(d.thumb) / 2;
      const y = Number(d.tileTop) + Math.floor(index / Number(d.columns)) * Number(d.tileStepY) - Number(d.scrollY) + Number(d.thumb) / 2;
      return { x: r.left + x, y: r.top + y };
    });
    await h.page.mouse.click(tile.x, tile.y);
    await frames(h.page);
    const opened = await host.newRequests();
    assert.deepStrictEqual(opened.map((m) => m.request), [headRequest(0, 2)], 'the head view asks for the clicked head');
    await host.answer(opened[0]);
    await checkCell(stack, result.tokens, 0, 2, 4, 1);

    // A layer the pass has not reached: asked for (the engine waits for it), shown as pending, no error.
    await chooseOption(h, 'layer', 'Layer 2');
    const pending = await host.newRequests();
    assert.deepStrictEqual(pending.map((m) => m.request), [headRequest(2, 2)]);
    assert.strictEqual(await computing(), 'Layer 2 is still being computed (1 of 3 layers done): this view appears as soon as the model reaches it.');
    assert.ok(await h.page.locator('[data-testid="error"]').isHidden().catch(() => true), 'no error banner');
    // The pass goes on: two layers done, still pending; then all, and the reply comes.
    await h.send({ type: 'summaries', resultId: 71, summaries: (await serverOf(result).summaries()).map((sm) => partial(sm, 2)) });
    await frames(h.page);
    assert.match(await computing(), /^Layer 2 is still being computed \(2 of 3 layers done\)/);
    await host.complete(71);
    await frames(h.page);
    assert.strictEqual(await computing(), 'Loading this view…');
    await host.answer(pending[0]);
    await checkCell(stack, result.tokens, 2, 2, 5, 6);
    assert.strictEqual(await computing(), '');
  });

  it('2,048 tokens: the first view is drawn soon after the summaries arrive (measured, host answering in the page)', async () => {
    const n = 2048;
    const result = syntheticResult(n, { layers: 2, heads: 2 });
    const stack = new AttentionStack(result.attentions);
    const matrix = stack.headMatrix(0, 0).data;
    const first = await serverOf(result).serve(headRequest(0, 0));
    const items = first.kind === 'matrix' ? first.items : [];
    assert.strictEqual(items.length, n);
    // The view's rows and columns and its matrix are in the page before the clock starts; a stand-in
    // for the host answers from them as soon as it is asked (no transport): a view this large is
    // asked for as an overview (max-pooled here, as the view server does) and exact tiles.
    await h.page.evaluate(
      ({ base64, items, rowsPerReply }) => {
        const w = window as unknown as Record<string, unknown>;
        const bin = atob(base64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const data = new Float32Array(bytes.buffer);
        const size = items.length;
        const posted = w.__posted as unknown[];
        const push = posted.push.bind(posted);
        posted.push = (...messages: unknown[]) => {
          type Request = { kind: string; layer: number; head: number; rowStart?: number; rowCount?: number; colStart?: number; colCount?: number; cells?: number };
          for (const m of messages as { type: string; requestId: number; resultId: number; request: Request }[]) {
            if (m.type !== 'request' || m.request.layer !== 0 || m.request.head !== 0) continue;
            const r = m.request;
            // The stand-in runs on the page's own thread (the engine would not): its time is counted apart.
            const started = performance.now();
            if (w.__requestedAt === undefined) {
              w.__requestedAt = started;
              // What of the first screen is built when the view is asked for (the toolbar's layer options).
              w.__layerOptionsWhenAsked = document.querySelectorAll('#layer vscode-option').length;
            }
            let reply: unknown;
            if (r.kind === 'overview') {
              const factor = Math.ceil(size / r.cells!);
              const cells = Math.ceil(size / factor);
              const pooled = new Float32Array(cells * cells);
              const rowMax = new Float32Array(size);
              for (let i = 0; i < size; i++) {
                for (let j = 0; j < size; j++) {
                  const v = data[i * size + j];
                  const k = Math.floor(i / factor) * cells + Math.floor(j / factor);
                  if (v > pooled[k]) pooled[k] = v;
                  if (v > rowMax[i]) rowMax[i] = v;
                }
              }
              reply = { kind: 'overview', size, items, factor, cells, data: pooled.buffer, rowMax: rowMax.buffer };
            } else if (r.kind === 'matrix') {
              const rowStart = r.rowStart ?? 0;
              const colStart = r.colStart ?? 0;
              const colCount = Math.min(r.colCount ?? size, size - colStart);
              const rowCount = Math.min(r.rowCount ?? size, size - rowStart, Math.floor(rowsPerReply * (size / colCount)));
              const tile = new Float32Array(rowCount * colCount);
              for (let i = 0; i < rowCount; i++) tile.set(data.subarray((rowStart + i) * size + colStart, (rowStart + i) * size + colStart + colCount), i * colCount);
              reply = { kind: 'matrix', size, items, rowStart, rowCount, colStart, colCount, data: tile.buffer };
            } else continue;
            w.__hostMs = ((w.__hostMs as number | undefined) ?? 0) + (performance.now() - started);
            setTimeout(() => {
              // Posting clones the reply on this thread too (the host would, in its own process).
              const posting = performance.now();
              window.postMessage({ type: 'reply', requestId: m.requestId, resultId: m.resultId, reply }, '*');
              w.__hostMs = ((w.__hostMs as number | undefined) ?? 0) + (performance.now() - posting);
            }, 0);
          }
          return push(...messages);
        };
        // Drawn: the first frame painted with the overview (the canvas counts its frames after drawing).
        const canvas = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement;
        new MutationObserver(() => {
          if (w.__drawnAt !== undefined || canvas.dataset.size !== String(size) || !canvas.dataset.overview) return;
          w.__drawnAt = performance.now();
          w.__hostMsAtDrawn = w.__hostMs ?? 0;
          // The overview's reply (the tile's is asked for by this frame).
          w.__replyArrivedAt = (w.__arrivedAt as Record<string, number>).reply;
        }).observe(canvas, { attributes: true, attributeFilter: ['data-frames'] });
      },
      { base64: Buffer.from(matrix.buffer, matrix.byteOffset, matrix.byteLength).toString('base64'), items, rowsPerReply: Math.floor(MAX_REPLY_BYTES / (n * 4)) },
    );
    await host.analysis(81, result, undefined, 1);
    await h.page.waitForFunction(() => (window as unknown as { __drawnAt?: number }).__drawnAt !== undefined, undefined, { timeout: 60000 });
    const { ms, hostMs, askedMs, replyToDrawnMs } = await h.page.evaluate(() => {
      const w = window as unknown as { __drawnAt: number; __arrivedAt: { analysis: number }; __requestedAt: number; __replyArrivedAt: number; __hostMsAtDrawn: number };
      const arrived = w.__arrivedAt.analysis;
      return { ms: w.__drawnAt - arrived, hostMs: w.__hostMsAtDrawn, askedMs: w.__requestedAt - arrived, replyToDrawnMs: w.__drawnAt - w.__replyArrivedAt };
    });
    // The webview's share is all its own work from the message to the frame: with this host, on one
    // thread, one after the other. With the engine's (another process), what the webview does between
    // asking and the reply overlaps the engine's work; what comes before and after does not.
    console.log(
      `      2,048 tokens, 1 of 2 layers summarised: first view drawn ${ms.toFixed(0)} ms after the summaries arrived (its overview): ` +
        `${(ms - hostMs).toFixed(0)} ms of it in the webview (asked for after ${askedMs.toFixed(1)} ms; drawn ${replyToDrawnMs.toFixed(1)} ms after its reply arrived), ` +
        `${hostMs.toFixed(0)} ms the stand-in host pooling and posting the overview on the page's thread`,
    );
    assert.ok(ms > 0);
    // The first view is asked for before the rest of the first screen is built (the engine works meanwhile).
    assert.strictEqual(await h.page.evaluate(() => (window as unknown as { __layerOptionsWhenAsked: number }).__layerOptionsWhenAsked), 0, 'asked before the toolbar was built');
    assert.strictEqual(await h.page.locator('#layer vscode-option').count(), 2, 'then the toolbar was built');
    const g = await geometry(h);
    assert.strictEqual(g.size, n);
    // Then the exact tile of the visible area.
    await h.page.waitForFunction(() => document.querySelector('[data-testid="heatmap"]')!.getAttribute('data-tiles') !== '', undefined, { timeout: 60000 });
    // What is drawn is the exact matrix.
    const p = cellCenter(g, 3, 2);
    await h.page.mouse.move(p.x, p.y);
    assert.strictEqual(await tooltip(h), `w3 → w2: ${at(stack.headMatrix(0, 0), 3, 2).toFixed(6)} (layer 0, head 0)`);
  });
});

/** The view server the engine would run over `result`. */
function serverOf(result: AttentionResult): ViewServer {
  return new ViewServer(new FullResultKept(result), { mergeText: result.text });
}
