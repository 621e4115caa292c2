import {
  AppendSignal,
  chainBodyParts,
  DEFAULT_EVENT_STORE_LIMITS,
  DuplicateEventIdError,
  EventStoreError,
  EventStoreUnavailableError,
  EventStoreValidationError,
  parseStreamName,
  pollingSubscription,
  prepareAppend,
  validateReadAll,
  validateReadStream,
  WrongExpectedVersionError,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type EventStoreLimits,
  type ExpectedState,
  type JsonObject,
  type NewEvent,
  type PreparedWrite,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamWrite,
  type SubscribeToAllOptions,
} from '@ledger/event-store';
import type { Pool, PoolClient } from 'pg';
import {
  assertSchemaName,
  EVENTS_PER_TRANSACTION_LIMIT,
  POSITION_SHIFT,
  TOO_MANY_EVENTS_IN_TRANSACTION_SQLSTATE,
  WRONG_EXPECTED_VERSION_SQLSTATE,
} from './postgres-schema';

export interface PostgresEventStoreOptions {
  readonly pool: Pool;
  /** PostgreSQL schema holding the store's tables; run migrateEventStore on it first. */
  readonly schema: string;
  readonly limits?: EventStoreLimits;
  /** How often a caught-up subscription looks for events appended by other processes. */
  readonly pollIntervalMs?: number;
  /**
   * Test seam: runs inside the append transaction after the streams are locked and the events
   * inserted, just before COMMIT. Lets tests hold a transaction open to force out-of-order commits.
   */
  readonly beforeCommit?: (streamIds: readonly string[]) => Promise<void>;
}

interface EventRow {
  position: string;
  event_id: string;
  stream_id: string;
  revision: string;
  type: string;
  data: JsonObject;
  metadata: EventMetadata;
  hash: string;
  recorded_at: Date;
}

const EVENT_COLUMNS = 'position, event_id, stream_id, revision, type, data, metadata, hash, recorded_at';
const UNIQUE_VIOLATION = '23505';
const DEFAULT_POLL_INTERVAL_MS = 50;

/**
 * PostgreSQL event store (ADR 0002).
 *
 * Appends: one statement per request, the `append_to_streams` function (migration 2). It locks
 * or creates the heads of all touched streams in sorted order (so concurrent appends never
 * deadlock), checks every expectation against the locked heads, then writes the events, their
 * hash chain and the new heads.
 *
 * Global order: an event's position is its transaction id × 2^16 + its index. Readers only return
 * events whose transaction id is below the oldest transaction still running (the snapshot's
 * xmin): such transactions have all ended, so no event can later appear below what a reader has
 * seen, however transactions interleave their commits.
 */
export class PostgresEventStore implements EventStore {
  private readonly limits: EventStoreLimits;
  private readonly appendSignal = new AppendSignal();
  private readonly s: string;

  constructor(private readonly options: PostgresEventStoreOptions) {
    assertSchemaName(options.schema);
    this.s = options.schema;
    this.limits = options.limits ?? DEFAULT_EVENT_STORE_LIMITS;
    if (this.limits.maxEventsPerAppend > EVENTS_PER_TRANSACTION_LIMIT) {
      throw new RangeError(`maxEventsPerAppend may not exceed ${EVENTS_PER_TRANSACTION_LIMIT} (positions reserve 16 bits per transaction)`);
    }
  }

  appendToStream(
    streamId: string,
    events: readonly NewEvent[],
    options: { readonly expectedState: ExpectedState },
  ): Promise<AppendResult> {
    return this.appendToStreams([{ streamId, events, expectedState: options?.expectedState }]);
  }

  async appendToStreams(writes: readonly StreamWrite[]): Promise<AppendResult> {
    const prepared = prepareAppend(writes, this.limits);
    const statement = appendStatement(this.s, prepared);
    let rows: AppendRow[];
    if (!this.options.beforeCommit) {
      // One statement in autocommit: one round trip, one transaction.
      rows = await this.query<AppendRow>(statement.text, statement.values, prepared);
    } else {
      rows = await this.appendHoldingCommit(statement, prepared, this.options.beforeCommit);
    }
    this.appendSignal.notify();
    const streams = rows.map((row) => ({
      streamId: row.r_stream_id,
      nextExpectedRevision: BigInt(row.r_revision),
      position: BigInt(row.r_position),
    }));
    return { position: streams.reduce((max, s) => (s.position > max ? s.position : max), 0n), streams };
  }

  /** The test seam's path: the same statement inside an explicit transaction held open before COMMIT. */
  private async appendHoldingCommit(
    statement: { text: string; values: unknown[] },
    prepared: readonly PreparedWrite[],
    beforeCommit: NonNullable<PostgresEventStoreOptions['beforeCommit']>,
  ): Promise<AppendRow[]> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<AppendRow>(statement.text, statement.values);
        await beforeCommit(prepared.map((write) => write.streamId));
        await client.query('COMMIT');
        return rows;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } catch (error) {
      throw translateError(error, prepared);
    } finally {
      client.release();
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions): Promise<readonly RecordedEvent[]> {
    parseStreamName(streamId);
    validateReadStream(options, this.limits);
    const forwards = options.direction === 'forwards';
    const from = options.fromRevision ?? (forwards ? 0n : 2n ** 62n);
    const rows = await this.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.s}.events
        WHERE stream_id = $1 AND revision ${forwards ? '>=' : '<='} $2
        ORDER BY revision ${forwards ? 'ASC' : 'DESC'} LIMIT $3`,
      [streamId, from.toString(), options.maxCount],
    );
    return rows.map(toRecordedEvent);
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
    validateReadAll(options, this.limits);
    const conditions = ['e.position > $1', 'e.position < h.horizon'];
    const parameters: unknown[] = [options.fromPosition.toString(), options.maxCount];
    if (options.filter?.categories) {
      parameters.push(options.filter.categories);
      conditions.push(`e.category = ANY($${parameters.length}::text[])`);
    }
    if (options.filter?.eventTypes) {
      parameters.push(options.filter.eventTypes);
      conditions.push(`e.type = ANY($${parameters.length}::text[])`);
    }
    // One statement, one snapshot: the horizon and the rows below it are read together.
    const rows = await this.query<EventRow & { horizon: string }>(
      `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint * ${POSITION_SHIFT} AS horizon)
       SELECT h.horizon::text AS horizon, e.* FROM h LEFT JOIN LATERAL (
         SELECT e.position::text, e.event_id, e.stream_id, e.revision::text, e.type, e.data, e.metadata, e.hash, e.recorded_at
           FROM ${this.s}.events e WHERE ${conditions.join(' AND ')}
          ORDER BY e.position LIMIT $2
       ) e ON true`,
      parameters,
    );
    const horizon = BigInt((rows[0] as { horizon: string }).horizon);
    const events = rows.filter((row) => row.position !== null).map(toRecordedEvent);
    const isEndOfBatch = events.length === options.maxCount;
    const lastScanned = isEndOfBatch ? (events[events.length - 1] as RecordedEvent).position : horizon - 1n;
    return { events, checkpoint: lastScanned > options.fromPosition ? lastScanned : options.fromPosition, isEndOfBatch };
  }

  subscribeToAll(options: SubscribeToAllOptions): AsyncIterable<RecordedEvent> {
    validateReadAll(
      { fromPosition: options.fromPosition, maxCount: options.batchSize ?? 1, ...(options.filter ? { filter: options.filter } : {}) },
      this.limits,
    );
    return pollingSubscription((o) => this.readAll(o), this.appendSignal, options, this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
  }

  /** Wakes local subscriptions so they end; the pool belongs to the caller. */
  async close(): Promise<void> {
    this.appendSignal.notify();
  }

  private async connect(): Promise<PoolClient> {
    try {
      return await this.options.pool.connect();
    } catch (error) {
      throw new EventStoreUnavailableError('Cannot connect to PostgreSQL', { cause: error });
    }
  }

  private async query<Row extends object>(sql: string, parameters: unknown[], prepared?: readonly PreparedWrite[]): Promise<Row[]> {
    try {
      const result = await this.options.pool.query<Row>(sql, parameters);
      return result.rows;
    } catch (error) {
      throw translateError(error, prepared);
    }
  }
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    streamId: row.stream_id,
    revision: BigInt(row.revision),
    position: BigInt(row.position),
    recordedAt: row.recorded_at,
    hash: row.hash,
  };
}

interface AppendRow {
  r_stream_id: string;
  r_revision: string;
  r_position: string;
}

/** The append_to_streams call (migration 2) for a validated request: flat arrays, one per column. */
function appendStatement(schema: string, prepared: readonly PreparedWrite[]): { text: string; values: unknown[] } {
  const ids: string[] = [];
  const types: string[] = [];
  const data: string[] = [];
  const metadata: string[] = [];
  const before: string[] = [];
  const after: string[] = [];
  for (const write of prepared) {
    for (const event of write.events) {
      const parts = chainBodyParts({ ...event, streamId: write.streamId });
      ids.push(event.id);
      types.push(event.type);
      data.push(event.dataJson);
      metadata.push(event.metadataJson);
      before.push(parts.beforeRevision);
      after.push(parts.afterRevision);
    }
  }
  return {
    text: `SELECT r_stream_id, r_revision::text, r_position::text FROM ${schema}.append_to_streams(
             $1::text[], $2::text[], $3::text[], $4::int[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[], $9::text[], $10::text[])`,
    values: [
      prepared.map((write) => write.streamId),
      prepared.map((write) => write.category),
      prepared.map((write) => (typeof write.expectedState === 'bigint' ? write.expectedState.toString() : write.expectedState)),
      prepared.map((write) => write.events.length),
      ids,
      types,
      data,
      metadata,
      before,
      after,
    ],
  };
}

/**
 * Kernel errors pass through; the append function's conflict becomes WrongExpectedVersionError
 * (with the caller's own expectation), a duplicate event id gets its own error, anything else is
 * "unavailable".
 */
function translateError(error: unknown, prepared?: readonly PreparedWrite[]): Error {
  if (error instanceof EventStoreError) return error;
  const sqlState = (error as { code?: string }).code;
  if (sqlState === WRONG_EXPECTED_VERSION_SQLSTATE && prepared) {
    const detail = JSON.parse((error as { detail?: string }).detail ?? '{}') as { streamId: string; actual: string };
    const write = prepared.find((w) => w.streamId === detail.streamId);
    if (write) return new WrongExpectedVersionError(write.streamId, write.expectedState, detail.actual === 'no_stream' ? 'no_stream' : BigInt(detail.actual));
  }
  if (sqlState === TOO_MANY_EVENTS_IN_TRANSACTION_SQLSTATE) {
    return new EventStoreValidationError('TOO_MANY_EVENTS', `A PostgreSQL transaction may hold at most ${EVENTS_PER_TRANSACTION_LIMIT} events`);
  }
  const pgError = error as { code?: string; constraint?: string; detail?: string };
  if (pgError.code === UNIQUE_VIOLATION && pgError.constraint?.endsWith('event_id_key')) {
    const id = /\(event_id\)=\(([^)]+)\)/.exec(pgError.detail ?? '')?.[1] ?? 'unknown';
    return new DuplicateEventIdError(id);
  }
  return new EventStoreUnavailableError(`PostgreSQL event store failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}
