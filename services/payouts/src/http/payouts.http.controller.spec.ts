import 'reflect-metadata';
import { AuthModule, createJwtVerifier, issueDevToken, JwtAuthGuard, type Hs256VerifierConfig } from '@ledger/auth';
import { NotFoundError, ValidationError } from '@ledger/errors';
import { installHttpEdge, JsonLogger, setupOpenApi } from '@ledger/nest';
import { Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { PAYOUTS_APPLICATION } from '../payouts.tokens';
import { PAYOUTS_HTTP_CONTROLLERS } from './payouts.http.controller';
import { aborted, BATCH_ID, batchView, commandView, FakePayoutsApplication, nextEvent, within, type ProgressFeed, type UploadRecord } from './testing/payouts-application.fake';

/**
 * The /v1/payouts REST surface over a real Nest app on loopback (the HTTP edge, the global JWT
 * guard with the HS256 verifier, problem details, OpenAPI), with a fake PayoutsApplication: the
 * transport is under test, in particular that uploads, reports and progress are streamed.
 */

const WAIT_MS = 3_000;
const JWT: Hs256VerifierConfig = {
  algorithm: 'HS256',
  secret: randomBytes(32).toString('hex'),
  issuer: 'payouts-http-spec',
  audience: 'ledger-api',
  clockToleranceSeconds: 5,
  maxTokenAgeSeconds: 3_600,
};
const token = issueDevToken({ subject: 'alice', kind: 'user', scopes: [], ttlSeconds: 600 }, JWT);
const auth = { authorization: `Bearer ${token}` };
const BATCH = `/v1/payouts/batches/${BATCH_ID}`;

@Module({})
class PayoutsHttpSpecModule {}

let app: NestExpressApplication;
let base: string;
let fake: FakePayoutsApplication;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  fake = new FakePayoutsApplication();
  const logger = new JsonLogger('payouts-http-spec', 'error', (line) => logLines.push(JSON.parse(line) as Record<string, unknown>));
  app = await NestFactory.create<NestExpressApplication>(
    {
      module: PayoutsHttpSpecModule,
      imports: [AuthModule.forVerifier(createJwtVerifier(JWT))],
      controllers: [...PAYOUTS_HTTP_CONTROLLERS],
      providers: [
        { provide: PAYOUTS_APPLICATION, useValue: fake },
        { provide: APP_GUARD, useExisting: JwtAuthGuard },
      ],
    },
    { bodyParser: false, logger },
  );
  installHttpEdge(app, { bodyLimitBytes: 65_536, logger });
  setupOpenApi(app, { title: 'Payouts spec', version: '1', path: 'docs' });
  await app.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
});

/** Requests a test opened by hand: destroyed after each test, so a failing test never leaves one hanging. */
const openRequests: ClientRequest[] = [];

afterEach(() => {
  for (const request of openRequests.splice(0)) request.destroy();
  for (const feed of fake.feeds.splice(0)) feed.end();
});

afterAll(async () => {
  (app?.getHttpServer() as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
  await app?.close();
});

async function problem(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await response.json()) as Record<string, unknown>;
}

function send(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  return fetch(`${base}${path}`, { method, headers: { ...auth, ...init.headers }, ...(init.body === undefined ? {} : { body: init.body }), signal: AbortSignal.timeout(WAIT_MS) });
}

function json(method: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return send(method, path, { headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** A raw request whose body the test writes piece by piece; `response` settles when headers arrive. */
function streamingRequest(method: string, path: string, headers: Record<string, string>): { request: ClientRequest; response: Promise<IncomingMessage> } {
  const request = httpRequest(`${base}${path}`, { method, headers: { ...auth, ...headers } });
  request.on('error', () => undefined);
  openRequests.push(request);
  const response = within(
    new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    }),
    WAIT_MS,
    `the response to ${method} ${path}`,
  );
  response.catch(() => undefined);
  return { request, response };
}

function bodyOf(response: IncomingMessage): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      const parts: Buffer[] = [];
      response.on('data', (part: Buffer) => parts.push(part));
      response.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      response.once('error', reject);
    }),
    WAIT_MS,
    'the response body',
  );
}

/** Splits an event stream into frames (`event:`/`data:` blocks) as they arrive. */
class EventStreamReader {
  private buffer = '';
  private readonly frames: string[] = [];
  private wake: (() => void) | undefined;
  ended = false;

  constructor(response: IncomingMessage) {
    response.setEncoding('utf8');
    response.on('data', (text: string) => {
      this.buffer += text;
      let index: number;
      while ((index = this.buffer.indexOf('\n\n')) >= 0) {
        const frame = this.buffer.slice(0, index);
        this.buffer = this.buffer.slice(index + 2);
        if (!frame.startsWith(':')) this.frames.push(frame);
      }
      this.wake?.();
    });
    response.once('end', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async next(): Promise<{ event: string; data: unknown }> {
    const frame = await within(
      (async () => {
        while (this.frames.length === 0) {
          if (this.ended) throw new Error('the event stream ended');
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
        return this.frames.shift()!;
      })(),
      WAIT_MS,
      'the next server-sent event',
    );
    const lines = frame.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^event: /);
    expect(lines[1]).toMatch(/^data: /);
    return { event: lines[0]!.slice('event: '.length), data: JSON.parse(lines[1]!.slice('data: '.length)) };
  }

  async end(): Promise<void> {
    await within(
      (async () => {
        while (!this.ended) await new Promise<void>((resolve) => (this.wake = resolve));
      })(),
      WAIT_MS,
      'the end of the event stream',
    );
  }
}

describe('commands and queries (JSON)', () => {
  it('POST /v1/payouts/batches creates with the Idempotency-Key header: 201, and marks a replay', async () => {
    fake.command = commandView({ replayed: false });
    const created = await json('POST', '/v1/payouts/batches', { sourceWalletId: 'w-1', currency: 'USD', description: 'March' }, { 'idempotency-key': 'key-12345678' });
    expect(created.status).toBe(201);
    expect(created.headers.get('idempotent-replayed')).toBeNull();
    expect(await created.json()).toEqual(JSON.parse(JSON.stringify(fake.command)));
    expect(fake.callsOf('createBatch').at(-1)).toMatchObject({
      principal: { subject: 'alice', kind: 'user' },
      input: { sourceWalletId: 'w-1', currency: 'USD', description: 'March', idempotencyKey: 'key-12345678' },
    });

    fake.command = commandView({ replayed: true });
    const replayed = await json('POST', '/v1/payouts/batches', { sourceWalletId: 'w-1', currency: 'USD' }, { 'idempotency-key': 'key-12345678' });
    expect(replayed.status).toBe(201);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    fake.command = commandView();
  });

  it('refuses bad bodies by name: malformed JSON, not an object, none where one is required, not JSON at all', async () => {
    const before = fake.callsOf('createBatch').length;
    const malformed = await send('POST', '/v1/payouts/batches', { headers: { 'content-type': 'application/json' }, body: '{"sourceWalletId":' });
    expect(malformed.status).toBe(400);
    expect((await problem(malformed))['code']).toBe('MALFORMED_JSON');

    const array = await json('POST', '/v1/payouts/batches', [1, 2]);
    expect(array.status).toBe(400);
    expect((await problem(array))['code']).toBe('INVALID_BODY');

    const none = await send('POST', '/v1/payouts/batches');
    expect(none.status).toBe(400);
    expect((await problem(none))['code']).toBe('INVALID_BODY');

    const text = await send('POST', `${BATCH}/execute`, { headers: { 'content-type': 'text/plain' }, body: '{"pin":"1234"}' });
    expect(text.status).toBe(415);
    expect(await problem(text)).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', expected: 'application/json' });
    expect(fake.callsOf('createBatch').length).toBe(before);
  });

  it('maps a ValidationError to 400 and a NotFoundError to 404 problem details with the code', async () => {
    fake.failures.set('listRows', new ValidationError('PAGE_SIZE_TOO_LARGE', 'pageSize may be at most 500', { limit: 500 }));
    const tooLarge = await send('GET', `${BATCH}/rows?pageSize=501`);
    expect(tooLarge.status).toBe(400);
    expect(await problem(tooLarge)).toMatchObject({ type: 'urn:ledger:problem:PAGE_SIZE_TOO_LARGE', status: 400, code: 'PAGE_SIZE_TOO_LARGE', limit: 500 });

    fake.failures.set('getBatch', new NotFoundError('BATCH_NOT_FOUND', `Payout batch ${BATCH_ID} does not exist`, { batchId: BATCH_ID }));
    const missing = await send('GET', BATCH);
    expect(missing.status).toBe(404);
    expect(await problem(missing)).toMatchObject({ type: 'urn:ledger:problem:BATCH_NOT_FOUND', status: 404, code: 'BATCH_NOT_FOUND', batchId: BATCH_ID });
  });

  it('needs a token on every route (401, the application never called)', async () => {
    const before = fake.calls.length;
    for (const [method, path] of [['GET', BATCH], ['PUT', `${BATCH}/rows`], ['GET', `${BATCH}/progress`], ['POST', `${BATCH}/execute`]] as const) {
      const response = await fetch(`${base}${path}`, { method, signal: AbortSignal.timeout(WAIT_MS) });
      expect(response.status).toBe(401);
      expect((await problem(response))['code']).toBe('TOKEN_MISSING');
    }
    expect(fake.calls.length).toBe(before);
  });

  it('passes the other routes through with their inputs', async () => {
    expect((await json('POST', `${BATCH}/execute`, { pin: '1234' })).status).toBe(200);
    expect((await send('POST', `${BATCH}/execute`)).status).toBe(200);
    expect((await json('POST', `${BATCH}/cancel`, { reason: 'wrong file' })).status).toBe(200);
    expect((await send('POST', `${BATCH}/pause`)).status).toBe(200);
    expect((await send('POST', `${BATCH}/resume`)).status).toBe(200);
    expect((await json('POST', `${BATCH}/compensate`, { rows: [2, 3], pin: '1234' })).status).toBe(200);
    const summary = await send('GET', `${BATCH}/summary`);
    expect(await summary.json()).toEqual(JSON.parse(JSON.stringify(fake.uploadSummary)));
    const rows = await send('GET', `${BATCH}/rows?status=FAILED&cursor=c1&pageSize=50`);
    expect(await rows.json()).toEqual(JSON.parse(JSON.stringify(fake.page)));
    const batch = await send('GET', BATCH);
    expect(await batch.json()).toEqual(JSON.parse(JSON.stringify(fake.batch)));

    expect(fake.callsOf('execute').slice(-2).map((call) => call.input)).toEqual([{ pin: '1234' }, { pin: undefined }]);
    expect(fake.callsOf('cancel').at(-1)).toMatchObject({ batchId: BATCH_ID, input: { reason: 'wrong file' } });
    expect(fake.callsOf('pause').at(-1)?.batchId).toBe(BATCH_ID);
    expect(fake.callsOf('resume').at(-1)?.batchId).toBe(BATCH_ID);
    expect(fake.callsOf('compensate').at(-1)?.input).toEqual({ rows: [2, 3], pin: '1234' });
    expect(fake.callsOf('listRows').at(-1)?.input).toEqual({ status: 'FAILED', cursor: 'c1', pageSize: '50' });
  });
});

describe('PUT /v1/payouts/batches/:batchId/rows (text/csv, streamed)', () => {
  const PART_1 = 'recipient_id,amount,reference\ncarol,20.00,inv-1\n';
  const PART_2 = 'dave,40.00,inv-2\n';

  it('hands the body to the application chunk by chunk, before the client has finished sending it', async () => {
    const { request, response } = streamingRequest('PUT', `${BATCH}/rows`, { 'content-type': 'text/csv; charset=utf-8' });
    const firstChunk = nextEvent<UploadRecord>(fake, 'upload-chunk', WAIT_MS);
    request.write(PART_1);
    const upload = await firstChunk;
    // The application reads while the request body is still open: nothing buffered the whole file.
    expect(upload.state).toBe('reading');
    expect(Buffer.concat(upload.chunks).toString()).toBe(PART_1);
    request.end(PART_2);
    const answered = await response;
    expect(answered.statusCode).toBe(200);
    expect(JSON.parse(await bodyOf(answered))).toMatchObject({ batchId: BATCH_ID, status: 'VALIDATED', fileBytes: PART_1.length + PART_2.length });
    expect(upload.state).toBe('complete');
    expect(upload.batchId).toBe(BATCH_ID);
    expect(Buffer.concat(upload.chunks).toString()).toBe(PART_1 + PART_2);
  });

  it('answers a refusal found midway (a CSV problem) at once, while the client is still sending', async () => {
    fake.refuseUploadAfterFirstChunk = new ValidationError('CSV_TOO_LARGE', 'The file exceeds 1024 bytes', { limit: 1024 });
    const { request, response } = streamingRequest('PUT', `${BATCH}/rows`, { 'content-type': 'text/csv' });
    request.write(PART_1);
    const answered = await response;
    expect(answered.statusCode).toBe(400);
    expect(answered.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(await bodyOf(answered))).toMatchObject({ code: 'CSV_TOO_LARGE', limit: 1024 });
    request.destroy();
  });

  it('fails the application\'s read with UPLOAD_INCOMPLETE when the client goes away mid-body', async () => {
    const { request } = streamingRequest('PUT', `${BATCH}/rows`, { 'content-type': 'text/csv' });
    const firstChunk = nextEvent<UploadRecord>(fake, 'upload-chunk', WAIT_MS);
    request.write(PART_1);
    const upload = await firstChunk;
    const done = nextEvent<UploadRecord>(fake, 'upload-done', WAIT_MS);
    request.destroy();
    await done;
    expect(upload.state).toBe('failed');
    expect(upload.error).toBeInstanceOf(ValidationError);
    expect((upload.error as ValidationError).code).toBe('UPLOAD_INCOMPLETE');
  });

  it.each([
    ['application/json', {}, 'UNSUPPORTED_MEDIA_TYPE'],
    ['text/plain', {}, 'UNSUPPORTED_MEDIA_TYPE'],
    ['text/csv; charset=iso-8859-1', {}, 'UNSUPPORTED_CHARSET'],
    ['text/csv', { 'content-encoding': 'gzip' }, 'UNSUPPORTED_CONTENT_ENCODING'],
  ])('refuses %s %j with 415 %s before the application reads anything', async (contentType, extra, code) => {
    const before = fake.callsOf('uploadRows').length;
    const response = await send('PUT', `${BATCH}/rows`, { headers: { 'content-type': contentType, ...extra }, body: '{"recipient_id":"x"}' });
    expect(response.status).toBe(415);
    expect((await problem(response))['code']).toBe(code);
    expect(fake.callsOf('uploadRows').length).toBe(before);
  });

  it('marks an upload of the same file again as replayed', async () => {
    fake.uploadSummary = { ...fake.uploadSummary, replayed: true };
    const response = await send('PUT', `${BATCH}/rows`, { headers: { 'content-type': 'text/csv' }, body: PART_1 });
    expect(response.status).toBe(200);
    expect(response.headers.get('idempotent-replayed')).toBe('true');
    fake.uploadSummary = { ...fake.uploadSummary, replayed: false };
  });
});

describe('GET /v1/payouts/batches/:batchId/report (text/csv, streamed)', () => {
  it('sends the CSV as an attachment, each piece as it is produced', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    fake.report$ = async function* () {
      yield 'row,recipient_id,amount\n';
      await gate;
      yield '1,carol,20.00\n';
    };
    const { request, response } = streamingRequest('GET', `${BATCH}/report`, {});
    request.end();
    const answered = await response;
    expect(answered.statusCode).toBe(200);
    expect(answered.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(answered.headers['content-disposition']).toBe(`attachment; filename="payout-${BATCH_ID}.csv"`);
    const first = await within(new Promise<Buffer>((resolve) => answered.once('data', resolve)), WAIT_MS, 'the first piece of the report');
    // The header line arrived while the report was still being produced.
    expect(first.toString()).toBe('row,recipient_id,amount\n');
    const rest = bodyOf(answered);
    release();
    expect(await rest).toBe('1,carol,20.00\n');
  });

  it('answers a refusal before the first piece as problem details', async () => {
    fake.failures.set('report', new NotFoundError('BATCH_NOT_FOUND', 'Payout batch does not exist'));
    const response = await send('GET', `${BATCH}/report`);
    expect(response.status).toBe(404);
    expect((await problem(response))['code']).toBe('BATCH_NOT_FOUND');
  });

  it('stops producing the report when the client disconnects', async () => {
    fake.report$ = async function* () {
      for (let row = 1; ; row += 1) yield `${row},${'x'.repeat(1_000)}\n`;
    };
    const stopped = nextEvent(fake, 'report-stopped', WAIT_MS);
    const { request, response } = streamingRequest('GET', `${BATCH}/report`, {});
    request.end();
    const answered = await response;
    await within(new Promise((resolve) => answered.once('data', resolve)), WAIT_MS, 'the first piece of the report');
    request.destroy();
    await stopped;
  });
});

describe('GET /v1/payouts/batches/:batchId/progress (Server-Sent Events)', () => {
  it('sends one progress event per view, then end when the feed completes', async () => {
    const watched = nextEvent<ProgressFeed>(fake, 'watch', WAIT_MS);
    const { request, response } = streamingRequest('GET', `${BATCH}/progress`, { accept: 'text/event-stream' });
    request.end();
    const feed = await watched;
    feed.push(batchView({ progress: '0.5000' }));
    const answered = await response;
    expect(answered.statusCode).toBe(200);
    expect(answered.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(answered.headers['cache-control']).toMatch(/no-cache/);
    const events = new EventStreamReader(answered);
    expect(await events.next()).toEqual({ event: 'progress', data: JSON.parse(JSON.stringify(batchView({ progress: '0.5000' }))) });
    feed.push(batchView({ status: 'COMPLETED', progress: '1.0000' }));
    expect(await events.next()).toMatchObject({ event: 'progress', data: { status: 'COMPLETED', progress: '1.0000' } });
    feed.end();
    expect(await events.next()).toEqual({ event: 'end', data: {} });
    await events.end();
  });

  it('aborts the watch\'s signal when the client disconnects', async () => {
    const watched = nextEvent<ProgressFeed>(fake, 'watch', WAIT_MS);
    const { request, response } = streamingRequest('GET', `${BATCH}/progress`, {});
    request.end();
    const feed = await watched;
    feed.push(batchView());
    const events = new EventStreamReader(await response);
    expect((await events.next()).event).toBe('progress');
    expect(feed.signal.aborted).toBe(false);
    request.destroy();
    await aborted(feed.signal, WAIT_MS);
  });

  it('stops the watch when the client leaves before the first view', async () => {
    const watched = nextEvent<ProgressFeed>(fake, 'watch', WAIT_MS);
    const { request } = streamingRequest('GET', `${BATCH}/progress`, {});
    request.end();
    const feed = await watched;
    request.destroy();
    await aborted(feed.signal, WAIT_MS);
  });

  it('answers a refusal before the first view as problem details', async () => {
    fake.failures.set('watch', new NotFoundError('BATCH_NOT_FOUND', 'Payout batch does not exist'));
    const response = await send('GET', `${BATCH}/progress`);
    expect(response.status).toBe(404);
    expect((await problem(response))['code']).toBe('BATCH_NOT_FOUND');
  });

  it('reports a failure midway as a problem event without leaking it, then ends', async () => {
    const watched = nextEvent<ProgressFeed>(fake, 'watch', WAIT_MS);
    const { request, response } = streamingRequest('GET', `${BATCH}/progress`, {});
    request.end();
    const feed = await watched;
    feed.push(batchView());
    const events = new EventStreamReader(await response);
    expect((await events.next()).event).toBe('progress');
    feed.fail(new Error('connection string postgres://admin:hunter2@db'));
    const failed = await events.next();
    expect(failed.event).toBe('problem');
    expect(failed.data).toMatchObject({ status: 500, code: 'INTERNAL' });
    expect(JSON.stringify(failed.data)).not.toMatch(/hunter2/);
    await events.end();
    expect(logLines.some((line) => JSON.stringify(line).includes('hunter2'))).toBe(true);
  });
});

describe('OpenAPI (/docs)', () => {
  it('documents the routes, the CSV upload and the DTOs', async () => {
    const document = (await (await fetch(`${base}/docs/openapi.json`, { signal: AbortSignal.timeout(WAIT_MS) })).json()) as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, unknown> }> }>>;
      components: { schemas: Record<string, unknown> };
    };
    const paths = Object.keys(document.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/payouts/batches',
        '/v1/payouts/batches/{batchId}',
        '/v1/payouts/batches/{batchId}/rows',
        '/v1/payouts/batches/{batchId}/summary',
        '/v1/payouts/batches/{batchId}/execute',
        '/v1/payouts/batches/{batchId}/cancel',
        '/v1/payouts/batches/{batchId}/pause',
        '/v1/payouts/batches/{batchId}/resume',
        '/v1/payouts/batches/{batchId}/compensate',
        '/v1/payouts/batches/{batchId}/report',
        '/v1/payouts/batches/{batchId}/progress',
      ]),
    );
    expect(Object.keys(document.paths['/v1/payouts/batches/{batchId}/rows']!['put']!.requestBody!.content)).toEqual(['text/csv']);
    expect(Object.keys(document.paths['/v1/payouts/batches/{batchId}/progress']!['get']!.responses['200']!.content ?? {})).toContain('text/event-stream');
    expect(Object.keys(document.components.schemas)).toEqual(
      expect.arrayContaining(['CreateBatchBody', 'CompensateBatchBody', 'BatchDto', 'PayoutCommandResponseDto', 'UploadSummaryDto', 'RowsPageDto', 'ProblemDetailsDto']),
    );
  });
});
