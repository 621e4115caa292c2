import { Metadata } from '@grpc/grpc-js';
import type { DescribedError } from './error-status.mapping';

/**
 * Metadata names (lower-case, as gRPC requires):
 * - `x-correlation-id`: request metadata (optional, validated like the HTTP header) and response
 *   initial metadata (always; the id the server used).
 * - trailers, on every status: `correlation-id`; on errors also `reason-code` (the stable error
 *   code, e.g. INSUFFICIENT_FUNDS) and, when the error has safe details, `reason-details` (a JSON
 *   object, ASCII only). The status message (details) is the safe human-readable text.
 */
export const GRPC_CORRELATION_ID_KEY = 'x-correlation-id';
export const GRPC_TRAILER_CORRELATION_ID = 'correlation-id';
export const GRPC_TRAILER_REASON_CODE = 'reason-code';
export const GRPC_TRAILER_REASON_DETAILS = 'reason-details';

export function correlationHeaders(correlationId: string): Metadata {
  const metadata = new Metadata();
  metadata.set(GRPC_CORRELATION_ID_KEY, correlationId);
  return metadata;
}

export function successTrailers(correlationId: string): Metadata {
  const metadata = new Metadata();
  metadata.set(GRPC_TRAILER_CORRELATION_ID, correlationId);
  return metadata;
}

export function errorTrailers(error: DescribedError, correlationId: string): Metadata {
  const metadata = successTrailers(correlationId);
  metadata.set(GRPC_TRAILER_REASON_CODE, asciiOnly(error.code));
  if (Object.keys(error.details).length > 0) metadata.set(GRPC_TRAILER_REASON_DETAILS, asciiOnly(JSON.stringify(error.details)));
  return metadata;
}

/** Non-binary metadata values must be printable ASCII: escape everything else as \uXXXX. */
function asciiOnly(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
