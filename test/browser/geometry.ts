/** Where things are on the panel's canvases, and small readers of what the page shows (see webview/TESTING.md). */
import type { TokenInfo } from '../../src/protocol/types';
import type { WebviewToHost } from '../../src/protocol/webview';
import type { Matrix } from '../../src/analysis/tensor';
import { frames, type Harness } from './harness';

export interface Geometry {
  left: number;
  top: number;
  cell: number;
  gridLeft: number;
  gridTop: number;
  scrollX: number;
  scrollY: number;
  size: number;
  dpr: number;
}

export async function geometry(h: Harness, testid = 'heatmap'): Promise<Geometry> {
  return h.page.evaluate((id) => {
    const c = document.querySelector(`[data-testid="${id}"]`) as HTMLCanvasElement;
    const r = c.getBoundingClientRect();
    const d = c.dataset;
    return {
      left: r.left,
      top: r.top,
      cell: Number(d.cellSize),
      gridLeft: Number(d.gridLeft),
      gridTop: Number(d.gridTop),
      scrollX: Number(d.scrollX),
      scrollY: Number(d.scrollY),
      size: Number(d.size),
      dpr: c.width / r.width,
    };
  }, testid);
}

/** Client coordinates of a point in a cell, by default its centre (see webview/TESTING.md). */
export function cellCenter(g: Geometry, row: number, col: number, fraction = 0.5): { x: number; y: number } {
  return { x: g.left + g.gridLeft + (col + fraction) * g.cell - g.scrollX, y: g.top + g.gridTop + (row + fraction) * g.cell - g.scrollY };
}

export function rowLabelPoint(g: Geometry, row: number): { x: number; y: number } {
  return { x: g.left + g.gridLeft - 12, y: g.top + g.gridTop + (row + 0.5) * g.cell - g.scrollY };
}

export function colLabelPoint(g: Geometry, col: number): { x: number; y: number } {
  return { x: g.left + g.gridLeft + (col + 0.5) * g.cell - g.scrollX, y: g.top + g.gridTop - 12 };
}

export async function tooltip(h: Harness): Promise<string> {
  return h.page.locator('[data-testid="tooltip"]').innerText();
}

export async function chooseOption(h: Harness, selectId: string, optionLabel: string): Promise<void> {
  await h.page.locator(`#${selectId}`).click();
  // The dropdown is rendered in the component's shadow root; Playwright's locators pierce it.
  await h.page.locator(`#${selectId} .option`, { hasText: optionLabel }).first().click();
  await frames(h.page);
}

/** Sets a `<vscode-single-select>`'s value as a user's choice does (its `change` event), then waits for the frame. */
export async function setControl(h: Harness, id: string, value: string): Promise<void> {
  await h.page.evaluate(
    ({ id, value }) => {
      const el = document.getElementById(id) as HTMLElement & { value: string };
      el.value = value;
      el.dispatchEvent(new Event('change'));
    },
    { id, value },
  );
  await frames(h.page);
}

export function label(t: TokenInfo): string {
  return t.special ? t.raw : t.display.trim();
}

export function at(m: Matrix, i: number, j: number): number {
  return m.data[i * m.size + j];
}

export async function canvasPixel(h: Harness, testid: string, x: number, y: number): Promise<number[]> {
  return h.page.evaluate(
    ({ id, x, y }) => {
      const c = document.querySelector(`[data-testid="${id}"]`) as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const dpr = c.width / r.width;
      const data = c.getContext('2d')!.getImageData(Math.floor((x - r.left) * dpr), Math.floor((y - r.top) * dpr), 1, 1).data;
      return [data[0], data[1], data[2]];
    },
    { id: testid, x, y },
  );
}

export async function lastPosted<T extends WebviewToHost['type']>(h: Harness, type: T): Promise<Extract<WebviewToHost, { type: T }> | undefined> {
  const all = await h.posted();
  return all.filter((m) => m.type === type).pop() as Extract<WebviewToHost, { type: T }> | undefined;
}

