/**
 * The analyses the worker keeps, by analysis id, least recently used first out. The newest is
 * always kept; older ones go once the kept bytes pass the budget (a share of the engine's memory
 * limit) or there are more than `maxCount`: the panel then gets "no longer kept" and recomputes.
 */
import type { KeptAnalysis } from '../protocol/kept';
import { ViewServer } from '../analysis/viewServer';

export interface Kept {
  analysis: KeptAnalysis;
  server: ViewServer;
  /** What made it, to run it again when the model's own last-run state is needed (q, k, v). */
  text: string;
  options: import('../protocol/types').AnalyzeOptions;
}

export class KeptAnalyses {
  private readonly entries = new Map<number, Kept>();

  constructor(private readonly budgetBytes: () => number, private readonly maxCount = 8) {}

  add(id: number, entry: Kept): void {
    this.forget(id);
    this.entries.set(id, entry);
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.analysis.bytesHeld;
    for (const [oldId, old] of this.entries) {
      if (oldId === id || (bytes <= this.budgetBytes() && this.entries.size <= this.maxCount)) break;
      bytes -= old.analysis.bytesHeld;
      this.forget(oldId);
    }
  }

  get(id: number): Kept | undefined {
    const entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
      this.entries.set(id, entry);
    }
    return entry;
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  forget(id: number): void {
    this.entries.get(id)?.analysis.dispose();
    this.entries.delete(id);
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.forget(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
