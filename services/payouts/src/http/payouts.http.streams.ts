import { status as GrpcStatus } from '@grpc/grpc-js';
import { ValidationError } from '@ledger/errors';
import { describeError, RequestContext, toProblemDetails, TransportError, unsupportedBody } from '@ledger/nest';
import { Logger } from '@nestjs/common';
import type { Request, Response } from 'express';

/**
 * The HTTP edge of the payouts routes beyond plain JSON: the JSON body rules, the CSV upload
 * stream, the CSV report and the Server-Sent Events progress feed. Every limit is named here.
 */

/** The upload's media type; anything else is 415 UNSUPPORTED_MEDIA_TYPE. */
export const CSV_MEDIA_TYPE = 'text/csv';
/** Charsets accepted on an upload (the file must be UTF-8; ASCII is a subset). */
const CSV_CHARSETS: ReadonlySet<string> = new Set(['utf-8', 'utf8', 'us-ascii']);

/** A comment line every 15 s keeps idle progress feeds open through proxies and load balancers. */
export const SSE_HEARTBEAT_INTERVAL_MS = 15_000;
/** SSE event names: one `progress` per batch view, `end` after the last (terminal) one, `problem` on a failure mid-stream. */
export const SSE_PROGRESS_EVENT = 'progress';
export const SSE_END_EVENT = 'end';
export const SSE_PROBLEM_EVENT = 'problem';

export type JsonFields = Record<string, unknown>;

/** 415 for a body the route cannot read (not JSON where JSON is expected, not CSV on the upload). */
export function unsupportedMediaType(expected: string): TransportError {
  return new TransportError('UNSUPPORTED_MEDIA_TYPE', 415, GrpcStatus.INVALID_ARGUMENT, 'Unsupported media type', `The request body must be ${expected}`, { expected });
}

/** True when the request carries a body (RFC 9112 §6.3: a Transfer-Encoding or a non-zero Content-Length). */
function hasBody(request: Request): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The fields of a JSON object body. The app parses only `application/json` (installHttpEdge), so
 * a body that is still unparsed here was sent as something else: 415 rather than silently empty.
 * A route whose body is optional gets `{}` when there is none; anything but a JSON object is
 * 400 INVALID_BODY.
 */
export function jsonFields(request: Request, body: unknown, required: boolean): JsonFields {
  if (body === undefined) {
    if (hasBody(request)) throw unsupportedMediaType('application/json');
    if (!required) return {};
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('INVALID_BODY', 'The request body must be a JSON object');
  }
  return body as JsonFields;
}

/**
 * The upload body as the application reads it: the raw request stream, chunk by chunk as it
 * arrives, never buffered whole (the JSON parser only reads application/json, so a text/csv body
 * reaches the controller untouched). The headers are checked before anything is read: the media
 * type must be text/csv (UTF-8), the body uncompressed (so the application's byte limits are the
 * bytes on the wire). A body that ends early (the client went away, a broken chunked encoding)
 * makes the iteration throw UPLOAD_INCOMPLETE, so the application never records a truncated file.
 */
export function csvUploadBody(request: Request): AsyncIterable<Uint8Array> {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    throw unsupportedBody('UNSUPPORTED_CONTENT_ENCODING', 'Compressed request bodies are not accepted');
  }
  const [mediaType = '', ...parameters] = (request.headers['content-type'] ?? '').split(';');
  if (mediaType.trim().toLowerCase() !== CSV_MEDIA_TYPE) throw unsupportedMediaType(CSV_MEDIA_TYPE);
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() === 'charset' && !CSV_CHARSETS.has(value.trim().replace(/^"|"$/g, '').toLowerCase())) {
      throw unsupportedBody('UNSUPPORTED_CHARSET', 'The CSV file must be UTF-8');
    }
  }
  return requestChunks(request);
}

async function* requestChunks(request: Request): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    for await (const chunk of request) {
      yield typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    }
  } catch (error) {
    throw new ValidationError('UPLOAD_INCOMPLETE', 'The request body ended before it was complete: nothing was recorded', {}, { cause: error });
  }
}

/** An AbortSignal that aborts when the response's connection closes before we finished. */
export function abortOnClose(response: Response): { readonly signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const onClose = (): void => {
    if (!response.writableFinished) controller.abort(new Error('The client closed the connection'));
  };
  response.once('close', onClose);
  return {
    signal: controller.signal,
    release() {
      response.removeListener('close', onClose);
      // Whatever ended the response, anything still following the signal stops now.
      if (!controller.signal.aborted) controller.abort(new Error('The response ended'));
    },
  };
}

/**
 * The next item, or undefined once `signal` aborts first (the iterator is then told to stop, and
 * a late rejection of the pending `next` is swallowed).
 */
async function nextUnlessAborted<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T> | undefined> {
  if (signal.aborted) {
    stop(iterator);
    return undefined;
  }
  const next = iterator.next();
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const result = await Promise.race([next, aborted]);
    if (result === undefined) {
      next.catch(() => undefined);
      stop(iterator);
    }
    return result;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function stop<T>(iterator: AsyncIterator<T>): void {
  void iterator.return?.()?.catch(() => undefined);
}

/** Writes with backpressure: waits for `drain` (or the connection's end) when the socket is full. */
async function write(response: Response, text: string, signal: AbortSignal): Promise<void> {
  if (signal.aborted || response.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      response.removeListener('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    response.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Streams CSV text pieces as an attachment. The first piece is awaited before any header is sent,
 * so a refusal (not found, forbidden...) is still a problem-details response; a failure after that
 * propagates with headers sent, and the problem filter cuts the connection (the only honest signal
 * left). Stops pulling pieces as soon as the client goes away.
 */
export async function sendCsvAttachment(response: Response, pieces: AsyncIterable<string>, filename: string, signal: AbortSignal): Promise<void> {
  const iterator = pieces[Symbol.asyncIterator]();
  let result = await nextUnlessAborted(iterator, signal);
  if (result === undefined) return;
  response.status(200);
  response.setHeader('Content-Type', `${CSV_MEDIA_TYPE}; charset=utf-8`);
  response.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
  response.setHeader('Cache-Control', 'no-store');
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.flushHeaders();
  while (result !== undefined && result.done !== true) {
    await write(response, result.value, signal);
    result = await nextUnlessAborted(iterator, signal);
  }
  if (result !== undefined) response.end();
}

function sseFrame(event: string, data: unknown): string {
  // JSON.stringify never emits a raw line break, so `data` is always one line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface ServerSentEventsOptions {
  readonly heartbeatMs: number;
  readonly logger?: Logger;
}

/**
 * Sends `views` as Server-Sent Events: `event: progress` + `data: <JSON>` per item, then
 * `event: end` when the feed completes (so an EventSource can close instead of reconnecting).
 * The first item is awaited before the headers, so a refusal is still a problem-details response;
 * a failure after that is sent as `event: problem` with the problem details, then the stream ends.
 * Stops (and stops the feed) as soon as the client disconnects.
 */
export async function sendServerSentEvents(response: Response, views: AsyncIterable<unknown>, signal: AbortSignal, options: ServerSentEventsOptions): Promise<void> {
  const iterator = views[Symbol.asyncIterator]();
  let result = await nextUnlessAborted(iterator, signal);
  if (result === undefined) return;
  response.status(200);
  response.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  response.setHeader('Cache-Control', 'no-cache, no-transform');
  response.setHeader('X-Accel-Buffering', 'no');
  response.flushHeaders();
  const heartbeat = setInterval(() => {
    if (!signal.aborted) response.write(': keep-alive\n\n');
  }, options.heartbeatMs);
  try {
    while (result !== undefined && result.done !== true) {
      await write(response, sseFrame(SSE_PROGRESS_EVENT, result.value), signal);
      result = await nextUnlessAborted(iterator, signal);
    }
    if (result === undefined) return;
    await write(response, sseFrame(SSE_END_EVENT, {}), signal);
  } catch (error) {
    if (signal.aborted) return;
    const described = describeError(error);
    const correlationId = RequestContext.currentCorrelationId() ?? '';
    if (described.serverFault) {
      (options.logger ?? new Logger('PayoutsProgress')).error({
        msg: 'progress feed failed',
        correlationId,
        code: described.code,
        error: error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { value: String(error) },
      });
    }
    await write(response, sseFrame(SSE_PROBLEM_EVENT, toProblemDetails(described, correlationId)), signal);
  } finally {
    clearInterval(heartbeat);
  }
  if (!signal.aborted) response.end();
}
