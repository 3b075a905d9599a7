/**
 * /exec requests the engine has admitted (they asked it for room before doing any work) that have
 * not handed their run to it yet: while they make their session and copy their inputs, the engine
 * does not see them, so each later request asks for room beyond them. A burst of /exec requests is
 * then refused at once past the queue's capacity, instead of all copying their files first.
 */
import type { EngineApi } from '../../../engine/types.js';

export class AdmittedRuns {
  private count = 0;

  /** How many admitted runs are still being prepared. */
  get preparing(): number {
    return this.count;
  }

  /**
   * Throws QUEUE_FULL when the engine has no room beyond the runs already admitted; otherwise holds
   * a place and returns the function that gives it back (call it when the run is handed to the
   * engine, or given up; further calls do nothing).
   */
  admit(engine: Pick<EngineApi, 'assertRoom'>): () => void {
    engine.assertRoom(this.count);
    this.count += 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.count -= 1;
    };
  }
}
