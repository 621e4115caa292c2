import {
  AppendSignal,
  chainHash,
  DEFAULT_EVENT_STORE_LIMITS,
  DuplicateEventIdError,
  EventStoreError,
  EventStoreUnavailableError,
  expectationHolds,
  GENESIS_HASH,
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
  type StreamAppendResult,
  type StreamWrite,
  type SubscribeToAllOptions,
} from '@ledger/event-store';
import type { Pool, PoolClient } from 'pg';
import { assertSchemaName, EVENTS_PER_TRANSACTION_LIMIT, POSITION_SHIFT } from './postgres-schema';

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

interface StreamHeadRow {
  stream_id: string;
  revision: string;
  last_hash: string;
  xid: string;
  now: Date;
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
 * Appends: one transaction per request. The heads of all touched streams are locked in sorted
 * order with one upsert (so concurrent appends never deadlock), every expectation is checked
 * against the locked heads, then the events and the new heads are written in one statement.
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
    const client = await this.connect();
    let result: AppendResult;
    try {
      await client.query('BEGIN');
      try {
        result = await this.appendInTransaction(client, prepared);
        if (this.options.beforeCommit) await this.options.beforeCommit(prepared.map((w) => w.streamId));
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      await client.query('COMMIT');
    } catch (error) {
      throw translateError(error);
    } finally {
      client.release();
    }
    this.appendSignal.notify();
    return result;
  }

  private async appendInTransaction(client: PoolClient, prepared: readonly PreparedWrite[]): Promise<AppendResult> {
    const sortedIds = prepared.map((write) => write.streamId).sort();
    // Locks existing heads and creates missing ones (revision -1) in sorted order.
    const { rows } = await client.query<StreamHeadRow>(
      `INSERT INTO ${this.s}.streams AS st (stream_id, revision, last_hash)
         SELECT id, -1, '' FROM unnest($1::text[]) WITH ORDINALITY AS u(id, ord) ORDER BY ord
       ON CONFLICT (stream_id) DO UPDATE SET revision = st.revision
       RETURNING stream_id, revision::text, last_hash, pg_current_xact_id()::text AS xid, now() AS now`,
      [sortedIds],
    );
    const heads = new Map(rows.map((row) => [row.stream_id, row]));
    const firstRow = rows[0] as StreamHeadRow;
    const basePosition = BigInt(firstRow.xid) * POSITION_SHIFT;
    for (const write of prepared) {
      const head = heads.get(write.streamId) as StreamHeadRow;
      const revision = BigInt(head.revision);
      const actual = revision < 0n ? 'no_stream' : revision;
      if (!expectationHolds(write.expectedState, actual)) {
        throw new WrongExpectedVersionError(write.streamId, write.expectedState, actual);
      }
    }

    const columns = { position: [] as string[], id: [] as string[], stream: [] as string[], revision: [] as string[],
      category: [] as string[], type: [] as string[], data: [] as string[], metadata: [] as string[], hash: [] as string[] };
    const newHeads = { stream: [] as string[], revision: [] as string[], hash: [] as string[] };
    const streams: StreamAppendResult[] = [];
    let index = 0n;
    for (const write of prepared) {
      const head = heads.get(write.streamId) as StreamHeadRow;
      let revision = BigInt(head.revision);
      let previousHash = revision < 0n ? GENESIS_HASH : head.last_hash;
      let position = 0n;
      for (const event of write.events) {
        revision += 1n;
        position = basePosition + index;
        index += 1n;
        previousHash = chainHash(previousHash, { ...event, streamId: write.streamId, revision });
        columns.position.push(position.toString());
        columns.id.push(event.id);
        columns.stream.push(write.streamId);
        columns.revision.push(revision.toString());
        columns.category.push(write.category);
        columns.type.push(event.type);
        columns.data.push(event.dataJson);
        columns.metadata.push(event.metadataJson);
        columns.hash.push(previousHash);
      }
      newHeads.stream.push(write.streamId);
      newHeads.revision.push(revision.toString());
      newHeads.hash.push(previousHash);
      streams.push({ streamId: write.streamId, nextExpectedRevision: revision, position });
    }
    await client.query(
      `WITH inserted AS (
         INSERT INTO ${this.s}.events (position, event_id, stream_id, revision, category, type, data, metadata, hash)
         SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::jsonb[], $8::jsonb[], $9::text[])
       )
       UPDATE ${this.s}.streams AS st SET revision = h.revision, last_hash = h.hash
         FROM unnest($10::text[], $11::bigint[], $12::text[]) AS h(stream_id, revision, hash)
        WHERE st.stream_id = h.stream_id`,
      [columns.position, columns.id, columns.stream, columns.revision, columns.category, columns.type,
        columns.data, columns.metadata, columns.hash, newHeads.stream, newHeads.revision, newHeads.hash],
    );
    return { position: basePosition + index - 1n, streams };
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

  private async query<Row extends object>(sql: string, parameters: unknown[]): Promise<Row[]> {
    try {
      const result = await this.options.pool.query<Row>(sql, parameters);
      return result.rows;
    } catch (error) {
      throw translateError(error);
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

/** Kernel errors pass through; a duplicate event id gets its own error; anything else is "unavailable". */
function translateError(error: unknown): Error {
  if (error instanceof EventStoreError) return error;
  const pgError = error as { code?: string; constraint?: string; detail?: string };
  if (pgError.code === UNIQUE_VIOLATION && pgError.constraint?.endsWith('event_id_key')) {
    const id = /\(event_id\)=\(([^)]+)\)/.exec(pgError.detail ?? '')?.[1] ?? 'unknown';
    return new DuplicateEventIdError(id);
  }
  return new EventStoreUnavailableError(`PostgreSQL event store failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}
