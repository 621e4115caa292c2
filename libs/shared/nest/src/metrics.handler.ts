import type { Request, Response } from 'express';
import type { Registry } from 'prom-client';

/**
 * The Prometheus scrape endpoint as a plain express handler, mounted outside Nest's routing (no
 * guards, no problem details): `app.getHttpAdapter().get('/metrics', metricsHandler(registry))`,
 * or mountMetricsEndpoint. It exposes no request data, only aggregates.
 */
export function metricsHandler(registry: Registry): (request: Request, response: Response) => void {
  return function metrics(_request, response) {
    registry
      .metrics()
      .then((body) => {
        response.status(200).setHeader('Content-Type', registry.contentType);
        response.end(body);
      })
      .catch(() => {
        response.status(500).setHeader('Content-Type', 'text/plain; charset=utf-8');
        response.end('metrics collection failed\n');
      });
  };
}
