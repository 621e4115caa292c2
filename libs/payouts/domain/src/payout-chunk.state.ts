import type { PayoutChunkEvent, PayoutRowStatus } from './payout.events';

export interface RowState {
  readonly row: number;
  readonly recipientId: string;
  readonly amount: string;
  /** Minor units of a valid row; null for a row refused at upload. */
  readonly amountMinor: bigint | null;
  readonly reference: string | null;
  readonly status: PayoutRowStatus;
  /** Why the row FAILED (upload validation or the ledger) or why its last reversal failed. */
  readonly reason: string | null;
  readonly transactionId: string | null;
  /** Reversal attempts sent so far; the next one uses attempt + 1 (its own idempotency key). */
  readonly reversalAttempts: number;
  /** A reversal was sent and its result is not recorded yet. */
  readonly reversalPending: boolean;
  /**
   * The compensation that sent the row's last reversal, and the row's status when it was sent:
   * what the batch still counts the row as until that compensation settles the row's chunk.
   */
  readonly reversalCompensationId: string | null;
  readonly statusBeforeReversal: PayoutRowStatus | null;
  readonly reversalTransactionId: string | null;
}

export interface ExistingChunk {
  readonly status: 'recorded';
  readonly batchId: string;
  readonly uploadId: string;
  readonly chunk: number;
  /** In row order. */
  readonly rows: ReadonlyMap<number, RowState>;
}

export type PayoutChunkState = { readonly status: 'none' } | ExistingChunk;

export const NO_CHUNK: PayoutChunkState = Object.freeze({ status: 'none' as const });

/** Folds one chunk event. Results for rows not in the expected state are ignored (duplicates). */
export function evolvePayoutChunk(state: PayoutChunkState, event: PayoutChunkEvent): PayoutChunkState {
  if (event.type === 'PayoutRowsRecorded') {
    // A chunk's rows may be recorded in several events (each under the event size limit).
    const rows = new Map<number, RowState>(state.status === 'recorded' ? state.rows : []);
    for (const r of event.data.rows) {
      rows.set(r.row, {
        row: r.row,
        recipientId: r.recipientId,
        amount: r.amount,
        amountMinor: r.amountMinor === null ? null : BigInt(r.amountMinor),
        reference: r.reference,
        status: r.reason === null ? 'PENDING' : 'FAILED',
        reason: r.reason,
        transactionId: null,
        reversalAttempts: 0,
        reversalPending: false,
        reversalCompensationId: null,
        statusBeforeReversal: null,
        reversalTransactionId: null,
      });
    }
    return { status: 'recorded', batchId: event.data.batchId, uploadId: event.data.uploadId, chunk: event.data.chunk, rows };
  }
  if (state.status === 'none') return state;
  const rows = new Map(state.rows);
  switch (event.type) {
    case 'PayoutRowsDispatched':
      for (const row of event.data.rows) update(rows, row, (r) => (r.status === 'PENDING' ? { ...r, status: 'PROCESSING' } : r));
      break;
    case 'PayoutRowsSettled':
      for (const result of event.data.results) {
        update(rows, result.row, (r) =>
          r.status === 'PROCESSING' || r.status === 'PENDING'
            ? { ...r, status: result.outcome, reason: result.reason, transactionId: result.transactionId }
            : r,
        );
      }
      break;
    case 'PayoutReversalsDispatched':
      for (const { row, attempt } of event.data.rows) {
        update(rows, row, (r) => ({
          ...r,
          reversalAttempts: Math.max(r.reversalAttempts, attempt),
          reversalPending: true,
          reversalCompensationId: event.data.compensationId,
          statusBeforeReversal: r.status,
        }));
      }
      break;
    case 'PayoutReversalsSettled':
      for (const result of event.data.results) {
        update(rows, result.row, (r) =>
          r.reversalPending && r.reversalAttempts === result.attempt
            ? {
                ...r,
                status: result.outcome,
                // A reversal that went through clears the failure of an earlier attempt.
                reason: result.outcome === 'REVERSAL_FAILED' ? result.reason : null,
                reversalPending: false,
                reversalTransactionId: result.transactionId,
              }
            : r,
        );
      }
      break;
    default:
      break;
  }
  return { ...state, rows };
}

function update(rows: Map<number, RowState>, row: number, change: (row: RowState) => RowState): void {
  const current = rows.get(row);
  if (current) rows.set(row, change(current));
}
