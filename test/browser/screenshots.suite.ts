/**
 * Screenshots of the panel for the README (light and dark theme, head view and model view), written
 * to media/screenshots/. Not part of the test run; regenerate after UI changes:
 *   node esbuild.js && npx mocha --no-config --timeout 120000 out/test/browser/screenshots.suite.js
 */
import * as fs from 'fs';
import * as path from 'path';
import type { AttentionResult } from '../../src/protocol/types';
import { loadModel } from '../../src/models';
import { frames, openHarness, repoRoot, type ThemeName } from './harness';

const OUT = path.join(repoRoot(), 'media', 'screenshots');

/** The built-in model's real attention (computed by the engine) over `text`. */
async function builtinResult(text: string): Promise<AttentionResult> {
  const model = await loadModel(path.join(repoRoot(), 'media', 'builtin-model'), { name: 'built-in', source: 'built-in' });
  try {
    return await model.analyze(text);
  } finally {
    await model.dispose();
  }
}

/** Random words written twice: the second copy attends to what followed each word the first time. */
const INDUCTION_TEXT = 'support instru return operation email mapping sight introdu title ear screen consider poss platform cap smooth support instru return operation email mapping sight introdu title ear screen consider poss platform cap smooth';
const PROSE_TEXT = 'The cat sat on the mat because it was warm. Then the cat fell asleep on the mat.';

async function shoot(theme: ThemeName): Promise<void> {
  const h = await openHarness({ theme, viewport: { width: 1280, height: 860 } });
  try {
    // Induction head: layer 3, head 3 of the built-in model.
    await h.send({ type: 'result', resultId: 1, result: await builtinResult(INDUCTION_TEXT) });
    await h.page.evaluate(() => {
      const set = (id: string, value: string) => {
        const el = document.getElementById(id) as HTMLElement & { value: string };
        el.value = value;
        el.dispatchEvent(new Event('change'));
      };
      set('layer', '3');
      set('head', '3');
    });
    await frames(h.page);
    await h.page.waitForTimeout(200);
    await h.page.screenshot({ path: path.join(OUT, `induction-head-${theme}.png`) });

    await h.send({ type: 'result', resultId: 2, result: await builtinResult(PROSE_TEXT) });
    // Head view: the previous-token head (layer 2, head 0), a focused query and a hovered cell.
    await h.page.evaluate(() => {
      const set = (id: string, value: string) => {
        const el = document.getElementById(id) as HTMLElement & { value: string };
        el.value = value;
        el.dispatchEvent(new Event('change'));
      };
      set('layer', '2');
      set('head', '0');
    });
    await frames(h.page);
    const g = await h.page.evaluate(() => {
      const c = document.querySelector('[data-testid="heatmap"]') as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      return { left: r.left, top: r.top, cell: Number(c.dataset.cellSize), gx: Number(c.dataset.gridLeft), gy: Number(c.dataset.gridTop) };
    });
    await h.page.mouse.click(g.left + g.gx - 10, g.top + g.gy + 17.5 * g.cell); // focus query "at" of the second " c|at"
    await h.page.mouse.move(g.left + g.gx + 16.5 * g.cell, g.top + g.gy + 17.5 * g.cell);
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
