/**
 * Exports of what is shown: PNG / SVG figures (heatmap, or the model grid on the model tab), JSON of
 * the view, the full tensor as .npy (written by the host), Copy image (the webview writes the PNG to
 * the clipboard itself, falling back to a save dialog), Copy as Python. Titles, legends and file
 * names state the model, the selection, special tokens, the pair filter and the colour scale.
 */
import { UNIT_RANGE, COLOR_NORM_INFO, LOG_DECADES, mapColors } from '../src/analysis/colormap';
import { t } from './i18n';
import { CAUTION, describeSpecial, exportBaseName, figureTexts, safeFileName, textSlug, viewJson } from '../src/analysis/describe';
import { LIGHT_FIGURE_THEME, type FigureTheme, type GridFigure, type HeatmapFigure } from '../src/analysis/figure';
import { MODE_INFO } from '../src/analysis/modes';
import { gridSvg, heatmapSvg } from '../src/analysis/svg';
import type { Matrix } from '../src/analysis/tensor';
import type { PanelContext } from './context';
import { canvasToBase64Png, exportCellSize, renderGridPng, renderHeatmapPng } from './exporters';
import type { ExportAction } from './toolbar';
import { PAIR_FILTER_INFO } from './toolbar';

const EXPORT_THUMB = 64;
const CLIPBOARD_TIMEOUT_MS = 2000;

export class Exports {
  constructor(private readonly ctx: PanelContext) {}

  run(action: ExportAction): void {
    try {
      switch (action) {
        case 'png':
        case 'svg':
          return void this.image(action).catch((err: unknown) => this.ctx.showError(`Could not complete that: ${err instanceof Error ? err.message : String(err)}`));
        case 'json':
          return this.json();
        case 'npy':
          return this.npy();
        case 'html':
          return this.html();
        case 'copyImage':
          return void this.copyImage();
        case 'copyPython':
          return this.ctx.channel.post({ type: 'copyPython', view: this.ctx.selection() });
      }
    } catch (err) {
      this.ctx.showError(t('Could not complete that: {0}', err instanceof Error ? err.message : String(err)));
    }
  }

  private figureTheme(): FigureTheme {
    const t = this.ctx.theme();
    // Theme colours go into the exported files: only plain colour values, never var() or keywords.
    const plain = (c: string) => /^(#[0-9a-f]{3,8}|rgba?\([\d\s.,%]+\))$/i.test(c);
    return plain(t.background) && plain(t.foreground) && plain(t.muted) ? { background: t.background, foreground: t.foreground, muted: t.muted } : LIGHT_FIGURE_THEME;
  }

  /**
   * Exports describe what is shown: not while a new view is still being computed. A view served in
   * tiles has no whole matrix in the panel: its figure and JSON are refused by name (`matrix`: the
   * export needs the head view's matrix, not the model grid).
   */
  private ready(matrix: boolean): boolean {
    const shown = this.ctx.shown();
    if (this.ctx.session() && shown?.kind === 'tiled' && matrix) {
      this.ctx.showError(t('This view is {0} × {0} cells, more than the panel loads at once, so it cannot be exported as a figure or JSON from here. Export NumPy writes every head exactly; the command line writes chosen heads (--select L:H).', shown.view.size));
      return false;
    }
    if (this.ctx.session() && shown) return true;
    if (this.ctx.session()) {
      const wait = t('Still computing this view: export when it is shown.');
      this.ctx.announce(wait);
      this.ctx.tooltip.show(wait, window.innerWidth / 2, 40);
    }
    return false;
  }

  /** "colour viridis, log scale 8.3e−5 to 0.83" and the like: stated in figure subtitles and JSON. */
  private colourText(): string {
    const shown = this.ctx.shown()!;
    const s = this.ctx.store.state;
    return t('colour {0}: {1}', s.scale, shown.colors.caption.replace(/\.$/, ''));
  }

  private pairText(): string {
    const s = this.ctx.store.state;
    return this.ctx.session()?.isPair ? t('sentence pair: {0}', PAIR_FILTER_INFO[s.pairFilter]) : '';
  }

  heatmapFigure(): HeatmapFigure {
    const session = this.ctx.session()!;
    const shown = this.ctx.shown()!;
    if (shown.kind !== 'exact') throw new Error('a view served in tiles has no figure');
    const s = this.ctx.store.state;
    const extra = [this.pairText(), this.colourText()].filter(Boolean).join(' · ');
    const texts = figureTexts(session.result.model, shown.sel, s.special, s.mergeWords, extra);
    const { rows, cols } = shown.block;
    return {
      ...texts,
      rowLabels: rows.map((r) => shown.view.items[r].label),
      colLabels: cols.map((c) => shown.view.items[c].label),
      matrix: { size: rows.length, cols: cols.length, data: shown.colors.positions },
      range: UNIT_RANGE,
      ticks: shown.colors.ticks,
      scale: s.scale,
      theme: this.figureTheme(),
      cell: exportCellSize(Math.max(rows.length, cols.length)),
    };
  }

  /** The model view's figure; its thumbnails at `cells` are asked of the engine when it keeps the analysis. */
  async gridFigure(cells: number): Promise<GridFigure> {
    const session = this.ctx.session()!;
    const s = this.ctx.store.state;
    const flavour = s.mode === 'valueWeighted' && session.norms ? t('value-weighted attention of every head') : t('attention of every head');
    const set = await session.loadThumbnails(cells, s);
    const thumbnails: Matrix[] = [];
    for (let l = 0; l < session.stack.layers; l++) {
      for (let hd = 0; hd < session.stack.heads; hd++) {
        const matrix = set.get(l, hd);
        const positions = mapColors({ rows: matrix.size, cols: matrix.size, data: matrix.data }, s.norm, s.range).positions;
        thumbnails.push({ size: matrix.size, data: Float32Array.from(positions) });
      }
    }
    const scaleText =
      s.norm === 'row'
        ? t('each row: 0 → its largest weight')
        : s.norm === 'log'
          ? s.range === 'max' ? t('log scale over {0} decades below each head’s largest weight', LOG_DECADES) : t('log scale over {0} decades below 1', LOG_DECADES)
          : s.range === 'max' ? t('0 → each head’s largest weight') : '0 → 1';
    return {
      title: `${session.result.model.name} — ${flavour}`,
      subtitle: [describeSpecial(s.special), s.mergeWords ? t('sub-words merged into words') : t('sub-word tokens'), t('{0} tokens', session.n)].join(' · '),
      footnote: CAUTION,
      layers: session.stack.layers,
      heads: session.stack.heads,
      thumbnails,
      ranges: thumbnails.map(() => UNIT_RANGE),
      legendText: `${s.scale}, ${COLOR_NORM_INFO[s.norm].label.toLowerCase()}: ${scaleText}`,
      scale: s.scale,
      theme: this.figureTheme(),
      thumb: EXPORT_THUMB,
    };
  }

  /** File names tell exports apart: model, the text's first words, layer and head, mode. */
  private name(extension: string): string {
    const session = this.ctx.session()!;
    const s = this.ctx.store.state;
    const slug = textSlug(session.result.text);
    const model = session.result.model.name.split(/[\\/]/).pop() ?? 'model';
    const filter = session.isPair && s.pairFilter !== 'all' ? `-${s.pairFilter === 'ab' ? 'A-to-B' : 'B-to-A'}` : '';
    const base = s.tab === 'model' ? `attention-${model}-${slug}-all-heads` : `${exportBaseName(session.result.model, this.ctx.selection(), slug)}${filter}`;
    return safeFileName(base, extension);
  }

  private async png(): Promise<string> {
    const { canvas } = this.ctx.store.state.tab === 'model' ? renderGridPng(await this.gridFigure(EXPORT_THUMB * 2)) : renderHeatmapPng(this.heatmapFigure());
    return canvasToBase64Png(canvas);
  }

  private async image(format: 'png' | 'svg'): Promise<void> {
    const model = this.ctx.store.state.tab === 'model';
    if (!this.ready(!model)) return;
    const data = format === 'png' ? await this.png() : model ? gridSvg(await this.gridFigure(32)) : heatmapSvg(this.heatmapFigure());
    this.ctx.channel.post({ type: 'export', format, data, suggestedName: this.name(format) });
    this.ctx.announce(t('{0} ready: choose where to save it.', format.toUpperCase()));
  }

  /** Writes the PNG to the clipboard from the webview; where the platform refuses, the host offers a save dialog. */
  private async copyImage(): Promise<void> {
    if (!this.ready(this.ctx.store.state.tab !== 'model')) return;
    await this.copyPng(await this.png());
  }

  /** Puts a PNG (base64) on the clipboard, or has the host offer to save it (also for the compare tab). */
  async copyPng(base64: string): Promise<void> {
    try {
      if (typeof ClipboardItem === 'undefined' || !navigator.clipboard?.write) throw new Error('no image clipboard here');
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const write = navigator.clipboard.write([new ClipboardItem({ 'image/png': new Blob([bytes], { type: 'image/png' }) })]);
      // A permission prompt nobody can answer (some hosts) must not leave the user waiting forever.
      await Promise.race([write, new Promise((_, reject) => setTimeout(() => reject(new Error('the clipboard did not answer')), CLIPBOARD_TIMEOUT_MS))]);
      const copied = t('Image copied to the clipboard.');
      this.ctx.announce(copied);
      this.ctx.tooltip.show(copied, window.innerWidth / 2, 40);
      setTimeout(() => this.ctx.tooltip.hide(), 1500);
    } catch {
      this.ctx.channel.post({ type: 'copyImage', data: base64 });
      this.ctx.announce(t('The clipboard did not take the image: choose where to save it instead.'));
    }
  }

  private json(): void {
    const session = this.ctx.session();
    const shown = this.ctx.shown();
    if (!session || !shown || !this.ready(true) || shown.kind !== 'exact') return;
    const s = this.ctx.store.state;
    const info = MODE_INFO[s.mode];
    const base = viewJson(session.result, shown.sel, info.usesLayer, info.usesHead, s.special, s.mergeWords, shown.view);
    const json = {
      ...base,
      colour: { scale: s.scale, normalisation: s.norm, range: s.range, caption: shown.colors.caption },
      ...(session.isPair
        ? {
            pair: {
              textB: session.pairText,
              filter: s.pairFilter,
              description: PAIR_FILTER_INFO[s.pairFilter],
              /** Rows and columns of `matrix` (indices into `axis`) that the filter shows. */
              rows: shown.block.rows,
              cols: shown.block.cols,
            },
          }
        : {}),
      headScores: session.scores,
    };
    this.ctx.channel.post({ type: 'export', format: 'json', data: JSON.stringify(json, null, 1), suggestedName: this.name('json') });
  }

  /** The host writes the page (src/export/interactiveHtml.ts); it opens on the view shown now. */
  private html(): void {
    const session = this.ctx.session();
    if (!session) return;
    const model = session.result.model.name.split(/[\\/]/).pop() ?? 'model';
    const slug = session.result.probe ? 'probe' : textSlug(session.result.text);
    this.ctx.channel.post({ type: 'exportHtml', resultId: session.id, state: { ...this.ctx.store.state }, suggestedName: safeFileName(`attention-${model}-${slug}-interactive`, 'html') });
  }

  private npy(): void {
    const session = this.ctx.session();
    if (!session) return;
    const name = session.result.model.name.split(/[\\/]/).pop() ?? 'model';
    const slug = textSlug(session.result.text);
    this.ctx.channel.post({ type: 'export', format: 'npy', data: '', suggestedName: safeFileName(`attentions-${name}-${slug}-${session.n}-tokens`, 'npy') });
  }
}
