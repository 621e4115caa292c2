import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { RelayRole } from '../leadership/relay.runner';

export interface RelayHealth {
  readonly role: RelayRole;
  /** Set while the leader's batches fail. */
  readonly failure: string | undefined;
}

export interface RelayHttpServer {
  /** e.g. http://127.0.0.1:9464 */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * /metrics (Prometheus text), /health/live and /health/ready on plain node:http: the relay has no
 * API, so it carries no web framework. Liveness checks nothing (a database outage must not get
 * the pod restarted into the same outage); readiness says the relay does its job: a standby
 * waiting for the lock, or a leader whose batches succeed.
 */
export async function startRelayHttpServer(options: {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly health: () => RelayHealth;
}): Promise<RelayHttpServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'GET') return json(405, { status: 'method not allowed' });
    if (path === '/health/live') return json(200, { status: 'ok' });
    if (path === '/health/ready') {
      const { role, failure } = options.health();
      const ready = (role === 'standby' || role === 'leader') && failure === undefined;
      return json(ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', role, ...(failure ? { reason: failure } : {}) });
    }
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((body) => {
          response.writeHead(200, { 'Content-Type': options.registry.contentType });
          response.end(body);
        })
        .catch(() => {
          response.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          response.end('metrics collection failed\n');
        });
      return;
    }
    return json(404, { status: 'not found' });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as { port: number };
  return {
    url: `http://${options.host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
