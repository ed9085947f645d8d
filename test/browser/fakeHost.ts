/**
 * The extension host as the webview sees it, for browser tests: it sends an analysis (its summaries)
 * and answers the webview's view requests from the same ViewServer the engine worker runs, over a
 * full result kept here. Requests can be held back, answered late or for the wrong analysis, to
 * test what the panel does with stale replies.
 */
import { FullResultKept, analysisInfo } from '../../src/analysis/fullResultKept';
import { ViewServer } from '../../src/analysis/viewServer';
import type { AttentionResult } from '../../src/protocol/types';
import type { BlockSummaries, ViewReply } from '../../src/protocol/views';
import { replyBuffers, summaryBuffers } from '../../src/protocol/views';
import type { WebviewToHost } from '../../src/protocol/webview';
import * as assert from 'assert';
import { cspViolations, openHarness, type Harness } from './harness';

export type RequestMessage = Extract<WebviewToHost, { type: 'request' }>;

export class FakeHost {
  private readonly servers = new Map<number, ViewServer>();
  private readonly seen = new Set<number>();
  private readonly summaries = new Map<number, BlockSummaries[]>();
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

  /**
   * Sends `result` as an analysis the engine keeps under `resultId` (its summaries, no tensors);
   * `layersDone`: as while the pass runs, only the first layers summarised.
   */
  async analysis(resultId: number, result: AttentionResult, pair?: { text: string }, layersDone?: number): Promise<void> {
    const kept = new FullResultKept(result);
    const server = new ViewServer(kept, { mergeText: pair ? undefined : result.text, targetText: result.target });
    this.servers.set(resultId, server);
    this.summaries.set(resultId, await server.summaries());
    const summaries = (await server.summaries()).map((s) => (layersDone === undefined ? s : partial(s, layersDone)));
    this.count(summaryBuffers(summaries).reduce((sum, b) => sum + b.byteLength, 0));
    await this.h.send({ type: 'analysis', resultId, analysis: analysisInfo(result), summaries, ...(pair ? { pair } : {}) });
  }

  /** The pass finished: every layer's summaries. */
  async complete(resultId: number): Promise<void> {
    await this.h.send({ type: 'summaries', resultId, summaries: this.summaries.get(resultId)! });
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

/** Summaries as they are while the pass runs: layers from `done` on not summarised yet. */
export function partial(s: BlockSummaries, done: number): BlockSummaries {
  // Rectangular blocks' (cross-attention) thumbnails are rows × cols.
  const cells = (s.thumbnails.rows ?? s.thumbnails.cells) * (s.thumbnails.cols ?? s.thumbnails.cells);
  const data = new Uint8Array(s.thumbnails.data.slice(0));
  data.fill(0, done * s.heads * cells);
  return {
    ...s,
    layersDone: done,
    scores: s.scores.map((sc) => (sc.layer < done ? sc : { ...sc, previousToken: NaN, firstToken: NaN, self: NaN, entropy: NaN, entropyBits: NaN })),
    thumbnails: { ...s.thumbnails, data: data.buffer },
  };
}

/**
 * A fresh page (light theme, 1200×800) and fake host for each test of the calling suite, checked
 * after each test for Content Security Policy violations and console errors.
 */
export function pageWithFakeHost(): { readonly h: Harness; readonly host: FakeHost } {
  const page = {} as { h: Harness; host: FakeHost };
  beforeEach(async () => {
    page.h = await openHarness({ theme: 'light', viewport: { width: 1200, height: 800 } });
    page.host = new FakeHost(page.h);
  });
  afterEach(async () => {
    assert.deepStrictEqual(await cspViolations(page.h), [], 'Content Security Policy violations');
    assert.deepStrictEqual(page.h.problems, [], 'console errors in the webview');
    await page.h.close();
  });
  return page;
}
