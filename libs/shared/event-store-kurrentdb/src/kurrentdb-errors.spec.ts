import {
  DeadlineExceededError as DriverDeadlineExceededError,
  MaxAppendSizeExceededError as DriverMaxAppendSizeExceededError,
  NotLeaderError as DriverNotLeaderError,
  StreamDeletedError as DriverStreamDeletedError,
  StreamNotFoundError as DriverStreamNotFoundError,
  UnavailableError as DriverUnavailableError,
  UnsupportedError as DriverUnsupportedError,
  WrongExpectedVersionError as DriverWrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import {
  DuplicateEventIdError,
  EventStoreError,
  EventStoreUnavailableError,
  EventStoreValidationError,
  WrongExpectedVersionError,
} from '@ledger/event-store';
import { conflictOf, fromDriverExpectedState, isStreamNotFound, mayBeInvalidPosition, translateDriverError } from './kurrentdb-errors';

/** Driver errors built with the driver's own classes, as it raises them, and as plain look-alikes. */
describe('driver error translation', () => {
  it('recognises revision conflicts from v1 appends and v2 append sessions', () => {
    const v1 = new DriverWrongExpectedVersionError(undefined, { streamName: 'wallet-1', expected: 3n, current: 5n });
    expect(conflictOf(v1)).toEqual({ streamName: 'wallet-1', actual: 5n });
    const created = new DriverWrongExpectedVersionError(undefined, { streamName: 'wallet-2', expected: 'no_stream', current: 0n });
    expect(conflictOf(created)).toEqual({ streamName: 'wallet-2', actual: 0n });
    expect(conflictOf({ type: 'wrong-expected-version', streamName: 'wallet-3', actualState: 'no_stream' })).toEqual({
      streamName: 'wallet-3',
      actual: 'no_stream',
    });
    expect(conflictOf(new DriverUnavailableError(undefined, 'down'))).toBeUndefined();
    expect(conflictOf(new Error('x'))).toBeUndefined();
    expect(conflictOf(undefined)).toBeUndefined();
  });

  it("recognises the driver's stream-not-found", () => {
    expect(isStreamNotFound(new DriverStreamNotFoundError(undefined, 'wallet-1'))).toBe(true);
    expect(isStreamNotFound(new DriverUnavailableError(undefined, 'down'))).toBe(false);
  });

  it("maps the driver's expected states and protocol codes to the kernel's", () => {
    expect(fromDriverExpectedState('any')).toBe('any');
    expect(fromDriverExpectedState('stream_exists')).toBe('stream_exists');
    expect(fromDriverExpectedState(-1n)).toBe('no_stream');
    expect(fromDriverExpectedState(-2n)).toBe('any');
    expect(fromDriverExpectedState(-4n)).toBe('stream_exists');
    expect(fromDriverExpectedState(7n)).toBe(7n);
    expect(fromDriverExpectedState(-3n)).toBeUndefined();
  });

  it.each([
    ['unavailable', new DriverUnavailableError(undefined, '14 UNAVAILABLE: No connection established')],
    ['deadline', new DriverDeadlineExceededError(undefined, '4 DEADLINE_EXCEEDED')],
    ['not leader', Object.assign(Object.create(DriverNotLeaderError.prototype) as object, { type: 'not-leader', message: 'not leader' })],
    ['deleted stream', DriverStreamDeletedError.fromStreamName('wallet-1')],
    ['old server', new DriverUnsupportedError('multiStreamAppend', '25.1')],
    ['access denied', { type: 'access-denied', message: 'Access denied' }],
    ['an unknown driver error', { type: 'unknown', message: 'boom' }],
    ['a plain Error', new Error('socket hang up')],
    ['a string', 'weird'],
  ])('maps %s to EventStoreUnavailableError carrying the driver error as cause', (_label, driverError) => {
    const error = translateDriverError(driverError, 'append');
    expect(error).toBeInstanceOf(EventStoreUnavailableError);
    expect(error.code).toBe('EVENT_STORE_UNAVAILABLE');
    expect(error.cause).toBe(driverError);
    expect(error.message).toContain('append');
  });

  it('converts raw gRPC service errors the way the driver does before deciding', () => {
    const raw = (code: number, details: string): Error => Object.assign(new Error(`${code} ${details}`), { code, details });
    const unavailable = translateDriverError(raw(14, 'UNAVAILABLE: No connection established'), 'append');
    expect(unavailable).toBeInstanceOf(EventStoreUnavailableError);
    expect(unavailable.message).toContain('UNAVAILABLE');
    expect(translateDriverError(raw(4, 'DEADLINE_EXCEEDED'), 'readAll')).toBeInstanceOf(EventStoreUnavailableError);
    expect(conflictOf(raw(9, 'FAILED_PRECONDITION'))).toBeUndefined(); // no conflict details: not a conflict
    expect(translateDriverError(raw(9, 'FAILED_PRECONDITION'), 'append')).toBeInstanceOf(EventStoreUnavailableError);
  });

  it('seeks back after a failed $all read only when the failure may be an invalid start position', () => {
    expect(mayBeInvalidPosition({ type: 'unknown', message: 'Invalid position' })).toBe(true);
    expect(mayBeInvalidPosition(new Error('something odd'))).toBe(true);
    expect(mayBeInvalidPosition(new DriverUnavailableError(undefined, 'down'))).toBe(false);
    expect(mayBeInvalidPosition(Object.assign(new Error('14 UNAVAILABLE'), { code: 14, details: 'UNAVAILABLE' }))).toBe(false);
    expect(mayBeInvalidPosition(new DriverDeadlineExceededError(undefined, 'late'))).toBe(false);
    expect(mayBeInvalidPosition(undefined)).toBe(false);
  });

  it('names the server version an unsupported feature needs', () => {
    expect(translateDriverError(new DriverUnsupportedError('multiStreamAppend', '25.1'), 'multi-stream append').message).toMatch(/25\.1/);
  });

  it('maps the server size limits to EVENT_TOO_LARGE (nothing was written)', () => {
    const error = translateDriverError(DriverMaxAppendSizeExceededError.fromMaxAppendSize(1_048_576), 'append');
    expect(error).toBeInstanceOf(EventStoreValidationError);
    expect(error).toMatchObject({ code: 'EVENT_TOO_LARGE', details: { limit: 1_048_576 } });
    expect(translateDriverError({ type: 'transaction-max-size-exceeded', maxSize: 10 }, 'append')).toMatchObject({ code: 'EVENT_TOO_LARGE' });
  });

  it('maps a revision conflict it meets without context to WrongExpectedVersionError', () => {
    const error = translateDriverError(new DriverWrongExpectedVersionError(undefined, { streamName: 'wallet-1', expected: 2n, current: 'no_stream' }), 'append');
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ streamId: 'wallet-1', expected: 2n, actual: 'no_stream' });
  });

  it('passes kernel errors through and never returns a driver class', () => {
    const kernel = new DuplicateEventIdError('id');
    expect(translateDriverError(kernel, 'append')).toBe(kernel);
    for (const driverError of [new DriverUnavailableError(undefined, 'x'), new DriverStreamNotFoundError(undefined, 's')]) {
      const translated = translateDriverError(driverError, 'read');
      expect(translated).toBeInstanceOf(EventStoreError);
      expect(translated).not.toBeInstanceOf(driverError.constructor);
    }
  });
});
