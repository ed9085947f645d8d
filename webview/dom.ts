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

export interface Option {
  value: string;
  label: string;
  disabled?: boolean;
}

/** A <vscode-single-select> with options; `value` picks the selected one. */
export function select(id: string, label: string, options: Option[]): HTMLElement {
  const el = h('vscode-single-select', { id, 'aria-label': label, 'data-testid': id });
  setOptions(el, options, options[0]?.value ?? '');
  return el;
}

/**
 * Shows `value` in a select, replacing its options first when they differ. The component reads
 * its options only when its slot changes (asynchronously), and then selects the option marked
 * `selected` — so the chosen option is marked as well as assigned: setting `value` alone right after
 * new options would be undone by that later read (the Layer/Head dropdowns fell back to 0).
 */
export function setOptions(el: HTMLElement, options: Option[], value: string): void {
  const signature = JSON.stringify(options);
  if (el.dataset.options !== signature) {
    el.dataset.options = signature;
    el.replaceChildren(...options.map((o) => h('vscode-option', { value: o.value, disabled: o.disabled, selected: o.value === value }, o.label)));
  } else {
    for (const option of Array.from(el.children) as (HTMLElement & { value: string; selected: boolean })[]) {
      const selected = option.getAttribute('value') === value;
      option.toggleAttribute('selected', selected);
      option.selected = selected;
    }
  }
  setSelectValue(el, value);
}

/** Sets a vscode-single-select's value. */
export function setSelectValue(el: HTMLElement, value: string): void {
  const select = el as HTMLElement & { value: string };
  if (select.value !== value) select.value = value;
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
