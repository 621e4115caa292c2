import { jsonEvent, type AppendStreamRequest, type EventData } from '@kurrent/kurrentdb-client';
import {
  AppendSignal,
  chainHash,
  DEFAULT_EVENT_STORE_LIMITS,
  DuplicateEventIdError,
  EventStoreUnavailableError,
  EventStoreValidationError,
  expectationHolds,
  GENESIS_HASH,
  matchesFilter,
  parseStreamName,
  eventsOf,
  pollingBatches,
  prepareAppend,
  prepareBatch,
  validateReadAll,
  validateReadStream,
  WrongExpectedVersionError,
  type AppendBatchOutcome,
  type AppendResult,
  type EventStore,
  type EventStoreLimits,
  type ExpectedState,
  type PreparedWrite,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamAppendResult,
  type StreamState,
  type StreamWrite,
  type SubscribeToAllOptions,
} from '@ledger/event-store';
import { createKurrentDbDriver, DEFAULT_KURRENTDB_DEADLINE_MS, type KurrentDbDriver } from './kurrentdb-driver';
import { bounded, readAllEvents, readStreamEvents, type CallDeadlines, type StreamReadRequest } from './kurrentdb-calls';
import { conflictOf, mayBeInvalidPosition, translateDriverError } from './kurrentdb-errors';
import {
  caseInsensitiveDuplicate,
  describeRecord,
  encodeMetadata,
  eventIdGuardStream,
  eventIdOfGuardStream,
  hashOf,
  isLedgerStream,
  revisionAfter,
  toGlobalPosition,
  toReadAllStart,
  toRecordedEvent,
  type DriverEventRecord,
  type DriverPosition,
} from './kurrentdb-mapping';

/**
 * Attempts of one append whose expectation is 'any' or 'stream_exists' when another writer moves
 * a stream between the adapter's head read and its append. Exact revisions and 'no_stream' never
 * retry: a conflict there is the caller's WrongExpectedVersionError.
 */
export const MAX_APPEND_ATTEMPTS = 32;
/** Upper bound of the random pause between two attempts, in milliseconds. */
export const APPEND_RETRY_BACKOFF_MAX_MS = 20;
/** Subscriptions poll readAll this often when idle (local appends wake them at once). */
export const DEFAULT_POLL_INTERVAL_MS = 100;
/** Smallest $all page read when a filter is given (a selective filter would otherwise mean many tiny reads). */
export const READ_ALL_MIN_PAGE_EVENTS = 256;
/** Events one readAll call may scan (matching or not) before it returns with isEndOfBatch. */
export const READ_ALL_SCAN_BUDGET_EVENTS = 16_384;
/** Events of $all searched backwards for a start when fromPosition is not the position of an event. */
export const READ_ALL_SEEK_MAX_EVENTS = 1_000_000;
/** Page size of that backwards search. */
export const READ_ALL_SEEK_PAGE_EVENTS = 1_024;

/** Event type of the marker written to an event id's guard stream. */
export const EVENT_ID_CLAIMED_TYPE = 'EventIdClaimed';

export interface KurrentDbEventStoreOptions {
  readonly driver: KurrentDbDriver;
  /** close() disposes the driver. Default true. */
  readonly ownsDriver?: boolean;
  readonly limits?: EventStoreLimits;
  /** The driver's gRPC deadline, in milliseconds; also bounds every call locally. */
  readonly deadlineMs?: number;
  readonly pollIntervalMs?: number;
  /**
   * Refuse caller-supplied event ids already in the log (DuplicateEventIdError), as the port
   * requires, by claiming each in a guard stream in the same atomic append. Default true.
   */
  readonly enforceUniqueEventIds?: boolean;
}

export type KurrentDbConnectOptions = Omit<KurrentDbEventStoreOptions, 'driver' | 'ownsDriver'>;

interface StreamHead {
  readonly state: StreamState;
  /** Hash of the stream's last event; GENESIS_HASH when the stream does not exist. */
  readonly hash: string;
}

interface PlannedWrite {
  readonly write: PreparedWrite;
  readonly head: StreamHead;
  readonly events: EventData[];
  readonly lastRevision: bigint;
  readonly lastEventId: string;
}

/**
 * The EventStore port on KurrentDB (server 25.1+ for atomic multi-stream appends), with
 * @kurrent/kurrentdb-client. A thin mapping: every decision the port leaves to adapters is in
 * README.md, and every request is validated by the kernel's shared helpers first.
 */
export class KurrentDbEventStore implements EventStore {
  private readonly driver: KurrentDbDriver;
  private readonly limits: EventStoreLimits;
  private readonly deadlineMs: number;
  private readonly pollIntervalMs: number;
  private readonly enforceUniqueEventIds: boolean;
  private readonly ownsDriver: boolean;
  private readonly appendSignal = new AppendSignal();
  private readonly closing = new AbortController();

  constructor(options: KurrentDbEventStoreOptions) {
    this.driver = options.driver;
    this.ownsDriver = options.ownsDriver ?? true;
    this.limits = options.limits ?? DEFAULT_EVENT_STORE_LIMITS;
    this.deadlineMs = options.deadlineMs ?? DEFAULT_KURRENTDB_DEADLINE_MS;
    this.pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.enforceUniqueEventIds = options.enforceUniqueEventIds ?? true;
  }

  /** Connects to `kurrentdb://…` with the adapter's explicit client options; close() disposes the client. */
  static connect(connectionString: string, options: KurrentDbConnectOptions = {}): KurrentDbEventStore {
    const deadlineMs = options.deadlineMs ?? DEFAULT_KURRENTDB_DEADLINE_MS;
    const driver = createKurrentDbDriver(connectionString, { deadlineMs });
    return new KurrentDbEventStore({ ...options, deadlineMs, driver, ownsDriver: true });
  }

  // -------------------------------------------------------------------------------------------
  // Appends

  async appendToStream(
    streamId: string,
    events: StreamWrite['events'],
    options: { readonly expectedState: ExpectedState },
  ): Promise<AppendResult> {
    return this.appendToStreams([{ streamId, events, expectedState: options?.expectedState }]);
  }

  async appendToStreams(writes: readonly StreamWrite[]): Promise<AppendResult> {
    const prepared = prepareAppend(writes, this.limits);
    assertNoCaseClash(prepared);
    return this.appendPrepared(writes, prepared);
  }

  /**
   * KurrentDB has no transaction spanning several appends, so a batch is appended one request
   * after the other, in order: each request is still atomic (one v1 or v2 append), and each is
   * decided against the streams as the requests before it left them. Every request is validated
   * before the first is written. A conflict or a taken event id skips the request with its error;
   * any other failure stops the batch and is thrown, with the requests before it already written.
   */
  async appendBatch(requests: readonly (readonly StreamWrite[])[]): Promise<readonly AppendBatchOutcome[]> {
    const prepared = prepareBatch(requests, this.limits);
    prepared.forEach((request, requestIndex) => {
      try {
        assertNoCaseClash(request);
      } catch (error) {
        const e = error as EventStoreValidationError;
        throw new EventStoreValidationError(e.code, `Batch request ${requestIndex}: ${e.message}`, { ...e.details, requestIndex });
      }
    });
    const outcomes: AppendBatchOutcome[] = [];
    for (const [index, request] of prepared.entries()) {
      try {
        outcomes.push({ ok: true, result: await this.appendPrepared(requests[index] as readonly StreamWrite[], request) });
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) && !(error instanceof DuplicateEventIdError)) throw error;
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  }

  /** One validated request, atomically: read the heads, check, chain, append; retry as documented. */
  private async appendPrepared(writes: readonly StreamWrite[], prepared: readonly PreparedWrite[]): Promise<AppendResult> {
    this.assertOpen();
    const claimedIds = this.enforceUniqueEventIds ? callerSuppliedIds(writes, prepared) : [];
    let lastConflict: { write: PreparedWrite; actual: StreamState } | undefined;
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt += 1) {
      if (attempt > 1) await pause(Math.floor(Math.random() * Math.min(APPEND_RETRY_BACKOFF_MAX_MS, 2 ** attempt)));
      const heads = await Promise.all(prepared.map((write) => this.readHead(write.streamId)));
      assertExpectations(prepared, heads);
      const planned = prepared.map((write, index) => plan(write, heads[index] as StreamHead));
      try {
        await this.commit(planned, claimedIds);
      } catch (error) {
        const conflict = conflictOf(error);
        if (!conflict) throw translateDriverError(error, 'append');
        const claimed = eventIdOfGuardStream(conflict.streamName);
        if (claimed !== undefined) {
          // The id is taken. A failing expectation is reported first, as every adapter does.
          assertExpectations(prepared, await Promise.all(prepared.map((write) => this.readHead(write.streamId))));
          throw new DuplicateEventIdError(claimed);
        }
        const write = prepared.find((w) => w.streamId === conflict.streamName);
        if (!write) throw translateDriverError(error, 'append');
        const strict = write.expectedState !== 'any' && write.expectedState !== 'stream_exists';
        if (strict && prepared.length === 1 && conflict.actual !== undefined) {
          throw new WrongExpectedVersionError(write.streamId, write.expectedState, conflict.actual);
        }
        // Otherwise the next attempt re-reads every head: a strict expectation then fails with the
        // stream named in request order; 'any' and 'stream_exists' append on the new head.
        lastConflict = { write, actual: conflict.actual ?? 'no_stream' };
        continue;
      }
      this.appendSignal.notify();
      return this.resultOf(planned);
    }
    const { write, actual } = lastConflict as { write: PreparedWrite; actual: StreamState };
    throw new WrongExpectedVersionError(write.streamId, write.expectedState, actual);
  }

  /** One atomic write of the planned events: v1 append for one stream, else a v2 append session. */
  private async commit(planned: readonly PlannedWrite[], claimedIds: readonly string[]): Promise<void> {
    const [only] = planned;
    if (planned.length === 1 && claimedIds.length === 0 && only) {
      const result = await bounded(
        this.driver.appendToStream(only.write.streamId, only.events, {
          streamState: only.head.state,
          deadline: this.deadlineMs,
          requiresLeader: true,
        }),
        this.deadlines,
        'append',
      );
      if (!result.success) {
        // Only when throwOnAppendFailure is off: the same conflict, reported as a value.
        throw { type: 'wrong-expected-version', streamName: only.write.streamId, actualState: result.nextExpectedRevision };
      }
      return;
    }
    const streamOfId = new Map<string, string>();
    for (const { write } of planned) for (const event of write.events) streamOfId.set(event.id, write.streamId);
    const requests: AppendStreamRequest[] = [
      ...planned.map((p) => ({ streamName: p.write.streamId, events: p.events, expectedState: p.head.state })),
      ...claimedIds.map((id) => ({
        streamName: eventIdGuardStream(id),
        events: [jsonEvent({ type: EVENT_ID_CLAIMED_TYPE, data: { eventId: id, streamId: streamOfId.get(id) ?? '' } })],
        expectedState: 'no_stream' as const,
      })),
    ];
    await bounded(this.driver.multiStreamAppend(requests), this.deadlines, 'multi-stream append');
  }

  /**
   * Positions of what was just written, read back from each stream's last written event: neither
   * append API reports every stream's position, so this is the one exact source.
   */
  private async resultOf(planned: readonly PlannedWrite[]): Promise<AppendResult> {
    const streams = await Promise.all(
      planned.map(async (p): Promise<StreamAppendResult> => {
        const [last] = await this.readRawStream(
          p.write.streamId,
          { direction: 'backwards', fromRevision: p.lastRevision, maxCount: 1 },
          'append (reading back its position)',
        );
        if (!last || last.id !== p.lastEventId || last.revision !== p.lastRevision) {
          throw new EventStoreUnavailableError(
            `The append to '${p.write.streamId}' committed, but revision ${p.lastRevision} read back as ${last ? describeRecord(last) : 'nothing'}`,
          );
        }
        return { streamId: p.write.streamId, nextExpectedRevision: p.lastRevision, position: toGlobalPosition(last.position, describeRecord(last)) };
      }),
    );
    const position = streams.reduce((max, s) => (s.position > max ? s.position : max), 0n);
    return { position, streams };
  }

  private async readHead(streamId: string): Promise<StreamHead> {
    const [last] = await this.readRawStream(streamId, { direction: 'backwards', fromRevision: 'end', maxCount: 1 }, 'append (reading the stream head)');
    return last ? { state: last.revision, hash: hashOf(last.metadata, describeRecord(last)) } : { state: 'no_stream', hash: GENESIS_HASH };
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  async readStream(streamId: string, options: ReadStreamOptions): Promise<readonly RecordedEvent[]> {
    parseStreamName(streamId);
    validateReadStream(options, this.limits);
    this.assertOpen();
    const forwards = options.direction === 'forwards';
    const raw = await this.readRawStream(
      streamId,
      {
        direction: forwards ? 'forwards' : 'backwards',
        fromRevision: options.fromRevision ?? (forwards ? 'start' : 'end'),
        maxCount: options.maxCount,
      },
      'readStream',
    );
    return raw.map((event) => toRecordedEvent(event));
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
    validateReadAll(options, this.limits);
    this.assertOpen();
    const { fromPosition, maxCount, filter } = options;
    const pageSize = filter ? Math.max(maxCount + 1, READ_ALL_MIN_PAGE_EVENTS) : maxCount + 1;
    const events: RecordedEvent[] = [];
    let checkpoint = fromPosition;
    let scanned = 0;
    let page = await this.firstReadAllPage(fromPosition, pageSize);
    for (;;) {
      let fresh = 0;
      for (const raw of page) {
        const position = toGlobalPosition(raw.position, describeRecord(raw));
        if (position <= checkpoint) continue; // the inclusive start of the page, or before fromPosition
        fresh += 1;
        scanned += 1;
        checkpoint = position;
        if (isLedgerStream(raw.streamId) && matchesFilter(raw, filter)) {
          events.push(toRecordedEvent(raw));
          if (events.length === maxCount) return { events, checkpoint, isEndOfBatch: true };
        }
      }
      if (page.length < pageSize) return { events, checkpoint, isEndOfBatch: false };
      if (fresh === 0) throw new EventStoreUnavailableError(`KurrentDB readAll made no progress at position ${checkpoint}`);
      if (scanned >= READ_ALL_SCAN_BUDGET_EVENTS) return { events, checkpoint, isEndOfBatch: true };
      page = await this.readRawAll({ commit: checkpoint, prepare: checkpoint }, pageSize);
    }
  }

  /**
   * KurrentDB reads $all only from the position of a record. Every position this adapter hands
   * out is one; any other value (a caller's arithmetic, another store's checkpoint) is refused by
   * the server, and the read then starts from the last event at or before it, found backwards.
   */
  private async firstReadAllPage(fromPosition: bigint, pageSize: number): Promise<DriverEventRecord[]> {
    try {
      return await this.readRawAll(toReadAllStart(fromPosition), pageSize);
    } catch (error) {
      if (fromPosition === 0n || !(error instanceof EventStoreUnavailableError) || !mayBeInvalidPosition(error.cause)) throw error;
      const start = await this.seekEventAtOrBefore(fromPosition, error);
      return this.readRawAll(start, pageSize);
    }
  }

  private async seekEventAtOrBefore(position: bigint, original: EventStoreUnavailableError): Promise<'start' | DriverPosition> {
    let cursor: 'end' | DriverPosition = 'end';
    for (let searched = 0; searched < READ_ALL_SEEK_MAX_EVENTS; searched += READ_ALL_SEEK_PAGE_EVENTS) {
      const page = await this.readRawAll(cursor, READ_ALL_SEEK_PAGE_EVENTS, 'backwards');
      for (const raw of page) {
        const at = toGlobalPosition(raw.position, describeRecord(raw));
        if (at <= position) return { commit: at, prepare: at };
      }
      const last = page[page.length - 1];
      if (!last || page.length < READ_ALL_SEEK_PAGE_EVENTS) return 'start';
      cursor = { commit: toGlobalPosition(last.position, describeRecord(last)), prepare: toGlobalPosition(last.position, describeRecord(last)) };
    }
    throw new EventStoreValidationError(
      'INVALID_READ_REQUEST',
      `fromPosition ${position} is not the position of an event and lies more than ${READ_ALL_SEEK_MAX_EVENTS} events back: ${original.message}`,
    );
  }

  subscribeToAll(options: SubscribeToAllOptions): AsyncIterable<RecordedEvent> {
    return eventsOf(this.subscribeToAllBatches(options), options?.signal);
  }

  subscribeToAllBatches(options: SubscribeToAllOptions): AsyncIterable<ReadAllResult> {
    validateReadAll(
      { fromPosition: options?.fromPosition, maxCount: options?.batchSize ?? 1, ...(options?.filter ? { filter: options.filter } : {}) },
      this.limits,
    );
    this.assertOpen();
    return this.batchSubscription(options);
  }

  private async *batchSubscription(options: SubscribeToAllOptions): AsyncGenerator<ReadAllResult> {
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    try {
      yield* pollingBatches((o) => this.readAll(o), this.appendSignal, { ...options, signal }, this.pollIntervalMs);
    } catch (error) {
      if (this.closing.signal.aborted) return; // close() ends open subscriptions without error
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    this.appendSignal.notify();
    if (this.ownsDriver) await this.driver.dispose();
  }

  // -------------------------------------------------------------------------------------------
  // Driver calls: bounded, translated (kurrentdb-calls.ts)

  private assertOpen(): void {
    if (this.closing.signal.aborted) throw new EventStoreUnavailableError('The KurrentDB event store is closed');
  }

  private get deadlines(): CallDeadlines {
    return { deadlineMs: this.deadlineMs };
  }

  private readRawStream(streamId: string, request: StreamReadRequest, operation: string): Promise<DriverEventRecord[]> {
    return readStreamEvents(this.driver, streamId, request, this.deadlines, operation);
  }

  private readRawAll(
    fromPosition: 'start' | 'end' | DriverPosition,
    maxCount: number,
    direction: 'forwards' | 'backwards' = 'forwards',
  ): Promise<DriverEventRecord[]> {
    return readAllEvents(this.driver, { fromPosition, maxCount, direction }, this.deadlines);
  }
}

/** KurrentDB's append session compares stream names ignoring case: such a request is refused up front. */
function assertNoCaseClash(prepared: readonly PreparedWrite[]): void {
  const clash = caseInsensitiveDuplicate(prepared.map((write) => write.streamId));
  if (clash) {
    throw new EventStoreValidationError(
      'DUPLICATE_STREAM_IN_APPEND',
      `Streams '${clash[0]}' and '${clash[1]}' differ only in case; KurrentDB cannot append to both in one atomic append`,
      { streamId: clash[1] },
    );
  }
}

/** Stops at the first stream (in request order) whose expectation does not hold. */
function assertExpectations(prepared: readonly PreparedWrite[], heads: readonly StreamHead[]): void {
  prepared.forEach((write, index) => {
    const actual = (heads[index] as StreamHead).state;
    if (!expectationHolds(write.expectedState, actual)) throw new WrongExpectedVersionError(write.streamId, write.expectedState, actual);
  });
}

/** The events of one stream with revisions and hashes chained onto the head that was read. */
function plan(write: PreparedWrite, head: StreamHead): PlannedWrite {
  let previous = head.hash;
  const events = write.events.map((event, index) => {
    const revision = revisionAfter(head.state, index);
    const hash = chainHash(previous, { streamId: write.streamId, revision, id: event.id, type: event.type, data: event.data, metadata: event.metadata });
    previous = hash;
    // prepareAppend guarantees a plain JSON object; the driver serialises it with JSON.stringify.
    const data = event.data as Record<string, unknown>;
    return jsonEvent({ id: event.id, type: event.type, data, metadata: encodeMetadata(event.metadata, hash) });
  });
  const count = write.events.length;
  return {
    write,
    head,
    events,
    lastRevision: revisionAfter(head.state, count - 1),
    lastEventId: (write.events[count - 1] as PreparedWrite['events'][number]).id,
  };
}

/** Ids the caller chose. Ids prepareAppend generated are random v4 UUIDs and need no guard. */
function callerSuppliedIds(writes: readonly StreamWrite[], prepared: readonly PreparedWrite[]): string[] {
  return prepared.flatMap((write, i) => write.events.filter((_, j) => writes[i]?.events[j]?.id !== undefined).map((event) => event.id));
}

function pause(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));
}
