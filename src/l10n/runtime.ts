/**
 * Translation of the strings shown outside the extension host (the webview, and the src/analysis
 * texts it shows: mode explanations, legend, caution, export captions). Same conventions as
 * vscode.l10n: the key is the English text with {0}, {1}… placeholders, a bundle maps it to the
 * translation, and a missing key falls back to English. The host passes its active bundle
 * (vscode.l10n.bundle, from l10n/bundle.l10n.<language>.json) to the webview, so host and
 * webview share one catalogue. Without a bundle (English, the CLI, unit tests) the source text is used.
 */
export type L10nBundle = Readonly<Record<string, string>>;

let active: L10nBundle = {};
let language = 'en';

/** Installs the bundle (before any translated text is built: webview/i18n.ts does it first thing). */
export function setL10nBundle(bundle: unknown, lang = 'en'): void {
  active = isBundle(bundle) ? bundle : {};
  language = typeof lang === 'string' && lang !== '' ? lang : 'en';
}

/** The UI language (a VS Code locale such as `en` or `pt-br`): number formatting follows it. */
export function uiLanguage(): string {
  return language;
}

export function isBundle(value: unknown): value is L10nBundle {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** Replaces {0}, {1}… with the arguments (an unknown index stays as written, as vscode.l10n does). */
export function formatMessage(template: string, args: readonly (string | number)[]): string {
  return template.replace(/\{(\d+)\}/g, (whole, index: string) => {
    const value = args[Number(index)];
    return value === undefined ? whole : String(value);
  });
}

/** The translation of `message` (the English text) in the active bundle, with the arguments filled in. */
export function t(message: string, ...args: (string | number)[]): string {
  return formatMessage(Object.prototype.hasOwnProperty.call(active, message) ? active[message] : message, args);
}

/**
 * Marks a string for the catalogue where it is defined (tables built at module load) and returns it
 * unchanged; it is translated where it is shown, with t(value). The l10n test collects msg() and
 * t() literals alike.
 */
export function msg(message: string): string {
  return message;
}

/** The translation of `message` in a given bundle (the host side, before the webview has one). */
export function translateIn(bundle: L10nBundle | undefined, message: string, ...args: (string | number)[]): string {
  return formatMessage(bundle && Object.prototype.hasOwnProperty.call(bundle, message) ? bundle[message] : message, args);
}
