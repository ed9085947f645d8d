/**
 * Screenshots of the panel for the README (light and dark theme, head view and model view), written
 * to media/screenshots/. Not part of the test run; regenerate after UI changes:
 *   node esbuild.js && npx mocha --no-config --timeout 120000 out/test/browser/screenshots.suite.js
 */
import * as fs from 'fs';
import * as path from 'path';
import { fixtureResult } from '../unit/analysis/fixture';
import { frames, openHarness, repoRoot, type ThemeName } from './harness';

const OUT = path.join(repoRoot(), 'media', 'screenshots');

async function shoot(theme: ThemeName): Promise<void> {
  const h = await openHarness({ theme, viewport: { width: 1280, height: 860 } });
  try {
    await h.send({ type: 'result', resultId: 1, result: fixtureResult('bert', 3) });
    // Head view: layer 1, head 2, a focused query and a hovered cell.
    await h.page.evaluate(() => {
      const set = (id: string, value: string) => {
        const el = document.getElementById(id) as HTMLElement & { value: string };
        el.value = value;
        el.dispatchEvent(new Event('change'));
      };
      set('layer', '1');
      set('head', '2');
    });
    await frames(h.page);
    const g = await h.page.evaluate(() => {
      const c = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      return { left: r.left, top: r.top, cell: Number(c.dataset.cellSize), gx: Number(c.dataset.gridLeft), gy: Number(c.dataset.gridTop) };
    });
    await h.page.mouse.click(g.left + g.gx - 10, g.top + g.gy + 9.5 * g.cell); // focus query "cat"
    await h.page.mouse.move(g.left + g.gx + 2.5 * g.cell, g.top + g.gy + 9.5 * g.cell);
    await frames(h.page);
    await h.page.screenshot({ path: path.join(OUT, `head-view-${theme}.png`) });
    await h.page.locator('[data-testid="tab-model"]').click();
    await h.page.mouse.move(1, 1);
    await frames(h.page);
    await h.page.waitForTimeout(200);
    await h.page.screenshot({ path: path.join(OUT, `model-view-${theme}.png`) });
  } finally {
    await h.close();
  }
}

describe('README screenshots', function () {
  this.timeout(120000);
  before(() => fs.mkdirSync(OUT, { recursive: true }));
  for (const theme of ['light', 'dark'] as const) it(`${theme} theme`, () => shoot(theme));
});
