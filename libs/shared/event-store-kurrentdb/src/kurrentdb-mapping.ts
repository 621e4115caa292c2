import {
  EventStoreUnavailableError,
  EventStoreValidationError,
  parseStreamName,
  type EventMetadata,
  type JsonObject,
  type RecordedEvent,
  type StreamState,
} from '@ledger/event-store';

/**
 * Pure mapping between the kernel's model and KurrentDB's. No I/O here: everything is unit-tested
 * without a server (kurrentdb-mapping.spec.ts). See README.md for the rules and their reasons.
 */

/** Adapter-private metadata key holding the event's hash-chain link. Stripped on read. */
export const LEDGER_HASH_KEY = '$ledger.hash';

/**
 * Metadata fields that are numbers in the kernel's EventMetadata. KurrentDB's multi-stream append
 * accepts string metadata values only, so they are stored as decimal strings and parsed back.
 * Add a field here when EventMetadata gains a numeric one (the unit spec checks every field).
 */
export const NUMERIC_METADATA_KEYS: ReadonlySet<string> = new Set(['schemaVersion']);

/**
 * Streams the adapter keeps for itself. The `_` start makes them invalid ledger stream names, so
 * readStream refuses them and readAll skips them: they never reach a consumer.
 */
export const PRIVATE_STREAM_PREFIX = '_ledger.';
/** One stream per caller-supplied event id, created with no_stream: KurrentDB's unique index. */
export const EVENT_ID_GUARD_STREAM_PREFIX = `${PRIVATE_STREAM_PREFIX}eventId-`;
/** One stream per consumer, holding its checkpoint (stream metadata maxCount 1). */
export const CHECKPOINT_STREAM_PREFIX = `${PRIVATE_STREAM_PREFIX}checkpoint-`;

const HASH_PATTERN = /^[0-9a-f]{64}$/;
const DECIMAL_PATTERN = /^(0|[1-9][0-9]{0,15})$/;
const CONSUMER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

/** A KurrentDB log position: commit and prepare positions in the transaction file. */
export interface DriverPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** The fields of the driver's RecordedEvent the adapter reads. */
export interface DriverEventRecord {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly isJson: boolean;
  readonly created: Date;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly position?: DriverPosition | undefined;
}

// ---------------------------------------------------------------------------------------------
// Positions and revisions

/**
 * An event's global position is its commit position. KurrentDB writes every gRPC append (v1 and
 * v2) as self-committed prepares, whose commit position equals their own log position: unique and
 * increasing in log order. Refuses a missing or non-positive position.
 */
export function toGlobalPosition(position: DriverPosition | undefined, where: string): bigint {
  if (!position || typeof position.commit !== 'bigint' || position.commit <= 0n) {
    throw new EventStoreUnavailableError(
      `${where}: KurrentDB reported no log position for the event (server 22.6 or later is required)`,
    );
  }
  return position.commit;
}

/**
 * Where a forwards $all read starts for an exclusive kernel position: the log start for 0n, else
 * the record at {p, p}. KurrentDB reads that position inclusively, so the caller drops events at
 * or below p.
 */
export function toReadAllStart(fromPosition: bigint): 'start' | DriverPosition {
  return fromPosition === 0n ? 'start' : { commit: fromPosition, prepare: fromPosition };
}

/**
 * A stream state reported by the driver ('no_stream', a revision, or -1n on some error paths).
 * Returns undefined when the value says nothing usable.
 */
export function fromDriverStreamState(value: unknown): StreamState | undefined {
  if (value === 'no_stream') return 'no_stream';
  if (typeof value === 'bigint') return value >= 0n ? value : value === -1n ? 'no_stream' : undefined;
  return undefined;
}

/** The revision after `head` for the `index`-th event (from 0) of an append. */
export function revisionAfter(head: StreamState, index: number): bigint {
  return (head === 'no_stream' ? 0n : head + 1n) + BigInt(index);
}

// ---------------------------------------------------------------------------------------------
// Metadata

/**
 * The writer's metadata as KurrentDB stores it: a flat object of string values (numbers as
 * decimal strings, as multiStreamAppend requires), plus the adapter's hash under LEDGER_HASH_KEY.
 */
export function encodeMetadata(metadata: EventMetadata, hash: string): Record<string, string> {
  if (!HASH_PATTERN.test(hash)) throw new Error(`encodeMetadata: '${hash.slice(0, 80)}' is not a SHA-256 hex hash`);
  const stored: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata) as Array<[string, unknown]>) {
    if (value === undefined) continue;
    if (key.startsWith('$')) {
      throw new EventStoreValidationError('INVALID_METADATA', `metadata key '${key.slice(0, 40)}' is reserved`, { reason: 'reserved key' });
    }
    if (typeof value === 'string') {
      stored[key] = value;
    } else if (typeof value === 'number' && NUMERIC_METADATA_KEYS.has(key) && Number.isSafeInteger(value) && value >= 0) {
      stored[key] = String(value);
    } else {
      throw new EventStoreValidationError('INVALID_METADATA', `metadata field '${key.slice(0, 40)}' cannot be stored in KurrentDB`, {
        reason: 'unsupported value',
      });
    }
  }
  stored[LEDGER_HASH_KEY] = hash;
  return stored;
}

/**
 * Splits stored metadata into the writer's metadata and the hash. Drops every `$`-prefixed key:
 * the adapter's own, and those KurrentDB adds when it synthesises metadata from the properties of
 * a multi-stream append (`$schema.*`). Throws when the metadata was not written by this adapter.
 */
export function decodeMetadata(stored: unknown, where: string): { metadata: EventMetadata; hash: string } {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored) || stored instanceof Uint8Array) {
    throw notALedgerEvent(where, 'its metadata is not a JSON object');
  }
  const record = stored as Record<string, unknown>;
  const hash = record[LEDGER_HASH_KEY];
  if (typeof hash !== 'string' || !HASH_PATTERN.test(hash)) throw notALedgerEvent(where, `its metadata has no '${LEDGER_HASH_KEY}'`);
  const metadata: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key.startsWith('$')) continue;
    if (NUMERIC_METADATA_KEYS.has(key)) {
      if (typeof value === 'string' && DECIMAL_PATTERN.test(value)) metadata[key] = Number(value);
      else if (typeof value === 'number' && Number.isSafeInteger(value)) metadata[key] = value;
      else throw notALedgerEvent(where, `metadata field '${key}' is not a decimal integer`);
    } else if (typeof value === 'string') {
      metadata[key] = value;
    } else {
      throw notALedgerEvent(where, `metadata field '${key.slice(0, 40)}' is not a string`);
    }
  }
  return { metadata: metadata as unknown as EventMetadata, hash };
}

/** Reads only the hash of a stored event (the head of a stream, before an append). */
export function hashOf(stored: unknown, where: string): string {
  return decodeMetadata(stored, where).hash;
}

// ---------------------------------------------------------------------------------------------
// Events and streams

/** Whether readAll hands this stream's events to consumers: ledger streams only. */
export function isLedgerStream(streamId: string): boolean {
  if (streamId.startsWith('$')) return false;
  try {
    parseStreamName(streamId);
    return true;
  } catch {
    return false;
  }
}

/** The kernel's RecordedEvent for a stored event; throws when the event is not a ledger event. */
export function toRecordedEvent(raw: DriverEventRecord): RecordedEvent {
  const where = describeRecord(raw);
  if (!raw.isJson) throw notALedgerEvent(where, 'its data is not JSON');
  const data = raw.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data) || data instanceof Uint8Array) {
    throw notALedgerEvent(where, 'its data is not a JSON object');
  }
  const { metadata, hash } = decodeMetadata(raw.metadata, where);
  return {
    id: raw.id,
    type: raw.type,
    data: data as JsonObject,
    metadata,
    streamId: raw.streamId,
    revision: raw.revision,
    position: toGlobalPosition(raw.position, where),
    recordedAt: raw.created,
    hash,
  };
}

export function describeRecord(raw: { streamId: string; revision: bigint; id: string }): string {
  return `event ${raw.id} ('${raw.streamId.slice(0, 80)}' revision ${raw.revision})`;
}

function notALedgerEvent(where: string, reason: string): EventStoreUnavailableError {
  return new EventStoreUnavailableError(`${where} was not written by the ledger's KurrentDB adapter: ${reason}`);
}

export function eventIdGuardStream(eventId: string): string {
  return `${EVENT_ID_GUARD_STREAM_PREFIX}${eventId}`;
}

/** The event id a guard stream claims, or undefined for any other stream. */
export function eventIdOfGuardStream(streamName: string): string | undefined {
  return streamName.startsWith(EVENT_ID_GUARD_STREAM_PREFIX) ? streamName.slice(EVENT_ID_GUARD_STREAM_PREFIX.length) : undefined;
}

export function checkpointStream(consumerId: string): string {
  if (typeof consumerId !== 'string' || !CONSUMER_ID_PATTERN.test(consumerId)) {
    const shown = typeof consumerId === 'string' ? consumerId.slice(0, 80) : typeof consumerId;
    throw new EventStoreValidationError(
      'INVALID_STREAM_NAME',
      `Consumer id '${shown}' must be 1 to 128 letters, digits and '_ . : @ -', starting with a letter or digit`,
      { streamId: shown },
    );
  }
  return `${CHECKPOINT_STREAM_PREFIX}${consumerId}`;
}

/**
 * Stream names one v2 append session refuses together: KurrentDB compares them ignoring case.
 * Returns the first such pair, or undefined.
 */
export function caseInsensitiveDuplicate(streamIds: readonly string[]): [string, string] | undefined {
  const seen = new Map<string, string>();
  for (const streamId of streamIds) {
    const folded = streamId.toLowerCase();
    const first = seen.get(folded);
    if (first !== undefined) return [first, streamId];
    seen.set(folded, streamId);
  }
  return undefined;
}
