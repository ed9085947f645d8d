import * as assert from 'assert';
import { colorOf, toHex } from '../../../src/analysis/colormap';
import { LIGHT_FIGURE_THEME, estimateMonospace, fitText, layoutHeatmap, type HeatmapFigure } from '../../../src/analysis/figure';
import { escapeXml, gridSvg, heatmapSvg } from '../../../src/analysis/svg';
import { maxPool } from '../../../src/analysis/pool';

/** Minimal well-formedness check: every tag closes in order, attributes are quoted. */
function assertWellFormed(xml: string) {
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|<|>/g;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(body))) {
    if (m[0] === '<' || m[0] === '>') assert.fail(`stray ${m[0]} at ${m.index}: ${body.slice(m.index - 30, m.index + 30)}`);
    if (m[1]) assert.strictEqual(stack.pop(), m[2], `closing ${m[2]} at ${m.index}`);
    else if (!m[4]) stack.push(m[2]);
  }
  assert.deepStrictEqual(stack, []);
}

function figure(labels: string[], values: number[]): HeatmapFigure {
  return {
    title: 'tiny <model> — layer 0, head 1 · single head',
    subtitle: 'special tokens shown',
    footnote: 'Attention weights are a clue, not an explanation.',
    rowLabels: labels,
    colLabels: labels,
    matrix: { size: labels.length, data: new Float32Array(values) },
    range: { min: 0, max: 1 },
    scale: 'viridis',
    theme: LIGHT_FIGURE_THEME,
    cell: 20,
  };
}

function rectsOf(svg: string, groupId: string) {
  const group = svg.match(new RegExp(`<g id="${groupId}"[^>]*>(.*?)</g>`))![1];
  return [...group.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="(#[0-9a-f]{6})"\/>/g)].map((r) => ({
    x: +r[1], y: +r[2], width: +r[3], height: +r[4], fill: r[5],
  }));
}

describe('analysis/svg', () => {
  const labels = ['[CLS]', 'a&b', '<tag>'];
  const values = [1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5];
  const fig = figure(labels, values);
  const svg = heatmapSvg(fig);

  it('is well-formed XML with escaped text', () => {
    assertWellFormed(svg);
    assert.ok(svg.includes('a&amp;b'));
    assert.ok(svg.includes('&lt;tag&gt;'));
    assert.ok(svg.includes('<title>tiny &lt;model&gt; — layer 0, head 1 · single head</title>'));
    assert.strictEqual(escapeXml(`"'`), '&quot;&apos;');
  });

  it('paints every cell with its colour, runs of equal colour merged', () => {
    const layout = layoutHeatmap(fig, estimateMonospace);
    const rects = rectsOf(svg, 'cells');
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        const cx = layout.grid.x + (j + 0.5) * fig.cell;
        const cy = layout.grid.y + (i + 0.5) * fig.cell;
        const hits = rects.filter((r) => cx > r.x && cx < r.x + r.width && cy > r.y && cy < r.y + r.height);
        assert.strictEqual(hits.length, 1, `cell ${i},${j} covered ${hits.length} times`);
        assert.strictEqual(hits[0].fill, toHex(colorOf(values[i * 3 + j], fig.range, 'viridis')), `cell ${i},${j}`);
      }
    }
    // Row 0 is [1, 0, 0]: the two zeros share one rect.
    assert.strictEqual(rects.filter((r) => Math.abs(r.y - layout.grid.y) < 0.01).length, 2);
    // Area covered is exactly the grid.
    const area = rects.reduce((a, r) => a + r.width * r.height, 0);
    assert.ok(Math.abs(area - 9 * fig.cell * fig.cell) < 1e-6);
  });

  it('labels both axes, has a legend and the title, subtitle and caution', () => {
    const rowLabels = svg.match(/<g id="row-labels"[^>]*>(.*?)<\/g>/)![1];
    assert.strictEqual([...rowLabels.matchAll(/<text/g)].length, 3);
    const colLabels = svg.match(/<g id="col-labels"[^>]*>(.*?)<\/g>/)![1];
    assert.strictEqual([...colLabels.matchAll(/rotate\(-90\)/g)].length, 3);
    assert.match(svg, /<rect id="legend"[^>]*fill="url\(#legend\)"/);
    assert.match(svg, /<linearGradient id="legend"[^>]*>(<stop [^>]*\/>){17}<\/linearGradient>/);
    const ticks = svg.match(/<g id="legend-ticks"[^>]*>(.*?)<\/g>/)![1];
    assert.deepStrictEqual([...ticks.matchAll(/>([^<]+)<\/text>/g)].map((m) => m[1]), ['1', '0.5', '0']);
    assert.ok(svg.includes('special tokens shown'));
    assert.ok(svg.includes('a clue, not an explanation'));
  });

  it('the canvas is big enough for everything it holds', () => {
    const [, w, h] = svg.match(/<svg[^>]* width="(\d+)" height="(\d+)"/)!.map(Number);
    const layout = layoutHeatmap(fig, estimateMonospace);
    assert.ok(w >= layout.legend.x + layout.legend.width && h >= layout.grid.y + layout.grid.height);
  });

  it('long labels are shortened with an ellipsis to fit', () => {
    const long = 'x'.repeat(100);
    const fitted = fitText(long, 60, 10, estimateMonospace);
    assert.ok(fitted.endsWith('…') && estimateMonospace(fitted, 10) <= 60 && fitted.length > 5);
    assert.strictEqual(fitText('short', 60, 10, estimateMonospace), 'short');
  });

  it('model grid: a labelled thumbnail per head', () => {
    const thumb = { size: 2, data: new Float32Array([1, 0, 0.5, 0.5]) };
    const grid = gridSvg({
      title: 'm — all heads',
      subtitle: 's',
      footnote: 'f',
      layers: 2,
      heads: 3,
      thumbnails: Array.from({ length: 6 }, () => thumb),
      ranges: Array.from({ length: 6 }, () => ({ min: 0, max: 1 })),
      legendText: '0 → 1',
      scale: 'cividis',
      theme: LIGHT_FIGURE_THEME,
      thumb: 40,
    });
    assertWellFormed(grid);
    assert.strictEqual([...grid.matchAll(/<g id="head-\d-\d">/g)].length, 6);
    assert.ok(grid.includes('>L1<') && grid.includes('>H2<'));
  });

  it('max-pools large matrices for thumbnails, keeping thin structure', () => {
    const n = 10;
    const data = new Float32Array(n * n);
    for (let i = 0; i < n; i++) data[i * n + i] = 1;
    const pooled = maxPool({ size: n, data }, 4);
    assert.strictEqual(pooled.size, 4); // factor 3 → ceil(10/3) = 4
    for (let i = 0; i < 4; i++) assert.strictEqual(pooled.data[i * 4 + i], 1);
    assert.strictEqual(pooled.data[1], 0);
    assert.strictEqual(maxPool({ size: 3, data: new Float32Array(9) }, 4).size, 3);
  });
});
