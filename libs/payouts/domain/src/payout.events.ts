import type { CurrencyCode } from '@ledger/money';

/**
 * Streams of the payout domain (ADR 0008):
 * - `payoutBatch-<batchId>`: the batch's life: created, uploaded (a summary), execution, chunk
 *   progress as per-state row counts, pause/resume, compensation, finish. Small: O(chunks) events.
 * - `payoutChunk-<uploadId>.<n>`: up to PAYOUT_ROWS_PER_CHUNK rows of one upload and every
 *   transition of those rows. A row transition is recorded in the event of its chunk that lists
 *   the row (never one event per row: a 100,000-row batch stays a few hundred events).
 * Amounts are integer minor units as decimal strings; times are ISO 8601 UTC.
 */
export const PAYOUT_BATCH_CATEGORY = 'payoutBatch';
export const PAYOUT_CHUNK_CATEGORY = 'payoutChunk';

/** Rows per chunk stream and per ledger command message (bounded by the event size limit). */
export const PAYOUT_ROWS_PER_CHUNK = 500;

export function payoutBatchStreamId(batchId: string): string {
  return `${PAYOUT_BATCH_CATEGORY}-${batchId}`;
}

export function payoutChunkStreamId(uploadId: string, chunk: number): string {
  return `${PAYOUT_CHUNK_CATEGORY}-${uploadId}.${chunk}`;
}

/** The chunk a row number (1-based) belongs to. */
export function chunkOfRow(row: number, rowsPerChunk: number): number {
  return Math.floor((row - 1) / rowsPerChunk);
}

export type PayoutBatchStatus =
  | 'PENDING'
  | 'VALIDATED'
  | 'PROCESSING'
  | 'COMPLETED'
  | 'PARTIALLY_FAILED'
  | 'FAILED'
  | 'CANCELLED'
  | 'COMPENSATING'
  | 'COMPENSATED'
  | 'PARTIALLY_COMPENSATED';

/** Statuses in which a batch rests: the saga has nothing to do and the progress feed ends. */
export const RESTING_BATCH_STATUSES: ReadonlySet<PayoutBatchStatus> = new Set<PayoutBatchStatus>([
  'COMPLETED', 'PARTIALLY_FAILED', 'FAILED', 'CANCELLED', 'COMPENSATED', 'PARTIALLY_COMPENSATED',
]);

export function isRestingBatchStatus(status: string): boolean {
  return (RESTING_BATCH_STATUSES as ReadonlySet<string>).has(status);
}

export type PayoutRowStatus = 'PENDING' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED' | 'REVERSED' | 'REVERSAL_FAILED';

export const PAYOUT_ROW_STATUSES: readonly PayoutRowStatus[] = ['PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'REVERSED', 'REVERSAL_FAILED'];

/** Signed change of the number of rows in each state, carried by batch events about a chunk. */
export type RowCountDelta = Partial<Record<PayoutRowStatus, number>>;

export type CompensationScope = 'ALL_SUCCEEDED' | 'SELECTED';

// ---------------------------------------------------------------- batch stream

export type PayoutBatchEvent =
  | {
      type: 'PayoutBatchCreated';
      data: { batchId: string; ownerId: string; sourceWalletId: string; currency: CurrencyCode; description: string | null; createdBy: string; createdAt: string };
    }
  | {
      type: 'PayoutRowsUploaded';
      data: {
        uploadId: string;
        /** SHA-256 of the uploaded bytes: the same file again is a replay, another file a conflict. */
        fileSha256: string;
        fileBytes: number;
        rows: number;
        validRows: number;
        invalidRows: number;
        validTotalMinor: string;
        chunks: number;
        rowsPerChunk: number;
        uploadedBy: string;
        uploadedAt: string;
      };
    }
  | { type: 'PayoutBatchCancelled'; data: { cancelledBy: string; reason: string | null; cancelledAt: string } }
  | { type: 'PayoutExecutionStarted'; data: { holdId: string; amountMinor: string; reservationExpiresAt: string; startedBy: string; startedAt: string } }
  | { type: 'PayoutFundsReserved'; data: { holdId: string; amountMinor: string; position: string; reservedAt: string } }
  | { type: 'PayoutReservationRefused'; data: { holdId: string; reason: string; message: string; refusedAt: string } }
  | { type: 'PayoutBatchPaused'; data: { pausedBy: string; pausedAt: string } }
  | { type: 'PayoutBatchResumed'; data: { resumedBy: string; resumedAt: string } }
  | { type: 'PayoutChunkDispatched'; data: { chunk: number; delta: RowCountDelta; dispatchedAt: string } }
  | { type: 'PayoutChunkSettled'; data: { chunk: number; delta: RowCountDelta; paidMinor: string; settledAt: string } }
  | { type: 'PayoutReservationReleased'; data: { holdId: string; releasedMinor: string; note: string | null; releasedAt: string } }
  | { type: 'PayoutBatchFinished'; data: { status: 'COMPLETED' | 'PARTIALLY_FAILED' | 'FAILED'; finishedAt: string } }
  | {
      type: 'PayoutCompensationRequested';
      data: {
        compensationId: string;
        scope: CompensationScope;
        /** Row numbers for SELECTED (sorted, distinct); empty for ALL_SUCCEEDED. */
        rows: number[];
        /** The chunks holding rows to reverse, sorted: the saga visits exactly these. */
        chunks: number[];
        requestedBy: string;
        requestedAt: string;
      };
    }
  | { type: 'PayoutChunkReversalDispatched'; data: { compensationId: string; chunk: number; rows: number; dispatchedAt: string } }
  | { type: 'PayoutChunkReversalSettled'; data: { compensationId: string; chunk: number; delta: RowCountDelta; reversedMinor: string; settledAt: string } }
  | { type: 'PayoutCompensationFinished'; data: { compensationId: string; status: 'COMPENSATED' | 'PARTIALLY_COMPENSATED' | 'COMPLETED' | 'PARTIALLY_FAILED'; finishedAt: string } };

// ---------------------------------------------------------------- chunk stream

/** A row as recorded at upload: valid rows carry amountMinor, invalid ones the reason instead. */
export interface RecordedRow {
  readonly row: number;
  /** As written in the file (trimmed, at most MAX_RECORDED_TEXT characters). */
  readonly recipientId: string;
  readonly amount: string;
  readonly amountMinor: string | null;
  readonly reference: string | null;
  /** Set when the row failed validation: it is FAILED from the start and never executed. */
  readonly reason: string | null;
}

export interface RowPaymentResult {
  readonly row: number;
  readonly outcome: 'SUCCEEDED' | 'FAILED';
  readonly reason: string | null;
  readonly transactionId: string | null;
  readonly position: string | null;
}

export interface RowReversalResult {
  readonly row: number;
  readonly attempt: number;
  readonly outcome: 'REVERSED' | 'REVERSAL_FAILED';
  readonly reason: string | null;
  readonly transactionId: string | null;
  readonly position: string | null;
}

export type PayoutChunkEvent =
  | { type: 'PayoutRowsRecorded'; data: { batchId: string; uploadId: string; chunk: number; rows: RecordedRow[] } }
  | { type: 'PayoutRowsDispatched'; data: { rows: number[]; dispatchedAt: string } }
  | { type: 'PayoutRowsSettled'; data: { results: RowPaymentResult[]; settledAt: string } }
  | { type: 'PayoutReversalsDispatched'; data: { compensationId: string; rows: Array<{ row: number; attempt: number }>; dispatchedAt: string } }
  | { type: 'PayoutReversalsSettled'; data: { compensationId: string; results: RowReversalResult[]; settledAt: string } };

/** Longest recipient/amount text kept from an invalid row (the file may hold anything). */
export const MAX_RECORDED_TEXT = 64;
/** Longest payout reference, as the ledger's MAX_REFERENCE_LENGTH. */
export const MAX_PAYOUT_REFERENCE_LENGTH = 140;
