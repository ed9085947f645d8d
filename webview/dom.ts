/** Tiny DOM helpers (no framework: the panel's DOM is small and mostly static). */

type Attrs = Record<string, string | number | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: (Node | string)[]): HTMLElementTagNameMap[K];
export function h(tag: string, attrs?: Attrs, ...children: (Node | string)[]): HTMLElement;
export function h(tag: string, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children);
  return el;
}

/** A <vscode-single-select> with options; `value` picks the selected one. */
export function select(id: string, label: string, options: { value: string; label: string; disabled?: boolean }[]): HTMLElement {
  const el = h('vscode-single-select', { id, 'aria-label': label, 'data-testid': id });
  setOptions(el, options);
  return el;
}

export function setOptions(el: HTMLElement, options: { value: string; label: string; disabled?: boolean }[]): void {
  el.replaceChildren(...options.map((o) => h('vscode-option', { value: o.value, disabled: o.disabled }, o.label)));
}

/** Sets a vscode-single-select's value once its options are in place. */
export function setSelectValue(el: HTMLElement, value: string): void {
  (el as HTMLElement & { value: string }).value = value;
}

export function selectValue(el: Element): string {
  return (el as HTMLElement & { value: string }).value;
}

export function button(id: string, label: string, title: string, secondary = true): HTMLElement {
  return h('vscode-button', { id, 'data-testid': id, title, secondary }, label);
}

/** FNV-1a: a short, stable key for a long string (the result text) to keep in the view state. */
export function hashString(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(36);
}
