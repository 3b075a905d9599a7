/**
 * One run at a time per key (session id). Waiters queue in order; a key with no holder and no
 * waiter costs nothing, so idle sessions hold no memory here. A waiter whose signal aborts leaves
 * the line at once, and its turn passes straight to the one behind it.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await task();
    } finally {
      release();
    }
  }

  /**
   * Waits for the key and returns its release function (call it exactly once). Rejects with the
   * signal's reason when `signal` aborts first; the key is then not held.
   */
  async acquire(key: string, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    const previous = this.tails.get(key) ?? Promise.resolve();
    let unlock!: () => void;
    const current = new Promise<void>((resolve) => (unlock = resolve));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    const release = (): void => {
      unlock();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
    if (signal === undefined) {
      await previous;
      return release;
    }
    let onAbort!: () => void;
    const abandoned = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([previous, abandoned]);
      return release;
    } catch (error) {
      // Given up while waiting: the turn passes through (the one behind waits only for `previous`).
      unlock();
      void tail.then(() => {
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
      throw error;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  isBusy(key: string): boolean {
    return this.tails.has(key);
  }
}
