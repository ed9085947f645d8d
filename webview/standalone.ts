/**
 * Entry point of the exported interactive HTML page (bundled to dist/exportPage.js and inlined in
 * the file by src/export/interactiveHtml.ts): the panel's own App, fed from the data embedded in
 * the page instead of the extension host. What needs the editor or the engine (editor links, step
 * by step, .npy, Copy as Python) says so; PNG, SVG and JSON exports download from the page itself.
 */
import './elements';
import { decodePayloadResult, type InteractivePayload } from '../src/export/interactivePayload';
import { FullResultKept, analysisInfo } from '../src/analysis/fullResultKept';
import { ViewServer } from '../src/analysis/viewServer';
import type { AttentionResult } from '../src/protocol/types';
import { THEMES } from '../src/export/themes';
import type { HostToWebview, WebviewToHost } from '../src/protocol/webview';
import { App } from './app';
import type { VsCodeApi } from './host/vscodeApi';

const OFFLINE = 'This page is an export: open the analysis in VS Code (Attention Inspector) for';

function deliver(message: HostToWebview): void {
  window.dispatchEvent(new MessageEvent('message', { data: message }));
}

function download(name: string, bytes: Uint8Array | string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function base64Bytes(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The panel's theme variables follow the browser's light/dark preference (the CSS sets them; the body class tells the canvases). */
function followColorScheme(): void {
  const dark = matchMedia('(prefers-color-scheme: dark)');
  const apply = () => (document.body.className = (dark.matches ? THEMES.dark : THEMES.light).bodyClass);
  apply();
  dark.addEventListener('change', apply);
}

/**
 * An encoder-decoder's page answers the panel's view requests itself, as the engine does in VS Code
 * (the same ViewServer over the embedded tensors): the panel shows its blocks the one way it knows.
 */
function servePage(result: AttentionResult, pair: { text: string } | undefined): { ready(): void; request(message: Extract<WebviewToHost, { type: 'request' }>): void } {
  const server = new ViewServer(new FullResultKept(result), { mergeText: pair ? undefined : result.text, targetText: result.target });
  return {
    ready: () =>
      void server.summaries().then(
        (summaries) => deliver({ type: 'analysis', resultId: 1, analysis: analysisInfo(result), summaries, ...(pair ? { pair } : {}) }),
        (err: unknown) => deliver({ type: 'error', message: `This page could not show its attention: ${err instanceof Error ? err.message : String(err)}`, clearsResult: true }),
      ),
    request: (message) =>
      void server.serve(message.request).then(
        (reply) => deliver({ type: 'reply', requestId: message.requestId, resultId: message.resultId, reply }),
        (err: unknown) => deliver({ type: 'replyError', requestId: message.requestId, resultId: message.resultId, message: err instanceof Error ? err.message : String(err) }),
      ),
  };
}

function boot(): void {
  const root = document.getElementById('app');
  const data = document.getElementById('attention-data');
  if (!root || !data) throw new Error('This page has no attention data.');
  try {
    followColorScheme();
    const payload = JSON.parse(data.textContent ?? '') as InteractivePayload;
    const result = decodePayloadResult(payload);
    let state: unknown = payload.state;
    const page = (result.blocks?.length ?? 0) > 1 ? servePage(result, payload.pair) : undefined;
    const respond = (message: WebviewToHost): void => {
      switch (message.type) {
        case 'ready':
          if (page) page.ready();
          else queueMicrotask(() => deliver({ type: 'result', resultId: 1, result, ...(payload.pair ? { pair: payload.pair } : {}) }));
          return;
        case 'request':
          page?.request(message);
          return;
        case 'export':
          if (message.format === 'npy') return deliver({ type: 'error', message: `${OFFLINE} the full tensor as .npy (this page holds ${payload.quantisation} copies of the weights).` });
          if (message.format === 'png') return download(message.suggestedName, base64Bytes(message.data), 'image/png');
          return download(message.suggestedName, message.data, message.format === 'svg' ? 'image/svg+xml' : 'application/json');
        case 'copyImage':
          return download('attention.png', base64Bytes(message.data), 'image/png');
        case 'requestHeadVectors':
          return deliver({ type: 'error', message: `${OFFLINE} step by step (it computes q, k and v with the model).` });
        case 'exportHtml':
          return deliver({ type: 'error', message: 'This page is the interactive HTML export already: save it with the browser (Save Page As) or share the file itself.' });
        case 'copyPython':
          return deliver({ type: 'error', message: `${OFFLINE} Copy as Python.` });
        default:
          // Editor links (reveal, focus), recompute and the decoder text have no editor here.
          return;
      }
    };
    const api: VsCodeApi = {
      postMessage: respond,
      getState: () => state,
      setState: (next) => void (state = next),
    };
    new App(root, api).start();
  } catch (err) {
    root.textContent = `This attention page could not start: ${err instanceof Error ? err.message : String(err)}`;
    throw err;
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
