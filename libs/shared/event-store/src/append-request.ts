import type { EventMetadata, NewEvent } from './event-envelope';
import { EventStoreValidationError } from './event-store.errors';
import type { EventStoreLimits } from './event-store.limits';
import type { StreamWrite } from './event-store.port';
import { assertExpectedState, type ExpectedState } from './expected-state';
import { newEventId } from './event-id';
import { canonicalJson, type JsonValue } from './json';
import { parseStreamName } from './stream-name';

export const EVENT_TYPE_PATTERN = /^[A-Z][A-Za-z0-9]{0,127}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAX_METADATA_TEXT_LENGTH = 256;
const METADATA_FIELDS: ReadonlySet<string> = new Set(['correlationId', 'causationId', 'principal', 'idempotencyKey', 'schemaVersion']);
const MAX_SCHEMA_VERSION = 1_000;

/** One event after validation: id assigned, JSON checked and serialised once. */
export interface PreparedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: JsonValue;
  readonly metadata: EventMetadata;
  readonly dataJson: string;
  readonly metadataJson: string;
}

export interface PreparedWrite {
  readonly streamId: string;
  readonly category: string;
  readonly expectedState: ExpectedState;
  readonly events: readonly PreparedEvent[];
}

/**
 * Validates an append request against the limits and normalises it. Every adapter calls this
 * before touching storage, so a bad request is refused identically everywhere and nothing is
 * written. Throws EventStoreValidationError.
 */
export function prepareAppend(writes: readonly StreamWrite[], limits: EventStoreLimits): PreparedWrite[] {
  if (!Array.isArray(writes) || writes.length === 0) {
    throw new EventStoreValidationError('EMPTY_APPEND', 'An append needs at least one stream with events');
  }
  if (writes.length > limits.maxStreamsPerAppend) {
    throw new EventStoreValidationError(
      'TOO_MANY_STREAMS',
      `An append may touch at most ${limits.maxStreamsPerAppend} streams; got ${writes.length}`,
      { limit: limits.maxStreamsPerAppend, actual: writes.length },
    );
  }
  const seenStreams = new Set<string>();
  const seenIds = new Set<string>();
  // A command usually gives every event of its append the same metadata object: checked and
  // serialised once (the request is not changed while it is being prepared).
  const metadataSeen = new Map<unknown, PreparedMetadata>();
  let total = 0;
  const prepared = writes.map((write): PreparedWrite => {
    const { category } = parseStreamName(write?.streamId);
    if (seenStreams.has(write.streamId)) {
      throw new EventStoreValidationError(
        'DUPLICATE_STREAM_IN_APPEND',
        `Stream '${write.streamId}' appears twice in one append; merge its events into one entry`,
        { streamId: write.streamId },
      );
    }
    seenStreams.add(write.streamId);
    assertExpectedState(write.expectedState);
    if (!Array.isArray(write.events) || write.events.length === 0) {
      throw new EventStoreValidationError('EMPTY_APPEND', `No events to append to '${write.streamId}'`, {
        streamId: write.streamId,
      });
    }
    total += write.events.length;
    if (total > limits.maxEventsPerAppend) {
      throw new EventStoreValidationError(
        'TOO_MANY_EVENTS',
        `An append may hold at most ${limits.maxEventsPerAppend} events`,
        { limit: limits.maxEventsPerAppend },
      );
    }
    return {
      streamId: write.streamId,
      category,
      expectedState: write.expectedState,
      events: write.events.map((event: NewEvent, index: number) => prepareEvent(event, () => `${write.streamId}[${index}]`, limits, seenIds, metadataSeen)),
    };
  });
  return prepared;
}

interface PreparedMetadata {
  readonly metadata: EventMetadata;
  readonly json: string;
}

/** `where` names the event in errors; it is only called when there is one. */
function prepareEvent(
  event: NewEvent,
  where: () => string,
  limits: EventStoreLimits,
  seenIds: Set<string>,
  metadataSeen: Map<unknown, PreparedMetadata>,
): PreparedEvent {
  if (typeof event !== 'object' || event === null) {
    throw new EventStoreValidationError('EVENT_DATA_NOT_JSON', `${where()}: an event must be an object`);
  }
  const id = event.id ?? newEventId();
  if (typeof id !== 'string' || !UUID.test(id)) {
    throw new EventStoreValidationError('INVALID_EVENT_ID', `${where()}: event id must be a lower-case UUID`, {
      id: String(id).slice(0, 80),
    });
  }
  if (seenIds.has(id)) {
    throw new EventStoreValidationError('INVALID_EVENT_ID', `${where()}: event id ${id} is used twice in one append`, { id });
  }
  seenIds.add(id);
  if (typeof event.type !== 'string' || !EVENT_TYPE_PATTERN.test(event.type)) {
    throw new EventStoreValidationError(
      'INVALID_EVENT_TYPE',
      `${where()}: event type must be PascalCase letters and digits, at most 128 (e.g. 'FundsDeposited')`,
      { type: String(event.type).slice(0, 80) },
    );
  }
  if (typeof event.data !== 'object' || event.data === null || Array.isArray(event.data)) {
    throw new EventStoreValidationError('EVENT_DATA_NOT_JSON', `${where()}: event data must be a JSON object`);
  }
  const dataJson = canonicalJson(event.data, () => `${where()}.data`);
  let prepared = metadataSeen.get(event.metadata);
  if (prepared === undefined) {
    const metadata = validateMetadata(event.metadata, where);
    prepared = { metadata, json: canonicalJson(metadata, () => `${where()}.metadata`) };
    if (typeof event.metadata === 'object' && event.metadata !== null) metadataSeen.set(event.metadata, prepared);
  }
  const bytes = Buffer.byteLength(dataJson) + Buffer.byteLength(prepared.json) + event.type.length;
  if (bytes > limits.maxEventBytes) {
    throw new EventStoreValidationError(
      'EVENT_TOO_LARGE',
      `${where()}: event is ${bytes} bytes; the limit is ${limits.maxEventBytes} bytes`,
      { limit: limits.maxEventBytes, actual: bytes },
    );
  }
  return { id, type: event.type, data: event.data, metadata: prepared.metadata, dataJson, metadataJson: prepared.json };
}

function validateMetadata(metadata: unknown, where: () => string): EventMetadata {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw metadataError(where, 'metadata must be an object');
  }
  const record = metadata as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!METADATA_FIELDS.has(key)) throw metadataError(where, `unknown metadata field '${key.slice(0, 40)}'`);
  }
  const text = (name: string, optional: boolean): string | undefined => {
    const value = record[name];
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_METADATA_TEXT_LENGTH) {
      throw metadataError(where, `${name} must be a non-empty string of at most ${MAX_METADATA_TEXT_LENGTH} characters`);
    }
    return value;
  };
  const schemaVersion = record['schemaVersion'];
  if (typeof schemaVersion !== 'number' || !Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > MAX_SCHEMA_VERSION) {
    throw metadataError(where, `schemaVersion must be an integer from 1 to ${MAX_SCHEMA_VERSION}`);
  }
  const idempotencyKey = text('idempotencyKey', true);
  return {
    correlationId: text('correlationId', false) as string,
    causationId: text('causationId', false) as string,
    principal: text('principal', false) as string,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    schemaVersion,
  };
}

function metadataError(where: () => string, reason: string): EventStoreValidationError {
  return new EventStoreValidationError('INVALID_METADATA', `${where()}: ${reason}`, { reason });
}


/**
 * Validates an appendBatch call: the batch bounds first (before any request is prepared, so an
 * oversized batch costs nothing), then every request with prepareAppend. A request's error keeps
 * its code and gains `details.requestIndex`. Event ids repeated ACROSS requests are not an error
 * here: the first request written claims the id and later ones are skipped (DuplicateEventIdError).
 * Throws EventStoreValidationError; nothing may be written when it does.
 */
export function prepareBatch(
  requests: readonly (readonly StreamWrite[])[],
  limits: EventStoreLimits,
): PreparedWrite[][] {
  if (!Array.isArray(requests) || requests.length === 0) {
    throw new EventStoreValidationError('EMPTY_APPEND', 'A batch needs at least one append request');
  }
  if (requests.length > limits.maxRequestsPerBatch) {
    throw new EventStoreValidationError(
      'TOO_MANY_REQUESTS_IN_BATCH',
      `A batch may hold at most ${limits.maxRequestsPerBatch} append requests; got ${requests.length}`,
      { limit: limits.maxRequestsPerBatch, actual: requests.length },
    );
  }
  let total = 0;
  for (const request of requests as readonly unknown[]) {
    if (!Array.isArray(request)) continue; // prepareAppend names it below
    for (const write of request as readonly unknown[]) {
      const events = (write as { events?: unknown } | null)?.events;
      if (Array.isArray(events)) total += events.length;
    }
  }
  if (total > limits.maxEventsPerBatch) {
    throw new EventStoreValidationError(
      'TOO_MANY_EVENTS_IN_BATCH',
      `A batch may hold at most ${limits.maxEventsPerBatch} events over all its requests; got ${total}`,
      { limit: limits.maxEventsPerBatch, actual: total },
    );
  }
  return requests.map((request, requestIndex) => {
    try {
      return prepareAppend(request, limits);
    } catch (error) {
      if (!(error instanceof EventStoreValidationError)) throw error;
      throw new EventStoreValidationError(error.code, `Batch request ${requestIndex}: ${error.message}`, {
        ...error.details,
        requestIndex,
      });
    }
  });
}
