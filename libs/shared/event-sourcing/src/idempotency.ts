import { createHash } from 'node:crypto';
import { ValidationError } from '@ledger/errors';
import { canonicalJson, type JsonObject, type JsonValue } from '@ledger/event-store';

/**
 * Client idempotency keys: 8-128 characters of letters, digits and `_ - . :`. Scoped by the
 * calling principal, so two clients can never collide on a key.
 */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:-]{8,128}$/;
export const IDEMPOTENCY_CATEGORY = 'idempotency';
export const IDEMPOTENCY_EVENT_TYPE = 'IdempotentRequestRecorded';

export interface IdempotencyKey {
  /** Who owns the key space, e.g. the principal's subject. */
  readonly scope: string;
  readonly key: string;
  /** Hash of the request's meaningful fields: same key + different request = conflict. */
  readonly requestHash: string;
}

export function parseIdempotencyKey(key: unknown): string {
  if (key === undefined || key === null || key === '') {
    throw new ValidationError('IDEMPOTENCY_KEY_MISSING', 'Every money-moving request needs an idempotency key');
  }
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new ValidationError('IDEMPOTENCY_KEY_INVALID', 'An idempotency key is 8 to 128 characters of letters, digits and _ - . :');
  }
  return key;
}

/** SHA-256 of the canonical JSON of the request's fields (never include secrets such as a PIN). */
export function requestHash(request: JsonValue): string {
  return createHash('sha256').update(canonicalJson(request, 'request')).digest('hex');
}

/** One stream per (scope, key); its single event records the request hash and the result. */
export function idempotencyStreamId(scope: string, key: string): string {
  const digest = createHash('sha256').update(scope).update('\u0000').update(key).digest('hex').slice(0, 40);
  return `${IDEMPOTENCY_CATEGORY}-${digest}`;
}

export interface IdempotencyRecordData extends JsonObject {
  readonly scope: string;
  readonly key: string;
  readonly requestHash: string;
  readonly result: JsonObject;
}
