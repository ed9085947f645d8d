/** Entry point of the attention panel webview (bundled to dist/webview.js). */
// First: installs the page's string bundle before any module builds a label (./i18n.ts).
import { t } from './i18n';
import './elements';
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
