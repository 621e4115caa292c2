import * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { createJwtVerifier, issueDevToken, type Hs256VerifierConfig } from '@ledger/auth';
import { NotFoundError, ValidationError } from '@ledger/errors';
import { createGrpcHandlers, JsonLogger, loadProtoFiles, startGrpcServer, type RunningGrpcServer } from '@ledger/nest';
import { randomBytes } from 'node:crypto';
import {
  aborted,
  BATCH_ID,
  batchView,
  FakePayoutsApplication,
  HOLD_ID,
  nextEvent,
  within,
  type ProgressFeed,
  type UploadRecord,
} from '../http/testing/payouts-application.fake';
import {
  createPayoutsGrpcImplementation,
  PAYOUTS_GRPC_SERVICE_NAME,
  PAYOUTS_PROTO,
  PAYOUTS_PROTO_ROOT,
  REPORT_MESSAGE_MAX_BYTES,
  reportMessages,
} from './payouts.grpc.handlers';

/**
 * payouts.v1.PayoutService over a real loopback gRPC server (startGrpcServer, the shared handler
 * wrappers, the HS256 JwtVerifier) and a grpc-js client loaded from the same proto, with a fake
 * PayoutsApplication: the transport is under test.
 */

const WAIT_MS = 3_000;
const JWT: Hs256VerifierConfig = {
  algorithm: 'HS256',
  secret: randomBytes(32).toString('hex'),
  issuer: 'payouts-grpc-spec',
  audience: 'ledger-api',
  clockToleranceSeconds: 5,
  maxTokenAgeSeconds: 3_600,
};
const aliceToken = issueDevToken({ subject: 'alice', kind: 'user', scopes: [], ttlSeconds: 600 }, JWT);

type GenericClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

let server: RunningGrpcServer;
let client: GenericClient;
let fake: FakePayoutsApplication;
const serverFaults: string[] = [];

beforeAll(async () => {
  fake = new FakePayoutsApplication();
  const logger = new JsonLogger('payouts-grpc-spec', 'error', (line, isError) => {
    if (isError) serverFaults.push(line);
  });
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    protoFiles: [PAYOUTS_PROTO],
    includeDirs: [PAYOUTS_PROTO_ROOT],
    limits: {
      maxReceiveMessageBytes: 65_536,
      maxSendMessageBytes: 4_194_304,
      keepaliveTimeMs: 30_000,
      keepaliveTimeoutMs: 10_000,
      maxConcurrentStreams: 100,
      maxConnectionIdleMs: 60_000,
    },
    services: [
      {
        name: PAYOUTS_GRPC_SERVICE_NAME,
        implementation: createPayoutsGrpcImplementation({ application: fake, verifier: createJwtVerifier(JWT), handlers: createGrpcHandlers({ logger }) }),
      },
    ],
  });
  const service = loadProtoFiles([PAYOUTS_PROTO], [PAYOUTS_PROTO_ROOT])[PAYOUTS_GRPC_SERVICE_NAME] as grpc.ServiceDefinition;
  const Client = grpc.makeGenericClientConstructor(service, PAYOUTS_GRPC_SERVICE_NAME) as unknown as new (address: string, credentials: grpc.ChannelCredentials) => GenericClient;
  client = new Client(server.address, grpc.credentials.createInsecure());
});

afterEach(() => {
  expect(serverFaults).toEqual([]);
});

afterAll(async () => {
  client?.close();
  await server?.stop(2_000);
});

/** Call metadata with `authorization: Bearer <token>`; null sends none. */
function metadata(token: string | null = aliceToken): grpc.Metadata {
  const m = new grpc.Metadata();
  if (token !== null) m.set('authorization', `Bearer ${token}`);
  return m;
}

interface Outcome<T> {
  readonly response: T | undefined;
  readonly error: grpc.ServiceError | null;
}

function invoke<T = Record<string, unknown>>(method: string, request: unknown, token?: string | null): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    client[method]!(request, metadata(token === undefined ? aliceToken : token), { deadline: Date.now() + WAIT_MS }, (error: grpc.ServiceError | null, response: T) =>
      resolve({ error, response }),
    );
  });
}

function reasonCode(error: grpc.ServiceError | null | undefined): string | undefined {
  const [code] = error?.metadata?.get('reason-code') ?? [];
  return code === undefined ? undefined : String(code);
}

/** Opens UploadRows; `outcome` settles with the call's result. */
function openUpload(token: string | null = aliceToken): { stream: grpc.ClientWritableStream<unknown>; outcome: Promise<Outcome<{ summary: Record<string, unknown> }>> } {
  let stream!: grpc.ClientWritableStream<unknown>;
  const outcome = new Promise<Outcome<{ summary: Record<string, unknown> }>>((resolve) => {
    stream = client['UploadRows']!(metadata(token), { deadline: Date.now() + WAIT_MS }, (error: grpc.ServiceError | null, response: { summary: Record<string, unknown> }) =>
      resolve({ error, response }),
    ) as grpc.ClientWritableStream<unknown>;
  });
  return { stream, outcome };
}

/** Reads a server stream to its end: the messages and the final status. */
function collect<T>(call: grpc.ClientReadableStream<T>): Promise<{ messages: T[]; status: grpc.StatusObject }> {
  return within(
    new Promise((resolve) => {
      const messages: T[] = [];
      call.on('data', (message: T) => messages.push(message));
      call.on('error', () => undefined);
      call.on('status', (status: grpc.StatusObject) => setImmediate(() => resolve({ messages, status })));
    }),
    WAIT_MS,
    'the end of the server stream',
  );
}

describe('proto/payouts/v1/payouts.proto', () => {
  const definition = loadProtoFiles([PAYOUTS_PROTO], [PAYOUTS_PROTO_ROOT]);
  const service = definition[PAYOUTS_GRPC_SERVICE_NAME] as grpc.ServiceDefinition;
  const fields = (message: string): Map<string, { type: string; typeName: string; label: string }> =>
    new Map(((definition[`payouts.v1.${message}`] as MessageTypeDefinition<unknown, unknown>).type as { field: Array<{ name: string; type: string; typeName: string; label: string }> }).field.map((f) => [f.name, f]));
  const enumValues = (name: string): Array<{ name: string; number: number }> => ((definition[`payouts.v1.${name}`] as { type: { value: Array<{ name: string; number: number }> } }).type.value);

  it('streams the upload from the client and the report and the progress to the client', () => {
    expect(Object.keys(service).sort()).toEqual(
      ['CreateBatch', 'UploadRows', 'GetUploadSummary', 'ExecuteBatch', 'CancelBatch', 'PauseBatch', 'ResumeBatch', 'CompensateBatch', 'GetBatch', 'ListRows', 'GetReport', 'WatchBatch'].sort(),
    );
    const kinds = Object.fromEntries(Object.entries(service).map(([name, method]) => [name, `${method.requestStream ? 'stream' : 'unary'}->${method.responseStream ? 'stream' : 'unary'}`]));
    expect(kinds['UploadRows']).toBe('stream->unary');
    expect(kinds['GetReport']).toBe('unary->stream');
    expect(kinds['WatchBatch']).toBe('unary->stream');
    expect(Object.entries(kinds).filter(([, kind]) => kind === 'unary->unary')).toHaveLength(9);
  });

  it('carries money as decimal strings, the idempotency key and PINs where they belong, chunks as bytes', () => {
    const batch = fields('Batch');
    for (const name of ['valid_total', 'paid_total', 'reversed_total', 'released_total', 'progress', 'revision', 'currency']) expect(batch.get(name)?.type).toBe('TYPE_STRING');
    expect(fields('Row').get('amount')?.type).toBe('TYPE_STRING');
    expect(fields('UploadSummary').get('valid_total')?.type).toBe('TYPE_STRING');
    expect(fields('CreateBatchRequest').get('idempotency_key')?.type).toBe('TYPE_STRING');
    expect(fields('ExecuteBatchRequest').get('transaction_pin')?.type).toBe('TYPE_STRING');
    expect(fields('CompensateBatchRequest').get('transaction_pin')?.type).toBe('TYPE_STRING');
    expect(fields('CompensateBatchRequest').get('rows')).toMatchObject({ type: 'TYPE_INT32', label: 'LABEL_REPEATED' });
    expect(fields('UploadRowsRequest').get('chunk')?.type).toBe('TYPE_BYTES');
    expect(fields('UploadRowsRequest').get('file_bytes')?.type).toBe('TYPE_INT64');
    expect(fields('GetReportResponse').get('chunk')?.type).toBe('TYPE_BYTES');
    expect(fields('ListRowsRequest').get('status')?.typeName).toBe('RowStatus');
  });

  it('numbers every enum from an UNSPECIFIED zero', () => {
    for (const name of ['BatchStatus', 'RowStatus', 'ReservationState', 'CompensationScope']) {
      expect(enumValues(name)[0]).toMatchObject({ name: expect.stringMatching(/_UNSPECIFIED$/), number: 0 });
    }
  });
});

describe('payouts.v1.PayoutService (loopback)', () => {
  it('CreateBatch maps the request and answers the batch with enum names, timestamps and decimal strings', async () => {
    fake.command = { batch: batchView({ compensation: { compensationId: 'c-1', scope: 'SELECTED', chunks: 2, chunksSettled: 1 } }), position: '987654321987654321', replayed: true };
    const outcome = await invoke<Record<string, unknown>>('CreateBatch', { source_wallet_id: 'w-1', currency: 'USD', description: '', idempotency_key: 'key-12345678' });
    expect(outcome.error).toBeNull();
    expect(fake.callsOf('createBatch').at(-1)).toMatchObject({
      principal: { subject: 'alice', kind: 'user' },
      input: { sourceWalletId: 'w-1', currency: 'USD', description: undefined, idempotencyKey: 'key-12345678' },
    });
    expect(outcome.response).toEqual({
      position: '987654321987654321',
      replayed: true,
      batch: expect.objectContaining({
        batch_id: BATCH_ID,
        status: 'BATCH_STATUS_PROCESSING',
        reservation: 'RESERVATION_STATE_RESERVED',
        hold_id: HOLD_ID,
        refusal_reason: '',
        valid_total: '60.00',
        progress: '0.6667',
        counts: { pending: 1, processing: 0, succeeded: 2, failed: 1, reversed: 0, reversal_failed: 0 },
        created_at: { seconds: String(Date.parse('2030-01-01T12:00:00Z') / 1000), nanos: 0 },
        updated_at: { seconds: String(Date.parse('2030-01-01T12:05:00Z') / 1000), nanos: 250_000_000 },
        compensation: { compensation_id: 'c-1', scope: 'COMPENSATION_SCOPE_SELECTED', chunks: 2, chunks_settled: 1 },
        revision: '9',
      }),
    });
    fake.command = { batch: batchView(), position: '1', replayed: false };
  });

  it('refuses a call without a token with UNAUTHENTICATED before the application sees anything', async () => {
    const before = fake.calls.length;
    const outcome = await invoke('GetBatch', { batch_id: BATCH_ID }, null);
    expect(outcome.error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(reasonCode(outcome.error)).toBe('TOKEN_MISSING');
    expect(fake.calls.length).toBe(before);
  });

  it('maps NotFoundError to NOT_FOUND and ValidationError to INVALID_ARGUMENT, with the reason-code trailer', async () => {
    fake.failures.set('getBatch', new NotFoundError('BATCH_NOT_FOUND', `Payout batch ${BATCH_ID} does not exist`, { batchId: BATCH_ID }));
    const missing = await invoke('GetBatch', { batch_id: BATCH_ID });
    expect(missing.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(reasonCode(missing.error)).toBe('BATCH_NOT_FOUND');
    expect(JSON.parse(String(missing.error?.metadata.get('reason-details')[0]))).toEqual({ batchId: BATCH_ID });

    fake.failures.set('execute', new ValidationError('PIN_REQUIRED', 'Executing a batch needs your PIN'));
    const invalid = await invoke('ExecuteBatch', { batch_id: BATCH_ID, transaction_pin: '' });
    expect(invalid.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(reasonCode(invalid.error)).toBe('PIN_REQUIRED');
    expect(invalid.error?.details).toBe('Executing a batch needs your PIN');
    expect(fake.callsOf('execute').at(-1)?.input).toEqual({ pin: undefined });
  });

  it('passes commands through: execute with the PIN, cancel with its reason, pause, resume, compensate rows', async () => {
    await invoke('ExecuteBatch', { batch_id: BATCH_ID, transaction_pin: '1234' });
    await invoke('CancelBatch', { batch_id: BATCH_ID, reason: 'wrong file' });
    await invoke('PauseBatch', { batch_id: BATCH_ID });
    await invoke('ResumeBatch', { batch_id: BATCH_ID });
    const compensated = await invoke<Record<string, unknown>>('CompensateBatch', { batch_id: BATCH_ID, rows: [2, 3], transaction_pin: '1234' });
    await invoke('CompensateBatch', { batch_id: BATCH_ID, transaction_pin: '1234' });
    expect(compensated.response?.['position']).toBe('1');
    expect(fake.callsOf('execute').at(-1)).toMatchObject({ batchId: BATCH_ID, input: { pin: '1234' } });
    expect(fake.callsOf('cancel').at(-1)).toMatchObject({ batchId: BATCH_ID, input: { reason: 'wrong file' } });
    expect(fake.callsOf('pause').at(-1)?.batchId).toBe(BATCH_ID);
    expect(fake.callsOf('resume').at(-1)?.batchId).toBe(BATCH_ID);
    expect(fake.callsOf('compensate').slice(-2).map((call) => call.input)).toEqual([
      { rows: [2, 3], pin: '1234' },
      { rows: [], pin: '1234' },
    ]);
  });

  it('ListRows maps the status filter, paging and rows', async () => {
    const page = await invoke<{ rows: Array<Record<string, unknown>>; next_cursor: string }>('ListRows', { batch_id: BATCH_ID, status: 'ROW_STATUS_FAILED', cursor: 'c1', page_size: 50 });
    await invoke('ListRows', { batch_id: BATCH_ID });
    await invoke('ListRows', { batch_id: BATCH_ID, status: 42 });
    expect(fake.callsOf('listRows').slice(-3).map((call) => call.input)).toEqual([
      { status: 'FAILED', cursor: 'c1', pageSize: 50 },
      { status: undefined, cursor: undefined, pageSize: undefined },
      // A value this proto does not know reaches the application as text, to be refused by name.
      { status: '42', cursor: undefined, pageSize: undefined },
    ]);
    expect(page.response?.next_cursor).toBe('cursor-2');
    expect(page.response?.rows[1]).toEqual({
      row: 3,
      recipient_id: 'bob',
      amount: '1.234',
      reference: '',
      status: 'ROW_STATUS_FAILED',
      reason: 'AMOUNT_PRECISION',
      transaction_id: '',
      reversal_attempts: 0,
      reversal_transaction_id: '',
    });
  });

  it('GetUploadSummary maps the summary (file_bytes as an int64 string)', async () => {
    const outcome = await invoke<{ summary: Record<string, unknown> }>('GetUploadSummary', { batch_id: BATCH_ID });
    expect(outcome.response?.summary).toMatchObject({
      batch_id: BATCH_ID,
      status: 'BATCH_STATUS_VALIDATED',
      file_bytes: '120',
      invalid_sample: [{ row: 3, recipient_id: 'bob', amount: '1.234', reason: 'AMOUNT_PRECISION' }],
    });
  });
});

describe('UploadRows (client streaming)', () => {
  const FILE = Buffer.from('recipient_id,amount,reference\ncarol,20.00,inv-1\ndave,40.00,inv-2\n');

  it('hands the application each chunk as it arrives, before the client has finished sending', async () => {
    const { stream, outcome } = openUpload();
    const firstChunk = nextEvent<UploadRecord>(fake, 'upload-chunk', WAIT_MS);
    stream.write({ batch_id: BATCH_ID, file_bytes: String(FILE.length), chunk: FILE.subarray(0, 30) });
    const upload = await firstChunk;
    // The application is reading while the call is still open: nothing waited for the whole file.
    expect(upload.state).toBe('reading');
    expect(Buffer.concat(upload.chunks).toString()).toBe(FILE.subarray(0, 30).toString());
    stream.write({ chunk: FILE.subarray(30, 45) });
    stream.write({ batch_id: BATCH_ID, chunk: Buffer.alloc(0) });
    stream.write({ chunk: FILE.subarray(45) });
    stream.end();
    const result = await within(outcome, WAIT_MS, 'the upload response');
    expect(result.error).toBeNull();
    expect(upload.state).toBe('complete');
    expect(upload.batchId).toBe(BATCH_ID);
    expect(Buffer.concat(upload.chunks).equals(FILE)).toBe(true);
    expect(result.response?.summary).toMatchObject({ batch_id: BATCH_ID, status: 'BATCH_STATUS_VALIDATED', file_bytes: String(FILE.length), replayed: false });
  });

  it('refuses a first message without batch_id (UPLOAD_BATCH_ID_MISSING) without calling the application', async () => {
    const before = fake.callsOf('uploadRows').length;
    const { stream, outcome } = openUpload();
    stream.write({ file_bytes: '3', chunk: Buffer.from('a,b') });
    stream.end();
    const result = await within(outcome, WAIT_MS, 'the upload response');
    expect(result.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(reasonCode(result.error)).toBe('UPLOAD_BATCH_ID_MISSING');
    expect(fake.callsOf('uploadRows').length).toBe(before);
  });

  it('refuses a first message without file_bytes (UPLOAD_FILE_BYTES_MISSING)', async () => {
    const { stream, outcome } = openUpload();
    stream.write({ batch_id: BATCH_ID, chunk: Buffer.from('a,b') });
    stream.end();
    expect(reasonCode((await within(outcome, WAIT_MS, 'the upload response')).error)).toBe('UPLOAD_FILE_BYTES_MISSING');
  });

  it('refuses a later message naming another batch (UPLOAD_BATCH_ID_CHANGED): the application\'s read fails', async () => {
    const { stream, outcome } = openUpload();
    const done = nextEvent<UploadRecord>(fake, 'upload-done', WAIT_MS);
    stream.write({ batch_id: BATCH_ID, file_bytes: String(FILE.length), chunk: FILE.subarray(0, 10) });
    stream.write({ batch_id: '99999999-9999-4999-8999-999999999999', chunk: FILE.subarray(10) });
    stream.end();
    const result = await within(outcome, WAIT_MS, 'the upload response');
    expect(result.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(reasonCode(result.error)).toBe('UPLOAD_BATCH_ID_CHANGED');
    const upload = await done;
    expect(upload.state).toBe('failed');
    expect(upload.chunks).toHaveLength(1);
  });

  it('refuses a stream that ends short of file_bytes (UPLOAD_SIZE_MISMATCH): the application never sees a clean end', async () => {
    const { stream, outcome } = openUpload();
    const done = nextEvent<UploadRecord>(fake, 'upload-done', WAIT_MS);
    stream.write({ batch_id: BATCH_ID, file_bytes: String(FILE.length), chunk: FILE.subarray(0, 20) });
    stream.end();
    const result = await within(outcome, WAIT_MS, 'the upload response');
    expect(reasonCode(result.error)).toBe('UPLOAD_SIZE_MISMATCH');
    expect(JSON.parse(String(result.error?.metadata.get('reason-details')[0]))).toEqual({ fileBytes: FILE.length, receivedBytes: 20 });
    expect((await done).state).toBe('failed');
  });

  it('never lets a cancelled upload look complete to the application (grpc-js half-closes before it resets)', async () => {
    const { stream, outcome } = openUpload();
    const firstChunk = nextEvent<UploadRecord>(fake, 'upload-chunk', WAIT_MS);
    stream.write({ batch_id: BATCH_ID, file_bytes: String(FILE.length), chunk: FILE.subarray(0, 30) });
    const upload = await firstChunk;
    const done = nextEvent<UploadRecord>(fake, 'upload-done', WAIT_MS);
    stream.cancel();
    expect((await within(outcome, WAIT_MS, 'the upload response')).error?.code).toBe(grpc.status.CANCELLED);
    await done;
    expect(upload.state).toBe('failed');
  });

  it('refuses chunks beyond file_bytes as soon as they arrive (UPLOAD_SIZE_MISMATCH)', async () => {
    const { stream, outcome } = openUpload();
    stream.write({ batch_id: BATCH_ID, file_bytes: '5', chunk: FILE.subarray(0, 20) });
    const result = await within(outcome, WAIT_MS, 'the upload response');
    expect(reasonCode(result.error)).toBe('UPLOAD_SIZE_MISMATCH');
    stream.end();
  });

  it('maps the application\'s refusal (BATCH_NOT_FOUND) to NOT_FOUND with the reason-code trailer', async () => {
    fake.failures.set('uploadRows', new NotFoundError('BATCH_NOT_FOUND', 'Payout batch does not exist', { batchId: BATCH_ID }));
    const { stream, outcome } = openUpload();
    stream.write({ batch_id: BATCH_ID, file_bytes: String(FILE.length), chunk: FILE });
    stream.end();
    const result = await within(outcome, WAIT_MS, 'the upload response');
    expect(result.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(reasonCode(result.error)).toBe('BATCH_NOT_FOUND');
  });

  it('authenticates before reading anything', async () => {
    const before = fake.callsOf('uploadRows').length;
    const { stream, outcome } = openUpload('not-a-token');
    stream.write({ batch_id: BATCH_ID, file_bytes: String(FILE.length), chunk: FILE });
    stream.end();
    const result = await within(outcome, WAIT_MS, 'the upload response');
    expect(result.error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(fake.callsOf('uploadRows').length).toBe(before);
  });
});

describe('GetReport and WatchBatch (server streaming)', () => {
  it('streams the report as bytes in messages of at most REPORT_MESSAGE_MAX_BYTES, losing nothing', async () => {
    const big = `${'é'.repeat(20_000)}\n`; // 40,001 bytes: split mid-character on purpose
    fake.report$ = async function* () {
      yield 'row,recipient_id,amount\n';
      yield big;
      yield '2,dave,40.00\n';
    };
    const { messages, status } = await collect(client['GetReport']!({ batch_id: BATCH_ID }, metadata(), { deadline: Date.now() + WAIT_MS }) as grpc.ClientReadableStream<{ chunk: Buffer }>);
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.length).toBeGreaterThan(2);
    for (const message of messages) expect(message.chunk.length).toBeLessThanOrEqual(REPORT_MESSAGE_MAX_BYTES);
    expect(Buffer.concat(messages.map((m) => m.chunk)).toString('utf8')).toBe(`row,recipient_id,amount\n${big}2,dave,40.00\n`);
  });

  it('answers a refused report with its status and reason code, and no message', async () => {
    fake.failures.set('report', new NotFoundError('BATCH_NOT_FOUND', 'Payout batch does not exist'));
    const { messages, status } = await collect(client['GetReport']!({ batch_id: BATCH_ID }, metadata(), { deadline: Date.now() + WAIT_MS }) as grpc.ClientReadableStream<{ chunk: Buffer }>);
    expect(messages).toEqual([]);
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(status.metadata.get('reason-code')).toEqual(['BATCH_NOT_FOUND']);
  });

  it('streams batch views until the feed ends (terminal status), then OK', async () => {
    const watched = nextEvent<ProgressFeed>(fake, 'watch', WAIT_MS);
    const call = client['WatchBatch']!({ batch_id: BATCH_ID }, metadata(), { deadline: Date.now() + WAIT_MS }) as grpc.ClientReadableStream<{ batch: Record<string, unknown> }>;
    const result = collect(call);
    const feed = await watched;
    feed.push(batchView({ progress: '0.5000' }));
    feed.push(batchView({ status: 'COMPLETED', progress: '1.0000' }));
    feed.end();
    const { messages, status } = await result;
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.map((m) => [m.batch['status'], m.batch['progress']])).toEqual([
      ['BATCH_STATUS_PROCESSING', '0.5000'],
      ['BATCH_STATUS_COMPLETED', '1.0000'],
    ]);
    // The watch's signal is released once the stream is over.
    await aborted(feed.signal, WAIT_MS);
  });

  it('aborts the watch\'s signal when the client cancels', async () => {
    const watched = nextEvent<ProgressFeed>(fake, 'watch', WAIT_MS);
    const call = client['WatchBatch']!({ batch_id: BATCH_ID }, metadata(), {}) as grpc.ClientReadableStream<{ batch: Record<string, unknown> }>;
    call.on('error', () => undefined);
    const feed = await watched;
    const first = within(new Promise((resolve) => call.once('data', resolve)), WAIT_MS, 'the first view');
    feed.push(batchView());
    await first;
    expect(feed.signal.aborted).toBe(false);
    call.cancel();
    await aborted(feed.signal, WAIT_MS);
  });
});

describe('reportMessages', () => {
  async function* pieces(...texts: string[]): AsyncGenerator<string> {
    yield* texts;
  }
  async function all(source: AsyncIterable<{ chunk: Buffer }>): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const message of source) out.push(message.chunk);
    return out;
  }

  it('coalesces small pieces and splits large ones at exactly maxBytes', async () => {
    expect((await all(reportMessages(pieces('ab', 'cd', '', 'e'), 4))).map(String)).toEqual(['abcd', 'e']);
    expect((await all(reportMessages(pieces('abcdefghij'), 4))).map(String)).toEqual(['abcd', 'efgh', 'ij']);
    expect(await all(reportMessages(pieces(), 4))).toEqual([]);
  });
});
