import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type ReadinessCheck = () => Promise<{ ready: boolean; checks: Record<string, unknown> }>;

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The projector serves no API, only probes and metrics, so a bare node:http server (no Nest,
 * no body parsing) is all it needs:
 * - GET /health/live: 200 while the process runs (no dependency checked: a database outage must
 *   not get the pod restarted, the runner retries on its own);
 * - GET /health/ready: 200 when the database answers and the projection is not stopped by a
 *   poison event, else 503 with the reason;
 * - GET /metrics: Prometheus text.
 */
export async function startProbeServer(options: { host: string; port: number; registry: Registry; ready: ReadinessCheck }): Promise<ProbeServer> {
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void route(request, response, options).catch(() => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function route(request: IncomingMessage, response: ServerResponse, options: { registry: Registry; ready: ReadinessCheck }): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET') return json(response, 405, { status: 'method not allowed' });
  if (path === '/health/live') return json(response, 200, { status: 'ok' });
  if (path === '/health/ready') {
    const { ready, checks } = await options.ready();
    return json(response, ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', checks });
  }
  if (path === '/metrics') {
    const body = await options.registry.metrics();
    response.writeHead(200, { 'content-type': options.registry.contentType });
    response.end(body);
    return;
  }
  json(response, 404, { status: 'not found' });
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
