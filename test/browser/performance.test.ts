/**
 * Long inputs stay fluid: a 512-token head view and a 12 × 12 model grid at 128 tokens, with
 * results generated in the page (random row-stochastic attention, float16 like the engine sends
 * large results) and timed there.
 */
import * as assert from 'assert';
import { frames, openHarness, type Harness } from './harness';
import { postSynthetic } from './synthetic';

/**
 * Scrolls a view step by step, one frame per step; returns the median, 90th-percentile and worst time
 * spent drawing a frame, in ms. The assertions use the median and the 90th percentile: on a machine
 * shared with other work a single frame can be descheduled, which says nothing about drawing cost.
 */
async function scrollFrames(h: Harness, testid: string, steps: number): Promise<{ mean: number; p90: number; worst: number }> {
  return h.page.evaluate(
    async ({ testid, steps }) => {
      const canvas = document.querySelector(`[data-testid="${testid}"]`) as HTMLElement;
      const scroller = canvas.closest('.canvas-scroller') as HTMLElement;
      const times: number[] = [];
      for (let s = 1; s <= steps; s++) {
        scroller.scrollTo({ left: (s * scroller.scrollWidth) / (steps * 3), top: (s * (scroller.scrollHeight - scroller.clientHeight)) / steps });
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        times.push(Number(canvas.dataset.drawMs));
      }
      const sorted = [...times].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
      return { mean: at(0.5), p90: at(0.9), worst: sorted[sorted.length - 1] };
    },
    { testid, steps },
  );
}

describe('webview performance in Chromium', function () {
  this.timeout(180000);
  let h: Harness;

  before(async () => {
    h = await openHarness({ theme: 'dark', viewport: { width: 1280, height: 900 } });
    await h.page.evaluate(() => {
      const w = window as unknown as { __longTasks: number[] };
      w.__longTasks = [];
      new PerformanceObserver((list) => list.getEntries().forEach((e) => w.__longTasks.push(e.duration))).observe({ type: 'longtask', buffered: false });
    });
  });

  after(async () => {
    await h?.close();
  });

  const longTasks = () => h.page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks.splice(0));

  it('512 tokens in the head view: first paint, scrolling, hover and zoom stay fast', async () => {
    const firstPaint = await postSynthetic(h, 2, 2, 512, 1);
    const size = await h.page.locator('[data-testid="heatmap"]').getAttribute('data-size');
    assert.strictEqual(size, '512');
    console.log(`      512 tokens: result to first paint ${firstPaint.toFixed(0)} ms`);
    assert.ok(firstPaint < 1500, `first paint took ${firstPaint} ms`);
    // Zoom to readable labels: the content becomes far larger than the panel and scrolls.
    await h.page.evaluate(() => {
      for (let i = 0; i < 6; i++) (document.querySelector('#zoom-in') as HTMLElement).click();
    });
    await frames(h.page);
    assert.strictEqual(await h.page.locator('[data-testid="heatmap"]').getAttribute('data-labels'), 'shown');
    await longTasks();
    const scroll = await scrollFrames(h, 'heatmap', 30);
    console.log(`      512 tokens: drawing a scrolled frame takes median ${scroll.mean.toFixed(1)} ms, 90th percentile ${scroll.p90.toFixed(1)} ms, worst ${scroll.worst.toFixed(1)} ms`);
    assert.ok(scroll.mean < 8 && scroll.p90 < 16, `drawing a scrolled frame takes ${scroll.mean} ms (median), ${scroll.p90} (90th percentile)`);
    // Hovering across many cells.
    const box = (await h.page.locator('[data-testid="heatmap"]').boundingBox())!;
    const hoverStart = Date.now();
    for (let k = 0; k < 40; k++) await h.page.mouse.move(box.x + 200 + k * 9, box.y + 200 + k * 7);
    const hoverMs = (Date.now() - hoverStart) / 40;
    console.log(`      512 tokens: ${hoverMs.toFixed(1)} ms per hover step`);
    assert.match(await h.page.locator('[data-testid="tooltip"]').innerText(), /^w\d+ → w\d+: 0\.\d{6} \(layer 0, head 0\)$/);
    const tasks = await longTasks();
    assert.ok(tasks.every((d) => d < 200), `long tasks while scrolling/hovering: ${tasks.join(', ')} ms`);
    // Means and value-weighting are quick; rollout (a 512³ product per layer) is computed in slices
    // between frames with its progress shown, and the panel keeps responding meanwhile.
    const modeMs = await h.page.evaluate(async () => {
      const select = document.getElementById('mode') as HTMLElement & { value: string };
      const layer = document.getElementById('layer') as HTMLElement & { value: string };
      layer.value = '1';
      layer.dispatchEvent(new Event('change'));
      const times: number[] = [];
      for (const mode of ['layerMean', 'valueWeighted', 'head']) {
        const t0 = performance.now();
        select.value = mode;
        select.dispatchEvent(new Event('change'));
        await new Promise((r) => requestAnimationFrame(r));
        times.push(performance.now() - t0);
      }
      return times;
    });
    console.log(`      512 tokens: mode switches at layer 1 (layer mean, value-weighted, head) ${modeMs.map((t) => t.toFixed(0)).join(', ')} ms`);
    assert.ok(modeMs.every((t) => t < 500), `mode switches took ${modeMs.join(', ')} ms`);
    await longTasks();
    const t0 = Date.now();
    await h.page.evaluate(() => {
      const select = document.getElementById('mode') as HTMLElement & { value: string };
      select.value = 'rollout';
      select.dispatchEvent(new Event('change'));
    });
    assert.match(await h.page.locator('[data-testid="computing"]').innerText(), /^Computing rollout through layer 1/);
    await h.page.waitForFunction(() => document.querySelector('[data-testid="computing"]')!.textContent === '');
    console.log(`      512 tokens: rollout through layer 1 ready after ${Date.now() - t0} ms`);
    const rolloutTasks = await longTasks();
    assert.ok(rolloutTasks.every((d) => d < 100), `long tasks while computing rollout: ${rolloutTasks.join(', ')} ms`);
    await h.page.mouse.move(box.x + 300, box.y + 300);
    assert.match(await h.page.locator('[data-testid="tooltip"]').innerText(), /\(rollout through layer 1\)$/);
  });

  it('a 12 × 12 grid at 128 tokens draws progressively without long frames', async () => {
    await postSynthetic(h, 12, 12, 128, 2);
    await longTasks();
    const t0 = Date.now();
    await h.page.locator('[data-testid="tab-model"]').click();
    await h.page.waitForFunction(() => (document.querySelector('[data-testid="model-grid"]') as HTMLElement).dataset.pending === 'false');
    const visibleMs = Date.now() - t0;
    assert.strictEqual(await h.page.locator('[data-testid="model-grid"]').getAttribute('data-tiles'), '144');
    console.log(`      12×12 at 128 tokens: visible thumbnails complete after ${visibleMs} ms`);
    const scroll = await scrollFrames(h, 'model-grid', 20);
    console.log(`      12×12 at 128 tokens: drawing a scrolled frame takes median ${scroll.mean.toFixed(1)} ms, 90th percentile ${scroll.p90.toFixed(1)} ms, worst ${scroll.worst.toFixed(1)} ms`);
    const tasks = await longTasks();
    assert.ok(scroll.mean < 16 && scroll.p90 < 40, `drawing a scrolled grid frame takes ${scroll.mean} ms (median), ${scroll.p90} (90th percentile)`);
    assert.ok(tasks.every((d) => d < 200), `long tasks in the model view: ${tasks.join(', ')} ms`);
    assert.ok(visibleMs < 3000, `thumbnails took ${visibleMs} ms`);
  });

  it('line view at 512 tokens with 12 heads overlaid: scrolling and hover stay fluid', async () => {
    await postSynthetic(h, 1, 12, 512, 3);
    await h.page.locator('[data-testid="tab-lines"]').click();
    await frames(h.page);
    await h.page.locator('[data-testid="all-heads"]').click();
    await frames(h.page);
    const lines = h.page.locator('[data-testid="lines"]');
    assert.strictEqual(await lines.getAttribute('data-heads'), Array.from({ length: 12 }, (_, i) => i).join(' '));
    assert.strictEqual(await lines.getAttribute('data-rows'), '512');
    await longTasks();
    const scroll = await scrollFrames(h, 'lines', 30);
    console.log(`      lines, 512 tokens × 12 heads: drawing a scrolled frame takes median ${scroll.mean.toFixed(1)} ms, 90th percentile ${scroll.p90.toFixed(1)} ms, worst ${scroll.worst.toFixed(1)} ms`);
    assert.ok(scroll.mean < 16 && scroll.p90 < 40, `drawing a scrolled line frame takes ${scroll.mean} ms (median), ${scroll.p90} (90th percentile)`);
    const box = (await lines.boundingBox())!;
    const hoverStart = Date.now();
    for (let k = 0; k < 20; k++) await h.page.mouse.move(box.x + 20, box.y + 20 + k * 9);
    console.log(`      lines, 512 tokens × 12 heads: ${((Date.now() - hoverStart) / 20).toFixed(1)} ms per hover step`);
    assert.match(await h.page.locator('[data-testid="tooltip"]').innerText(), /^w\d+ \(query \d+\) attends to — H0: /);
    const tasks = await longTasks();
    assert.ok(tasks.every((d) => d < 200), `long tasks in the line view: ${tasks.join(', ')} ms`);
  });
});
