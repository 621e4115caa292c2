import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ErrorDetails } from '@ledger/errors';

/**
 * A request the transport refuses before any handler sees it (a body over the size limit, an
 * encoding it does not accept). Not part of the application hierarchy: only the edge raises it,
 * and its HTTP status (413, 415) has no application error kind.
 */
export class TransportError extends Error {
  constructor(
    readonly code: string,
    readonly httpStatus: number,
    readonly grpcStatus: GrpcStatus,
    readonly title: string,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export function bodyTooLarge(limitBytes: number): TransportError {
  return new TransportError(
    'BODY_TOO_LARGE',
    413,
    GrpcStatus.RESOURCE_EXHAUSTED,
    'Request body too large',
    `The request body exceeds the limit of ${limitBytes} bytes`,
    { limitBytes },
  );
}

export function unsupportedBody(code: 'UNSUPPORTED_CONTENT_ENCODING' | 'UNSUPPORTED_CHARSET', message: string): TransportError {
  return new TransportError(code, 415, GrpcStatus.INVALID_ARGUMENT, 'Unsupported request body', message);
}
