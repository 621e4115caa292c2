import { Metadata, status as GrpcStatus, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { GrpcCallAbortedError, unary, type GrpcCallContext } from './grpc-call.handlers';
import { createGrpcMetrics } from './grpc-metrics';
import { createMetricsRegistry } from './metrics.registry';

/** Just enough of a grpc-js unary call to drive the wrapper without a socket. */
function fakeCall(options: { deadline?: number } = {}): ServerUnaryCall<{ text: string }, { text: string }> & EventEmitter {
  return Object.assign(new EventEmitter(), {
    request: { text: 'hi' },
    metadata: new Metadata(),
    cancelled: false,
    getPath: () => '/test.v1.Svc/Do',
    getDeadline: () => options.deadline ?? Infinity,
    sendMetadata: jest.fn(),
  }) as unknown as ServerUnaryCall<{ text: string }, { text: string }> & EventEmitter;
}

describe('unary: a cancelled or expired call is never written to', () => {
  it('does not answer after the client cancelled, and records CANCELLED', async () => {
    const registry = createMetricsRegistry({ prefix: 'handlers_test_', collectDefaultMetrics: false });
    let finish: () => void = () => undefined;
    const handler = unary<{ text: string }, { text: string }>(() => new Promise((resolve) => (finish = () => resolve({ text: 'late' }))), {
      metrics: createGrpcMetrics(registry),
    });
    const call = fakeCall();
    const callback = jest.fn() as jest.Mock & sendUnaryData<{ text: string }>;
    handler(call, callback);
    call.emit('cancelled', 'cancelled');
    finish();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(callback).not.toHaveBeenCalled();
    expect(await registry.metrics()).toMatch(/grpc_code="CANCELLED"\} 1/);
  });

  it('does not answer once the deadline passed, even if the handler ignores its signal', async () => {
    let finish: () => void = () => undefined;
    const handler = unary<{ text: string }, { text: string }>(() => new Promise((resolve) => (finish = () => resolve({ text: 'late' }))));
    const call = fakeCall({ deadline: Date.now() + 20 });
    const callback = jest.fn() as jest.Mock & sendUnaryData<{ text: string }>;
    handler(call, callback);
    await new Promise((resolve) => setTimeout(resolve, 40));
    finish();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(callback).not.toHaveBeenCalled();
  });

  it('answers a live call with the response and the correlation-id trailer', async () => {
    const handler = unary<{ text: string }, { text: string }>((request) => ({ text: request.text.toUpperCase() }));
    const call = fakeCall();
    const callback = jest.fn() as jest.Mock & sendUnaryData<{ text: string }>;
    handler(call, callback);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(callback).toHaveBeenCalledTimes(1);
    const [error, response, trailers] = callback.mock.calls[0] as [unknown, { text: string }, Metadata];
    expect(error).toBeNull();
    expect(response).toEqual({ text: 'HI' });
    expect(trailers.get('correlation-id')).toHaveLength(1);
  });
});

describe('unary: the call signal is made on first use', () => {
  /** A unary handler that keeps its call open until `finish()`, and shows the context it was given. */
  function pendingHandler(): { handler: ReturnType<typeof unary<{ text: string }, { text: string }>>; seen: () => GrpcCallContext | undefined; finish: () => void } {
    let context: GrpcCallContext | undefined;
    let release: () => void = () => undefined;
    const handler = unary<{ text: string }, { text: string }>((_request, given) => {
      context = given;
      return new Promise((resolve) => (release = () => resolve({ text: 'late' })));
    });
    return { handler, seen: () => context, finish: () => release() };
  }

  it('is born aborted, with the cancel as its reason, when first read after the client cancelled', async () => {
    const { handler, seen, finish } = pendingHandler();
    const call = fakeCall();
    handler(call, jest.fn() as jest.Mock & sendUnaryData<{ text: string }>);
    call.emit('cancelled', 'cancelled');
    const signal = (seen() as GrpcCallContext).signal;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(GrpcCallAbortedError);
    expect((signal.reason as GrpcCallAbortedError).status).toBe(GrpcStatus.CANCELLED);
    finish();
  });

  it('is aborted at the deadline when it was read before, and is the same signal on every read', async () => {
    const { handler, seen, finish } = pendingHandler();
    handler(fakeCall({ deadline: Date.now() + 20 }), jest.fn() as jest.Mock & sendUnaryData<{ text: string }>);
    const context = seen() as GrpcCallContext;
    const signal = context.signal;
    expect(context.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    expect((signal.reason as GrpcCallAbortedError).status).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    finish();
  });
});

describe('unary: initial metadata', () => {
  it('goes out once, with the correlation id, just before the answer (one write with message and trailers)', async () => {
    let release: () => void = () => undefined;
    const handler = unary<{ text: string }, { text: string }>(() => new Promise((resolve) => (release = () => resolve({ text: 'done' }))));
    const call = fakeCall();
    call.metadata.set('x-correlation-id', 'corr-headers-1');
    const order: string[] = [];
    (call.sendMetadata as jest.Mock).mockImplementation((metadata: Metadata) => order.push(`headers ${String(metadata.get('x-correlation-id')[0])}`));
    const answered = new Promise<void>((resolve) => {
      handler(call, ((error: unknown) => {
        order.push(error === null ? 'answer' : 'error');
        resolve();
      }) as sendUnaryData<{ text: string }>);
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual([]);
    release();
    await answered;
    expect(order).toEqual(['headers corr-headers-1', 'answer']);
  });

  it('goes out before an error status too, and never for a call the client cancelled', async () => {
    const failing = unary<{ text: string }, { text: string }>(() => {
      throw new Error('boom');
    }, { logger: { log: jest.fn(), error: jest.fn(), warn: jest.fn() } });
    const call = fakeCall();
    const failed = new Promise<void>((resolve) => failing(call, (() => resolve()) as sendUnaryData<{ text: string }>));
    await failed;
    expect(call.sendMetadata).toHaveBeenCalledTimes(1);

    let finish: () => void = () => undefined;
    const slow = unary<{ text: string }, { text: string }>(() => new Promise((resolve) => (finish = () => resolve({ text: 'late' }))));
    const cancelled = fakeCall();
    slow(cancelled, jest.fn() as jest.Mock & sendUnaryData<{ text: string }>);
    cancelled.emit('cancelled', 'cancelled');
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    expect(cancelled.sendMetadata).not.toHaveBeenCalled();
  });
});
