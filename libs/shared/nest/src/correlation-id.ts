import { randomUUID } from 'node:crypto';

/**
 * The correlation id travels as `x-correlation-id`: an HTTP request/response header, and gRPC
 * request metadata and response (initial) metadata. gRPC error trailers repeat it as
 * `correlation-id` (see grpc-metadata.ts).
 */
export const CORRELATION_ID_HEADER = 'x-correlation-id';

/** Longest caller-supplied correlation id we keep; longer ones are replaced, never truncated. */
export const CORRELATION_ID_MAX_LENGTH = 128;

/**
 * Letters, digits and `. _ : -`, starting with a letter or digit: covers UUIDs, ULIDs and W3C
 * trace ids, and is safe to echo in headers, metadata and log lines (no spaces, quotes, CR/LF).
 */
const CORRELATION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** The caller's id if it is a single string of the safe shape and length, else undefined. */
export function acceptCorrelationId(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.length === 0 || value.length > CORRELATION_ID_MAX_LENGTH) return undefined;
  return CORRELATION_ID_PATTERN.test(value) ? value : undefined;
}

/** The caller's id when acceptable, otherwise a fresh UUID: every request gets exactly one. */
export function resolveCorrelationId(value: unknown): string {
  return acceptCorrelationId(value) ?? randomUUID();
}
