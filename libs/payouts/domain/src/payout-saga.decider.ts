import type { PayoutBatchEvent, PayoutChunkEvent, PayoutRowStatus, RowCountDelta, RowPaymentResult, RowReversalResult } from './payout.events';
import type { ExistingBatch } from './payout-batch.state';
import { evolvePayoutChunk, type ExistingChunk, type RowState } from './payout-chunk.state';

/**
 * The saga's steps as pure decisions over the batch and one chunk. Each returns the events for
 * both streams (appended together, each at the revision it was decided on) and is a no-op when
 * the step was already taken, so a redelivered result or a replayed step changes nothing.
 */
export interface SagaStep {
  readonly batchEvents: PayoutBatchEvent[];
  readonly chunkEvents: PayoutChunkEvent[];
}

const NOTHING: SagaStep = Object.freeze({ batchEvents: [], chunkEvents: [] });

/** What the saga should do next for a batch; the runner performs these (idempotently). */
export type SagaAction =
  | { readonly kind: 'reserve' }
  | { readonly kind: 'dispatch'; readonly chunk: number }
  /** Sent, not answered: send again after a restart or when the answer is overdue. */
  | { readonly kind: 'awaitRows'; readonly chunk: number }
  | { readonly kind: 'failUnreserved'; readonly chunk: number }
  | { readonly kind: 'release' }
  | { readonly kind: 'finishRefused' }
  | { readonly kind: 'dispatchReversals'; readonly chunk: number }
  | { readonly kind: 'awaitReversals'; readonly chunk: number }
  | { readonly kind: 'finishCompensation' };

/** The next actions of a batch, with at most `maxInFlightChunks` chunks waiting on the ledger. */
export function nextSagaActions(batch: ExistingBatch, maxInFlightChunks: number): SagaAction[] {
  if (batch.status === 'PROCESSING') {
    const chunks = batch.upload?.chunks ?? 0;
    switch (batch.reservation) {
      case 'requested':
        return [{ kind: 'reserve' }];
      case 'refused': {
        const open = range(chunks).filter((chunk) => !batch.settled.has(chunk));
        return open.length > 0 ? open.map((chunk) => ({ kind: 'failUnreserved', chunk })) : [{ kind: 'finishRefused' }];
      }
      case 'reserved': {
        if (batch.settled.size === chunks) return [{ kind: 'release' }];
        const inFlight = range(chunks).filter((chunk) => batch.dispatched.has(chunk) && !batch.settled.has(chunk));
        const actions: SagaAction[] = inFlight.map((chunk) => ({ kind: 'awaitRows', chunk }));
        if (!batch.paused) {
          const room = Math.max(0, maxInFlightChunks - inFlight.length);
          range(chunks).filter((chunk) => !batch.dispatched.has(chunk)).slice(0, room).forEach((chunk) => actions.push({ kind: 'dispatch', chunk }));
        }
        return actions;
      }
      default:
        // 'released' is recorded with the finish in one append; 'none' cannot happen while PROCESSING.
        return [];
    }
  }
  if (batch.status === 'COMPENSATING' && batch.compensation) {
    const { chunks, dispatched, settled } = batch.compensation;
    if (chunks.every((chunk) => settled.has(chunk))) return [{ kind: 'finishCompensation' }];
    const inFlight = chunks.filter((chunk) => dispatched.has(chunk) && !settled.has(chunk));
    const actions: SagaAction[] = inFlight.map((chunk) => ({ kind: 'awaitReversals', chunk }));
    if (!batch.paused) {
      const room = Math.max(0, maxInFlightChunks - inFlight.length);
      chunks.filter((chunk) => !dispatched.has(chunk)).slice(0, room).forEach((chunk) => actions.push({ kind: 'dispatchReversals', chunk }));
    }
    return actions;
  }
  return [];
}

// ---------------------------------------------------------------- execution

export function decideFundsReserved(batch: ExistingBatch, holdId: string, position: string, now: Date): PayoutBatchEvent[] {
  if (batch.status !== 'PROCESSING' || batch.reservation !== 'requested' || batch.holdId !== holdId) return [];
  return [{ type: 'PayoutFundsReserved', data: { holdId, amountMinor: (batch.upload?.validTotalMinor ?? 0n).toString(), position, reservedAt: now.toISOString() } }];
}

export function decideReservationRefused(batch: ExistingBatch, holdId: string, reason: string, message: string, now: Date): PayoutBatchEvent[] {
  if (batch.status !== 'PROCESSING' || batch.reservation !== 'requested' || batch.holdId !== holdId) return [];
  return [{ type: 'PayoutReservationRefused', data: { holdId, reason, message, refusedAt: now.toISOString() } }];
}

/** Sends a chunk's PENDING rows: they become PROCESSING. A chunk with none settles at once. */
export function decideDispatchChunk(batch: ExistingBatch, chunk: ExistingChunk, now: Date): SagaStep & { readonly rows: readonly RowState[] } {
  if (batch.status !== 'PROCESSING' || batch.reservation !== 'reserved' || batch.paused || batch.dispatched.has(chunk.chunk)) return { ...NOTHING, rows: [] };
  const rows = [...chunk.rows.values()].filter((row) => row.status === 'PENDING');
  const at = now.toISOString();
  if (rows.length === 0) {
    return {
      rows,
      chunkEvents: [],
      batchEvents: [
        { type: 'PayoutChunkDispatched', data: { chunk: chunk.chunk, delta: {}, dispatchedAt: at } },
        { type: 'PayoutChunkSettled', data: { chunk: chunk.chunk, delta: {}, paidMinor: '0', settledAt: at } },
      ],
    };
  }
  return {
    rows,
    chunkEvents: [{ type: 'PayoutRowsDispatched', data: { rows: rows.map((row) => row.row), dispatchedAt: at } }],
    batchEvents: [{ type: 'PayoutChunkDispatched', data: { chunk: chunk.chunk, delta: { PENDING: -rows.length, PROCESSING: rows.length }, dispatchedAt: at } }],
  };
}

/** The rows a dispatched chunk is still waiting for (what a re-send carries). */
export function rowsAwaitingPayment(chunk: ExistingChunk): RowState[] {
  return [...chunk.rows.values()].filter((row) => row.status === 'PROCESSING');
}

/**
 * Records the ledger's answer for a chunk. Only PROCESSING rows change (a duplicate answer is a
 * no-op); the batch hears of the chunk once none of its rows is left PROCESSING.
 */
export function decideRowsSettled(batch: ExistingBatch, chunk: ExistingChunk, results: readonly RowPaymentResult[], now: Date): SagaStep {
  if (batch.settled.has(chunk.chunk)) return NOTHING;
  const applicable = results.filter((result) => chunk.rows.get(result.row)?.status === 'PROCESSING');
  if (applicable.length === 0) return NOTHING;
  const answered = new Set(applicable.map((result) => result.row));
  const stillProcessing = rowsAwaitingPayment(chunk).filter((row) => !answered.has(row.row)).length;
  const at = now.toISOString();
  const chunkEvents: PayoutChunkEvent[] = [{ type: 'PayoutRowsSettled', data: { results: [...applicable], settledAt: at } }];
  if (stillProcessing > 0) return { chunkEvents, batchEvents: [] };
  // The chunk is complete. Every valid row of it was dispatched once (PENDING → PROCESSING), so
  // its SUCCEEDED rows and its FAILED rows with an amount are exactly what this dispatch settled.
  const after = evolvePayoutChunk(chunk, chunkEvents[0] as PayoutChunkEvent) as ExistingChunk;
  let succeeded = 0;
  let failed = 0;
  let paid = 0n;
  for (const row of after.rows.values()) {
    if (row.status === 'SUCCEEDED') {
      succeeded += 1;
      paid += row.amountMinor ?? 0n;
    } else if (row.status === 'FAILED' && row.amountMinor !== null) {
      failed += 1;
    }
  }
  return {
    chunkEvents,
    batchEvents: [{
      type: 'PayoutChunkSettled',
      data: { chunk: chunk.chunk, delta: { PROCESSING: -(succeeded + failed), SUCCEEDED: succeeded, FAILED: failed }, paidMinor: paid.toString(), settledAt: at },
    }],
  };
}

/** The reservation was refused: every PENDING row of the chunk fails with that reason. */
export function decideFailUnreserved(batch: ExistingBatch, chunk: ExistingChunk, now: Date): SagaStep {
  if (batch.status !== 'PROCESSING' || batch.reservation !== 'refused' || batch.settled.has(chunk.chunk)) return NOTHING;
  const reason = batch.refusalReason ?? 'RESERVATION_REFUSED';
  const rows = [...chunk.rows.values()].filter((row) => row.status === 'PENDING');
  const at = now.toISOString();
  const chunkEvents: PayoutChunkEvent[] =
    rows.length === 0
      ? []
      : [{ type: 'PayoutRowsSettled', data: { results: rows.map((row) => ({ row: row.row, outcome: 'FAILED' as const, reason, transactionId: null, position: null })), settledAt: at } }];
  return {
    chunkEvents,
    batchEvents: [{ type: 'PayoutChunkSettled', data: { chunk: chunk.chunk, delta: rows.length === 0 ? {} : { PENDING: -rows.length, FAILED: rows.length }, paidMinor: '0', settledAt: at } }],
  };
}

/** The outcome of execution from the row counts (rows refused at upload count as failed). */
export function executionOutcome(batch: ExistingBatch): 'COMPLETED' | 'PARTIALLY_FAILED' | 'FAILED' {
  if (batch.counts.SUCCEEDED === 0) return 'FAILED';
  return batch.counts.FAILED === 0 ? 'COMPLETED' : 'PARTIALLY_FAILED';
}

/** The rest of the reservation came back: the batch is finished. */
export function decideReservationReleased(batch: ExistingBatch, holdId: string, releasedMinor: string, note: string | null, now: Date): PayoutBatchEvent[] {
  const chunks = batch.upload?.chunks ?? 0;
  if (batch.status !== 'PROCESSING' || batch.reservation !== 'reserved' || batch.holdId !== holdId || batch.settled.size !== chunks) return [];
  const at = now.toISOString();
  return [
    { type: 'PayoutReservationReleased', data: { holdId, releasedMinor, note, releasedAt: at } },
    { type: 'PayoutBatchFinished', data: { status: executionOutcome(batch), finishedAt: at } },
  ];
}

/** Nothing was reserved, every row failed: the batch is FAILED. */
export function decideFinishRefused(batch: ExistingBatch, now: Date): PayoutBatchEvent[] {
  const chunks = batch.upload?.chunks ?? 0;
  if (batch.status !== 'PROCESSING' || batch.reservation !== 'refused' || batch.settled.size !== chunks) return [];
  return [{ type: 'PayoutBatchFinished', data: { status: 'FAILED', finishedAt: now.toISOString() } }];
}

// ---------------------------------------------------------------- compensation

/** Whether a row may be reversed now: paid, or its last reversal failed, and none in flight. */
export function isCompensable(row: RowState): boolean {
  return (row.status === 'SUCCEEDED' || row.status === 'REVERSAL_FAILED') && !row.reversalPending;
}

/** Sends the chunk's rows to reverse; a chunk with none of them settles at once. */
export function decideDispatchReversals(batch: ExistingBatch, chunk: ExistingChunk, now: Date): SagaStep & { readonly rows: ReadonlyArray<{ row: RowState; attempt: number }> } {
  const compensation = batch.compensation;
  if (batch.status !== 'COMPENSATING' || !compensation || batch.paused || compensation.dispatched.has(chunk.chunk) || !compensation.chunks.includes(chunk.chunk)) {
    return { ...NOTHING, rows: [] };
  }
  const selected = compensation.scope === 'SELECTED' ? new Set(compensation.rows) : undefined;
  const rows = [...chunk.rows.values()].filter((row) => isCompensable(row) && (!selected || selected.has(row.row))).map((row) => ({ row, attempt: row.reversalAttempts + 1 }));
  const at = now.toISOString();
  const { compensationId } = compensation;
  const dispatched: PayoutBatchEvent = { type: 'PayoutChunkReversalDispatched', data: { compensationId, chunk: chunk.chunk, rows: rows.length, dispatchedAt: at } };
  if (rows.length === 0) {
    return { rows, chunkEvents: [], batchEvents: [dispatched, { type: 'PayoutChunkReversalSettled', data: { compensationId, chunk: chunk.chunk, delta: {}, reversedMinor: '0', settledAt: at } }] };
  }
  return {
    rows,
    chunkEvents: [{ type: 'PayoutReversalsDispatched', data: { compensationId, rows: rows.map(({ row, attempt }) => ({ row: row.row, attempt })), dispatchedAt: at } }],
    batchEvents: [dispatched],
  };
}

/** The rows of a chunk whose reversal is in flight, with their attempt (what a re-send carries). */
export function rowsAwaitingReversal(chunk: ExistingChunk): Array<{ row: RowState; attempt: number }> {
  return [...chunk.rows.values()].filter((row) => row.reversalPending).map((row) => ({ row, attempt: row.reversalAttempts }));
}

/** Records reversal results; the batch hears of the chunk once no reversal of it is in flight. */
export function decideReversalsSettled(batch: ExistingBatch, chunk: ExistingChunk, compensationId: string, results: readonly RowReversalResult[], now: Date): SagaStep {
  const compensation = batch.compensation;
  if (batch.status !== 'COMPENSATING' || !compensation || compensation.compensationId !== compensationId || compensation.settled.has(chunk.chunk)) return NOTHING;
  const applicable = results.filter((result) => {
    const row = chunk.rows.get(result.row);
    return row !== undefined && row.reversalPending && row.reversalAttempts === result.attempt;
  });
  if (applicable.length === 0) return NOTHING;
  const at = now.toISOString();
  const chunkEvents: PayoutChunkEvent[] = [{ type: 'PayoutReversalsSettled', data: { compensationId, results: [...applicable], settledAt: at } }];
  const answered = new Set(applicable.map((result) => result.row));
  if (rowsAwaitingReversal(chunk).some(({ row }) => !answered.has(row.row))) return { chunkEvents, batchEvents: [] };
  // The chunk is complete. Its results may have come in several messages, so the batch's delta
  // covers every row this compensation sent (the batch still counts them as they were then),
  // not only the rows answered now.
  const after = evolvePayoutChunk(chunk, chunkEvents[0] as PayoutChunkEvent) as ExistingChunk;
  const delta: Record<string, number> = {};
  let reversed = 0n;
  const move = (from: PayoutRowStatus, to: PayoutRowStatus): void => {
    delta[from] = (delta[from] ?? 0) - 1;
    delta[to] = (delta[to] ?? 0) + 1;
  };
  for (const row of after.rows.values()) {
    if (row.reversalCompensationId !== compensationId || row.statusBeforeReversal === null) continue;
    if (row.status !== row.statusBeforeReversal) move(row.statusBeforeReversal, row.status);
    if (row.status === 'REVERSED') reversed += row.amountMinor ?? 0n;
  }
  return {
    chunkEvents,
    batchEvents: [{ type: 'PayoutChunkReversalSettled', data: { compensationId, chunk: chunk.chunk, delta: delta as RowCountDelta, reversedMinor: reversed.toString(), settledAt: at } }],
  };
}

/** Every chunk of the compensation is settled: the batch's new status follows from its rows. */
export function decideFinishCompensation(batch: ExistingBatch, now: Date): PayoutBatchEvent[] {
  const compensation = batch.compensation;
  if (batch.status !== 'COMPENSATING' || !compensation || !compensation.chunks.every((chunk) => compensation.settled.has(chunk))) return [];
  const stillPaid = batch.counts.SUCCEEDED + batch.counts.REVERSAL_FAILED;
  const status = stillPaid === 0 ? 'COMPENSATED' : batch.counts.REVERSED > 0 ? 'PARTIALLY_COMPENSATED' : (batch.executionOutcome === 'PARTIALLY_FAILED' ? 'PARTIALLY_FAILED' : 'COMPLETED');
  return [{ type: 'PayoutCompensationFinished', data: { compensationId: compensation.compensationId, status, finishedAt: now.toISOString() } }];
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index);
}
