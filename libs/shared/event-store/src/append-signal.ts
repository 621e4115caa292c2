/**
 * Wakes local subscribers when this process appends, so they need not wait a whole poll interval.
 * A version counter closes the race between "read found nothing" and "start waiting": a waiter
 * passes the version it saw before reading and returns at once if an append happened since.
 */
export class AppendSignal {
  private currentVersion = 0;
  private waiters = new Set<() => void>();

  get version(): number {
    return this.currentVersion;
  }

  notify(): void {
    this.currentVersion += 1;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves on an append after `seenVersion`, after `timeoutMs`, or when `signal` aborts. */
  waitForChange(seenVersion: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.currentVersion !== seenVersion || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
