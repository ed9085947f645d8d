/**
 * Messages between the extension host and the panel webview, with the validation the host applies
 * to everything the webview sends (a webview is untrusted input).
 */
import type { CompareKind } from '../analysis/compare';
import type { AttentionBlockKind, AttentionResult, HeadVectors } from './types';
import { parseViewRequest, type AnalysisInfo, type BlockSummaries, type ViewReply, type ViewRequest } from './views';

/*
 * `resultId` is the analysis id: the host picks it when it asks the engine to analyze, the engine
 * keeps the analysis under it, and the panel and the webview name it in every message about it.
 */

export type HostToWebview =
  /**
   * A new analysis replaces whatever the panel shows. The engine keeps it: the webview asks for
   * the views it shows with `request` and renders the model view from `summaries` meanwhile.
   */
  | { type: 'analysis'; resultId: number; analysis: AnalysisInfo; summaries: BlockSummaries[]; pair?: { text: string } }
  /** More of analysis `resultId`'s summaries: the layers computed since (the pass is still running), or all of them. */
  | { type: 'summaries'; resultId: number; summaries: BlockSummaries[] }
  /** The answer to the webview's request `requestId` about analysis `resultId`. */
  | { type: 'reply'; requestId: number; resultId: number; reply: ViewReply }
  /** Request `requestId` failed (or the analysis is no longer kept). */
  | { type: 'replyError'; requestId: number; resultId: number; message: string }
  /**
   * A single-stack result with its tensors replaces whatever the panel shows: only the interactive
   * HTML export page sends this (its data is embedded by design); the extension host never does, and
   * an encoder-decoder's page answers view requests itself (webview/standalone.ts). `resultId`
   * identifies it in later messages. `pair`: a sentence pair; segment 1 tokens' offsets count from `pair.text`.
   */
  | { type: 'result'; resultId: number; result: AttentionResult; pair?: { text: string } }
  /**
   * Compare With…: a second analysis (`other`: the same text under another model, or another text
   * under the same model) to set against analysis `resultId`, whose tensors come along as `base`
   * (the panel otherwise holds none; the host fetched both from the engine once, within
   * COMPARE_MAX_BYTES). A new analysis ends the comparison.
   */
  | { type: 'compare'; resultId: number; base: AttentionResult; other: AttentionResult; kind: CompareKind }
  /** Work is under way (shown in the panel while the notification shows progress). */
  | { type: 'busy'; message: string }
  /**
   * The editor cursor moved into token `index` of the analyzed text (null: outside it). `reveal`:
   * scroll the heatmap to it (false for the cursor position a new result starts with).
   */
  | { type: 'cursorToken'; resultId: number; index: number | null; reveal?: boolean }
  /** The document changed under the analyzed range (`edited`), or was closed (`closed`). */
  | { type: 'stale'; resultId: number; stale: boolean; reason?: StaleReason }
  /** Answer to `requestHeadVectors`. */
  | { type: 'headVectors'; resultId: number; vectors: HeadVectors }
  /** "Export Interactive HTML" was run from the command palette: answer with `exportHtml` (the view state). */
  | { type: 'requestExportHtml' }
  /**
   * Something failed (shown in the panel as well as in a notification). `clearsResult`: an analysis
   * failed, so the result shown before no longer answers what the user asked (another model, text).
   */
  | { type: 'error'; message: string; clearsResult?: boolean };

export type StaleReason = 'edited' | 'closed';

export type ExportFormat = 'png' | 'svg' | 'json' | 'npy';

export type WebviewToHost =
  /** Ask for a view of analysis `resultId`; the host answers `reply` or `replyError` with the same `requestId`. */
  | { type: 'request'; requestId: number; resultId: number; request: ViewRequest }
  /** The view asked for with `requestId` is no longer wanted. */
  | { type: 'cancel'; requestId: number }
  /** The webview has loaded and wants the current result (if any). */
  | { type: 'ready' }
  /** Select token `index` in the editor (a cell passes the key as index and the query as queryIndex). */
  | { type: 'revealToken'; resultId: number; index: number; queryIndex?: number }
  /** A query token is focused: paint the editor with its row of weights (length n), or clear (null). */
  | { type: 'focusQuery'; resultId: number; index: number | null; weights?: number[] }
  /** Ask for q, k, v of a layer and head (step-by-step view), of `block` (default: the first). */
  | { type: 'requestHeadVectors'; resultId: number; layer: number; head: number; block?: AttentionBlockKind }
  /** Encoder-decoders: ask for another decoder text and recompute. */
  | { type: 'editTarget' }
  /**
   * Save an export through a save dialog. `data` is base64 for binary formats, text otherwise; for
   * npy the host writes the attention tensor of `block` (default: the first) itself.
   */
  | { type: 'export'; format: ExportFormat; data: string; suggestedName: string; block?: AttentionBlockKind }
  /** The webview could not put the PNG (base64) on the clipboard itself: offer to save it instead. */
  | { type: 'copyImage'; data: string }
  /** Copy a Python snippet reproducing the attentions with transformers (and the view shown: its mode, layer, head). */
  | { type: 'copyPython'; view?: { mode: string; layer: number; head: number } }
  /** Recompute after the document changed. */
  | { type: 'recompute' }
  /** Save the result as an interactive HTML page showing it as the panel does now (`state`: the view state, webview/state.ts). */
  | { type: 'exportHtml'; resultId: number; state: Record<string, unknown>; suggestedName: string };

const EXPORT_FORMATS: readonly ExportFormat[] = ['png', 'svg', 'json', 'npy'];
const BLOCK_KINDS: readonly AttentionBlockKind[] = ['self', 'encoder', 'decoder', 'cross'];
/** 200 MB of base64 is far beyond any export we make; refuse anything larger. */
const MAX_EXPORT_CHARS = 200 * 1024 * 1024;
/** A panel state is a few hundred characters; far more is not one. */
const MAX_STATE_CHARS = 64 * 1024;

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 1 << 24;
}

function isSafeFileName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 && !/[\\/:*?"<>|\u0000-\u001f]/.test(value);
}

/**
 * Returns the message typed if it is well-formed, otherwise undefined. Range checks that need the
 * current result (index < n) are the receiver's job; this only checks shape and types.
 */
export function parseWebviewMessage(raw: unknown): WebviewToHost | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
    case 'recompute':
    case 'editTarget':
      return { type: m.type };
    case 'copyPython': {
      if (m.view === undefined) return { type: 'copyPython' };
      const v = m.view as Record<string, unknown> | null;
      if (typeof v !== 'object' || v === null || typeof v.mode !== 'string' || v.mode.length > 32 || !isIndex(v.layer) || !isIndex(v.head)) return undefined;
      return { type: 'copyPython', view: { mode: v.mode, layer: v.layer, head: v.head } };
    }
    case 'request': {
      if (!isIndex(m.requestId) || !isIndex(m.resultId)) return undefined;
      const request = parseViewRequest(m.request);
      return request ? { type: 'request', requestId: m.requestId, resultId: m.resultId, request } : undefined;
    }
    case 'cancel':
      return isIndex(m.requestId) ? { type: 'cancel', requestId: m.requestId } : undefined;
    case 'revealToken':
      if (!isIndex(m.resultId) || !isIndex(m.index)) return undefined;
      if (m.queryIndex !== undefined && !isIndex(m.queryIndex)) return undefined;
      return { type: 'revealToken', resultId: m.resultId, index: m.index, queryIndex: m.queryIndex as number | undefined };
    case 'focusQuery': {
      if (!isIndex(m.resultId)) return undefined;
      if (m.index === null) return { type: 'focusQuery', resultId: m.resultId, index: null };
      if (!isIndex(m.index) || !Array.isArray(m.weights) || m.weights.length > 1 << 16) return undefined;
      if (!m.weights.every((w) => typeof w === 'number' && Number.isFinite(w))) return undefined;
      return { type: 'focusQuery', resultId: m.resultId, index: m.index, weights: m.weights as number[] };
    }
    case 'requestHeadVectors':
      if (!isIndex(m.resultId) || !isIndex(m.layer) || !isIndex(m.head)) return undefined;
      if (m.block !== undefined && !BLOCK_KINDS.includes(m.block as AttentionBlockKind)) return undefined;
      return { type: 'requestHeadVectors', resultId: m.resultId, layer: m.layer, head: m.head, ...(m.block !== undefined ? { block: m.block as AttentionBlockKind } : {}) };
    case 'export':
      if (!EXPORT_FORMATS.includes(m.format as ExportFormat)) return undefined;
      if (typeof m.data !== 'string' || m.data.length > MAX_EXPORT_CHARS) return undefined;
      if (!isSafeFileName(m.suggestedName)) return undefined;
      if (m.block !== undefined && !BLOCK_KINDS.includes(m.block as AttentionBlockKind)) return undefined;
      return { type: 'export', format: m.format as ExportFormat, data: m.data, suggestedName: m.suggestedName, ...(m.block !== undefined ? { block: m.block as AttentionBlockKind } : {}) };
    case 'copyImage':
      if (typeof m.data !== 'string' || m.data.length > MAX_EXPORT_CHARS) return undefined;
      return { type: 'copyImage', data: m.data };
    case 'exportHtml': {
      if (!isIndex(m.resultId) || !isSafeFileName(m.suggestedName)) return undefined;
      const state = m.state as Record<string, unknown> | null;
      if (typeof state !== 'object' || state === null || Array.isArray(state) || !isIndex(state.layer) || !isIndex(state.head)) return undefined;
      // The page sanitises the state as any restored state (webview/state.ts); here only its size is bounded.
      let json: string;
      try {
        json = JSON.stringify(state);
      } catch {
        return undefined;
      }
      if (json.length > MAX_STATE_CHARS) return undefined;
      return { type: 'exportHtml', resultId: m.resultId, state: JSON.parse(json) as Record<string, unknown>, suggestedName: m.suggestedName };
    }
    default:
      return undefined;
  }
}
