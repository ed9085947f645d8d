/** The hover tooltip: one element, placed beside the pointer and kept inside the window. */
import { h } from './dom';

export class Tooltip {
  readonly element = h('div', { class: 'tooltip', role: 'tooltip', 'data-testid': 'tooltip', hidden: true });

  show(text: string, clientX: number, clientY: number): void {
    const tip = this.element;
    tip.textContent = text;
    tip.hidden = false;
    const margin = 14;
    const w = tip.offsetWidth;
    const hgt = tip.offsetHeight;
    const left = clientX + margin + w > window.innerWidth ? clientX - margin - w : clientX + margin;
    const top = clientY + margin + hgt > window.innerHeight ? clientY - margin - hgt : clientY + margin;
    tip.style.left = `${Math.max(0, left)}px`;
    tip.style.top = `${Math.max(0, top)}px`;
  }

  hide(): void {
    this.element.hidden = true;
  }
}
