import type { Principal } from '@ledger/auth';
import { EventEmitter, once } from 'node:events';
import type { BatchView, CommandView, PayoutsApplication, RowsPage, UploadSummaryView } from '../../application/payouts.application';

/**
 * A scripted PayoutsApplication for the transport specs (the HTTP controllers and the gRPC
 * handlers are under test, not the use cases). It records every call, reads uploads chunk by
 * chunk announcing each one, serves progress feeds the test drives, and throws what the test
 * sets in `failures` (by method name).
 */

export const BATCH_ID = '7f3c1a2e-5b6d-4e8f-9a0b-1c2d3e4f5a6b';
export const WALLET_ID = '11111111-1111-4111-8111-111111111111';
export const HOLD_ID = '33333333-3333-4333-8333-333333333333';

export function batchView(overrides: Partial<BatchView> = {}): BatchView {
  return {
    batchId: BATCH_ID,
    ownerId: 'alice',
    sourceWalletId: WALLET_ID,
    currency: 'USD',
    description: 'March payouts',
    status: 'PROCESSING',
    paused: false,
    createdAt: '2030-01-01T12:00:00.000Z',
    updatedAt: '2030-01-01T12:05:00.250Z',
    rows: 4,
    validRows: 3,
    invalidRows: 1,
    counts: { PENDING: 1, PROCESSING: 0, SUCCEEDED: 2, FAILED: 1, REVERSED: 0, REVERSAL_FAILED: 0 },
    validTotal: '60.00',
    paidTotal: '40.00',
    reversedTotal: '0.00',
    releasedTotal: '0.00',
    progress: '0.6667',
    holdId: HOLD_ID,
    reservation: 'reserved',
    refusalReason: null,
    compensation: null,
    revision: '9',
    ...overrides,
  };
}

export function commandView(overrides: Partial<CommandView> = {}): CommandView {
  return { batch: batchView(), position: '12345678901234567', replayed: false, ...overrides };
}

export function uploadSummaryView(overrides: Partial<UploadSummaryView> = {}): UploadSummaryView {
  return {
    batchId: BATCH_ID,
    status: 'VALIDATED',
    currency: 'USD',
    rows: 4,
    validRows: 3,
    invalidRows: 1,
    validTotal: '60.00',
    fileSha256: 'a'.repeat(64),
    fileBytes: 120,
    invalidSample: [{ row: 3, recipientId: 'bob', amount: '1.234', reason: 'AMOUNT_PRECISION' }],
    replayed: false,
    ...overrides,
  };
}

export function rowsPage(): RowsPage {
  return {
    rows: [
      {
        row: 1,
        recipientId: 'carol',
        amount: '20.00',
        reference: 'inv-1',
        status: 'SUCCEEDED',
        reason: null,
        transactionId: '44444444-4444-4444-8444-444444444444',
        reversalAttempts: 0,
        reversalTransactionId: null,
      },
      { row: 3, recipientId: 'bob', amount: '1.234', reference: null, status: 'FAILED', reason: 'AMOUNT_PRECISION', transactionId: null, reversalAttempts: 0, reversalTransactionId: null },
    ],
    nextCursor: 'cursor-2',
  };
}

export interface RecordedCall {
  readonly method: keyof PayoutsApplication;
  readonly principal: Principal;
  readonly batchId?: unknown;
  readonly input?: unknown;
}

/** One upload as the application saw it. */
export interface UploadRecord {
  readonly batchId: unknown;
  readonly chunks: Buffer[];
  /** 'reading' until the file ended ('complete') or its iteration threw ('failed', with `error`). */
  state: 'reading' | 'complete' | 'failed';
  error?: unknown;
}

/** A progress feed the test drives: push views, end it, or fail it; it also ends when `signal` aborts. */
export class ProgressFeed implements AsyncIterable<BatchView> {
  private readonly queue: Array<{ view: BatchView } | { end: true } | { error: unknown }> = [];
  private wake: (() => void) | undefined;

  constructor(readonly signal: AbortSignal) {
    signal.addEventListener('abort', () => this.wake?.(), { once: true });
  }

  push(view: BatchView): void {
    this.queue.push({ view });
    this.wake?.();
  }

  end(): void {
    this.queue.push({ end: true });
    this.wake?.();
  }

  fail(error: unknown): void {
    this.queue.push({ error });
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<BatchView, void, undefined> {
    for (;;) {
      if (this.signal.aborted) return;
      const item = this.queue.shift();
      if (item === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      if ('end' in item) return;
      if ('error' in item) throw item.error;
      yield item.view;
    }
  }
}

export class FakePayoutsApplication implements PayoutsApplication {
  readonly calls: RecordedCall[] = [];
  /** The next call of the named method throws this (then the entry is removed). */
  readonly failures = new Map<keyof PayoutsApplication, unknown>();
  /** `upload-chunk` (UploadRecord), `upload-done` (UploadRecord), `watch` (ProgressFeed), `report-stopped`. */
  readonly events = new EventEmitter();
  readonly uploads: UploadRecord[] = [];
  readonly feeds: ProgressFeed[] = [];
  command: CommandView = commandView();
  uploadSummary: UploadSummaryView = uploadSummaryView();
  batch: BatchView = batchView();
  page: RowsPage = rowsPage();
  /** When set, the next upload reads one chunk, then throws this (and stops reading). */
  refuseUploadAfterFirstChunk: unknown = undefined;
  /** The report pieces; replace to stream something else. */
  report$: () => AsyncIterable<string> = async function* () {
    yield 'row,recipient_id,amount\n';
    yield '1,carol,20.00\n';
  };

  constructor() {
    this.events.setMaxListeners(100);
  }

  private record(call: RecordedCall): void {
    this.calls.push(call);
    const failure = this.failures.get(call.method);
    if (failure !== undefined) {
      this.failures.delete(call.method);
      throw failure;
    }
  }

  /** The calls of one method, in order. */
  callsOf(method: keyof PayoutsApplication): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  async createBatch(principal: Principal, input: { sourceWalletId: unknown; currency: unknown; description?: unknown; idempotencyKey: unknown }): Promise<CommandView> {
    this.record({ method: 'createBatch', principal, input });
    return this.command;
  }

  async uploadRows(principal: Principal, batchId: unknown, file: AsyncIterable<Uint8Array>): Promise<UploadSummaryView> {
    this.record({ method: 'uploadRows', principal, batchId });
    const upload: UploadRecord = { batchId, chunks: [], state: 'reading' };
    this.uploads.push(upload);
    try {
      for await (const chunk of file) {
        upload.chunks.push(Buffer.from(chunk));
        this.events.emit('upload-chunk', upload);
        const refusal = this.refuseUploadAfterFirstChunk;
        if (refusal !== undefined) {
          // Like a file-level CSV problem found midway: stop reading and refuse.
          this.refuseUploadAfterFirstChunk = undefined;
          throw refusal;
        }
      }
      upload.state = 'complete';
    } catch (error) {
      upload.state = 'failed';
      upload.error = error;
      throw error;
    } finally {
      this.events.emit('upload-done', upload);
    }
    return { ...this.uploadSummary, fileBytes: upload.chunks.reduce((sum, chunk) => sum + chunk.length, 0) };
  }

  async summary(principal: Principal, batchId: unknown): Promise<UploadSummaryView> {
    this.record({ method: 'summary', principal, batchId });
    return this.uploadSummary;
  }

  async execute(principal: Principal, batchId: unknown, input: { pin?: unknown }): Promise<CommandView> {
    this.record({ method: 'execute', principal, batchId, input });
    return this.command;
  }

  async cancel(principal: Principal, batchId: unknown, input: { reason?: unknown }): Promise<CommandView> {
    this.record({ method: 'cancel', principal, batchId, input });
    return this.command;
  }

  async pause(principal: Principal, batchId: unknown): Promise<CommandView> {
    this.record({ method: 'pause', principal, batchId });
    return this.command;
  }

  async resume(principal: Principal, batchId: unknown): Promise<CommandView> {
    this.record({ method: 'resume', principal, batchId });
    return this.command;
  }

  async compensate(principal: Principal, batchId: unknown, input: { rows?: unknown; pin?: unknown }): Promise<CommandView> {
    this.record({ method: 'compensate', principal, batchId, input });
    return this.command;
  }

  async getBatch(principal: Principal, batchId: unknown): Promise<BatchView> {
    this.record({ method: 'getBatch', principal, batchId });
    return this.batch;
  }

  async listRows(principal: Principal, batchId: unknown, input: { status?: unknown; cursor?: unknown; pageSize?: unknown }): Promise<RowsPage> {
    this.record({ method: 'listRows', principal, batchId, input });
    return this.page;
  }

  async report(principal: Principal, batchId: unknown): Promise<AsyncIterable<string>> {
    this.record({ method: 'report', principal, batchId });
    const source = this.report$;
    const events = this.events;
    return (async function* () {
      try {
        yield* source();
      } finally {
        events.emit('report-stopped');
      }
    })();
  }

  async watch(principal: Principal, batchId: unknown, signal: AbortSignal): Promise<AsyncIterable<BatchView>> {
    this.record({ method: 'watch', principal, batchId });
    const feed = new ProgressFeed(signal);
    this.feeds.push(feed);
    this.events.emit('watch', feed);
    return feed;
  }
}

/** Resolves with `promise`, or rejects after `ms` naming `what`: a bound on a wait, never a sleep. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The next `event` of the fake, bounded. */
export function nextEvent<T>(fake: FakePayoutsApplication, event: string, ms: number): Promise<T> {
  return within(once(fake.events, event).then(([value]) => value as T), ms, `the application event '${event}'`);
}

/** Resolves when `signal` aborts, bounded. */
export function aborted(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return within(new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })), ms, 'the abort signal');
}
