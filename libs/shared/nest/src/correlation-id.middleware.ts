import type { IncomingMessage, ServerResponse } from 'node:http';
import { CORRELATION_ID_HEADER, resolveCorrelationId } from './correlation-id';
import { RequestContext } from './request-context';

/**
 * Express middleware (install it first): takes `X-Correlation-Id` when it is valid, otherwise
 * generates a UUID (an invalid or overlong id is replaced, not rejected, so tracing never costs a
 * request), echoes it on the response, and runs the rest of the request inside a RequestContext.
 */
export function correlationIdMiddleware(): (request: IncomingMessage, response: ServerResponse, next: () => void) => void {
  return function correlationId(request, response, next) {
    const correlationId = resolveCorrelationId(request.headers[CORRELATION_ID_HEADER]);
    response.setHeader(CORRELATION_ID_HEADER, correlationId);
    RequestContext.run({ correlationId }, next);
  };
}
