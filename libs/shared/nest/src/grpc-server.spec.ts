import * as grpc from '@grpc/grpc-js';
import { IllegalStateError, ValidationError } from '@ledger/errors';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { join } from 'node:path';
import { GrpcCallAbortedError, serverStream, unary } from './grpc-call.handlers';
import { createGrpcMetrics } from './grpc-metrics';
import { loadProtoFiles } from './grpc-proto.loader';
import { startGrpcServer, type RunningGrpcServer } from './grpc-server';
import type { GrpcServerLimits } from './grpc-server.config';
import { JsonLogger } from './json-logger';
import { createMetricsRegistry } from './metrics.registry';
import { RequestContext } from './request-context';

const ECHO_PROTO = join(__dirname, 'testing', 'echo-test.proto');
const REFLECTION_PROTO = join(require.resolve('@grpc/reflection'), '..', '..', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const LIMITS: GrpcServerLimits = {
  maxReceiveMessageBytes: 4_096,
  maxSendMessageBytes: 65_536,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  maxConcurrentStreams: 100,
  maxConnectionIdleMs: 60_000,
};

interface EchoRequest { text: string }
interface EchoResponse { text: string; correlation_id: string }
interface CountRequest { count: number }
interface CountResponse { n: number }

type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client & Record<string, (...args: unknown[]) => unknown>;

function clientFor(protoFile: string, serviceName: string, address: string): grpc.Client & Record<string, (...args: unknown[]) => unknown> {
  const definition = loadProtoFiles([protoFile]);
  const service = definition[serviceName] as grpc.ServiceDefinition;
  const Client = grpc.makeGenericClientConstructor(service, serviceName) as unknown as ClientConstructor;
  return new Client(address, grpc.credentials.createInsecure());
}

interface UnaryOutcome<T> {
  error: grpc.ServiceError | null;
  response: T | undefined;
  headers: grpc.Metadata | undefined;
  status: grpc.StatusObject;
}

function callUnary<T>(client: grpc.Client & Record<string, (...args: unknown[]) => unknown>, method: string, request: unknown, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<UnaryOutcome<T>> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | undefined;
    let error: grpc.ServiceError | null = null;
    let response: T | undefined;
    const call = client[method]!(request, metadata, options, (e: grpc.ServiceError | null, r: T) => {
      error = e;
      response = r;
    }) as grpc.ClientUnaryCall;
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
    call.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ error, response, headers, status })));
  });
}

describe('startGrpcServer with unary / serverStream handlers (loopback)', () => {
  let running: RunningGrpcServer;
  let echo: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  const registry = createMetricsRegistry({ prefix: 'grpc_test_', collectDefaultMetrics: false });
  const metrics = createGrpcMetrics(registry);
  const logLines: Array<Record<string, unknown>> = [];
  const logger = new JsonLogger('grpc-test', 'log', (line) => logLines.push(JSON.parse(line) as Record<string, unknown>));
  const slowCalls: Array<{ reason: unknown; returned: boolean }> = [];

  beforeAll(async () => {
    running = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      protoFiles: [ECHO_PROTO],
      limits: LIMITS,
      services: [
        {
          name: 'nest.testing.v1.EchoService',
          implementation: {
            Echo: unary<EchoRequest, EchoResponse>(
              async (request, context) => {
                if (request.text === 'insufficient') {
                  throw new IllegalStateError('INSUFFICIENT_FUNDS', 'Wallet w-1 has 1.00 USD available', { walletId: 'w-1', available: '1.00' });
                }
                if (request.text === 'boom') throw new Error('connection string postgres://admin:hunter2@db/ledger');
                if (request.text === 'slow') {
                  const record = { reason: undefined as unknown, returned: false };
                  slowCalls.push(record);
                  await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
                  record.reason = context.signal.reason;
                  record.returned = true;
                  return { text: 'too late', correlation_id: '' };
                }
                await new Promise((resolve) => setImmediate(resolve));
                return { text: request.text, correlation_id: RequestContext.currentCorrelationId() ?? '' };
              },
              { metrics, logger },
            ),
            Count: serverStream<CountRequest, CountResponse>(
              async function* (request) {
                for (let n = 1; n <= request.count; n += 1) {
                  if (n > 3) throw new ValidationError('COUNT_TOO_HIGH', 'At most 3', { max: 3 });
                  yield { n };
                }
              },
              { metrics, logger },
            ),
          },
        },
      ],
    });
    echo = clientFor(ECHO_PROTO, 'nest.testing.v1.EchoService', `127.0.0.1:${running.port}`);
  });

  afterAll(async () => {
    echo?.close();
    await running?.stop(1_000);
  });

  it('binds an ephemeral port on loopback when asked for port 0', () => {
    expect(running.port).toBeGreaterThan(0);
    expect(running.address).toBe(`127.0.0.1:${running.port}`);
  });

  it('runs the handler in a RequestContext with the caller\'s correlation id, echoed in metadata', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-correlation-id', 'client-corr-1');
    const outcome = await callUnary<EchoResponse>(echo, 'Echo', { text: 'hi' }, metadata);
    expect(outcome.error).toBeNull();
    expect(outcome.response).toEqual({ text: 'hi', correlation_id: 'client-corr-1' });
    expect(outcome.headers?.get('x-correlation-id')).toEqual(['client-corr-1']);
    expect(outcome.status.metadata.get('correlation-id')).toEqual(['client-corr-1']);
  });

  it('generates a correlation id when the caller sends none or an unsafe one', async () => {
    for (const sent of [undefined, 'has spaces and "quotes"', 'a'.repeat(129)]) {
      const metadata = new grpc.Metadata();
      if (sent !== undefined) metadata.set('x-correlation-id', sent);
      const outcome = await callUnary<EchoResponse>(echo, 'Echo', { text: 'hi' }, metadata);
      const echoed = outcome.headers?.get('x-correlation-id')[0];
      expect(echoed).toMatch(UUID);
      expect(outcome.response?.correlation_id).toBe(echoed);
    }
  });

  it('maps an application error to its status, with reason-code, correlation-id and reason-details trailers', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-correlation-id', 'client-corr-2');
    const outcome = await callUnary<EchoResponse>(echo, 'Echo', { text: 'insufficient' }, metadata);
    expect(outcome.error?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(outcome.error?.details).toBe('Wallet w-1 has 1.00 USD available');
    expect(outcome.error?.metadata.get('reason-code')).toEqual(['INSUFFICIENT_FUNDS']);
    expect(outcome.error?.metadata.get('correlation-id')).toEqual(['client-corr-2']);
    expect(JSON.parse(String(outcome.error?.metadata.get('reason-details')[0]))).toEqual({ walletId: 'w-1', available: '1.00' });
  });

  it('answers an unknown error with INTERNAL, leaking nothing, and logs it with the correlation id', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-correlation-id', 'client-corr-3');
    const outcome = await callUnary<EchoResponse>(echo, 'Echo', { text: 'boom' }, metadata);
    expect(outcome.error?.code).toBe(grpc.status.INTERNAL);
    expect(outcome.error?.details).not.toMatch(/hunter2|postgres/);
    expect(outcome.error?.metadata.get('reason-code')).toEqual(['INTERNAL']);
    const logged = logLines.find((line) => line['correlationId'] === 'client-corr-3');
    expect(logged).toMatchObject({ level: 'error', path: '/nest.testing.v1.EchoService/Echo', code: 'INTERNAL' });
    expect(JSON.stringify(logged)).toMatch(/hunter2/);
  });

  it('reports DEADLINE_EXCEEDED, aborts the handler\'s signal, and writes nothing afterwards', async () => {
    const before = slowCalls.length;
    const outcome = await callUnary<EchoResponse>(echo, 'Echo', { text: 'slow' }, new grpc.Metadata(), { deadline: Date.now() + 300 });
    expect(outcome.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(outcome.response).toBeUndefined();
    expect(slowCalls.length).toBe(before + 1);
    const slow = slowCalls.at(-1)!;
    await waitUntil(() => slow.returned);
    expect(slow.reason).toBeInstanceOf(GrpcCallAbortedError);
    expect((slow.reason as GrpcCallAbortedError).status).toBe(grpc.status.DEADLINE_EXCEEDED);
    const text = await registry.metrics();
    expect(text).toMatch(/grpc_server_handled_total\{grpc_type="unary",grpc_service="nest.testing.v1.EchoService",grpc_method="Echo",grpc_code="DEADLINE_EXCEEDED"\} 1/);
  });

  it('aborts the handler\'s signal when the client cancels', async () => {
    const before = slowCalls.length;
    const call = echo['Echo']!({ text: 'slow' }, new grpc.Metadata(), {}, () => undefined) as grpc.ClientUnaryCall;
    await waitUntil(() => slowCalls.length > before);
    call.cancel();
    const slow = slowCalls.at(-1)!;
    await waitUntil(() => slow.returned);
    expect((slow.reason as GrpcCallAbortedError).status).toBe(grpc.status.CANCELLED);
  });

  it('refuses a request over maxReceiveMessageBytes with RESOURCE_EXHAUSTED', async () => {
    const outcome = await callUnary<EchoResponse>(echo, 'Echo', { text: 'x'.repeat(LIMITS.maxReceiveMessageBytes + 1) });
    expect(outcome.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('streams server messages, then maps a mid-stream error the same way', async () => {
    const ok = await collectStream(echo, { count: 3 });
    expect(ok.messages.map((m) => m.n)).toEqual([1, 2, 3]);
    expect(ok.status.code).toBe(grpc.status.OK);
    expect(ok.status.metadata.get('correlation-id')[0]).toMatch(UUID);

    const failed = await collectStream(echo, { count: 5 });
    expect(failed.messages.map((m) => m.n)).toEqual([1, 2, 3]);
    expect(failed.status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(failed.status.details).toBe('At most 3');
    expect(failed.status.metadata.get('reason-code')).toEqual(['COUNT_TOO_HIGH']);
  });

  it('records gRPC metrics by service, method and status name', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/grpc_server_handled_total\{grpc_type="unary",grpc_service="nest.testing.v1.EchoService",grpc_method="Echo",grpc_code="OK"\} \d+/);
    expect(text).toMatch(/grpc_server_handled_total\{grpc_type="unary",grpc_service="nest.testing.v1.EchoService",grpc_method="Echo",grpc_code="FAILED_PRECONDITION"\} 1/);
    expect(text).toMatch(/grpc_server_handled_total\{grpc_type="server_stream",grpc_service="nest.testing.v1.EchoService",grpc_method="Count",grpc_code="INVALID_ARGUMENT"\} 1/);
    expect(text).toMatch(/grpc_server_handling_seconds_bucket\{le="0.005",grpc_type="unary"/);
  });

  it('answers health checks, SERVING by default, and follows setServingStatus', async () => {
    const health = clientFor(healthProtoPath, 'grpc.health.v1.Health', `127.0.0.1:${running.port}`);
    try {
      expect((await callUnary<{ status: string }>(health, 'Check', { service: '' })).response).toEqual({ status: 'SERVING' });
      expect((await callUnary<{ status: string }>(health, 'Check', { service: 'nest.testing.v1.EchoService' })).response).toEqual({ status: 'SERVING' });
      expect((await callUnary(health, 'Check', { service: 'no.such.Service' })).error?.code).toBe(grpc.status.NOT_FOUND);
      running.setServingStatus('NOT_SERVING');
      expect((await callUnary<{ status: string }>(health, 'Check', { service: '' })).response).toEqual({ status: 'NOT_SERVING' });
      running.setServingStatus('SERVING');
    } finally {
      health.close();
    }
  });

  it('lists the services through server reflection and serves descriptors with the proto field names', async () => {
    const reflection = clientFor(REFLECTION_PROTO, 'grpc.reflection.v1.ServerReflection', `127.0.0.1:${running.port}`);
    try {
      const services = await reflect(reflection, { list_services: '*' });
      const names = (services['list_services_response'] as { service: Array<{ name: string }> }).service.map((s) => s.name);
      expect(names).toEqual(expect.arrayContaining(['nest.testing.v1.EchoService', 'grpc.health.v1.Health']));

      const files = await reflect(reflection, { file_containing_symbol: 'nest.testing.v1.EchoService' });
      const encoded = (files['file_descriptor_response'] as { file_descriptor_proto: Buffer[] }).file_descriptor_proto;
      expect(encoded.length).toBeGreaterThan(0);
      // keepCase: the published descriptor says correlation_id, exactly as the .proto file does.
      expect(Buffer.concat(encoded).toString('latin1')).toContain('correlation_id');
    } finally {
      reflection.close();
    }
  });
});

describe('startGrpcServer: wiring checks and shutdown', () => {
  it('refuses to start with a method left unimplemented or an unknown one', async () => {
    const base = { host: '127.0.0.1', port: 0, protoFiles: [ECHO_PROTO], limits: LIMITS };
    await expect(
      startGrpcServer({ ...base, services: [{ name: 'nest.testing.v1.EchoService', implementation: { Echo: unary(() => ({ text: '' })) } }] }),
    ).rejects.toThrow(/missing handlers for Count/);
    await expect(
      startGrpcServer({
        ...base,
        services: [{ name: 'nest.testing.v1.EchoService', implementation: { echo: unary(() => ({})), count: serverStream(noMessages), Ecko: unary(() => ({})) } }],
      }),
    ).rejects.toThrow(/unknown methods Ecko/);
    await expect(startGrpcServer({ ...base, services: [{ name: 'nest.testing.v1.Nope', implementation: {} }] })).rejects.toThrow(/not defined/);
  });

  it('stops gracefully when idle, and stop is idempotent', async () => {
    const running = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      protoFiles: [ECHO_PROTO],
      limits: LIMITS,
      services: [{ name: 'nest.testing.v1.EchoService', implementation: { Echo: unary(() => ({ text: 'x' })), Count: serverStream(noMessages) } }],
    });
    await expect(running.stop(2_000)).resolves.toEqual({ graceful: true });
    await expect(running.stop(2_000)).resolves.toEqual({ graceful: true }); // idempotent
  });

  it('forces the stop after the timeout when a call does not finish', async () => {
    let release: (() => void) | undefined;
    const running = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      protoFiles: [ECHO_PROTO],
      limits: LIMITS,
      services: [
        {
          name: 'nest.testing.v1.EchoService',
          implementation: {
            Echo: unary(() => new Promise<{ text: string }>((resolve) => (release = () => resolve({ text: 'late' })))),
            Count: serverStream(noMessages),
          },
        },
      ],
    });
    const client = clientFor(ECHO_PROTO, 'nest.testing.v1.EchoService', `127.0.0.1:${running.port}`);
    const pending = callUnary(client, 'Echo', { text: 'hang' });
    await waitUntil(() => release !== undefined); // the call is in flight
    await expect(running.stop(100)).resolves.toEqual({ graceful: false });
    const outcome = await pending;
    expect(outcome.error?.code).toBeDefined();
    release?.();
    client.close();
  });
});

/** A stream handler that ends at once. */
async function* noMessages(): AsyncIterable<never> {
  // yields nothing
}

async function collectStream(client: grpc.Client & Record<string, (...args: unknown[]) => unknown>, request: CountRequest): Promise<{ messages: CountResponse[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const messages: CountResponse[] = [];
    const call = client['Count']!(request, new grpc.Metadata(), {}) as grpc.ClientReadableStream<CountResponse>;
    call.on('data', (message: CountResponse) => messages.push(message));
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ messages, status })));
  });
}

function reflect(client: grpc.Client & Record<string, (...args: unknown[]) => unknown>, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const call = client['ServerReflectionInfo']!(new grpc.Metadata(), {}) as grpc.ClientDuplexStream<unknown, Record<string, unknown>>;
    call.on('data', (response: Record<string, unknown>) => {
      resolve(response);
      call.end();
    });
    call.on('error', reject);
    call.write(request);
  });
}

async function waitUntil(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
