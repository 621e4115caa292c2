import type { NextFunction, Request, Response } from 'express';
import { Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from './metrics.registry';

/** Route label for requests that matched no route (404s, body-parser refusals): one series, not one per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface HttpMetrics {
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, route template and status code',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers: [registry],
    }),
  };
}

/**
 * Express middleware (install it right after the correlation id one) recording every request
 * once, when the response finishes or the connection closes. The route label is the matched
 * template (`/wallets/:walletId`), never the raw URL, so label cardinality stays bounded by the
 * number of routes; the status label is `aborted` when the client went away first.
 */
export function httpMetricsMiddleware(metrics: HttpMetrics): (request: Request, response: Response, next: NextFunction) => void {
  return function httpMetrics(request, response, next) {
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = (): void => {
      if (recorded) return;
      recorded = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = response.writableFinished ? String(response.statusCode) : 'aborted';
      metrics.requestDuration.observe({ method: request.method, route: routeLabel(request), status }, seconds);
    };
    response.once('finish', record);
    response.once('close', record);
    next();
  };
}

function routeLabel(request: Request): string {
  const path: unknown = (request.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${request.baseUrl}${path}` : UNMATCHED_ROUTE;
}
