import { RateLimitedError } from '@ledger/errors';
import { readModelNotCaughtUp } from './query.errors';

export interface WatermarkWaiterOptions {
  /** Reads the live projection's watermark (WalletReadModelStore.currentWatermark). */
  readonly readWatermark: () => Promise<bigint>;
  /** Longest pause between two polls (QUERY_POLL_MAX_INTERVAL_MS). */
  readonly pollMaxIntervalMs: number;
  /** Waiting queries at once; beyond it a query is refused TOO_MANY_WAITING_QUERIES (429). */
  readonly maxWaiters: number;
}

/** The first pause after progress: short, because a projector applies a batch in milliseconds. */
const POLL_MIN_INTERVAL_MS = 5;

interface Waiter {
  readonly target: bigint;
  settle(watermark: bigint): void;
}

/**
 * Read-your-writes waits (`minPosition`), without busy-spinning: ONE poll loop per process serves
 * every waiting query, so the database sees at most one watermark read per interval however many
 * queries wait. The interval starts at 5 ms, resets whenever the watermark moves, and doubles up
 * to QUERY_POLL_MAX_INTERVAL_MS while it stands still. The loop stops when nobody waits.
 *
 * Polling rather than LISTEN/NOTIFY: it needs nothing from the projector (which may run in
 * another process and commits its watermark with its effects), no dedicated connection per
 * replica, and loses nothing when a notification would have been missed; the price is at most one
 * poll interval of extra latency.
 */
export class WatermarkWaiter {
  private readonly waiters = new Set<Waiter>();
  private polling = false;
  private lastSeen = 0n;

  constructor(private readonly options: WatermarkWaiterOptions) {
    if (!Number.isSafeInteger(options.pollMaxIntervalMs) || options.pollMaxIntervalMs < POLL_MIN_INTERVAL_MS) {
      throw new RangeError(`pollMaxIntervalMs must be an integer ≥ ${POLL_MIN_INTERVAL_MS}`);
    }
    if (!Number.isSafeInteger(options.maxWaiters) || options.maxWaiters < 1) throw new RangeError('maxWaiters must be a positive integer');
  }

  /** Queries waiting right now (for tests and metrics). */
  get waiting(): number {
    return this.waiters.size;
  }

  /**
   * Resolves with a watermark ≥ `target` once the projection reaches it. `observed` is the
   * watermark the caller saw last (named in the timeout error if no poll saw a newer one).
   *
   * @throws TimeoutError READ_MODEL_NOT_CAUGHT_UP after `timeoutMs`; RateLimitedError
   *   TOO_MANY_WAITING_QUERIES; the signal's reason when it aborts (the caller went away).
   */
  waitFor(target: bigint, timeoutMs: number, options: { signal?: AbortSignal; observed?: bigint } = {}): Promise<bigint> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.waiters.size >= this.options.maxWaiters) {
      return Promise.reject(new RateLimitedError('TOO_MANY_WAITING_QUERIES', 'Too many queries wait for the read models; retry shortly', { limit: this.options.maxWaiters }));
    }
    const started = Date.now();
    return new Promise<bigint>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        target,
        settle: (watermark) => {
          finish();
          resolve(watermark);
        },
      };
      const timer = setTimeout(() => {
        finish();
        const seen = options.observed !== undefined && options.observed > this.lastSeen ? options.observed : this.lastSeen;
        reject(readModelNotCaughtUp(target, seen, Date.now() - started));
      }, Math.max(0, timeoutMs));
      const onAbort = (): void => {
        finish();
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
      void this.poll();
    });
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    let delayMs = POLL_MIN_INTERVAL_MS;
    try {
      while (this.waiters.size > 0) {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        let watermark: bigint;
        try {
          watermark = await this.options.readWatermark();
        } catch {
          // An operating error (database away, projection not ready): the waiters time out with
          // READ_MODEL_NOT_CAUGHT_UP unless a later poll succeeds; poll at the slowest pace meanwhile.
          delayMs = this.options.pollMaxIntervalMs;
          continue;
        }
        const moved = watermark > this.lastSeen;
        this.lastSeen = watermark;
        for (const waiter of [...this.waiters]) if (watermark >= waiter.target) waiter.settle(watermark);
        delayMs = moved ? POLL_MIN_INTERVAL_MS : Math.min(delayMs * 2, this.options.pollMaxIntervalMs);
      }
    } finally {
      this.polling = false;
    }
  }
}
