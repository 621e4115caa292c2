import type { LoggerService } from '@nestjs/common';
import type { Express } from 'express';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Registry } from 'prom-client';
import { correlationIdMiddleware } from './correlation-id.middleware';
import { httpMetricsMiddleware, type HttpMetrics } from './http-metrics.middleware';
import { installJsonBodyParser } from './json-body-parser';
import { metricsHandler } from './metrics.handler';
import { ProblemDetailsFilter } from './problem-details.filter';

export interface HttpEdgeOptions {
  /** From HTTP_BODY_LIMIT_BYTES (readHttpBodyLimitBytes). */
  readonly bodyLimitBytes: number;
  /** Logs server faults; defaults to Nest's Logger, i.e. the app's logger. */
  readonly logger?: LoggerService;
  /** Records http_request_duration_seconds when given. */
  readonly metrics?: HttpMetrics;
}

/**
 * Everything between the socket and the controllers, in the order that matters: correlation id
 * (so every later log line and error carries it), metrics (so refusals are measured too), the
 * JSON body parser with its limit, and the problem-details filter. Call once, right after
 * `NestFactory.create<NestExpressApplication>(module, { bodyParser: false, ... })`, before listen.
 */
export function installHttpEdge(app: NestExpressApplication, options: HttpEdgeOptions): void {
  app.use(correlationIdMiddleware());
  if (options.metrics) app.use(httpMetricsMiddleware(options.metrics));
  installJsonBodyParser(app, { limitBytes: options.bodyLimitBytes });
  app.useGlobalFilters(new ProblemDetailsFilter(options.logger));
}

/** Serves the registry at `path` (default `/metrics`) outside Nest's routing; call before listen. */
export function mountMetricsEndpoint(app: NestExpressApplication, registry: Registry, path = '/metrics'): void {
  const express: Express = app.getHttpAdapter().getInstance();
  express.get(path, metricsHandler(registry));
}
