import { EventStoreValidationError } from './event-store.errors';

/**
 * What the writer believes about a stream when it appends.
 * - `'no_stream'`: the stream must not exist yet.
 * - `'stream_exists'`: the stream must have at least one event.
 * - `'any'`: no check (the hash chain is still kept: adapters lock the stream head).
 * - a bigint: the revision of the stream's last event (revisions start at 0n).
 */
export type ExpectedState = 'no_stream' | 'stream_exists' | 'any' | bigint;

/** What a stream actually is: absent, or the revision of its last event. */
export type StreamState = 'no_stream' | bigint;

/** Revisions are numbered from 0; the bound keeps them inside PostgreSQL's bigint. */
export const MAX_STREAM_REVISION = 2n ** 62n;

/** Checks a value from outside the type system (JSON, gRPC) is a valid expected state. */
export function assertExpectedState(value: unknown): asserts value is ExpectedState {
  if (value === 'no_stream' || value === 'stream_exists' || value === 'any') return;
  if (typeof value === 'bigint' && value >= 0n && value < MAX_STREAM_REVISION) return;
  throw new EventStoreValidationError(
    'INVALID_EXPECTED_STATE',
    `Expected state must be 'no_stream', 'stream_exists', 'any' or a revision bigint in [0, 2^62); got ${describeValue(value)}`,
    { value: describeValue(value) },
  );
}

/** Decides an expectation against the actual state. Shared by every adapter so they agree exactly. */
export function expectationHolds(expected: ExpectedState, actual: StreamState): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no_stream':
      return actual === 'no_stream';
    case 'stream_exists':
      return actual !== 'no_stream';
    default:
      return actual === expected;
  }
}

/** Parses the wire form ("no_stream" | "stream_exists" | "any" | decimal revision). */
export function parseExpectedState(text: string): ExpectedState {
  if (text === 'no_stream' || text === 'stream_exists' || text === 'any') return text;
  if (/^(0|[1-9][0-9]{0,18})$/.test(text)) {
    const value = BigInt(text);
    assertExpectedState(value);
    return value;
  }
  throw new EventStoreValidationError(
    'INVALID_EXPECTED_STATE',
    `Expected state must be 'no_stream', 'stream_exists', 'any' or a decimal revision; got '${text.slice(0, 40)}'`,
    { value: text.slice(0, 40) },
  );
}

function describeValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return `'${value.slice(0, 40)}'`;
  return typeof value === 'number' ? `number ${value}` : typeof value;
}
