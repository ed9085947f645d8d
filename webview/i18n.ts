/**
 * The webview's strings: the host writes its active l10n bundle (vscode.l10n.bundle) and the UI
 * language into the page (data-l10n / data-lang on #app: data, not script, so the strict CSP is
 * unchanged); this module installs them before any other module builds a label. main.ts imports it
 * first. Every string the panel shows goes through `t` (src/l10n/runtime.ts).
 */
import { setL10nBundle } from '../src/l10n/runtime';

function readPageBundle(): void {
  const root = typeof document === 'undefined' ? null : document.getElementById('app');
  const lang = root?.dataset.lang ?? 'en';
  let bundle: unknown = {};
  try {
    bundle = JSON.parse(root?.dataset.l10n ?? '{}');
  } catch {
    bundle = {}; // a broken bundle shows the English source strings rather than nothing
  }
  setL10nBundle(bundle, lang);
}

readPageBundle();

export { msg, t, uiLanguage } from '../src/l10n/runtime';
