/**
 * The small named hierarchy every layer raises and the transport edge maps, in one place, to
 * HTTP problem details (RFC 7807) and gRPC statuses. Each error carries a stable, machine-readable
 * `code` (SCREAMING_SNAKE_CASE, part of the API contract: never renamed) and optional details that
 * are safe to show to the caller (never secrets).
 *
 * | kind                    | HTTP | gRPC                |
 * |-------------------------|------|---------------------|
 * | validation              | 400  | INVALID_ARGUMENT    |
 * | unauthenticated         | 401  | UNAUTHENTICATED     |
 * | forbidden               | 403  | PERMISSION_DENIED   |
 * | not_found               | 404  | NOT_FOUND           |
 * | illegal_state           | 422  | FAILED_PRECONDITION |
 * | version_conflict        | 409  | ABORTED             |
 * | idempotency_conflict    | 409  | ALREADY_EXISTS      |
 * | rate_limited / locked   | 429  | RESOURCE_EXHAUSTED  |
 * | timeout                 | 504  | DEADLINE_EXCEEDED   |
 * | unavailable             | 503  | UNAVAILABLE         |
 * | invariant_violation     | 500  | INTERNAL            |
 */
export type ErrorKind =
  | 'validation'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'illegal_state'
  | 'version_conflict'
  | 'idempotency_conflict'
  | 'rate_limited'
  | 'timeout'
  | 'unavailable'
  | 'invariant_violation';

export type ErrorDetails = Readonly<Record<string, string | number | boolean | null>>;

export abstract class ApplicationError extends Error {
  abstract readonly kind: ErrorKind;

  constructor(
    readonly code: string,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is malformed: bad amount, currency, id, JSON, CSV... Retrying unchanged never helps. */
export class ValidationError extends ApplicationError {
  readonly kind = 'validation' as const;
}

/** No valid credentials (missing, expired, wrongly signed token). */
export class UnauthenticatedError extends ApplicationError {
  readonly kind = 'unauthenticated' as const;
}

/** Valid credentials, but not for this object or action. */
export class ForbiddenError extends ApplicationError {
  readonly kind = 'forbidden' as const;
}

export class NotFoundError extends ApplicationError {
  readonly kind = 'not_found' as const;
}

/** A business rule refuses the command in the current state (INSUFFICIENT_FUNDS, WALLET_FROZEN...). */
export class IllegalStateError extends ApplicationError {
  readonly kind = 'illegal_state' as const;
}

/** Concurrent modification won after the bounded retries (the caller may retry later). */
export class VersionConflictError extends ApplicationError {
  readonly kind = 'version_conflict' as const;
}

/** The idempotency key was used before with a different request. */
export class IdempotencyConflictError extends ApplicationError {
  readonly kind = 'idempotency_conflict' as const;
}

/** Too many attempts (e.g. a locked PIN); details say until when. */
export class RateLimitedError extends ApplicationError {
  readonly kind = 'rate_limited' as const;
}

/** A bounded wait ran out (e.g. read-your-writes). */
export class TimeoutError extends ApplicationError {
  readonly kind = 'timeout' as const;
}

export class UnavailableError extends ApplicationError {
  readonly kind = 'unavailable' as const;
}

/** Something that must never happen did: a bug or corrupted data. Never caused by input. */
export class InvariantViolationError extends ApplicationError {
  readonly kind = 'invariant_violation' as const;
}

export function isApplicationError(error: unknown): error is ApplicationError {
  return error instanceof ApplicationError;
}
