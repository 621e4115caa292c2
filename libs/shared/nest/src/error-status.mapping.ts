import { status as GrpcStatus } from '@grpc/grpc-js';
import { isApplicationError, type ErrorDetails, type ErrorKind } from '@ledger/errors';
import {
  DuplicateEventIdError,
  EventStoreError,
  EventStoreUnavailableError,
  EventStoreValidationError,
  WrongExpectedVersionError,
} from '@ledger/event-store';
import { HttpException } from '@nestjs/common';
import { TransportError } from './transport.errors';

/** How one error travels: the HTTP status, the gRPC status, and the problem title. */
export interface ErrorTransport {
  readonly httpStatus: number;
  readonly grpcStatus: GrpcStatus;
  /** Same for every occurrence of a problem type (RFC 7807 §3.1), so it never says "which". */
  readonly title: string;
}

/**
 * The mapping table of libs/shared/errors/src/application-errors.ts, in one place for both
 * transports. `satisfies` makes a new ErrorKind a compile error here until it is mapped.
 */
export const ERROR_KIND_TRANSPORT = {
  validation: { httpStatus: 400, grpcStatus: GrpcStatus.INVALID_ARGUMENT, title: 'Invalid request' },
  unauthenticated: { httpStatus: 401, grpcStatus: GrpcStatus.UNAUTHENTICATED, title: 'Authentication required' },
  forbidden: { httpStatus: 403, grpcStatus: GrpcStatus.PERMISSION_DENIED, title: 'Forbidden' },
  not_found: { httpStatus: 404, grpcStatus: GrpcStatus.NOT_FOUND, title: 'Not found' },
  illegal_state: { httpStatus: 422, grpcStatus: GrpcStatus.FAILED_PRECONDITION, title: 'Refused in the current state' },
  version_conflict: { httpStatus: 409, grpcStatus: GrpcStatus.ABORTED, title: 'Concurrent modification' },
  idempotency_conflict: { httpStatus: 409, grpcStatus: GrpcStatus.ALREADY_EXISTS, title: 'Idempotency key reused with a different request' },
  rate_limited: { httpStatus: 429, grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED, title: 'Too many attempts' },
  timeout: { httpStatus: 504, grpcStatus: GrpcStatus.DEADLINE_EXCEEDED, title: 'Timed out' },
  unavailable: { httpStatus: 503, grpcStatus: GrpcStatus.UNAVAILABLE, title: 'Temporarily unavailable' },
  invariant_violation: { httpStatus: 500, grpcStatus: GrpcStatus.INTERNAL, title: 'Internal error' },
} as const satisfies Record<ErrorKind, ErrorTransport>;

/** Kinds whose message may describe our infrastructure or a bug: the caller gets generic text. */
const KINDS_WITH_PRIVATE_MESSAGES: ReadonlySet<ErrorKind> = new Set<ErrorKind>(['unavailable', 'invariant_violation']);

export const INTERNAL_ERROR_CODE = 'INTERNAL';
const INTERNAL_DETAIL = 'An unexpected error occurred. Quote the correlation id when reporting it.';
const UNAVAILABLE_DETAIL = 'A dependency is temporarily unavailable. Retry later with the same idempotency key.';

/** Everything an edge needs to answer for an error, already stripped of anything private. */
export interface DescribedError {
  /** Stable reason code (SCREAMING_SNAKE_CASE): the problem `code`, the gRPC `reason-code` trailer. */
  readonly code: string;
  readonly httpStatus: number;
  readonly grpcStatus: GrpcStatus;
  readonly title: string;
  /** Human-readable and safe to show the caller. */
  readonly detail: string;
  /** Safe, primitive extension members (e.g. `walletId`, `limitBytes`). */
  readonly details: ErrorDetails;
  /** A fault on our side (5xx): log it with its stack; the caller saw only generic text. */
  readonly serverFault: boolean;
}

/**
 * Maps anything thrown to its wire form. Application errors follow ERROR_KIND_TRANSPORT; event
 * store errors by class (validation → 400, concurrency → 409, unavailable → 503); Nest
 * HttpExceptions by status; TransportErrors carry their own; everything else is INTERNAL with
 * no trace of its message.
 */
export function describeError(error: unknown): DescribedError {
  if (isApplicationError(error)) {
    const transport: ErrorTransport = ERROR_KIND_TRANSPORT[error.kind];
    const hidden = KINDS_WITH_PRIVATE_MESSAGES.has(error.kind);
    return {
      code: error.code,
      ...transport,
      detail: hidden ? (error.kind === 'unavailable' ? UNAVAILABLE_DETAIL : INTERNAL_DETAIL) : error.message,
      details: hidden ? {} : safeDetails(error.details),
      serverFault: transport.httpStatus >= 500,
    };
  }
  if (error instanceof EventStoreError) return describeEventStoreError(error);
  if (error instanceof TransportError) {
    return {
      code: error.code,
      httpStatus: error.httpStatus,
      grpcStatus: error.grpcStatus,
      title: error.title,
      detail: error.message,
      details: safeDetails(error.details),
      serverFault: false,
    };
  }
  if (error instanceof HttpException) return describeHttpException(error);
  return internalError();
}

function describeEventStoreError(error: EventStoreError): DescribedError {
  if (error instanceof EventStoreValidationError) {
    return { code: error.code, ...ERROR_KIND_TRANSPORT.validation, detail: error.message, details: safeDetails(error.details), serverFault: false };
  }
  if (error instanceof WrongExpectedVersionError) {
    // Stream names and revisions are internals; the caller only needs "retry".
    return {
      code: error.code,
      ...ERROR_KIND_TRANSPORT.version_conflict,
      detail: 'The resource was modified concurrently. Retry with the same idempotency key.',
      details: {},
      serverFault: false,
    };
  }
  if (error instanceof DuplicateEventIdError) {
    // Event ids derive from idempotency keys, so a duplicate is a second execution of one request.
    return { code: error.code, ...ERROR_KIND_TRANSPORT.idempotency_conflict, detail: 'This request was already recorded.', details: {}, serverFault: false };
  }
  if (error instanceof EventStoreUnavailableError) {
    return { code: error.code, ...ERROR_KIND_TRANSPORT.unavailable, detail: UNAVAILABLE_DETAIL, details: {}, serverFault: true };
  }
  return internalError();
}

interface HttpStatusMapping {
  readonly code: string;
  readonly grpcStatus: GrpcStatus;
  readonly title: string;
}

/** Nest's own exceptions (unknown route, guards, pipes) by status. */
const HTTP_STATUS_MAPPING: Readonly<Record<number, HttpStatusMapping>> = {
  400: { code: 'BAD_REQUEST', grpcStatus: GrpcStatus.INVALID_ARGUMENT, title: 'Bad request' },
  401: { code: 'UNAUTHENTICATED', grpcStatus: GrpcStatus.UNAUTHENTICATED, title: 'Authentication required' },
  403: { code: 'FORBIDDEN', grpcStatus: GrpcStatus.PERMISSION_DENIED, title: 'Forbidden' },
  404: { code: 'NOT_FOUND', grpcStatus: GrpcStatus.NOT_FOUND, title: 'Not found' },
  405: { code: 'METHOD_NOT_ALLOWED', grpcStatus: GrpcStatus.UNIMPLEMENTED, title: 'Method not allowed' },
  406: { code: 'NOT_ACCEPTABLE', grpcStatus: GrpcStatus.INVALID_ARGUMENT, title: 'Not acceptable' },
  408: { code: 'REQUEST_TIMEOUT', grpcStatus: GrpcStatus.DEADLINE_EXCEEDED, title: 'Request timeout' },
  409: { code: 'CONFLICT', grpcStatus: GrpcStatus.ABORTED, title: 'Conflict' },
  410: { code: 'GONE', grpcStatus: GrpcStatus.NOT_FOUND, title: 'Gone' },
  411: { code: 'LENGTH_REQUIRED', grpcStatus: GrpcStatus.INVALID_ARGUMENT, title: 'Length required' },
  412: { code: 'PRECONDITION_FAILED', grpcStatus: GrpcStatus.FAILED_PRECONDITION, title: 'Precondition failed' },
  413: { code: 'BODY_TOO_LARGE', grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED, title: 'Request body too large' },
  415: { code: 'UNSUPPORTED_MEDIA_TYPE', grpcStatus: GrpcStatus.INVALID_ARGUMENT, title: 'Unsupported media type' },
  422: { code: 'UNPROCESSABLE_ENTITY', grpcStatus: GrpcStatus.INVALID_ARGUMENT, title: 'Unprocessable entity' },
  429: { code: 'RATE_LIMITED', grpcStatus: GrpcStatus.RESOURCE_EXHAUSTED, title: 'Too many requests' },
  501: { code: 'NOT_IMPLEMENTED', grpcStatus: GrpcStatus.UNIMPLEMENTED, title: 'Not implemented' },
  503: { code: 'UNAVAILABLE', grpcStatus: GrpcStatus.UNAVAILABLE, title: 'Temporarily unavailable' },
  504: { code: 'TIMEOUT', grpcStatus: GrpcStatus.DEADLINE_EXCEEDED, title: 'Timed out' },
};

function describeHttpException(error: HttpException): DescribedError {
  const httpStatus = error.getStatus();
  if (!Number.isInteger(httpStatus) || httpStatus < 400 || httpStatus > 599) return internalError();
  const mapping = HTTP_STATUS_MAPPING[httpStatus];
  if (httpStatus >= 500) {
    return mapping
      ? { ...mapping, httpStatus, detail: httpStatus === 503 ? UNAVAILABLE_DETAIL : INTERNAL_DETAIL, details: {}, serverFault: true }
      : internalError();
  }
  return {
    code: mapping?.code ?? `HTTP_${httpStatus}`,
    grpcStatus: mapping?.grpcStatus ?? GrpcStatus.INVALID_ARGUMENT,
    title: mapping?.title ?? 'Request refused',
    httpStatus,
    detail: httpExceptionDetail(error),
    details: {},
    serverFault: false,
  };
}

/** Nest 4xx messages ("Cannot GET /x", guard and pipe messages) are about the request: safe. */
function httpExceptionDetail(error: HttpException): string {
  const response = error.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (typeof message === 'string') return message;
  if (Array.isArray(message) && message.every((item) => typeof item === 'string')) return message.join('; ');
  return error.message;
}

function internalError(): DescribedError {
  return {
    code: INTERNAL_ERROR_CODE,
    ...ERROR_KIND_TRANSPORT.invariant_violation,
    detail: INTERNAL_DETAIL,
    details: {},
    serverFault: true,
  };
}

/** Keeps primitive values only: nested objects could carry anything, so they never leave. */
function safeDetails(details: Readonly<Record<string, unknown>>): ErrorDetails {
  const safe: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(details)) {
    if (value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      safe[key] = value;
    } else if (typeof value === 'bigint') {
      safe[key] = value.toString();
    }
  }
  return safe;
}
