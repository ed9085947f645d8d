import { t } from './i18n';
import type { Theme } from './theme';

/**
 * Calls back whenever devicePixelRatio changes (browser zoom, a move to another screen). A
 * resolution media query matches one ratio only, so it is re-armed after each change.
 */
export function watchDevicePixelRatio(onChange: () => void): void {
  let query: MediaQueryList | undefined;
  const arm = () => {
    query?.removeEventListener('change', changed);
    query = matchMedia(`(resolution: ${window.devicePixelRatio}dppx)`);
    query.addEventListener('change', changed);
  };
  const changed = () => {
    arm();
    onChange();
  };
  arm();
  // Browser zoom also resizes the CSS viewport; catch ratio changes that arrive that way.
  let last = window.devicePixelRatio;
  window.addEventListener('resize', () => {
    if (window.devicePixelRatio !== last) {
      last = window.devicePixelRatio;
      changed();
    }
  });
}

/**
 * A scrollable canvas view whose canvas is only as large as the visible area: the canvas hangs in a
 * zero-sized sticky anchor at the top-left of its scroller, and a spacer alone gives the scrollbars
 * the content size — so the canvas never adds to the scrolled size, and scrollbars appearing cannot
 * feed back into the layout. Layouts are computed from the scroller's outer box (`box`), which does
 * not change when scrollbars come and go; that is what keeps fitting from oscillating. Drawing happens
 * on requestAnimationFrame (at most once per frame) at the device pixel ratio, and again when the
 * ratio changes (zoom, moving to another screen).
 */
export abstract class CanvasView {
  readonly scroller: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  private readonly spacer: HTMLDivElement;
  protected readonly ctx: CanvasRenderingContext2D;
  protected width = 0;
  protected height = 0;
  /** The scroller's outer size (scrollbars included): what layouts fit into. */
  protected box = { width: 0, height: 0 };
  protected dpr = 1;
  /** The theme colours and fonts the view draws with; undefined until the panel reads them. */
  protected theme: Theme | undefined;
  private contentWidth = 0;
  private contentHeight = 0;
  private frame = 0;
  private frames = 0;
  /** The view scrolled since the last frame (its position is reported once per frame). */
  private scrollMoved = false;
  /** A position to scroll to once the view is laid out (a reloaded panel restores where it was). */
  private pendingScroll: (() => { x: number; y: number }) | undefined;
  /** Told the scroll offsets after the view scrolled (by the user or a reveal), at most once a frame. */
  onScrolled: ((x: number, y: number) => void) | undefined;

  constructor(className: string) {
    this.scroller = document.createElement('div');
    this.scroller.className = `canvas-scroller ${className}`;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'canvas-view';
    this.spacer = document.createElement('div');
    this.spacer.className = 'canvas-spacer';
    const anchor = document.createElement('div');
    anchor.className = 'canvas-anchor';
    anchor.append(this.canvas);
    this.scroller.append(anchor, this.spacer);
    const ctx = this.canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error(t('This webview cannot draw on a canvas (2D context unavailable).'));
    this.ctx = ctx;
    new ResizeObserver(() => this.resize()).observe(this.scroller);
    this.scroller.addEventListener(
      'scroll',
      () => {
        this.scrollMoved = true;
        this.requestRender();
      },
      { passive: true },
    );
    watchDevicePixelRatio(() => this.requestRender());
  }

  /** True while the canvas has keyboard focus (views draw their keyboard cursor then). */
  protected hasKeyboardFocus = false;

  /** New theme colours (a theme change in VS Code): layout may depend on the fonts, so both are redone. */
  setTheme(theme: Theme): void {
    this.theme = theme;
    this.layoutChanged();
    this.requestRender();
  }

  /**
   * Makes the canvas a keyboard-reachable widget, named for the tests and for assistive technology;
   * focus and blur redraw (and call the view's own hooks).
   */
  protected makeFocusable(testid: string, roleDescription: string, onFocus: () => void = () => {}, onBlur: () => void = () => {}): void {
    const c = this.canvas;
    c.tabIndex = 0;
    c.dataset.testid = testid;
    c.setAttribute('role', 'application');
    c.setAttribute('aria-roledescription', roleDescription);
    c.addEventListener('focus', () => {
      this.hasKeyboardFocus = true;
      onFocus();
      this.requestRender();
    });
    c.addEventListener('blur', () => {
      this.hasKeyboardFocus = false;
      onBlur();
      this.requestRender();
    });
  }

  private resize(): void {
    const box = { width: this.scroller.offsetWidth, height: this.scroller.offsetHeight };
    const boxChanged = box.width !== this.box.width || box.height !== this.box.height;
    this.box = box;
    this.width = this.scroller.clientWidth;
    this.height = this.scroller.clientHeight;
    if (boxChanged) this.layoutChanged();
    this.applyContentSize();
    this.applyPendingScroll();
    this.requestRender();
  }

  /** Scrolls back to the top-left corner (a new result starts there). */
  scrollHome(): void {
    this.pendingScroll = undefined;
    this.scroller.scrollTo({ left: 0, top: 0 });
  }

  /**
   * Scrolls to `at()` (content pixels) as soon as the view has a size and content: now, or once
   * it is shown and laid out. `at` is asked then, so it can depend on the layout (cell sizes).
   */
  restoreScroll(at: () => { x: number; y: number }): void {
    this.pendingScroll = at;
    this.applyPendingScroll();
  }

  /** True once the view holds what a restored scroll position refers to (subclasses say when). */
  protected hasContent(): boolean {
    return this.contentWidth > 0;
  }

  private applyPendingScroll(): void {
    if (!this.pendingScroll || this.box.width === 0 || this.box.height === 0 || !this.hasContent()) return;
    const { x, y } = this.pendingScroll();
    this.pendingScroll = undefined;
    this.scroller.scrollTo({ left: Math.max(0, x), top: Math.max(0, y) });
  }

  /** Subclasses recompute their layout here (called on resize) and call setContentSize. */
  protected layoutChanged(): void {}

  protected setContentSize(width: number, height: number): void {
    this.contentWidth = Math.ceil(width);
    this.contentHeight = Math.ceil(height);
    this.applyContentSize();
    this.applyPendingScroll();
  }

  private applyContentSize(): void {
    this.spacer.style.width = `${this.contentWidth}px`;
    this.spacer.style.height = `${this.contentHeight}px`;
  }

  get scrollX(): number {
    return this.scroller.scrollLeft;
  }

  get scrollY(): number {
    return this.scroller.scrollTop;
  }

  /** Size of the visible area in CSS pixels. */
  get viewport(): { width: number; height: number } {
    return { width: this.width, height: this.height };
  }

  requestRender(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.renderNow();
    });
  }

  /** Draws synchronously (tests and exports call this to be sure the canvas is current). */
  renderNow(): void {
    if (this.frame) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
    }
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.width * dpr));
    const h = Math.max(1, Math.round(this.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h || this.dpr !== dpr) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.canvas.style.width = `${this.width}px`;
      this.canvas.style.height = `${this.height}px`;
      this.dpr = dpr;
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const started = performance.now();
    this.draw(this.ctx, this.scrollX, this.scrollY);
    // How long the last frame took to draw, and how many frames so far: for the performance and
    // layout-stability tests and for diagnosing reports.
    this.canvas.dataset.drawMs = (performance.now() - started).toFixed(2);
    this.canvas.dataset.frames = String(++this.frames);
    // Where it scrolled to, once it is not a position still to be restored.
    if (this.scrollMoved && !this.pendingScroll) {
      this.scrollMoved = false;
      this.onScrolled?.(this.scrollX, this.scrollY);
    }
  }

  protected abstract draw(ctx: CanvasRenderingContext2D, scrollX: number, scrollY: number): void;

  /** Mouse position in content coordinates (scroll included). */
  protected contentPoint(event: MouseEvent): { x: number; y: number; viewX: number; viewY: number } {
    const rect = this.canvas.getBoundingClientRect();
    const viewX = event.clientX - rect.left;
    const viewY = event.clientY - rect.top;
    return { x: viewX + this.scrollX, y: viewY + this.scrollY, viewX, viewY };
  }

  /** Scrolls so that a content rectangle is visible (with `fixedLeft`/`fixedTop` pixels kept for sticky labels). */
  protected scrollIntoView(x: number, y: number, w: number, h: number, fixedLeft = 0, fixedTop = 0): void {
    const left = this.scrollX;
    const top = this.scrollY;
    let nx = left;
    let ny = top;
    if (x - fixedLeft < left) nx = x - fixedLeft;
    else if (x + w > left + this.width) nx = x + w - this.width;
    if (y - fixedTop < top) ny = y - fixedTop;
    else if (y + h > top + this.height) ny = y + h - this.height;
    if (nx !== left || ny !== top) this.scroller.scrollTo({ left: Math.max(0, nx), top: Math.max(0, ny) });
  }
}
