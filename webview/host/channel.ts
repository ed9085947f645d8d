/**
 * The panel's only link to the extension host: posts typed messages, delivers what the host sends,
 * pairs view requests with their replies, and keeps the view state with VS Code
 * (getState/setState). Every request gets an id; its reply or error names that id and the analysis
 * it is about, so a reply that comes late (for an analysis no longer shown, or a request given up)
 * is dropped here and never reaches a view.
 */
import { t } from '../i18n';
import type { ViewReply, ViewRequest } from '../../src/protocol/views';
import type { HostToWebview, WebviewToHost } from '../../src/protocol/webview';
import type { VsCodeApi } from './vscodeApi';

/** A request the host answered with an error, or that was given up. */
export class RequestFailed extends Error {
  constructor(message: string, readonly cancelled = false) {
    super(message);
  }
}

interface Pending {
  resultId: number;
  resolve: (reply: ViewReply) => void;
  reject: (err: Error) => void;
}

export class HostChannel {
  private nextRequestId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Bytes of view replies received, for the panel's own accounting (tests read it). */
  replyBytes = 0;

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

  /** Asks the host for a view of analysis `resultId`; `signal` gives it up (the host is told). */
  request(resultId: number, request: ViewRequest, signal?: AbortSignal): Promise<ViewReply> {
    const requestId = this.nextRequestId++;
    return new Promise<ViewReply>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new RequestFailed('Cancelled.', true));
        return;
      }
      this.pending.set(requestId, { resultId, resolve, reject });
      signal?.addEventListener(
        'abort',
        () => {
          if (!this.pending.delete(requestId)) return;
          this.api.postMessage({ type: 'cancel', requestId });
          reject(new RequestFailed('Cancelled.', true));
        },
        { once: true },
      );
      this.api.postMessage({ type: 'request', requestId, resultId, request });
    });
  }

  /** Gives up every request about analyses other than `resultId` (a new analysis is shown). */
  abandonExcept(resultId: number | undefined): void {
    for (const [requestId, p] of [...this.pending]) {
      if (p.resultId === resultId) continue;
      this.pending.delete(requestId);
      this.api.postMessage({ type: 'cancel', requestId });
      p.reject(new RequestFailed(t('Superseded by a newer analysis.'), true));
    }
  }

  /** Requests waiting for a reply (tests, the busy indicator). */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Settles the request a reply or error names; true when the message was one (handled here).
   * Replies for unknown requests or for another analysis than the request's are ignored.
   */
  private settle(message: HostToWebview): boolean {
    if (message.type !== 'reply' && message.type !== 'replyError') return false;
    const p = typeof message.requestId === 'number' ? this.pending.get(message.requestId) : undefined;
    if (!p || p.resultId !== message.resultId) return true;
    this.pending.delete(message.requestId);
    if (message.type === 'replyError') {
      p.reject(new RequestFailed(typeof message.message === 'string' ? message.message : t('The request failed.')));
      return true;
    }
    const reply = message.reply;
    if (typeof reply !== 'object' || reply === null || typeof reply.kind !== 'string') {
      p.reject(new RequestFailed(t('The extension sent a malformed reply.')));
      return true;
    }
    for (const value of Object.values(reply)) if (value instanceof ArrayBuffer) this.replyBytes += value.byteLength;
    p.resolve(reply);
    return true;
  }

  /** Calls `handler` with every message from the host that has a type (content is checked by the receiver); replies go to their requests. */
  listen(handler: (message: HostToWebview) => void): void {
    window.addEventListener('message', (event: MessageEvent) => {
      const data: unknown = event.data;
      if (typeof data !== 'object' || data === null || typeof (data as { type?: unknown }).type !== 'string') return;
      if (this.settle(data as HostToWebview)) return;
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
