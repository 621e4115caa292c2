import { Catch, Logger, type ArgumentsHost, type ExceptionFilter, type LoggerService } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CORRELATION_ID_HEADER, resolveCorrelationId } from './correlation-id';
import { describeError } from './error-status.mapping';
import { PROBLEM_CONTENT_TYPE, toProblemDetails } from './problem-details';
import { RequestContext } from './request-context';

/**
 * The one place HTTP errors are answered: every exception becomes `application/problem+json`
 * (see problem-details.ts and error-status.mapping.ts). Server faults are logged with their stack
 * and correlation id; the caller sees only the generic detail and the correlation id to quote.
 *
 * Install with `app.useGlobalFilters(new ProblemDetailsFilter(logger))` (installHttpEdge does).
 * HTTP only: gRPC errors are mapped by the `unary` / `serverStream` wrappers.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger: LoggerService;

  constructor(logger?: LoggerService) {
    this.logger = logger ?? new Logger(ProblemDetailsFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const correlationId = RequestContext.currentCorrelationId() ?? resolveCorrelationId(response.getHeader(CORRELATION_ID_HEADER));
    const described = describeError(exception);

    if (described.serverFault) {
      this.logger.error(
        {
          msg: 'request failed',
          correlationId,
          method: request.method,
          route: routeTemplate(request),
          status: described.httpStatus,
          code: described.code,
          error: exception instanceof Error ? { name: exception.name, message: exception.message, stack: exception.stack } : { value: String(exception) },
        },
        ProblemDetailsFilter.name,
      );
    }
    if (response.headersSent) {
      // Part of a response is already on the wire; the only honest signal left is a cut connection.
      response.destroy();
      return;
    }
    response.status(described.httpStatus);
    response.setHeader('Content-Type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
    response.setHeader(CORRELATION_ID_HEADER, correlationId);
    if (described.httpStatus === 401 && !response.getHeader('WWW-Authenticate')) response.setHeader('WWW-Authenticate', 'Bearer');
    response.end(JSON.stringify(toProblemDetails(described, correlationId)));
  }
}

function routeTemplate(request: Request): string {
  const path: unknown = (request.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${request.baseUrl}${path}` : 'unmatched';
}
