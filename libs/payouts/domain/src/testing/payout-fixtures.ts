import { ApplicationError, type ErrorKind } from '@ledger/errors';
import type { CompensationScope, PayoutBatchEvent, PayoutChunkEvent, RecordedRow, RowCountDelta } from '../payout.events';
import { evolvePayoutBatch, NO_BATCH, type ExistingBatch, type PayoutBatchState, type UploadSummary } from '../payout-batch.state';
import { evolvePayoutChunk, NO_CHUNK, type ExistingChunk, type PayoutChunkState } from '../payout-chunk.state';

/**
 * Test builders for the payout domain: facts (events) with sensible defaults, folds, and
 * given/when/then for the batch deciders (given past batch events, when a decision, then events
 * or a named refusal) and the saga steps (given batch and chunk events, when a step, then both).
 *
 * The sample batch: 5 rows, 3 rows per chunk (chunk 0 = rows 1..3, chunk 1 = rows 4..5); row 2
 * was refused at upload (AMOUNT_INVALID); the valid rows pay 100, 300, 400 and 500 minor units.
 */
export const BATCH_ID = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';
export const OWNER_ID = 'user:owner-1';
export const SOURCE_WALLET_ID = '0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9';
export const UPLOAD_ID = 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e';
export const HOLD_ID = 'c0ffee00-1234-4567-89ab-cdef01234567';
export const FILE_SHA = 'a'.repeat(64);
export const OTHER_FILE_SHA = 'b'.repeat(64);
export const COMPENSATION_ID = 'comp-1';
export const T0 = new Date('2026-03-01T10:00:00.000Z');

/** T0 plus `seconds`. */
export function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}
const iso = (seconds = 0): string => at(seconds).toISOString();

export function recipient(row: number): string {
  return `00000000-0000-4000-8000-${row.toString(16).padStart(12, '0')}`;
}

export function validRow(row: number, amountMinor: bigint, reference: string | null = null): RecordedRow {
  return { row, recipientId: recipient(row), amount: amountMinor.toString(), amountMinor: amountMinor.toString(), reference, reason: null };
}

export function invalidRow(row: number, reason = 'AMOUNT_INVALID'): RecordedRow {
  return { row, recipientId: recipient(row), amount: 'oops', amountMinor: null, reference: null, reason };
}

export const SAMPLE_ROWS_PER_CHUNK = 3;
export const SAMPLE_ROWS: readonly RecordedRow[] = [validRow(1, 100n), invalidRow(2), validRow(3, 300n), validRow(4, 400n), validRow(5, 500n)];
export const SAMPLE_VALID_TOTAL = 1300n;

export function sampleUpload(overrides: Partial<UploadSummary> = {}): UploadSummary {
  return {
    uploadId: UPLOAD_ID,
    fileSha256: FILE_SHA,
    fileBytes: 420,
    rows: 5,
    validRows: 4,
    invalidRows: 1,
    validTotalMinor: SAMPLE_VALID_TOTAL,
    chunks: 2,
    rowsPerChunk: SAMPLE_ROWS_PER_CHUNK,
    ...overrides,
  };
}

// ---------------------------------------------------------------- batch facts

export function batchCreated(overrides: Partial<Extract<PayoutBatchEvent, { type: 'PayoutBatchCreated' }>['data']> = {}): PayoutBatchEvent {
  return {
    type: 'PayoutBatchCreated',
    data: { batchId: BATCH_ID, ownerId: OWNER_ID, sourceWalletId: SOURCE_WALLET_ID, currency: 'USD', description: 'March payroll', createdBy: OWNER_ID, createdAt: iso(0), ...overrides },
  };
}

export function rowsUploaded(upload: UploadSummary = sampleUpload()): PayoutBatchEvent {
  return {
    type: 'PayoutRowsUploaded',
    data: {
      uploadId: upload.uploadId,
      fileSha256: upload.fileSha256,
      fileBytes: upload.fileBytes,
      rows: upload.rows,
      validRows: upload.validRows,
      invalidRows: upload.invalidRows,
      validTotalMinor: upload.validTotalMinor.toString(),
      chunks: upload.chunks,
      rowsPerChunk: upload.rowsPerChunk,
      uploadedBy: OWNER_ID,
      uploadedAt: iso(1),
    },
  };
}

export function executionStarted(amountMinor = SAMPLE_VALID_TOTAL): PayoutBatchEvent {
  return { type: 'PayoutExecutionStarted', data: { holdId: HOLD_ID, amountMinor: amountMinor.toString(), reservationExpiresAt: iso(3600), startedBy: OWNER_ID, startedAt: iso(2) } };
}

export function fundsReserved(amountMinor = SAMPLE_VALID_TOTAL): PayoutBatchEvent {
  return { type: 'PayoutFundsReserved', data: { holdId: HOLD_ID, amountMinor: amountMinor.toString(), position: '10', reservedAt: iso(3) } };
}

export function reservationRefused(reason = 'INSUFFICIENT_FUNDS'): PayoutBatchEvent {
  return { type: 'PayoutReservationRefused', data: { holdId: HOLD_ID, reason, message: 'Not enough money', refusedAt: iso(3) } };
}

export function batchPaused(): PayoutBatchEvent {
  return { type: 'PayoutBatchPaused', data: { pausedBy: OWNER_ID, pausedAt: iso(4) } };
}

export function batchResumed(): PayoutBatchEvent {
  return { type: 'PayoutBatchResumed', data: { resumedBy: OWNER_ID, resumedAt: iso(5) } };
}

export function chunkDispatched(chunk: number, delta: RowCountDelta): PayoutBatchEvent {
  return { type: 'PayoutChunkDispatched', data: { chunk, delta, dispatchedAt: iso(6) } };
}

export function chunkSettled(chunk: number, delta: RowCountDelta, paidMinor: bigint): PayoutBatchEvent {
  return { type: 'PayoutChunkSettled', data: { chunk, delta, paidMinor: paidMinor.toString(), settledAt: iso(7) } };
}

export function reservationReleased(releasedMinor: bigint): PayoutBatchEvent {
  return { type: 'PayoutReservationReleased', data: { holdId: HOLD_ID, releasedMinor: releasedMinor.toString(), note: null, releasedAt: iso(8) } };
}

export function batchFinished(status: 'COMPLETED' | 'PARTIALLY_FAILED' | 'FAILED'): PayoutBatchEvent {
  return { type: 'PayoutBatchFinished', data: { status, finishedAt: iso(8) } };
}

export function compensationRequested(scope: CompensationScope, rows: number[], chunks: number[], compensationId = COMPENSATION_ID): PayoutBatchEvent {
  return { type: 'PayoutCompensationRequested', data: { compensationId, scope, rows, chunks, requestedBy: OWNER_ID, requestedAt: iso(9) } };
}

export function chunkReversalDispatched(chunk: number, rows: number, compensationId = COMPENSATION_ID): PayoutBatchEvent {
  return { type: 'PayoutChunkReversalDispatched', data: { compensationId, chunk, rows, dispatchedAt: iso(10) } };
}

export function chunkReversalSettled(chunk: number, delta: RowCountDelta, reversedMinor: bigint, compensationId = COMPENSATION_ID): PayoutBatchEvent {
  return { type: 'PayoutChunkReversalSettled', data: { compensationId, chunk, delta, reversedMinor: reversedMinor.toString(), settledAt: iso(11) } };
}

export function compensationFinished(
  status: 'COMPENSATED' | 'PARTIALLY_COMPENSATED' | 'COMPLETED' | 'PARTIALLY_FAILED',
  compensationId = COMPENSATION_ID,
): PayoutBatchEvent {
  return { type: 'PayoutCompensationFinished', data: { compensationId, status, finishedAt: iso(12) } };
}

// ---------------------------------------------------------------- chunk facts

/** The sample's chunk `chunk` (0: rows 1..3, 1: rows 4..5) as recorded at upload. */
export function sampleChunkRecorded(chunk: number, rows: readonly RecordedRow[] = SAMPLE_ROWS, rowsPerChunk = SAMPLE_ROWS_PER_CHUNK): PayoutChunkEvent {
  return {
    type: 'PayoutRowsRecorded',
    data: { batchId: BATCH_ID, uploadId: UPLOAD_ID, chunk, rows: rows.slice(chunk * rowsPerChunk, (chunk + 1) * rowsPerChunk) },
  };
}

export function rowsDispatched(rows: number[]): PayoutChunkEvent {
  return { type: 'PayoutRowsDispatched', data: { rows, dispatchedAt: iso(6) } };
}

export function paid(row: number): { row: number; outcome: 'SUCCEEDED'; reason: null; transactionId: string; position: string } {
  return { row, outcome: 'SUCCEEDED', reason: null, transactionId: `tx-${row}`, position: `${100 + row}` };
}

export function failed(row: number, reason = 'RECIPIENT_FROZEN'): { row: number; outcome: 'FAILED'; reason: string; transactionId: null; position: null } {
  return { row, outcome: 'FAILED', reason, transactionId: null, position: null };
}

export function rowsSettled(results: Array<ReturnType<typeof paid> | ReturnType<typeof failed>>): PayoutChunkEvent {
  return { type: 'PayoutRowsSettled', data: { results, settledAt: iso(7) } };
}

export function reversalsDispatched(rows: Array<{ row: number; attempt: number }>, compensationId = COMPENSATION_ID): PayoutChunkEvent {
  return { type: 'PayoutReversalsDispatched', data: { compensationId, rows, dispatchedAt: iso(10) } };
}

export function reversed(row: number, attempt = 1): { row: number; attempt: number; outcome: 'REVERSED'; reason: null; transactionId: string; position: string } {
  return { row, attempt, outcome: 'REVERSED', reason: null, transactionId: `rev-${row}-${attempt}`, position: `${200 + row}` };
}

export function reversalFailed(row: number, attempt = 1, reason = 'INSUFFICIENT_FUNDS'): { row: number; attempt: number; outcome: 'REVERSAL_FAILED'; reason: string; transactionId: null; position: null } {
  return { row, attempt, outcome: 'REVERSAL_FAILED', reason, transactionId: null, position: null };
}

export function reversalsSettled(results: Array<ReturnType<typeof reversed> | ReturnType<typeof reversalFailed>>, compensationId = COMPENSATION_ID): PayoutChunkEvent {
  return { type: 'PayoutReversalsSettled', data: { compensationId, results, settledAt: iso(11) } };
}

// ---------------------------------------------------------------- histories of the sample batch

/** Batch histories of the sample, each the previous one plus its next facts. */
export const sampleBatch = {
  pending: (): PayoutBatchEvent[] => [batchCreated()],
  validated: (): PayoutBatchEvent[] => [...sampleBatch.pending(), rowsUploaded()],
  processing: (): PayoutBatchEvent[] => [...sampleBatch.validated(), executionStarted()],
  reserved: (): PayoutBatchEvent[] => [...sampleBatch.processing(), fundsReserved()],
  refused: (): PayoutBatchEvent[] => [...sampleBatch.processing(), reservationRefused()],
  /** Chunk 0 (rows 1, 3 valid) sent to the ledger. */
  chunk0InFlight: (): PayoutBatchEvent[] => [...sampleBatch.reserved(), chunkDispatched(0, { PENDING: -2, PROCESSING: 2 })],
  /** Both chunks paid: rows 1, 3, 4 SUCCEEDED, row 5 FAILED at the ledger (row 2 refused at upload). */
  allSettled: (): PayoutBatchEvent[] => [
    ...sampleBatch.chunk0InFlight(),
    chunkSettled(0, { PROCESSING: -2, SUCCEEDED: 2 }, 400n),
    chunkDispatched(1, { PENDING: -2, PROCESSING: 2 }),
    chunkSettled(1, { PROCESSING: -2, SUCCEEDED: 1, FAILED: 1 }, 400n),
  ],
  partiallyFailed: (): PayoutBatchEvent[] => [...sampleBatch.allSettled(), reservationReleased(500n), batchFinished('PARTIALLY_FAILED')],
};

/** Chunk histories of the sample matching `sampleBatch.allSettled`. */
export const sampleChunk = {
  recorded: (chunk: number): PayoutChunkEvent[] => [sampleChunkRecorded(chunk)],
  chunk0Paid: (): PayoutChunkEvent[] => [sampleChunkRecorded(0), rowsDispatched([1, 3]), rowsSettled([paid(1), paid(3)])],
  chunk1Settled: (): PayoutChunkEvent[] => [sampleChunkRecorded(1), rowsDispatched([4, 5]), rowsSettled([paid(4), failed(5)])],
};

// ---------------------------------------------------------------- folds

export function foldBatch(events: readonly PayoutBatchEvent[]): PayoutBatchState {
  return events.reduce<PayoutBatchState>(evolvePayoutBatch, NO_BATCH);
}

export function foldChunk(events: readonly PayoutChunkEvent[]): PayoutChunkState {
  return events.reduce<PayoutChunkState>(evolvePayoutChunk, NO_CHUNK);
}

export function existingBatch(events: readonly PayoutBatchEvent[]): ExistingBatch {
  const state = foldBatch(events);
  if (state.status === 'none') throw new Error('the given batch history does not create the batch');
  return state;
}

export function existingChunk(events: readonly PayoutChunkEvent[]): ExistingChunk {
  const state = foldChunk(events);
  if (state.status === 'none') throw new Error('the given chunk history does not record the chunk');
  return state;
}

// ---------------------------------------------------------------- given / when / then

/** Runs `run` and returns the ApplicationError it throws (fails the test if it does not throw one). */
export function rejectionOf(run: () => unknown): ApplicationError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof ApplicationError)) throw new Error(`expected a named refusal, got ${caught === undefined ? 'no error' : String(caught)}`);
  return caught;
}

/** Given past batch events, when a batch decision, then the events appended (or a named refusal). */
export function givenBatch(history: readonly PayoutBatchEvent[]) {
  const state = foldBatch(history);
  return {
    state,
    when(decide: (state: PayoutBatchState) => PayoutBatchEvent[]) {
      return {
        /** The decided events; returns the batch folded with them for further checks. */
        then(expected: readonly PayoutBatchEvent[]): PayoutBatchState {
          const events = decide(state);
          expect(events).toEqual(expected);
          return events.reduce<PayoutBatchState>(evolvePayoutBatch, state);
        },
        /** Already done: nothing to append. */
        thenNothing(): void {
          expect(decide(state)).toEqual([]);
        },
        thenRejects(code: string, kind?: ErrorKind, details?: Record<string, unknown>): void {
          const error = rejectionOf(() => decide(state));
          expect(error.code).toBe(code);
          if (kind !== undefined) expect(error.kind).toBe(kind);
          if (details !== undefined) expect(error.details).toMatchObject(details);
        },
      };
    },
  };
}

export interface StepResult {
  readonly batchEvents: readonly PayoutBatchEvent[];
  readonly chunkEvents: readonly PayoutChunkEvent[];
}

/** Given the batch's and one chunk's past events, when a saga step, then the events of both streams. */
export function givenSaga(batchHistory: readonly PayoutBatchEvent[], chunkHistory: readonly PayoutChunkEvent[]) {
  const batch = existingBatch(batchHistory);
  const chunk = existingChunk(chunkHistory);
  return {
    batch,
    chunk,
    when<R extends StepResult>(step: (batch: ExistingBatch, chunk: ExistingChunk) => R) {
      const result = step(batch, chunk);
      return {
        result,
        /** Both streams' events; returns both folded with them. */
        then(expected: StepResult): { batch: ExistingBatch; chunk: ExistingChunk } {
          expect({ batchEvents: result.batchEvents, chunkEvents: result.chunkEvents }).toEqual(expected);
          return {
            batch: existingBatch([...batchHistory, ...result.batchEvents]),
            chunk: existingChunk([...chunkHistory, ...result.chunkEvents]),
          };
        },
        thenNothing(): void {
          expect({ batchEvents: result.batchEvents, chunkEvents: result.chunkEvents }).toEqual({ batchEvents: [], chunkEvents: [] });
        },
      };
    },
  };
}
