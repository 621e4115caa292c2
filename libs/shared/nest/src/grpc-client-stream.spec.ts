import * as grpc from '@grpc/grpc-js';
import { ValidationError } from '@ledger/errors';
import { join } from 'node:path';
import { createGrpcHandlers, GrpcCallAbortedError } from './grpc-call.handlers';
import { createGrpcMetrics } from './grpc-metrics';
import { loadProtoFiles } from './grpc-proto.loader';
import { startGrpcServer, type RunningGrpcServer } from './grpc-server';
import type { GrpcServerLimits } from './grpc-server.config';
import { JsonLogger } from './json-logger';
import { createMetricsRegistry } from './metrics.registry';
import { RequestContext } from './request-context';

/** clientStream over a real loopback server: context, error mapping, cancellation, limits, metrics. */

const SUM_PROTO = join(__dirname, 'testing', 'sum-test.proto');
const SERVICE = 'nest.testing.v1.SumService';
const WAIT_MS = 3_000;

const LIMITS: GrpcServerLimits = {
  maxReceiveMessageBytes: 4_096,
  maxSendMessageBytes: 65_536,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  maxConcurrentStreams: 100,
  maxConnectionIdleMs: 60_000,
};

interface SumRequest { value: number; padding?: string }
interface SumResponse { total: number; messages: number; correlation_id: string }

/** What the handler saw, per call (found by the correlation id the test sends). */
interface Seen {
  values: number[];
  outcome: 'pending' | 'returned' | 'threw';
  waiting?: boolean;
  error?: unknown;
  signalReason?: unknown;
}

type GenericClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

interface Outcome {
  error: grpc.ServiceError | null;
  response: SumResponse | undefined;
  status: grpc.StatusObject;
}

describe('clientStream (loopback gRPC server)', () => {
  let running: RunningGrpcServer;
  let client: GenericClient;
  const registry = createMetricsRegistry({ prefix: 'grpc_cs_test_', collectDefaultMetrics: false });
  const seen = new Map<string, Seen>();
  const logger = new JsonLogger('grpc-cs-test', 'error', () => undefined);

  beforeAll(async () => {
    const handlers = createGrpcHandlers({ metrics: createGrpcMetrics(registry), logger });
    running = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      protoFiles: [SUM_PROTO],
      limits: LIMITS,
      services: [
        {
          name: SERVICE,
          implementation: {
            Sum: handlers.clientStream<SumRequest, SumResponse>(async (requests, context) => {
              const record: Seen = { values: [], outcome: 'pending' };
              seen.set(context.correlationId, record);
              try {
                let total = 0;
                for await (const request of requests) {
                  if (request.value < 0) throw new ValidationError('NEGATIVE_VALUE', 'Values must not be negative', { value: request.value });
                  record.values.push(request.value);
                  total += request.value;
                  if (request.value === 0) {
                    // A slow consumer: stops reading until the call is aborted (the test cancels it).
                    record.waiting = true;
                    await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
                  }
                }
                record.outcome = 'returned';
                return { total, messages: record.values.length, correlation_id: RequestContext.currentCorrelationId() ?? '' };
              } catch (error) {
                record.outcome = 'threw';
                record.error = error;
                record.signalReason = context.signal.reason;
                throw error;
              }
            }),
          },
        },
      ],
    });
    const service = loadProtoFiles([SUM_PROTO])[SERVICE] as grpc.ServiceDefinition;
    const Client = grpc.makeGenericClientConstructor(service, SERVICE) as unknown as new (address: string, credentials: grpc.ChannelCredentials) => GenericClient;
    client = new Client(running.address, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await running?.stop(1_000);
  });

  /** Opens a Sum call with a correlation id; `outcome` settles when the status arrives. */
  function open(correlationId: string): { stream: grpc.ClientWritableStream<SumRequest>; outcome: Promise<Outcome> } {
    const metadata = new grpc.Metadata();
    metadata.set('x-correlation-id', correlationId);
    let stream!: grpc.ClientWritableStream<SumRequest>;
    const outcome = new Promise<Outcome>((resolve) => {
      let error: grpc.ServiceError | null = null;
      let response: SumResponse | undefined;
      stream = client['Sum']!(metadata, { deadline: Date.now() + WAIT_MS }, (e: grpc.ServiceError | null, r: SumResponse) => {
        error = e;
        response = r;
      }) as grpc.ClientWritableStream<SumRequest>;
      stream.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ error, response, status })));
    });
    return { stream, outcome };
  }

  it('hands every message to the handler in order and answers OK with the correlation-id trailer', async () => {
    const { stream, outcome } = open('cs-ok-1');
    for (const value of [1, 2, 3, 4]) stream.write({ value });
    stream.end();
    const result = await outcome;
    expect(result.error).toBeNull();
    expect(result.response).toEqual({ total: 10, messages: 4, correlation_id: 'cs-ok-1' });
    expect(result.status.metadata.get('correlation-id')).toEqual(['cs-ok-1']);
    expect(seen.get('cs-ok-1')?.values).toEqual([1, 2, 3, 4]);
  });

  it('answers an empty stream (half-close with no message)', async () => {
    const { stream, outcome } = open('cs-empty-1');
    stream.end();
    expect((await outcome).response).toEqual({ total: 0, messages: 0, correlation_id: 'cs-empty-1' });
  });

  it('delivers each message as it arrives, before the client has finished sending', async () => {
    const { stream, outcome } = open('cs-live-1');
    stream.write({ value: 5 });
    // The handler must see the first message while the client still holds the stream open.
    await waitUntil(() => (seen.get('cs-live-1')?.values.length ?? 0) === 1);
    expect(seen.get('cs-live-1')?.outcome).toBe('pending');
    stream.write({ value: 6 });
    stream.end();
    expect((await outcome).response?.total).toBe(11);
  });

  it('maps an error thrown mid-stream to its status with reason-code, even while the client is still sending', async () => {
    const { stream, outcome } = open('cs-bad-1');
    stream.write({ value: 1 });
    stream.write({ value: -4 });
    // No end(): the server answers without waiting for the half-close.
    const result = await outcome;
    expect(result.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(result.error?.details).toBe('Values must not be negative');
    expect(result.error?.metadata.get('reason-code')).toEqual(['NEGATIVE_VALUE']);
    expect(result.error?.metadata.get('correlation-id')).toEqual(['cs-bad-1']);
    expect(JSON.parse(String(result.error?.metadata.get('reason-details')[0]))).toEqual({ value: -4 });
    stream.end();
  });

  it('ends the handler\'s iteration with GrpcCallAbortedError(CANCELLED) when the client cancels', async () => {
    const { stream, outcome } = open('cs-cancel-1');
    stream.write({ value: 0 });
    stream.write({ value: 7 });
    await waitUntil(() => seen.get('cs-cancel-1')?.waiting === true);
    stream.cancel();
    expect((await outcome).status.code).toBe(grpc.status.CANCELLED);
    await waitUntil(() => seen.get('cs-cancel-1')?.outcome === 'threw');
    const record = seen.get('cs-cancel-1')!;
    // The message sent before the cancel is never handed over once the call is aborted.
    expect(record.values).toEqual([0]);
    expect(record.error).toBeInstanceOf(GrpcCallAbortedError);
    expect((record.error as GrpcCallAbortedError).status).toBe(grpc.status.CANCELLED);
    expect(record.signalReason).toBe(record.error);
  });

  it('refuses a message over maxReceiveMessageBytes with RESOURCE_EXHAUSTED and stops the handler', async () => {
    const { stream, outcome } = open('cs-big-1');
    stream.write({ value: 1 });
    stream.write({ value: 2, padding: 'x'.repeat(LIMITS.maxReceiveMessageBytes + 1) });
    const result = await outcome;
    expect(result.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await waitUntil(() => seen.get('cs-big-1')?.outcome === 'threw');
    expect(seen.get('cs-big-1')?.values).toEqual([1]);
    expect(seen.get('cs-big-1')?.error).toBeInstanceOf(GrpcCallAbortedError);
    stream.end();
  });

  it('records metrics with grpc_type="client_stream"', async () => {
    await waitUntil(() => seen.get('cs-cancel-1')?.outcome === 'threw');
    const text = await registry.metrics();
    expect(text).toMatch(/grpc_server_handled_total\{grpc_type="client_stream",grpc_service="nest.testing.v1.SumService",grpc_method="Sum",grpc_code="OK"\} 3/);
    expect(text).toMatch(/grpc_server_handled_total\{grpc_type="client_stream",grpc_service="nest.testing.v1.SumService",grpc_method="Sum",grpc_code="INVALID_ARGUMENT"\} 1/);
    expect(text).toMatch(/grpc_server_handled_total\{grpc_type="client_stream",grpc_service="nest.testing.v1.SumService",grpc_method="Sum",grpc_code="CANCELLED"\} \d/);
  });
});

/** Bounded wait on a condition the system reaches by itself (no sleeps for synchronisation). */
async function waitUntil(condition: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
