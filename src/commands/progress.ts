/**
 * One progress bar over a run's phases: download, load and analyze each own a share of the bar, so
 * the bar moves steadily whichever phases a run needs (a cached model skips the download's share).
 * VS Code's progress takes increments; this turns "phase P is fraction f done" into them.
 */
export type Phase = 'download' | 'load' | 'analyze';

/** Where each phase starts and ends on a 0–100 bar. */
export const PHASE_SHARES: Record<Phase, readonly [number, number]> = {
  download: [0, 60],
  load: [60, 85],
  analyze: [85, 100],
};

export class PhasedProgress {
  private reported = 0;

  constructor(private readonly sink: (value: { message?: string; increment?: number }) => void) {}

  /** `fraction` of `phase` done (undefined: only the message changes). Never moves the bar back. */
  report(phase: Phase, message: string, fraction?: number): void {
    let increment: number | undefined;
    if (fraction !== undefined && Number.isFinite(fraction)) {
      const [start, end] = PHASE_SHARES[phase];
      const target = start + (end - start) * Math.min(1, Math.max(0, fraction));
      increment = Math.max(0, target - this.reported);
      this.reported += increment;
    }
    this.sink({ message, increment });
  }

  /** The bar's position, 0–100. */
  get position(): number {
    return this.reported;
  }
}
