import 'reflect-metadata';
import { IllegalStateError } from '@ledger/errors';
import { EventStoreUnavailableError } from '@ledger/event-store';
import { Body, Controller, Get, Logger, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { installHttpEdge, mountMetricsEndpoint } from './http-edge.setup';
import { createHttpMetrics } from './http-metrics.middleware';
import { installJsonBodyParser } from './json-body-parser';
import { JsonLogger } from './json-logger';
import { createMetricsRegistry } from './metrics.registry';
import { setupOpenApi } from './openapi.setup';
import { ApiProblemResponses } from './problem-details.dto';
import { RequestContext } from './request-context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BODY_LIMIT_BYTES = 1_024;

@Controller('things')
class ThingsController {
  private readonly logger = new Logger('Things');

  @Get(':id')
  @ApiProblemResponses(404, 422)
  get(@Param('id') id: string): { id: string } {
    switch (id) {
      case 'insufficient':
        throw new IllegalStateError('INSUFFICIENT_FUNDS', 'Wallet w-1 has 1.00 USD available', { walletId: 'w-1', available: '1.00' });
      case 'boom':
        throw new Error('connection string postgres://admin:hunter2@db/ledger');
      case 'store-down':
        throw new EventStoreUnavailableError('connect ECONNREFUSED 10.1.2.3:5432');
      default:
        return { id };
    }
  }

  @Post()
  async create(@Body() body: unknown): Promise<{ received: unknown; correlationId: string | undefined }> {
    await new Promise((resolve) => setImmediate(resolve));
    this.logger.log({ msg: 'creating thing' });
    return { received: body, correlationId: RequestContext.currentCorrelationId() };
  }
}

@Module({ controllers: [ThingsController] })
class ThingsModule {}

describe('HTTP edge: problem details, body limits, correlation ids, metrics, OpenAPI (loopback)', () => {
  let app: NestExpressApplication;
  let base: string;
  const logLines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const logger = new JsonLogger('edge-test', 'log', (line) => logLines.push(JSON.parse(line) as Record<string, unknown>));
    app = await NestFactory.create<NestExpressApplication>(ThingsModule, { bodyParser: false, logger });
    const registry = createMetricsRegistry({ prefix: 'edge_test_', collectDefaultMetrics: false });
    installHttpEdge(app, { bodyLimitBytes: BODY_LIMIT_BYTES, metrics: createHttpMetrics(registry) });
    mountMetricsEndpoint(app, registry);
    setupOpenApi(app, { title: 'Edge test', version: '1.0.0', path: 'docs' });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(() => app?.close());

  async function problem(response: Response): Promise<Record<string, unknown>> {
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body['correlationId']).toBe(response.headers.get('x-correlation-id'));
    return body;
  }

  it('answers an application error with its problem details, status and correlation id', async () => {
    const response = await fetch(`${base}/things/insufficient`, { headers: { 'X-Correlation-Id': 'client-id-1' } });
    expect(response.status).toBe(422);
    expect(response.headers.get('x-correlation-id')).toBe('client-id-1');
    expect(await problem(response)).toEqual({
      type: 'urn:ledger:problem:INSUFFICIENT_FUNDS',
      title: 'Refused in the current state',
      status: 422,
      detail: 'Wallet w-1 has 1.00 USD available',
      code: 'INSUFFICIENT_FUNDS',
      correlationId: 'client-id-1',
      walletId: 'w-1',
      available: '1.00',
    });
  });

  it('replaces an unsafe client correlation id with a UUID', async () => {
    const response = await fetch(`${base}/things/insufficient`, { headers: { 'X-Correlation-Id': 'x'.repeat(500) } });
    expect(response.headers.get('x-correlation-id')).toMatch(UUID);
    expect((await problem(response))['correlationId']).toMatch(UUID);
  });

  it('answers an unknown error with 500 INTERNAL, leaking nothing, and logs it with stack and correlation id', async () => {
    const response = await fetch(`${base}/things/boom`, { headers: { 'X-Correlation-Id': 'boom-1' } });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toMatch(/hunter2|postgres|stack/);
    expect(JSON.parse(text)).toMatchObject({ type: 'urn:ledger:problem:INTERNAL', status: 500, code: 'INTERNAL', correlationId: 'boom-1' });
    const logged = logLines.find((line) => line['correlationId'] === 'boom-1' && line['level'] === 'error');
    expect(logged).toMatchObject({ code: 'INTERNAL', status: 500, route: '/things/:id' });
    expect(JSON.stringify(logged)).toMatch(/hunter2/); // the operator sees the cause...
    expect((logged?.['error'] as { stack?: string }).stack).toMatch(/ThingsController/); // ...and where it came from
  });

  it('maps an unavailable event store to 503 without the driver message', async () => {
    const response = await fetch(`${base}/things/store-down`);
    expect(response.status).toBe(503);
    const body = await problem(response);
    expect(body).toMatchObject({ code: 'EVENT_STORE_UNAVAILABLE', status: 503 });
    expect(JSON.stringify(body)).not.toContain('10.1.2.3');
  });

  it.each([
    ['truncated JSON', '{"amount": "12.34"'],
    ['not JSON at all', 'amount=12.34'],
    ['a bare string (strict mode: objects and arrays only)', '"12.34"'],
  ])('refuses %s with 400 MALFORMED_JSON', async (_what, body) => {
    const response = await fetch(`${base}/things`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect(response.status).toBe(400);
    expect(await problem(response)).toMatchObject({ type: 'urn:ledger:problem:MALFORMED_JSON', code: 'MALFORMED_JSON', status: 400 });
  });

  it('refuses a body over HTTP_BODY_LIMIT_BYTES with 413 BODY_TOO_LARGE', async () => {
    const body = JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT_BYTES) });
    const response = await fetch(`${base}/things`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect(response.status).toBe(413);
    expect(await problem(response)).toMatchObject({ code: 'BODY_TOO_LARGE', status: 413, limitBytes: BODY_LIMIT_BYTES });
  });

  it('refuses a compressed body with 415', async () => {
    const response = await fetch(`${base}/things`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body: '{}' });
    expect(response.status).toBe(415);
    expect(await problem(response)).toMatchObject({ code: 'UNSUPPORTED_CONTENT_ENCODING' });
  });

  it('answers an unknown route with 404 NOT_FOUND problem details', async () => {
    const response = await fetch(`${base}/nope`);
    expect(response.status).toBe(404);
    expect(await problem(response)).toMatchObject({ code: 'NOT_FOUND', type: 'urn:ledger:problem:NOT_FOUND' });
  });

  it('parses a valid body within the limit and keeps the request context through parsing and awaits', async () => {
    const response = await fetch(`${base}/things`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Correlation-Id': 'post-1' },
      body: JSON.stringify({ amount: '12.34' }),
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ received: { amount: '12.34' }, correlationId: 'post-1' });
    expect(logLines.find((line) => line['msg'] === 'creating thing')).toMatchObject({ correlationId: 'post-1', context: 'Things' });
  });

  it('records request durations by route template, not raw URL', async () => {
    await fetch(`${base}/things/abc`);
    await fetch(`${base}/things/def`);
    const response = await fetch(`${base}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/things\/:id",status="200"\} [2-9]/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/things\/:id",status="422"\}/);
    expect(text).toMatch(/http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\}/);
    expect(text).not.toMatch(/route="\/things\/(abc|def|insufficient)"/);
  });

  it('serves the OpenAPI document with the bearer scheme and the problem details schema', async () => {
    const document = (await (await fetch(`${base}/docs/openapi.json`)).json()) as {
      info: { title: string; version: string };
      components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
      paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
    };
    expect(document.info).toMatchObject({ title: 'Edge test', version: '1.0.0' });
    expect(document.components.securitySchemes['bearer']).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(document.components.schemas['ProblemDetailsDto']).toBeDefined();
    expect(document.paths['/things/{id}']?.['get']?.responses['422']?.content).toHaveProperty(['application/problem+json']);
    const ui = await fetch(`${base}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger/i);
  });
});

describe('installJsonBodyParser', () => {
  it('refuses to run after Nest installed its default parser (which would bypass the limit)', async () => {
    const app = await NestFactory.create<NestExpressApplication>(ThingsModule, { logger: false });
    await app.init();
    try {
      expect(() => installJsonBodyParser(app, { limitBytes: BODY_LIMIT_BYTES })).toThrow(/already installed/);
    } finally {
      await app.close();
    }
  });
});
