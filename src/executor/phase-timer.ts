/**
 * Wall time of the phases of one container's life (start-up, hand-over, run, clean-up), for the
 * debug log: `LOG_LEVEL=debug` shows where the milliseconds of each execution went.
 */
export class PhaseTimer {
  private last = performance.now();
  readonly phases: Record<string, number> = {};

  /** Ends the phase that ran since the previous mark (or since construction) under `name`. */
  mark(name: string): void {
    const now = performance.now();
    this.phases[name] = Math.round((now - this.last) * 10) / 10;
    this.last = now;
  }
}
