/**
 * The extension host as the webview sees it, for browser tests: it sends an analysis (its summaries)
 * and answers the webview's view requests from the same ViewServer the engine worker runs, over a
 * full result kept here. Requests can be held back, answered late or for the wrong analysis, to
 * test what the panel does with stale replies.
 */
import { FullResultKept, analysisInfo } from '../../src/analysis/fullResultKept';
import { ViewServer } from '../../src/analysis/viewServer';
import type { AttentionResult } from '../../src/protocol/types';
import type { ViewReply } from '../../src/protocol/views';
import { replyBuffers } from '../../src/protocol/views';
import type { WebviewToHost } from '../../src/protocol/webview';
import type { Harness } from './harness';

export type RequestMessage = Extract<WebviewToHost, { type: 'request' }>;

export class FakeHost {
  private readonly servers = new Map<number, ViewServer>();
  private readonly seen = new Set<number>();
  /** Every request the webview posted, oldest first. */
  readonly requests: RequestMessage[] = [];
  /** Bytes of every reply and analysis message sent to the webview. */
  bytesSent = 0;
  /** The largest single message sent, in bytes. */
  largestMessage = 0;

  constructor(private readonly h: Harness) {}

  private count(bytes: number): void {
    this.bytesSent += bytes;
    this.largestMessage = Math.max(this.largestMessage, bytes);
  }

  /** Sends `result` as an analysis the engine keeps under `resultId` (its summaries, no tensors). */
  async analysis(resultId: number, result: AttentionResult, pair?: { text: string }): Promise<void> {
    const kept = new FullResultKept(result);
    const server = new ViewServer(kept, { mergeText: pair ? undefined : result.text });
    this.servers.set(resultId, server);
    const summaries = await server.summaries();
    this.count(summaries.reduce((sum, s) => sum + s.valueNorms.buffer.byteLength + s.thumbnails.data.byteLength + s.thumbnails.maxima.byteLength, 0));
    await this.h.send({ type: 'analysis', resultId, analysis: analysisInfo(result), summaries, ...(pair ? { pair } : {}) });
  }

  /** Requests posted since the last call (and remembered in `requests`). */
  async newRequests(): Promise<RequestMessage[]> {
    const posted = await this.h.posted();
    const fresh = posted.filter((m): m is RequestMessage => m.type === 'request' && !this.seen.has(m.requestId));
    for (const m of fresh) this.seen.add(m.requestId);
    this.requests.push(...fresh);
    return fresh;
  }

  /** The reply the engine would give. */
  async replyTo(m: RequestMessage): Promise<ViewReply> {
    const server = this.servers.get(m.resultId);
    if (!server) throw new Error(`no analysis ${m.resultId}`);
    return server.serve(m.request);
  }

  /** Sends a reply for `m` (as `resultId`, by default the request's own). */
  async answer(m: RequestMessage, resultId = m.resultId, reply?: ViewReply): Promise<void> {
    const r = reply ?? (await this.replyTo(m));
    this.count(replyBuffers(r).reduce((sum, b) => sum + b.byteLength, 0));
    await this.h.send({ type: 'reply', requestId: m.requestId, resultId, reply: r });
  }

  /** Answers every request until the webview asks for nothing more (or `rounds` run out). */
  async serve(rounds = 20): Promise<number> {
    let answered = 0;
    for (let i = 0; i < rounds; i++) {
      const fresh = await this.newRequests();
      if (fresh.length === 0) break;
      for (const m of fresh) await this.answer(m);
      answered += fresh.length;
    }
    return answered;
  }
}
