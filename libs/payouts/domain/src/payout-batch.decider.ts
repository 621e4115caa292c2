import { InvariantViolationError } from '@ledger/errors';
import type { CurrencyCode } from '@ledger/money';
import { batchNotFound, PayoutRejection, uploadConflict } from './payout.rejections';
import type { CompensationScope, PayoutBatchEvent } from './payout.events';
import type { ExistingBatch, PayoutBatchState, UploadSummary } from './payout-batch.state';

/**
 * The batch's own commands (what a person or a service asks for), decided on the batch state.
 * Each returns the events to append (empty = already done, an idempotent no-op) or throws a
 * named refusal. The saga's steps are in payout-saga.decider.ts.
 */

/** Longest stored batch description and cancel reason. */
export const MAX_BATCH_TEXT_LENGTH = 200;
/** Longest a reservation may be held: as the ledger's maximum hold duration. */
export const MAX_RESERVATION_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Row numbers one SELECTED compensation request may list. */
export const MAX_ROWS_PER_COMPENSATION = 10_000;

export interface CreateBatch {
  readonly batchId: string;
  readonly ownerId: string;
  readonly sourceWalletId: string;
  readonly currency: CurrencyCode;
  readonly description: string | null;
  readonly by: string;
}

export function decideCreateBatch(command: CreateBatch, state: PayoutBatchState, now: Date): PayoutBatchEvent[] {
  if (state.status !== 'none') throw new PayoutRejection('BATCH_ALREADY_EXISTS', `Payout batch ${command.batchId} already exists`, { batchId: command.batchId });
  return [{
    type: 'PayoutBatchCreated',
    data: {
      batchId: command.batchId,
      ownerId: command.ownerId,
      sourceWalletId: command.sourceWalletId,
      currency: command.currency,
      description: command.description,
      createdBy: command.by,
      createdAt: now.toISOString(),
    },
  }];
}

/** Records a validated upload. The same file again is a no-op; another file is a conflict. */
export function decideRecordUpload(state: PayoutBatchState, batchId: string, upload: UploadSummary, by: string, now: Date): PayoutBatchEvent[] {
  const batch = requireBatch(state, batchId);
  if (batch.upload) {
    if (batch.upload.fileSha256 === upload.fileSha256) return [];
    throw uploadConflict(batch.batchId);
  }
  if (batch.status !== 'PENDING') throw new PayoutRejection('BATCH_NOT_EXECUTABLE', `Payout batch ${batch.batchId} is ${batch.status}; rows can only be uploaded to a PENDING batch`, { status: batch.status });
  const counts = [upload.rows, upload.validRows, upload.invalidRows, upload.rowsPerChunk];
  if (
    !counts.every((count) => Number.isInteger(count) && count >= 0) ||
    upload.rowsPerChunk < 1 ||
    upload.validRows + upload.invalidRows !== upload.rows ||
    upload.rows <= 0 ||
    upload.chunks !== Math.ceil(upload.rows / upload.rowsPerChunk) ||
    upload.validTotalMinor < 0n
  ) {
    throw new InvariantViolationError('UPLOAD_SUMMARY_INCONSISTENT', 'Upload summary counts do not add up');
  }
  return [{
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
      uploadedBy: by,
      uploadedAt: now.toISOString(),
    },
  }];
}

export interface StartExecution {
  readonly holdId: string;
  readonly by: string;
  readonly reservationTtlMs: number;
}

/** Starts execution: the saga then reserves validTotal on the source wallet and pays chunk by chunk. */
export function decideStartExecution(state: PayoutBatchState, batchId: string, command: StartExecution, now: Date): PayoutBatchEvent[] {
  const batch = requireBatch(state, batchId);
  if (batch.status === 'PENDING') throw new PayoutRejection('BATCH_NOT_UPLOADED', `Payout batch ${batch.batchId} has no rows yet`, { status: batch.status });
  if (batch.status !== 'VALIDATED') throw new PayoutRejection('BATCH_NOT_EXECUTABLE', `Payout batch ${batch.batchId} is ${batch.status}; only a VALIDATED batch can be executed`, { status: batch.status });
  const upload = batch.upload as UploadSummary;
  if (upload.validRows === 0) throw new PayoutRejection('BATCH_NO_VALID_ROWS', `Payout batch ${batch.batchId} has no valid rows to pay`, { invalidRows: upload.invalidRows });
  if (!Number.isInteger(command.reservationTtlMs) || command.reservationTtlMs <= 0 || command.reservationTtlMs > MAX_RESERVATION_TTL_MS) {
    throw new InvariantViolationError('RESERVATION_TTL_INVALID', `Reservation TTL must be 1..${MAX_RESERVATION_TTL_MS} ms`);
  }
  return [{
    type: 'PayoutExecutionStarted',
    data: {
      holdId: command.holdId,
      amountMinor: upload.validTotalMinor.toString(),
      reservationExpiresAt: new Date(now.getTime() + command.reservationTtlMs).toISOString(),
      startedBy: command.by,
      startedAt: now.toISOString(),
    },
  }];
}

export function decideCancel(state: PayoutBatchState, batchId: string, by: string, reason: string | null, now: Date): PayoutBatchEvent[] {
  const batch = requireBatch(state, batchId);
  if (batch.status === 'CANCELLED') return [];
  if (batch.status !== 'PENDING' && batch.status !== 'VALIDATED') {
    throw new PayoutRejection('BATCH_NOT_CANCELLABLE', `Payout batch ${batch.batchId} is ${batch.status}; only a batch not yet executed can be cancelled`, { status: batch.status });
  }
  return [{ type: 'PayoutBatchCancelled', data: { cancelledBy: by, reason, cancelledAt: now.toISOString() } }];
}

export function decidePause(state: PayoutBatchState, batchId: string, by: string, now: Date): PayoutBatchEvent[] {
  const batch = requireRunning(state, batchId);
  if (batch.paused) throw new PayoutRejection('BATCH_ALREADY_PAUSED', `Payout batch ${batch.batchId} is already paused`);
  return [{ type: 'PayoutBatchPaused', data: { pausedBy: by, pausedAt: now.toISOString() } }];
}

export function decideResume(state: PayoutBatchState, batchId: string, by: string, now: Date): PayoutBatchEvent[] {
  const batch = requireBatch(state, batchId);
  if (!batch.paused) throw new PayoutRejection('BATCH_NOT_PAUSED', `Payout batch ${batch.batchId} is not paused`, { status: batch.status });
  return [{ type: 'PayoutBatchResumed', data: { resumedBy: by, resumedAt: now.toISOString() } }];
}

export interface RequestCompensation {
  readonly compensationId: string;
  readonly scope: CompensationScope;
  /** SELECTED: the rows, already checked against their chunks (compensableRows); sorted, distinct. */
  readonly rows: readonly number[];
  readonly by: string;
}

/** Reverses all paid rows or a selection; a REVERSAL_FAILED row may be tried again. */
export function decideRequestCompensation(state: PayoutBatchState, batchId: string, command: RequestCompensation, now: Date): PayoutBatchEvent[] {
  const batch = requireBatch(state, batchId);
  if (batch.status !== 'COMPLETED' && batch.status !== 'PARTIALLY_FAILED' && batch.status !== 'PARTIALLY_COMPENSATED') {
    throw new PayoutRejection('BATCH_NOT_COMPENSABLE', `Payout batch ${batch.batchId} is ${batch.status}; only a finished batch with paid rows can be compensated`, { status: batch.status });
  }
  const upload = batch.upload as UploadSummary;
  if (batch.counts.SUCCEEDED + batch.counts.REVERSAL_FAILED === 0) {
    throw new PayoutRejection('NOTHING_TO_COMPENSATE', `Payout batch ${batch.batchId} has no paid row left to reverse`);
  }
  let chunks: number[];
  if (command.scope === 'ALL_SUCCEEDED') {
    if (command.rows.length > 0) throw new InvariantViolationError('COMPENSATION_ROWS_UNEXPECTED', 'ALL_SUCCEEDED takes no row list');
    chunks = Array.from({ length: upload.chunks }, (_, index) => index);
  } else {
    if (command.rows.length === 0 || command.rows.length > MAX_ROWS_PER_COMPENSATION) {
      throw new InvariantViolationError('COMPENSATION_ROWS_INVALID', `A selection lists 1..${MAX_ROWS_PER_COMPENSATION} rows`);
    }
    // A row outside the upload would send the saga to a chunk that does not exist: it would never settle.
    if (!command.rows.every((row, index) => Number.isInteger(row) && row >= 1 && row <= upload.rows && (index === 0 || row > (command.rows[index - 1] as number)))) {
      throw new InvariantViolationError('COMPENSATION_ROWS_INVALID', `A selection lists distinct row numbers from 1 to ${upload.rows}, sorted`);
    }
    chunks = [...new Set(command.rows.map((row) => Math.floor((row - 1) / upload.rowsPerChunk)))].sort((a, b) => a - b);
  }
  return [{
    type: 'PayoutCompensationRequested',
    data: { compensationId: command.compensationId, scope: command.scope, rows: [...command.rows], chunks, requestedBy: command.by, requestedAt: now.toISOString() },
  }];
}

export function requireBatch(state: PayoutBatchState, batchId: string): ExistingBatch {
  if (state.status === 'none') throw batchNotFound(batchId);
  return state;
}

function requireRunning(state: PayoutBatchState, batchId: string): ExistingBatch {
  const batch = requireBatch(state, batchId);
  if (batch.status !== 'PROCESSING' && batch.status !== 'COMPENSATING') {
    throw new PayoutRejection('BATCH_NOT_RUNNING', `Payout batch ${batch.batchId} is ${batch.status}; only a running batch can be paused`, { status: batch.status });
  }
  return batch;
}
