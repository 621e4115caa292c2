import type { ExpectedState, StreamState } from './expected-state';

/**
 * Stable codes for everything an event store can refuse. Callers switch on `code`, never on
 * message text; the transport layers map these codes onto HTTP problem types and gRPC statuses.
 */
export type EventStoreErrorCode =
  | 'INVALID_STREAM_NAME'
  | 'INVALID_EVENT_TYPE'
  | 'INVALID_EVENT_ID'
  | 'INVALID_METADATA'
  | 'EVENT_DATA_NOT_JSON'
  | 'EVENT_TOO_LARGE'
  | 'EMPTY_APPEND'
  | 'TOO_MANY_EVENTS'
  | 'TOO_MANY_STREAMS'
  | 'TOO_MANY_REQUESTS_IN_BATCH'
  | 'TOO_MANY_EVENTS_IN_BATCH'
  | 'DUPLICATE_STREAM_IN_APPEND'
  | 'INVALID_EXPECTED_STATE'
  | 'INVALID_READ_REQUEST'
  | 'WRONG_EXPECTED_VERSION'
  | 'DUPLICATE_EVENT_ID'
  | 'EVENT_STORE_UNAVAILABLE';

export abstract class EventStoreError extends Error {
  abstract readonly code: EventStoreErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request itself is malformed; retrying it unchanged can never succeed. Nothing was appended. */
export class EventStoreValidationError extends EventStoreError {
  constructor(
    readonly code: Exclude<
      EventStoreErrorCode,
      'WRONG_EXPECTED_VERSION' | 'DUPLICATE_EVENT_ID' | 'EVENT_STORE_UNAVAILABLE'
    >,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/**
 * Optimistic concurrency conflict. Nothing of the append was written, on any stream.
 * `streamId` names the first stream (in the request's order) whose expectation failed.
 */
export class WrongExpectedVersionError extends EventStoreError {
  readonly code = 'WRONG_EXPECTED_VERSION' as const;
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedState,
    readonly actual: StreamState,
  ) {
    super(
      `Stream '${streamId}': expected ${describeExpected(expected)}, actual ${
        actual === 'no_stream' ? 'no stream' : `revision ${actual}`
      }`,
    );
  }
}

/** An event id was already used in the store. Event ids are unique across the whole log. */
export class DuplicateEventIdError extends EventStoreError {
  readonly code = 'DUPLICATE_EVENT_ID' as const;
  constructor(readonly eventId: string) {
    super(`Event id ${eventId} already exists in the store`);
  }
}

/** The store could not be reached or failed in a way that says nothing about the request. */
export class EventStoreUnavailableError extends EventStoreError {
  readonly code = 'EVENT_STORE_UNAVAILABLE' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function describeExpected(expected: ExpectedState): string {
  return typeof expected === 'bigint' ? `revision ${expected}` : expected;
}
