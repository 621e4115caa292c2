import { Metadata, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { unary } from './grpc-call.handlers';
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
