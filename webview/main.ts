/**
 * Entry point of the attention panel webview (bundled to dist/webview.js). Only the
 * @vscode-elements components the panel uses are imported, to keep the bundle small.
 */
// First: installs the page's string bundle before any module builds a label (./i18n.ts).
import { t } from './i18n';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import { App } from './app';

function boot(): void {
  const root = document.getElementById('app');
  if (!root) throw new Error('The panel page has no #app element.');
  try {
    new App(root, acquireVsCodeApi()).start();
  } catch (err) {
    root.textContent = t('The attention panel failed to start: {0}', err instanceof Error ? err.message : String(err));
    throw err;
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
