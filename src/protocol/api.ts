/**
 * What `activate()` returns: a small API for the extension-host test suites (and for other
 * extensions that want the current result). Tests use it to see what the panel was sent and to
 * post messages as the webview would.
 */
import type { AttentionResult } from './types';
import type { HostToWebview } from './webview';

export interface AttentionInspectorApi {
  /** The result the panel shows now, if any. */
  currentResult(): AttentionResult | undefined;
  /** True while the panel is open. */
  isPanelOpen(): boolean;
  /** Engine workers alive right now (0 or 1: a leak shows up as more). */
  liveWorkerCount(): number;
  /** Messages sent to the webview, oldest first (bounded history). */
  sentToWebview(): readonly HostToWebview[];
  /** Deliver a message as if the webview had posted it; resolves when handled. */
  receiveFromWebview(message: unknown): Promise<void>;
  /** Error and warning notifications shown so far, oldest first. */
  notifications(): readonly { severity: 'error' | 'warning' | 'info'; message: string }[];
  /** True when the document changed under the analyzed range. */
  isStale(): boolean;
}
