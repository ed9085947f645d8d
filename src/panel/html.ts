/**
 * The HTML the attention panel is served in: strict CSP with a fresh nonce, no inline script or
 * style, everything loaded from the extension's own `dist/` and `media/` through asWebviewUri.
 * Only types come from `vscode`, so the browser tests can render the same page with stand-ins.
 */
import { randomBytes } from 'crypto';
import type * as vscode from 'vscode';
import { msg, translateIn } from '../l10n/runtime';

/** The parts of vscode.Webview this needs. */
export type PanelWebview = Pick<vscode.Webview, 'cspSource' | 'asWebviewUri'>;

/** Folders the page loads from; the panel's localResourceRoots should be exactly these. */
export const PANEL_RESOURCE_FOLDERS = ['dist', 'media'] as const;

function resource(webview: PanelWebview, extensionUri: vscode.Uri, ...segments: string[]): string {
  const base = extensionUri.path.replace(/\/+$/, '');
  return webview.asWebviewUri(extensionUri.with({ path: [base, ...segments].join('/') })).toString();
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Shown until the webview script has built the panel (translated from the same bundle). */
const LOADING = msg('Loading the attention view…');

export function createNonce(): string {
  return randomBytes(18).toString('base64').replace(/[+/=]/g, '');
}

/** The UI language and its string bundle (vscode.env.language, vscode.l10n.bundle); none: English. */
export interface PanelL10n {
  language: string;
  bundle?: Record<string, string>;
}

export function getPanelHtml(webview: PanelWebview, extensionUri: vscode.Uri, l10n: PanelL10n = { language: 'en' }): string {
  const nonce = createNonce();
  const source = webview.cspSource;
  const csp = [
    "default-src 'none'",
    `img-src ${source} data: blob:`,
    `style-src ${source}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${source}`,
  ].join('; ');
  const script = escapeAttribute(resource(webview, extensionUri, 'dist', 'webview.js'));
  const style = escapeAttribute(resource(webview, extensionUri, 'media', 'panel.css'));
  return `<!DOCTYPE html>
<html lang="${escapeAttribute(l10n.language)}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Attention Inspector</title>
</head>
<body>
<main id="app" aria-busy="true" data-lang="${escapeAttribute(l10n.language)}" data-l10n="${escapeAttribute(JSON.stringify(l10n.bundle ?? {}))}"><p class="placeholder">${escapeText(translateIn(l10n.bundle, LOADING))}</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>
`;
}
