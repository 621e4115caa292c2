import type { StreamModel } from '@ledger/event-sourcing';
import {
  evolvePayoutBatch,
  evolvePayoutChunk,
  NO_BATCH,
  NO_CHUNK,
  PAYOUT_BATCH_CATEGORY,
  PAYOUT_CHUNK_CATEGORY,
  type PayoutBatchEvent,
  type PayoutBatchState,
  type PayoutChunkEvent,
  type PayoutChunkState,
} from '@ledger/payouts-domain';

export const PAYOUT_BATCH_EVENT_TYPES: readonly PayoutBatchEvent['type'][] = [
  'PayoutBatchCreated', 'PayoutRowsUploaded', 'PayoutBatchCancelled', 'PayoutExecutionStarted', 'PayoutFundsReserved',
  'PayoutReservationRefused', 'PayoutBatchPaused', 'PayoutBatchResumed', 'PayoutChunkDispatched', 'PayoutChunkSettled',
  'PayoutReservationReleased', 'PayoutBatchFinished', 'PayoutCompensationRequested', 'PayoutChunkReversalDispatched',
  'PayoutChunkReversalSettled', 'PayoutCompensationFinished',
];

export const PAYOUT_CHUNK_EVENT_TYPES: readonly PayoutChunkEvent['type'][] = [
  'PayoutRowsRecorded', 'PayoutRowsDispatched', 'PayoutRowsSettled', 'PayoutReversalsDispatched', 'PayoutReversalsSettled',
];

/** A batch stream holds O(chunks) small events: no snapshots needed (ADR 0008). */
export const payoutBatchStreamModel: StreamModel<PayoutBatchState> = {
  category: PAYOUT_BATCH_CATEGORY,
  initialState: NO_BATCH,
  eventTypes: PAYOUT_BATCH_EVENT_TYPES,
  evolve: (state, event) => evolvePayoutBatch(state, event as unknown as PayoutBatchEvent),
};

/** A chunk stream holds its rows (≤ PAYOUT_ROWS_PER_CHUNK) and a handful of transition events. */
export const payoutChunkStreamModel: StreamModel<PayoutChunkState> = {
  category: PAYOUT_CHUNK_CATEGORY,
  initialState: NO_CHUNK,
  eventTypes: PAYOUT_CHUNK_EVENT_TYPES,
  evolve: (state, event) => evolvePayoutChunk(state, event as unknown as PayoutChunkEvent),
};
