/**
 * The calls under way in each session, waiting or running, each with the controller that stops it:
 * closing a session stops them, so that its running container is killed instead of waited for.
 */
export class SessionRuns {
  private readonly bySession = new Map<string, Set<AbortController>>();

  add(sessionId: string, stop: AbortController): void {
    const calls = this.bySession.get(sessionId) ?? new Set<AbortController>();
    calls.add(stop);
    this.bySession.set(sessionId, calls);
  }

  delete(sessionId: string, stop: AbortController): void {
    const calls = this.bySession.get(sessionId);
    if (calls === undefined) return;
    calls.delete(stop);
    if (calls.size === 0) this.bySession.delete(sessionId);
  }

  /** Aborts every call under way in the session with `reason`. */
  stopAll(sessionId: string, reason: Error): void {
    for (const stop of this.bySession.get(sessionId) ?? []) stop.abort(reason);
  }
}
