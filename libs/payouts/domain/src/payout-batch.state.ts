import type { CurrencyCode } from '@ledger/money';
import { PAYOUT_ROW_STATUSES, type CompensationScope, type PayoutBatchEvent, type PayoutBatchStatus, type PayoutRowStatus, type RowCountDelta } from './payout.events';

export type RowCounts = Readonly<Record<PayoutRowStatus, number>>;

export const NO_ROWS: RowCounts = Object.freeze({ PENDING: 0, PROCESSING: 0, SUCCEEDED: 0, FAILED: 0, REVERSED: 0, REVERSAL_FAILED: 0 });

export interface UploadSummary {
  readonly uploadId: string;
  readonly fileSha256: string;
  readonly fileBytes: number;
  readonly rows: number;
  readonly validRows: number;
  readonly invalidRows: number;
  readonly validTotalMinor: bigint;
  readonly chunks: number;
  readonly rowsPerChunk: number;
}

export interface ActiveCompensation {
  readonly compensationId: string;
  readonly scope: CompensationScope;
  readonly rows: readonly number[];
  readonly chunks: readonly number[];
  readonly dispatched: ReadonlySet<number>;
  readonly settled: ReadonlySet<number>;
}

export type ReservationState = 'none' | 'requested' | 'reserved' | 'refused' | 'released';

export interface ExistingBatch {
  readonly status: PayoutBatchStatus;
  readonly batchId: string;
  readonly ownerId: string;
  readonly sourceWalletId: string;
  readonly currency: CurrencyCode;
  readonly description: string | null;
  readonly createdAt: string;
  readonly upload: UploadSummary | undefined;
  readonly paused: boolean;
  readonly holdId: string | undefined;
  readonly reservation: ReservationState;
  readonly reservationExpiresAt: string | undefined;
  readonly refusalReason: string | undefined;
  /** Chunks whose rows were sent to the ledger / whose results were recorded. */
  readonly dispatched: ReadonlySet<number>;
  readonly settled: ReadonlySet<number>;
  readonly counts: RowCounts;
  readonly paidMinor: bigint;
  readonly reversedMinor: bigint;
  readonly releasedMinor: bigint;
  /** The outcome of execution (COMPLETED / PARTIALLY_FAILED / FAILED), once finished. */
  readonly executionOutcome: 'COMPLETED' | 'PARTIALLY_FAILED' | 'FAILED' | undefined;
  readonly compensation: ActiveCompensation | undefined;
  readonly compensations: number;
  readonly updatedAt: string;
}

export type PayoutBatchState = { readonly status: 'none' } | ExistingBatch;

export const NO_BATCH: PayoutBatchState = Object.freeze({ status: 'none' as const });

/** Folds one batch event. Pure; events are facts, so nothing is refused here. */
export function evolvePayoutBatch(state: PayoutBatchState, event: PayoutBatchEvent): PayoutBatchState {
  if (event.type === 'PayoutBatchCreated') {
    const d = event.data;
    return {
      status: 'PENDING',
      batchId: d.batchId,
      ownerId: d.ownerId,
      sourceWalletId: d.sourceWalletId,
      currency: d.currency,
      description: d.description,
      createdAt: d.createdAt,
      upload: undefined,
      paused: false,
      holdId: undefined,
      reservation: 'none',
      reservationExpiresAt: undefined,
      refusalReason: undefined,
      dispatched: new Set(),
      settled: new Set(),
      counts: NO_ROWS,
      paidMinor: 0n,
      reversedMinor: 0n,
      releasedMinor: 0n,
      executionOutcome: undefined,
      compensation: undefined,
      compensations: 0,
      updatedAt: d.createdAt,
    };
  }
  if (state.status === 'none') return state;
  const batch = state;
  switch (event.type) {
    case 'PayoutRowsUploaded': {
      const d = event.data;
      return {
        ...batch,
        status: 'VALIDATED',
        upload: {
          uploadId: d.uploadId,
          fileSha256: d.fileSha256,
          fileBytes: d.fileBytes,
          rows: d.rows,
          validRows: d.validRows,
          invalidRows: d.invalidRows,
          validTotalMinor: BigInt(d.validTotalMinor),
          chunks: d.chunks,
          rowsPerChunk: d.rowsPerChunk,
        },
        counts: { ...NO_ROWS, PENDING: d.validRows, FAILED: d.invalidRows },
        updatedAt: d.uploadedAt,
      };
    }
    case 'PayoutBatchCancelled':
      return { ...batch, status: 'CANCELLED', updatedAt: event.data.cancelledAt };
    case 'PayoutExecutionStarted':
      return {
        ...batch,
        status: 'PROCESSING',
        holdId: event.data.holdId,
        reservation: 'requested',
        reservationExpiresAt: event.data.reservationExpiresAt,
        updatedAt: event.data.startedAt,
      };
    case 'PayoutFundsReserved':
      return { ...batch, reservation: 'reserved', updatedAt: event.data.reservedAt };
    case 'PayoutReservationRefused':
      return { ...batch, reservation: 'refused', refusalReason: event.data.reason, updatedAt: event.data.refusedAt };
    case 'PayoutBatchPaused':
      return { ...batch, paused: true, updatedAt: event.data.pausedAt };
    case 'PayoutBatchResumed':
      return { ...batch, paused: false, updatedAt: event.data.resumedAt };
    case 'PayoutChunkDispatched':
      return { ...batch, dispatched: withItem(batch.dispatched, event.data.chunk), counts: applyDelta(batch.counts, event.data.delta), updatedAt: event.data.dispatchedAt };
    case 'PayoutChunkSettled':
      return {
        ...batch,
        settled: withItem(batch.settled, event.data.chunk),
        counts: applyDelta(batch.counts, event.data.delta),
        paidMinor: batch.paidMinor + BigInt(event.data.paidMinor),
        updatedAt: event.data.settledAt,
      };
    case 'PayoutReservationReleased':
      return { ...batch, reservation: 'released', releasedMinor: BigInt(event.data.releasedMinor), updatedAt: event.data.releasedAt };
    case 'PayoutBatchFinished':
      return { ...batch, status: event.data.status, executionOutcome: event.data.status, paused: false, updatedAt: event.data.finishedAt };
    case 'PayoutCompensationRequested': {
      const d = event.data;
      return {
        ...batch,
        status: 'COMPENSATING',
        compensation: { compensationId: d.compensationId, scope: d.scope, rows: d.rows, chunks: d.chunks, dispatched: new Set(), settled: new Set() },
        compensations: batch.compensations + 1,
        updatedAt: d.requestedAt,
      };
    }
    case 'PayoutChunkReversalDispatched': {
      const compensation = batch.compensation;
      if (!compensation) return batch;
      return { ...batch, compensation: { ...compensation, dispatched: withItem(compensation.dispatched, event.data.chunk) }, updatedAt: event.data.dispatchedAt };
    }
    case 'PayoutChunkReversalSettled': {
      const compensation = batch.compensation;
      if (!compensation) return batch;
      return {
        ...batch,
        compensation: { ...compensation, settled: withItem(compensation.settled, event.data.chunk) },
        counts: applyDelta(batch.counts, event.data.delta),
        reversedMinor: batch.reversedMinor + BigInt(event.data.reversedMinor),
        updatedAt: event.data.settledAt,
      };
    }
    case 'PayoutCompensationFinished':
      return { ...batch, status: event.data.status, compensation: undefined, paused: false, updatedAt: event.data.finishedAt };
    default:
      return batch;
  }
}

export function applyDelta(counts: RowCounts, delta: RowCountDelta): RowCounts {
  const next = { ...counts };
  for (const status of PAYOUT_ROW_STATUSES) next[status] += delta[status] ?? 0;
  return next;
}

function withItem(set: ReadonlySet<number>, item: number): ReadonlySet<number> {
  if (set.has(item)) return set;
  const next = new Set(set);
  next.add(item);
  return next;
}

/** Share of the batch's work done, 0..1: rows settled during execution, chunks during compensation. */
export function progressOf(batch: ExistingBatch): number {
  if (batch.compensation) {
    const total = batch.compensation.chunks.length;
    return total === 0 ? 1 : batch.compensation.settled.size / total;
  }
  const valid = batch.upload?.validRows ?? 0;
  if (valid === 0) return batch.status === 'PENDING' ? 0 : 1;
  const done = valid - batch.counts.PENDING - batch.counts.PROCESSING;
  return Math.min(1, Math.max(0, done / valid));
}
