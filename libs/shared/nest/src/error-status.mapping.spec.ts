import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  ForbiddenError,
  IdempotencyConflictError,
  IllegalStateError,
  InvariantViolationError,
  NotFoundError,
  RateLimitedError,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
  ValidationError,
  VersionConflictError,
  type ApplicationError,
  type ErrorKind,
} from '@ledger/errors';
import { DuplicateEventIdError, EventStoreUnavailableError, EventStoreValidationError, WrongExpectedVersionError } from '@ledger/event-store';
import { HttpException, MethodNotAllowedException, NotFoundException, PayloadTooLargeException, UnauthorizedException } from '@nestjs/common';
import { describeError, ERROR_KIND_TRANSPORT } from './error-status.mapping';
import { bodyTooLarge } from './transport.errors';

/** The table in libs/shared/errors/src/application-errors.ts, restated: this spec fails if either drifts. */
const EXPECTED: ReadonlyArray<[ErrorKind, (code: string, message: string) => ApplicationError, number, GrpcStatus]> = [
  ['validation', (c, m) => new ValidationError(c, m), 400, GrpcStatus.INVALID_ARGUMENT],
  ['unauthenticated', (c, m) => new UnauthenticatedError(c, m), 401, GrpcStatus.UNAUTHENTICATED],
  ['forbidden', (c, m) => new ForbiddenError(c, m), 403, GrpcStatus.PERMISSION_DENIED],
  ['not_found', (c, m) => new NotFoundError(c, m), 404, GrpcStatus.NOT_FOUND],
  ['illegal_state', (c, m) => new IllegalStateError(c, m), 422, GrpcStatus.FAILED_PRECONDITION],
  ['version_conflict', (c, m) => new VersionConflictError(c, m), 409, GrpcStatus.ABORTED],
  ['idempotency_conflict', (c, m) => new IdempotencyConflictError(c, m), 409, GrpcStatus.ALREADY_EXISTS],
  ['rate_limited', (c, m) => new RateLimitedError(c, m), 429, GrpcStatus.RESOURCE_EXHAUSTED],
  ['timeout', (c, m) => new TimeoutError(c, m), 504, GrpcStatus.DEADLINE_EXCEEDED],
  ['unavailable', (c, m) => new UnavailableError(c, m), 503, GrpcStatus.UNAVAILABLE],
  ['invariant_violation', (c, m) => new InvariantViolationError(c, m), 500, GrpcStatus.INTERNAL],
];

describe('describeError: application errors', () => {
  it('covers every ErrorKind exactly once', () => {
    expect(EXPECTED.map(([kind]) => kind).sort()).toEqual(Object.keys(ERROR_KIND_TRANSPORT).sort());
  });

  it.each(EXPECTED)('%s → HTTP %i, gRPC %i, keeping the code', (kind, make, httpStatus, grpcStatus) => {
    const error = make('SOME_CODE', 'message text');
    expect(error.kind).toBe(kind);
    const described = describeError(error);
    expect(described).toMatchObject({ code: 'SOME_CODE', httpStatus, grpcStatus });
    expect(described.serverFault).toBe(httpStatus >= 500);
    expect(described.title.length).toBeGreaterThan(0);
  });

  it('shows the message and primitive details of client errors, dropping nested values', () => {
    const error = new IllegalStateError('INSUFFICIENT_FUNDS', 'Wallet w-1 has 1.00 USD available', { walletId: 'w-1', available: '1.00', exact: true, count: 2, none: null });
    (error.details as Record<string, unknown>)['nested'] = { secret: 'x' };
    const described = describeError(error);
    expect(described.detail).toBe('Wallet w-1 has 1.00 USD available');
    expect(described.details).toEqual({ walletId: 'w-1', available: '1.00', exact: true, count: 2, none: null });
  });

  it('hides the message and details of invariant violations and unavailability', () => {
    for (const error of [
      new InvariantViolationError('CORRUPT_WALLET_HISTORY', 'Cannot apply HoldCaptured to wallet-123 at revision 7', { eventType: 'HoldCaptured' }),
      new UnavailableError('KAFKA_DOWN', 'broker 10.0.0.7:9092 refused'),
    ]) {
      const described = describeError(error);
      expect(described.detail).not.toContain(error.message);
      expect(described.detail).not.toMatch(/wallet-123|10\.0\.0\.7/);
      expect(described.details).toEqual({});
      expect(described.serverFault).toBe(true);
    }
  });
});

describe('describeError: event store errors', () => {
  it('maps validation codes to 400 / INVALID_ARGUMENT with their own code', () => {
    const described = describeError(new EventStoreValidationError('EVENT_TOO_LARGE', 'Event of 70000 bytes exceeds 65536', { sizeBytes: 70_000, limitBytes: 65_536, nested: { a: 1 } }));
    expect(described).toMatchObject({ code: 'EVENT_TOO_LARGE', httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT, serverFault: false });
    expect(described.details).toEqual({ sizeBytes: 70_000, limitBytes: 65_536 });
  });

  it('maps WRONG_EXPECTED_VERSION to 409 / ABORTED without naming streams', () => {
    const described = describeError(new WrongExpectedVersionError('wallet-secret-id', 3n, 5n));
    expect(described).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', httpStatus: 409, grpcStatus: GrpcStatus.ABORTED, serverFault: false });
    expect(described.detail).not.toContain('wallet-secret-id');
  });

  it('maps DUPLICATE_EVENT_ID to 409 / ALREADY_EXISTS', () => {
    expect(describeError(new DuplicateEventIdError('0b7c…'))).toMatchObject({ code: 'DUPLICATE_EVENT_ID', httpStatus: 409, grpcStatus: GrpcStatus.ALREADY_EXISTS });
  });

  it('maps EVENT_STORE_UNAVAILABLE to 503 / UNAVAILABLE without the driver message', () => {
    const described = describeError(new EventStoreUnavailableError('connect ECONNREFUSED 10.1.2.3:5432'));
    expect(described).toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE', httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE, serverFault: true });
    expect(described.detail).not.toContain('10.1.2.3');
  });
});

describe('describeError: transport and framework errors', () => {
  it.each([
    [new NotFoundException('Cannot GET /nope'), 404, 'NOT_FOUND', GrpcStatus.NOT_FOUND, 'Cannot GET /nope'],
    [new MethodNotAllowedException(), 405, 'METHOD_NOT_ALLOWED', GrpcStatus.UNIMPLEMENTED, 'Method Not Allowed'],
    [new UnauthorizedException(), 401, 'UNAUTHENTICATED', GrpcStatus.UNAUTHENTICATED, 'Unauthorized'],
    [new PayloadTooLargeException(), 413, 'BODY_TOO_LARGE', GrpcStatus.RESOURCE_EXHAUSTED, 'Payload Too Large'],
    [new HttpException({ message: ['a must be a string', 'b is required'] }, 400), 400, 'BAD_REQUEST', GrpcStatus.INVALID_ARGUMENT, 'a must be a string; b is required'],
    [new HttpException('I am a teapot', 418), 418, 'HTTP_418', GrpcStatus.INVALID_ARGUMENT, 'I am a teapot'],
  ])('%p → %i %s', (error, httpStatus, code, grpcStatus, detail) => {
    expect(describeError(error)).toMatchObject({ httpStatus, code, grpcStatus, detail, serverFault: false });
  });

  it('gives 5xx HttpExceptions a generic detail', () => {
    const described = describeError(new HttpException('pool exhausted at db-7', 500));
    expect(described).toMatchObject({ httpStatus: 500, code: 'INTERNAL', serverFault: true });
    expect(described.detail).not.toContain('db-7');
  });

  it('keeps a TransportError as declared', () => {
    expect(describeError(bodyTooLarge(1024))).toMatchObject({ code: 'BODY_TOO_LARGE', httpStatus: 413, grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED, details: { limitBytes: 1024 } });
  });

  it.each([new Error('password=hunter2 in SELECT'), new TypeError('x is undefined'), 'a string', { code: 'WALLET_FROZEN', message: 'looks like ours' }, undefined])(
    'turns anything unknown (%p) into INTERNAL without its message',
    (thrown) => {
      const described = describeError(thrown);
      expect(described).toMatchObject({ code: 'INTERNAL', httpStatus: 500, grpcStatus: GrpcStatus.INTERNAL, details: {}, serverFault: true });
      expect(described.detail).not.toMatch(/hunter2|undefined|looks like ours/);
    },
  );
});
