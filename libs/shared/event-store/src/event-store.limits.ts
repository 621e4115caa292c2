/** Every bound the store enforces, with its unit in the name. One object, passed explicitly. */
export interface EventStoreLimits {
  /** Bytes of one event's canonical JSON (data + metadata + type). */
  readonly maxEventBytes: number;
  /** Events in one append request, summed over all its streams. */
  readonly maxEventsPerAppend: number;
  /** Streams in one atomic multi-stream append. */
  readonly maxStreamsPerAppend: number;
  /** Requests (each an independent append) in one appendBatch call. */
  readonly maxRequestsPerBatch: number;
  /**
   * Events in one appendBatch call, summed over all its requests. PostgreSQL additionally caps a
   * transaction at 65,536 events (EVENTS_PER_TRANSACTION_LIMIT), counting earlier appends in it.
   */
  readonly maxEventsPerBatch: number;
  /** Events one read may return. */
  readonly maxReadCount: number;
}

export const DEFAULT_EVENT_STORE_LIMITS: EventStoreLimits = Object.freeze({
  maxEventBytes: 256 * 1024,
  maxEventsPerAppend: 1_000,
  maxStreamsPerAppend: 64,
  maxRequestsPerBatch: 1_024,
  maxEventsPerBatch: 8_192,
  maxReadCount: 4_096,
});
