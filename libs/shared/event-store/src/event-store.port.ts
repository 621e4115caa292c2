import type { NewEvent, RecordedEvent } from './event-envelope';
import type { DuplicateEventIdError, WrongExpectedVersionError } from './event-store.errors';
import type { ExpectedState } from './expected-state';

/** One stream's part of an append. */
export interface StreamWrite {
  readonly streamId: string;
  readonly expectedState: ExpectedState;
  readonly events: readonly NewEvent[];
}

export interface StreamAppendResult {
  readonly streamId: string;
  /** Revision of the last event written to this stream: the expected revision for the next write. */
  readonly nextExpectedRevision: bigint;
  /** Global position of the last event written to this stream. */
  readonly position: bigint;
}

export interface AppendResult {
  /** Global position of the last event of the whole append: what read-your-writes waits for. */
  readonly position: bigint;
  readonly streams: readonly StreamAppendResult[];
}

/**
 * What became of one request of an appendBatch call, at the request's index. A refused request
 * wrote nothing, on any of its streams.
 */
export type AppendBatchOutcome =
  | { readonly ok: true; readonly result: AppendResult }
  | { readonly ok: false; readonly error: WrongExpectedVersionError | DuplicateEventIdError };

export interface ReadStreamOptions {
  readonly direction: 'forwards' | 'backwards';
  /** Inclusive. Defaults to the first revision forwards, the last backwards. */
  readonly fromRevision?: bigint;
  /** 1..limits.maxReadCount. */
  readonly maxCount: number;
}

export interface LogFilter {
  /** Only streams of these categories (the part of the stream name before the first dash). */
  readonly categories?: readonly string[];
  /** Only events of these types. */
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive: events with a greater position. 0n reads from the beginning. */
  readonly fromPosition: bigint;
  /** 1..limits.maxReadCount. */
  readonly maxCount: number;
  readonly filter?: LogFilter;
}

export interface ReadAllResult {
  readonly events: readonly RecordedEvent[];
  /**
   * Every event at or below this position that matches the filter is in `events` or was before
   * `fromPosition`, and no event at or below it can appear later. Resume from here.
   */
  readonly checkpoint: bigint;
  /** True when the read stopped at `maxCount`, so more may already be readable. */
  readonly isEndOfBatch: boolean;
}

export interface SubscribeToAllOptions {
  /** Exclusive, as in readAll: usually the consumer's stored checkpoint. */
  readonly fromPosition: bigint;
  readonly filter?: LogFilter;
  /** Events fetched per read; 1..limits.maxReadCount. */
  readonly batchSize?: number;
  /** Stops the subscription; the iterator then ends without error. */
  readonly signal?: AbortSignal;
}

/**
 * The event store port. Every adapter passes the same contract suite (libs/shared/testing).
 *
 * Errors every method may throw:
 * - EventStoreValidationError (code INVALID_*, EMPTY_APPEND, TOO_MANY_*, EVENT_TOO_LARGE,
 *   EVENT_DATA_NOT_JSON, DUPLICATE_STREAM_IN_APPEND): the request is malformed; nothing written.
 * - EventStoreUnavailableError: the store failed; for appends the outcome is unknown only if the
 *   failure hit the commit itself, which is why every write carries an idempotency key upstream.
 *   For appendBatch the outcome of every request of the call is then unknown.
 */
export interface EventStore {
  /**
   * Appends events to one stream if its state matches `expectedState`.
   * @throws WrongExpectedVersionError (nothing written), DuplicateEventIdError (nothing written)
   */
  appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: { readonly expectedState: ExpectedState },
  ): Promise<AppendResult>;

  /**
   * Appends to several streams in one atomic commit: either every stream's events are written,
   * or none are. Each stream's expectation is checked; the first that fails is reported.
   * @throws WrongExpectedVersionError, DuplicateEventIdError (nothing written on any stream)
   */
  appendToStreams(writes: readonly StreamWrite[]): Promise<AppendResult>;

  /**
   * Independent appends committed together where the adapter can (one transaction in PostgreSQL).
   * Requests are applied in order; each one's expectations are checked against the state left by
   * the requests before it (so a batch may append twice to one stream, the second expecting the
   * first's revision). A request whose expectation fails, or that reuses an existing event id, is
   * skipped with its error and changes nothing; the others are written. Validation errors of any
   * request reject the whole call before anything is written.
   *
   * - Each request is what appendToStreams takes, validated the same way, and is atomic on its own.
   * - Outcomes come back in request order; a written request's result is what appendToStreams
   *   would have returned, and positions increase in request order.
   * - An event id used by several requests of one batch belongs to the first of them that is
   *   written; the later ones are skipped with DuplicateEventIdError.
   * - A refused request reports its first failing expectation (its streams in request order)
   *   before a duplicate id, as appendToStreams does.
   * - Bounds: limits.maxRequestsPerBatch requests (TOO_MANY_REQUESTS_IN_BATCH) and
   *   limits.maxEventsPerBatch events in all (TOO_MANY_EVENTS_IN_BATCH); an empty batch is
   *   EMPTY_APPEND. A validation error about one request carries `details.requestIndex`.
   * - Adapters without multi-request transactions (KurrentDB) append the requests one after the
   *   other; each request is still atomic, and an outage midway leaves earlier ones written.
   */
  appendBatch(requests: readonly (readonly StreamWrite[])[]): Promise<readonly AppendBatchOutcome[]>;

  /** Reads up to maxCount events of one stream. A stream that does not exist reads as empty. */
  readStream(streamId: string, options: ReadStreamOptions): Promise<readonly RecordedEvent[]>;

  /**
   * Reads the global log forwards in position order. Never returns an event while an event with
   * a smaller position may still become visible (a transaction committing late): readers that
   * resume from `checkpoint` never skip anything. The price: a committed event may stay invisible
   * here while an older transaction is still open (PostgreSQL: any writing transaction in the
   * cluster), so the log trails commits by up to the longest concurrent write transaction.
   */
  readAll(options: ReadAllOptions): Promise<ReadAllResult>;

  /**
   * Catch-up subscription: every matching event after `fromPosition`, in position order, then
   * live events as they commit. The consumer persists its own checkpoint (see CheckpointStore).
   */
  subscribeToAll(options: SubscribeToAllOptions): AsyncIterable<RecordedEvent>;

  /**
   * The same subscription one read at a time, each with its checkpoint: for consumers that store
   * how far they have read, not just the last event they handled (the checkpoint moves past
   * events the filter leaves out, so a command's position, which may be another category's
   * event, is reached). Yields only reads that returned events or moved the checkpoint.
   */
  subscribeToAllBatches(options: SubscribeToAllOptions): AsyncIterable<ReadAllResult>;

  /** Releases connections. Open subscriptions end. */
  close(): Promise<void>;
}

/** Where a consumer keeps the last position it has fully handled. */
export interface CheckpointStore {
  /** 0n when the consumer has never stored one. */
  load(consumerId: string): Promise<bigint>;
  /** Never moves a checkpoint backwards: a smaller position is ignored. */
  store(consumerId: string, position: bigint): Promise<void>;
}
