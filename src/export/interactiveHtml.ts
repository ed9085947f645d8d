/**
 * "Export Interactive HTML": one self-contained file with the panel's own views (head view, model
 * view, lines, hover) running from data embedded in it — openable in any browser, offline, as
 * supplementary material or an issue attachment. The page is the webview bundle's standalone entry
 * (dist/exportPage.js, webview/standalone.ts) and the panel's CSS, inlined; its Content Security
 * Policy allows exactly those two inline blocks (by hash) and forbids every connection, so it
 * cannot load or send anything.
 */
import { createHash } from 'crypto';
import type { AttentionResult } from '../protocol/types';
import { BASE64_BYTES_PER_VALUE, PAYLOAD_FORMAT, bytesToBase64, encodeResult, tensorValues, type InteractivePayload, type Quantisation } from './interactivePayload';
import { THEMES } from './themes';

/** Largest file written (25 MB: GitHub's limit for an issue attachment; most journals take more). */
export const MAX_HTML_BYTES = 25 * 1000 * 1000;

export interface HtmlAssets {
  /** dist/exportPage.js */
  script: string;
  /** media/panel.css */
  css: string;
}

export interface HtmlExportRequest {
  result: AttentionResult;
  /** The panel's view state when exported (layer and head decide the exact head). */
  state: { layer: number; head: number } & Record<string, unknown>;
  pair?: { text: string };
  now?: Date;
  maxBytes?: number;
}

export class HtmlExportTooLarge extends Error {
  constructor(message: string, readonly maxTokens: number) {
    super(message);
  }
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Inline <script>/<style> text may not contain its own end tag. */
function inlineSafe(text: string, tag: 'script' | 'style'): string {
  return text.replace(new RegExp(`</(${tag})`, 'gi'), '<\\/$1');
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

function themeCss(): string {
  const block = (vars: Record<string, string>) => Object.entries(vars).map(([k, v]) => `${k}: ${v};`).join(' ');
  return (
    `:root { ${block(THEMES.light.vars)} }\n` +
    `@media (prefers-color-scheme: dark) { :root { ${block(THEMES.dark.vars)} } }\n` +
    '.export-note { margin: 0; padding: 4px 0; font-size: 12px; color: var(--vscode-descriptionForeground); border-bottom: 1px solid var(--vscode-settings-headerBorder); }\n'
  );
}

/** After the panel's CSS: the note above the panel, the panel taking the rest of the window. */
const LAYOUT_CSS = 'body { display: flex; flex-direction: column; } body > #app { flex: 1; height: auto; }\n';

/** Attention values in the result (every rank-4 tensor, each buffer once). */
function attentionValueCount(result: AttentionResult): number {
  const buffers = new Set<ArrayBuffer>();
  let count = 0;
  for (const t of [result.attentions, ...(result.blocks ?? []).map((b) => b.attentions)]) {
    if (buffers.has(t.buffer)) continue;
    buffers.add(t.buffer);
    count += t.shape.reduce((a, b) => a * b, 1);
  }
  return count;
}

/** float16 where the file stays under the limit, else 8 bits; refused (with the length that fits) beyond. */
export function chooseQuantisation(result: AttentionResult, maxBytes = MAX_HTML_BYTES, overhead = 0): Quantisation {
  const values = attentionValueCount(result);
  const room = maxBytes - overhead;
  if (values * BASE64_BYTES_PER_VALUE.float16 <= room) return 'float16';
  if (values * BASE64_BYTES_PER_VALUE.sqrt8 <= room) return 'sqrt8';
  const n = result.tokens.length;
  const perTokenSquared = values / (n * n);
  const fits = Math.floor(Math.sqrt(room / BASE64_BYTES_PER_VALUE.sqrt8 / perTokenSquared));
  throw new HtmlExportTooLarge(
    `An interactive HTML of these ${n} tokens would be about ${((values * BASE64_BYTES_PER_VALUE.sqrt8 + overhead) / 1e6).toFixed(0)} MB even with 8-bit weights, over the ${(maxBytes / 1e6).toFixed(0)} MB limit. ` +
      `Analyze at most ${fits} tokens for an interactive HTML export (the PNG, SVG, JSON and .npy exports have no such limit).`,
    fits,
  );
}

export function buildInteractiveHtml(request: HtmlExportRequest, assets: HtmlAssets): { html: string; quantisation: Quantisation } {
  const { result, state } = request;
  const maxBytes = request.maxBytes ?? MAX_HTML_BYTES;
  const css = inlineSafe(`${themeCss()}\n${assets.css}\n${LAYOUT_CSS}`, 'style');
  const script = inlineSafe(assets.script, 'script');
  const overhead = css.length + script.length + 64 * 1024;
  const quantisation = chooseQuantisation(result, maxBytes, overhead);
  const { result: encoded, tensors } = encodeResult(result, quantisation);
  const [layers, heads, n, m] = result.attentions.shape;
  const layer = Math.min(Math.max(0, state.layer | 0), layers - 1);
  const head = Math.min(Math.max(0, state.head | 0), heads - 1);
  const size = n * m;
  const values = tensorValues(result.attentions).subarray((layer * heads + head) * size, (layer * heads + head + 1) * size);
  const exact = { layer, head, base64: bytesToBase64(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)) };
  const now = request.now ?? new Date();
  const payload: InteractivePayload = { format: PAYLOAD_FORMAT, result: encoded, tensors, exact, quantisation, state, ...(request.pair ? { pair: request.pair } : {}), exportedAt: now.toISOString() };
  // JSON in a non-executed script element; '<' escaped so no text can close it.
  const data = JSON.stringify(payload).replace(/</g, '\\u003c');
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(css)}`,
    'img-src data: blob:',
    "connect-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-src 'none'",
    "object-src 'none'",
  ].join('; ');
  const stored = quantisation === 'float16' ? 'float16 (about 3 significant digits)' : '8 bits on a square-root scale';
  const note =
    `Exported from Attention Inspector on ${now.toISOString().slice(0, 10)} · ${result.model.name} · ${result.tokens.length} tokens · ` +
    `layer ${layer}, head ${head} exact (float32), the other heads stored as ${stored} · works offline: this page loads and sends nothing.`;
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta name="generator" content="Attention Inspector">
<title>${escapeHtml(`Attention: ${result.model.name} — ${result.text.slice(0, 60).replace(/\s+/g, ' ').trim()}`)}</title>
<style>${css}</style>
</head>
<body class="vscode-light">
<p class="export-note" data-testid="export-note">${escapeHtml(note)}</p>
<main id="app" aria-busy="true"><p class="placeholder">Loading the attention view…</p></main>
<script type="application/json" id="attention-data">${data}</script>
<script>${script}</script>
</body>
</html>
`;
  return { html, quantisation };
}
