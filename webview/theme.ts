/** Colours and fonts of the current VS Code theme, re-read when the theme changes. */

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

export interface Theme {
  kind: ThemeKind;
  background: string;
  foreground: string;
  muted: string;
  /** Keyboard focus and the current selection. */
  focus: string;
  /** Outlines that must stand out in high-contrast themes. */
  contrastBorder: string | null;
  /** Row/column highlight wash. */
  highlight: string;
  /** The editor cursor's token. */
  cursor: string;
  /** Labels of generated tokens (Continue and Show Attention). */
  generated: string;
  fontFamily: string;
  editorFontFamily: string;
  fontSize: number;
}

function kindOf(body: HTMLElement): ThemeKind {
  const c = body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-dark')) return 'dark';
  if (c.contains('vscode-light')) return 'light';
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function readTheme(): Theme {
  const style = getComputedStyle(document.documentElement);
  const v = (name: string) => style.getPropertyValue(name).trim();
  const kind = kindOf(document.body);
  const darkish = kind === 'dark' || kind === 'high-contrast';
  const background = v('--vscode-editor-background') || (darkish ? '#1e1e1e' : '#ffffff');
  const foreground = v('--vscode-editor-foreground') || v('--vscode-foreground') || (darkish ? '#d4d4d4' : '#1f1f1f');
  return {
    kind,
    background,
    foreground,
    muted: v('--vscode-descriptionForeground') || (darkish ? '#a0a0a0' : '#616161'),
    focus: v('--vscode-focusBorder') || (darkish ? '#0078d4' : '#005fb8'),
    contrastBorder: v('--vscode-contrastActiveBorder') || v('--vscode-contrastBorder') || null,
    highlight: kind === 'high-contrast' ? 'rgba(255, 255, 255, 0.28)' : darkish ? 'rgba(255, 255, 255, 0.18)' : 'rgba(0, 0, 0, 0.14)',
    cursor: v('--vscode-editorCursor-foreground') || foreground,
    generated: v('--vscode-textLink-foreground') || (darkish ? '#3794ff' : '#006ab1'),
    fontFamily: v('--vscode-font-family') || 'system-ui, sans-serif',
    editorFontFamily: v('--vscode-editor-font-family') || 'ui-monospace, Menlo, Consolas, monospace',
    fontSize: parseFloat(v('--vscode-font-size')) || 13,
  };
}

/**
 * Calls back when the theme changes: VS Code swaps the body class (light/dark/high contrast) and
 * rewrites the variables on <html> (switching between two themes of the same kind).
 */
export function watchTheme(onChange: () => void): MutationObserver {
  let pending = false;
  const observer = new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      onChange();
    });
  });
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  return observer;
}
