/**
 * The view state's one source of truth. Controls never hold state of their own: a change goes in as
 * a patch, and the toolbar, the canvases, the badge and the exports are all rendered from the state
 * that comes out (that is what keeps the dropdowns saying what is drawn).
 */
import type { HostChannel } from './host/channel';
import { MAX_ZOOM, MIN_ZOOM, sanitizeState, type PanelState } from './state';

export type StateListener = (state: PanelState, before: PanelState) => void;

export class ViewStore {
  private current: PanelState;
  private readonly listeners: StateListener[] = [];

  constructor(private readonly channel: HostChannel) {
    this.current = sanitizeState(channel.loadState());
  }

  get state(): PanelState {
    return this.current;
  }

  /** Applies a patch (zoom clamped), saves it with VS Code and tells every listener. */
  update(patch: Partial<PanelState>): void {
    const next = { ...this.current, ...patch };
    if (patch.zoom !== undefined && patch.zoom !== null) next.zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, Math.round(patch.zoom)));
    this.replace(next);
  }

  /**
   * Remembers a patch with VS Code without rendering anything: what a view already shows (where
   * it is scrolled to), kept for a reload.
   */
  note(patch: Partial<PanelState>): void {
    this.current = { ...this.current, ...patch };
    this.channel.saveState(this.current);
  }

  replace(next: PanelState): void {
    const before = this.current;
    this.current = next;
    this.channel.saveState(next);
    for (const listener of this.listeners) listener(next, before);
  }

  subscribe(listener: StateListener): void {
    this.listeners.push(listener);
  }
}
