import { convertToCommandError } from '@kurrent/kurrentdb-client';
import {
  EventStoreError,
  EventStoreUnavailableError,
  EventStoreValidationError,
  WrongExpectedVersionError,
  type ExpectedState,
  type StreamState,
} from '@ledger/event-store';
import { fromDriverStreamState } from './kurrentdb-mapping';

/**
 * Driver errors → kernel errors. The driver's error classes are recognised by their documented
 * `type` field (ErrorType in @kurrent/kurrentdb-client's CommandError), never by `instanceof`, so
 * no driver class crosses this boundary and the translation is testable with plain objects.
 */

/** A driver ErrorType value (`error.type`). */
const DRIVER = {
  wrongExpectedVersion: 'wrong-expected-version',
  streamNotFound: 'stream-not-found',
  streamDeleted: 'stream-deleted',
  streamTombstoned: 'stream-tombstoned',
  accessDenied: 'access-denied',
  unsupported: 'unsupported',
  maxAppendSize: 'maximum-append-size-exceeded',
  recordSize: 'append-record-size-exceeded',
  transactionSize: 'transaction-max-size-exceeded',
} as const;

interface DriverErrorShape {
  readonly type?: unknown;
  readonly message?: unknown;
  readonly streamName?: unknown;
  readonly stream?: unknown;
  readonly expectedState?: unknown;
  readonly actualState?: unknown;
  readonly maxAppendSize?: unknown;
  readonly maxSize?: unknown;
  readonly feature?: unknown;
  readonly minimumVersion?: unknown;
}

/**
 * Some driver paths reject with the raw gRPC ServiceError (e.g. a failing channel, or the error
 * event of a v2 append session) instead of the driver's typed error: convert those the way the
 * driver itself does, so a conflict is never mistaken for an outage.
 */
function shape(error: unknown): DriverErrorShape | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  if (error instanceof Error && !('type' in error)) {
    try {
      return convertToCommandError(error) as DriverErrorShape;
    } catch {
      return error as DriverErrorShape;
    }
  }
  return error as DriverErrorShape;
}

function messageOf(error: unknown): string {
  const message = shape(error)?.message;
  return typeof message === 'string' && message.length > 0 ? message.slice(0, 500) : String(error).slice(0, 500);
}

/** A stream revision conflict reported by the server for one stream. */
export interface DriverConflict {
  readonly streamName: string;
  /** The stream's actual state when the server checked, when the error says. */
  readonly actual: StreamState | undefined;
}

/**
 * The conflict a driver error reports: v1 appends (WrongExpectedVersion) and v2 append sessions
 * (StreamRevisionConflict) both surface as the driver's WrongExpectedVersionError.
 */
export function conflictOf(error: unknown): DriverConflict | undefined {
  const e = shape(error);
  if (e?.type !== DRIVER.wrongExpectedVersion || typeof e.streamName !== 'string') return undefined;
  return { streamName: e.streamName, actual: fromDriverStreamState(e.actualState) };
}

/** The driver's ErrorType of an error (after converting a raw gRPC error), if it has one. */
export function driverErrorType(error: unknown): string | undefined {
  const type = shape(error)?.type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * Whether a failed $all read may be the server refusing a start position that is not a record's
 * (KurrentDB: InvalidPosition, surfacing as an unknown error). Clear outages are not.
 */
export function mayBeInvalidPosition(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const type = driverErrorType(error);
  return type === undefined || type === 'unknown' || type === 'invalid-argument';
}

export function isStreamNotFound(error: unknown): boolean {
  return shape(error)?.type === DRIVER.streamNotFound;
}

/** The driver's expected state (constants, a revision, or the protocol's negative codes) as ours. */
export function fromDriverExpectedState(value: unknown): ExpectedState | undefined {
  if (value === 'any' || value === 'no_stream' || value === 'stream_exists') return value;
  if (typeof value !== 'bigint') return undefined;
  if (value >= 0n) return value;
  return value === -1n ? 'no_stream' : value === -2n ? 'any' : value === -4n ? 'stream_exists' : undefined;
}

/**
 * Translates anything a driver call threw into a kernel error:
 * - kernel errors pass through unchanged;
 * - a revision conflict → WrongExpectedVersionError (callers that know the request map conflicts
 *   themselves, with the caller's own expectation; this is the fallback);
 * - the server's size limits → EventStoreValidationError EVENT_TOO_LARGE (nothing was written);
 * - everything else (deadline, unavailable, not leader, cancelled, access denied, deleted stream,
 *   server too old, unknown) → EventStoreUnavailableError with the driver error as `cause`.
 */
export function translateDriverError(error: unknown, operation: string): EventStoreError {
  if (error instanceof EventStoreError) return error;
  const e = shape(error);
  const message = messageOf(error);
  switch (e?.type) {
    case DRIVER.wrongExpectedVersion: {
      const streamId = typeof e.streamName === 'string' ? e.streamName : 'unknown stream';
      const expected = fromDriverExpectedState(e.expectedState) ?? 'any';
      const actual = fromDriverStreamState(e.actualState) ?? 'no_stream';
      return new WrongExpectedVersionError(streamId, expected, actual);
    }
    case DRIVER.maxAppendSize:
    case DRIVER.recordSize:
    case DRIVER.transactionSize: {
      const limit = typeof e.maxAppendSize === 'number' ? e.maxAppendSize : typeof e.maxSize === 'number' ? e.maxSize : undefined;
      return new EventStoreValidationError(
        'EVENT_TOO_LARGE',
        `KurrentDB refused the ${operation}: it exceeds the server's size limit${limit === undefined ? '' : ` of ${limit} bytes`}`,
        limit === undefined ? {} : { limit },
      );
    }
    case DRIVER.unsupported: {
      const feature = typeof e.feature === 'string' ? e.feature : operation;
      const version = typeof e.minimumVersion === 'string' ? e.minimumVersion : 'a newer version';
      return new EventStoreUnavailableError(`KurrentDB ${operation}: the server does not support ${feature} (requires ${version})`, {
        cause: error,
      });
    }
    case DRIVER.streamDeleted:
    case DRIVER.streamTombstoned: {
      const stream = typeof e.streamName === 'string' ? e.streamName : typeof e.stream === 'string' ? e.stream : 'a stream';
      return new EventStoreUnavailableError(
        `KurrentDB ${operation}: ${stream.slice(0, 200)} was deleted outside the ledger, which never deletes streams`,
        { cause: error },
      );
    }
    case DRIVER.accessDenied:
      return new EventStoreUnavailableError(`KurrentDB ${operation}: access denied for the configured user: ${message}`, { cause: error });
    default:
      return new EventStoreUnavailableError(`KurrentDB ${operation} failed: ${message}`, { cause: error });
  }
}
