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
  /**
   * Its q, k, v come from running the model again (a full result's: the probe, a generation, an
   * encoder-decoder): step by step then takes its turn in the worker's queue, since that run uses
   * the model's own last-run state. Other views run beside the queue.
   */
  stepByStepRunsModel: boolean;
}

export class KeptAnalyses {
  private readonly entries = new Map<number, Kept>();

  constructor(
    private readonly budgetBytes: () => number,
    private readonly maxCount = 8,
    /** Told each id it no longer keeps (forgotten, evicted, cleared): the view thread drops its mirror. */
    private readonly onForget: (id: number) => void = () => {},
  ) {}

  add(id: number, entry: Kept): void {
    this.forget(id);
    this.entries.set(id, entry);
    this.fit(id);
  }

  /**
   * Drops the least recently used analyses (never `newest`) until the budget holds: again once an
   * analysis kept when its pass began holds all it keeps.
   */
  fit(newest: number): void {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.analysis.bytesHeld;
    for (const [oldId, old] of [...this.entries]) {
      if (bytes <= this.budgetBytes() && this.entries.size <= this.maxCount) break;
      // Views of older analyses may have made them more recent than the newest meanwhile.
      if (oldId === newest) continue;
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

  /** The entry without touching its place in the LRU. */
  peek(id: number): Kept | undefined {
    return this.entries.get(id);
  }

  has(id: number): boolean {
    return this.entries.has(id);
  }

  forget(id: number): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.analysis.dispose();
    this.entries.delete(id);
    this.onForget(id);
  }

  clear(): void {
    for (const id of [...this.entries.keys()]) this.forget(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
