import {
  status as GrpcStatus,
  type handleClientStreamingCall,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Metadata,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { Logger, type LoggerService } from '@nestjs/common';
import type { EventEmitter } from 'node:events';
import { resolveCorrelationId } from './correlation-id';
import { describeError, type DescribedError } from './error-status.mapping';
import { correlationHeaders, errorTrailers, GRPC_CORRELATION_ID_KEY, successTrailers } from './grpc-metadata';
import { observeGrpcCall, type GrpcCallType, type GrpcMetrics } from './grpc-metrics';
import { RequestContext } from './request-context';

/** What a handler knows about its call besides the request message. */
export interface GrpcCallContext {
  readonly correlationId: string;
  /** Request metadata: authentication reads `authorization` here. */
  readonly metadata: Metadata;
  /**
   * Aborted when the client cancels or the call's deadline passes. Pass it to every bounded wait;
   * once it is aborted nothing more is written to the call, whatever the handler returns.
   */
  readonly signal: AbortSignal;
  /** The client's deadline, if it set one. */
  readonly deadline: Date | undefined;
  /** `/package.Service/Method` */
  readonly path: string;
}

export type UnaryHandler<Req, Res> = (request: Req, context: GrpcCallContext) => Promise<Res> | Res;
/**
 * Reads the client's messages from `requests` (in order; it completes when the client half-closes
 * and throws the abort reason, a GrpcCallAbortedError, once the call is cancelled or its deadline
 * passes) and resolves the one response. Returning before the client finished sending is allowed:
 * the response and status go out at once and the unread messages are dropped.
 *
 * A half-close does not prove the client sent everything it meant to: a grpc-js client that
 * cancels mid-stream half-closes first and resets the stream a moment later, so the server sees a
 * normal end before the cancel. A protocol whose messages only make sense complete (a file in
 * chunks) must carry its own completeness check, e.g. the total size declared up front.
 */
export type ClientStreamHandler<Req, Res> = (requests: AsyncIterable<Req>, context: GrpcCallContext) => Promise<Res>;
/** Yields the messages to send; the stream ends with OK when the iterable completes. */
export type ServerStreamHandler<Req, Res> = (request: Req, context: GrpcCallContext) => AsyncIterable<Res>;

export interface GrpcHandlerOptions {
  /** Records grpc_server_handled_total / grpc_server_handling_seconds when given. */
  readonly metrics?: GrpcMetrics;
  /** Logs server faults with stack and correlation id; defaults to Nest's Logger (the app's logger). */
  readonly logger?: LoggerService;
}

/** A client cancel this close to the deadline is counted as DEADLINE_EXCEEDED (clock skew between ends). */
const DEADLINE_CANCEL_SLACK_MS = 100;

/** Why a call's signal was aborted; also the reason on `signal.reason`. */
export class GrpcCallAbortedError extends Error {
  constructor(readonly status: GrpcStatus.CANCELLED | GrpcStatus.DEADLINE_EXCEEDED) {
    super(status === GrpcStatus.CANCELLED ? 'The client cancelled the call' : 'The call deadline passed');
    this.name = 'GrpcCallAbortedError';
  }
}

/**
 * Wraps a unary handler: runs it inside a RequestContext (correlation id from `x-correlation-id`
 * metadata or a fresh UUID, echoed in the response's initial metadata), maps a thrown error to its
 * gRPC status with `reason-code` and `correlation-id` trailers and a safe message (unknown errors
 * become INTERNAL, logged, never leaked), and writes nothing once the call was cancelled or its
 * deadline passed.
 */
export function unary<Req, Res>(handler: UnaryHandler<Req, Res>, options: GrpcHandlerOptions = {}): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const opened = openCall(call, 'unary', options);
    void RequestContext.run({ correlationId: opened.context.correlationId }, async () => {
      try {
        const response = await handler(call.request, opened.context);
        if (opened.isAborted()) return;
        opened.sendHeaders();
        callback(null, response, successTrailers(opened.context.correlationId));
        opened.finish(GrpcStatus.OK);
      } catch (error) {
        if (opened.isAborted()) return;
        const described = opened.describe(error);
        opened.sendHeaders();
        callback({ code: described.grpcStatus, details: described.detail, metadata: errorTrailers(described, opened.context.correlationId) });
        opened.finish(described.grpcStatus);
      }
    });
  };
}

/**
 * Wraps a server-streaming handler with the same context, error mapping and cancellation rules
 * as `unary`. Writes respect backpressure (waits for `drain`), and iteration stops as soon as
 * the call is cancelled or its deadline passes (the generator's `finally` blocks run).
 */
export function serverStream<Req, Res>(handler: ServerStreamHandler<Req, Res>, options: GrpcHandlerOptions = {}): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const opened = openCall(call, 'server_stream', options);
    // A stream's headers go out at once: the client knows the stream is open before its first message.
    opened.sendHeaders();
    void RequestContext.run({ correlationId: opened.context.correlationId }, async () => {
      try {
        for await (const message of handler(call.request, opened.context)) {
          if (opened.context.signal.aborted) break;
          if (!call.write(message)) await drained(call, opened.context.signal);
          if (opened.context.signal.aborted) break;
        }
        if (opened.isAborted()) return;
        call.end(successTrailers(opened.context.correlationId));
        opened.finish(GrpcStatus.OK);
      } catch (error) {
        if (opened.isAborted()) return;
        const described = opened.describe(error);
        // grpc-js turns an 'error' event on a server stream into the call's final status.
        call.emit('error', {
          name: 'ServerStreamError',
          message: described.detail,
          code: described.grpcStatus,
          details: described.detail,
          metadata: errorTrailers(described, opened.context.correlationId),
        });
        opened.finish(described.grpcStatus);
      }
    });
  };
}

/**
 * Wraps a client-streaming handler with the same context, error mapping and cancellation rules
 * as `unary`. The handler pulls the request messages (flow control: at most the stream's
 * high-water mark, 16 messages, is read ahead, so a slow consumer slows the client down). Each
 * message is bounded by the server's max receive message size (grpc-js refuses a larger one with
 * RESOURCE_EXHAUSTED and cancels the call, which the handler sees as the abort; the metrics then
 * record CANCELLED); the number of messages and their total is for the handler to bound.
 */
export function clientStream<Req, Res>(handler: ClientStreamHandler<Req, Res>, options: GrpcHandlerOptions = {}): handleClientStreamingCall<Req, Res> {
  return (call, callback) => {
    const opened = openCall(call, 'client_stream', options);
    void RequestContext.run({ correlationId: opened.context.correlationId }, async () => {
      try {
        const response = await handler(requestMessages(call, opened.context.signal), opened.context);
        if (opened.isAborted()) return;
        opened.sendHeaders();
        callback(null, response, successTrailers(opened.context.correlationId));
        opened.finish(GrpcStatus.OK);
      } catch (error) {
        if (opened.isAborted()) return;
        const described = opened.describe(error);
        opened.sendHeaders();
        callback({ code: described.grpcStatus, details: described.detail, metadata: errorTrailers(described, opened.context.correlationId) });
        opened.finish(described.grpcStatus);
      }
    });
  };
}

/** Pre-binds options, so service wiring reads `grpc.unary(...)` without repeating them. */
export function createGrpcHandlers(options: GrpcHandlerOptions): {
  unary: <Req, Res>(handler: UnaryHandler<Req, Res>) => handleUnaryCall<Req, Res>;
  clientStream: <Req, Res>(handler: ClientStreamHandler<Req, Res>) => handleClientStreamingCall<Req, Res>;
  serverStream: <Req, Res>(handler: ServerStreamHandler<Req, Res>) => handleServerStreamingCall<Req, Res>;
} {
  return {
    unary: (handler) => unary(handler, options),
    clientStream: (handler) => clientStream(handler, options),
    serverStream: (handler) => serverStream(handler, options),
  };
}

/**
 * The call's messages, one at a time. grpc-js destroys the stream when the call is cancelled (by
 * the client, the deadline, or itself over an oversized message): iteration then throws the
 * signal's reason rather than a bare premature-close error. Stopping early releases the stream.
 */
async function* requestMessages<Req>(call: ServerReadableStream<Req, unknown>, signal: AbortSignal): AsyncGenerator<Req, void, undefined> {
  try {
    for await (const message of call) {
      if (signal.aborted) break;
      yield message as Req;
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  }
  if (signal.aborted) throw signal.reason;
}

interface OpenedCall {
  readonly context: GrpcCallContext;
  /** True once the call was cancelled or timed out (already recorded): the caller must not write. */
  isAborted(): boolean;
  describe(error: unknown): DescribedError;
  /**
   * Sends the initial metadata (the correlation id), once. Unary and client-streaming calls send
   * it just before their answer, so headers, message and trailers leave in one write; a server
   * stream sends it when it opens.
   */
  sendHeaders(): void;
  finish(code: GrpcStatus): void;
}

/** What openCall needs of a unary, client-streaming or server-streaming call (a union of the three is not callable). */
type AnyServerCall = Pick<ServerUnaryCall<unknown, unknown>, 'metadata' | 'cancelled' | 'getPath' | 'getDeadline' | 'sendMetadata'> &
  Pick<EventEmitter, 'once' | 'removeListener'>;

/**
 * The per-call bookkeeping of every wrapper. The call's AbortSignal is made only when a handler
 * reads `context.signal` (most command handlers never do): bench:grpc-floor showed creating an
 * AbortController per call, and the garbage it leaves, as a tenth of the wrapper's cost. Until
 * then the abort is a plain field; a signal made after the abort is born aborted, with the same
 * reason.
 */
function openCall(call: AnyServerCall, type: GrpcCallType, options: GrpcHandlerOptions): OpenedCall {
  const started = options.metrics ? process.hrtime.bigint() : 0n;
  const path = call.getPath();
  const [rawCorrelationId] = call.metadata.get(GRPC_CORRELATION_ID_KEY);
  const correlationId = resolveCorrelationId(rawCorrelationId);
  const deadline = deadlineOf(call);
  let abortReason: GrpcCallAbortedError | undefined;
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  let headersSent = false;
  const finish = (code: GrpcStatus): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    call.removeListener('cancelled', onCancelled);
    if (options.metrics) observeGrpcCall(options.metrics, type, path, code, Number(process.hrtime.bigint() - started) / 1e9);
  };
  // An aborted call is over for the client: record it now, even if the handler keeps running.
  const abort = (reason: GrpcCallAbortedError): void => {
    if (abortReason !== undefined) return;
    abortReason = reason;
    finish(reason.status);
    controller?.abort(reason);
  };
  const onCancelled = (): void => {
    // A client cancels its own call when its deadline passes, usually a little before ours (we
    // count from when the headers arrived): a cancel that close to the deadline is the deadline.
    const atDeadline = deadline !== undefined && Date.now() >= deadline.getTime() - DEADLINE_CANCEL_SLACK_MS;
    abort(new GrpcCallAbortedError(atDeadline ? GrpcStatus.DEADLINE_EXCEEDED : GrpcStatus.CANCELLED));
  };
  if (deadline !== undefined) {
    timer = setTimeout(() => abort(new GrpcCallAbortedError(GrpcStatus.DEADLINE_EXCEEDED)), Math.max(0, deadline.getTime() - Date.now()));
  }
  call.once('cancelled', onCancelled);
  if (call.cancelled) onCancelled();

  const context: GrpcCallContext = {
    correlationId,
    metadata: call.metadata,
    deadline,
    path,
    get signal(): AbortSignal {
      if (controller === undefined) {
        controller = new AbortController();
        if (abortReason !== undefined) controller.abort(abortReason);
      }
      return controller.signal;
    },
  };
  return {
    context,
    isAborted() {
      return abortReason !== undefined;
    },
    describe(error) {
      const described = describeError(error);
      if (described.serverFault) {
        (options.logger ?? new Logger('Grpc')).error(
          {
            msg: 'gRPC call failed',
            correlationId,
            path,
            code: described.code,
            grpcStatus: GrpcStatus[described.grpcStatus],
            error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { value: String(error) },
          },
          'Grpc',
        );
      }
      return described;
    },
    sendHeaders() {
      if (headersSent) return;
      headersSent = true;
      call.sendMetadata(correlationHeaders(correlationId));
    },
    finish,
  };
}

function deadlineOf(call: AnyServerCall): Date | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

function drained(call: ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.removeListener('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
