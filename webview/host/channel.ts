/**
 * The panel's only link to the extension host: posts typed messages, delivers what the host sends,
 * and keeps the view state with VS Code (getState/setState). Deliberately thin: when the data flow
 * becomes request/response by analysis id, this module is where requests and replies will pair up.
 */
import type { HostToWebview, WebviewToHost } from '../../src/protocol/webview';
import type { VsCodeApi } from './vscodeApi';

export class HostChannel {
  constructor(private readonly api: VsCodeApi) {}

  /** Rewrites or drops what the views send (the block switcher: only document tokens link to the editor). */
  filter: (message: WebviewToHost) => WebviewToHost | null = (message) => message;

  post(message: WebviewToHost): void {
    const allowed = this.filter(message);
    if (allowed) this.api.postMessage(allowed);
  }

  /** Posts without the filter (the block switcher's own messages). */
  postUnfiltered(message: WebviewToHost): void {
    this.api.postMessage(message);
  }

  /** Calls `handler` with every message from the host that has a type (content is checked by the receiver). */
  listen(handler: (message: HostToWebview) => void): void {
    window.addEventListener('message', (event: MessageEvent) => {
      const data: unknown = event.data;
      if (typeof data !== 'object' || data === null || typeof (data as { type?: unknown }).type !== 'string') return;
      handler(data as HostToWebview);
    });
  }

  loadState(): unknown {
    return this.api.getState();
  }

  saveState(state: unknown): void {
    this.api.setState(state);
  }
}
