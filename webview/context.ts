/** What the tabs need from the panel, so they depend on one small interface rather than on each other. */
import type { ModeSelection } from '../src/analysis/modes';
import type { HostChannel } from './host/channel';
import type { ResultSession, Shown } from './session';
import type { ViewStore } from './store';
import type { Theme } from './theme';
import type { Tooltip } from './tooltip';

export interface PanelContext {
  readonly store: ViewStore;
  readonly channel: HostChannel;
  readonly tooltip: Tooltip;
  session(): ResultSession | undefined;
  theme(): Theme;
  selection(): ModeSelection;
  /** What the head view shows now; undefined while a slow mode is still being computed. */
  shown(): Shown | undefined;
  /** The editor cursor's token (original index), or null. */
  cursorToken(): number | null;
  announce(text: string): void;
  /** Selects view item `key` in the editor (with `query` outlined for a cell). */
  reveal(key: number, query?: number): void;
  /** Focuses a query (view row of the current view) or clears the focus; the editor paints its weights. */
  setFocusRow(row: number | null): void;
  /** The focused query as a view row, or null. */
  focusRow(): number | null;
  showError(message: string): void;
  /** Moves keyboard focus to the heatmap (after opening a head from the grid). */
  focusHeatmap(): void;
}
