/** Entry point of the attention panel webview (bundled to dist/webview.js). */
import './elements';
import { App } from './app';

function boot(): void {
  const root = document.getElementById('app');
  if (!root) throw new Error('The panel page has no #app element.');
  try {
    new App(root, acquireVsCodeApi()).start();
  } catch (err) {
    root.textContent = `The attention panel failed to start: ${err instanceof Error ? err.message : String(err)}`;
    throw err;
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();
