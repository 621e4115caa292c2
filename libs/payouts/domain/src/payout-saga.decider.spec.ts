import type { PayoutBatchEvent, PayoutChunkEvent } from './payout.events';
import {
  decideDispatchChunk,
  decideDispatchReversals,
  decideFailUnreserved,
  decideFinishCompensation,
  decideFinishRefused,
  decideFundsReserved,
  decideReservationRefused,
  decideReservationReleased,
  decideReversalsSettled,
  decideRowsSettled,
  executionOutcome,
  isCompensable,
  nextSagaActions,
  rowsAwaitingPayment,
  rowsAwaitingReversal,
} from './payout-saga.decider';
import {
  at,
  BATCH_ID,
  batchCreated,
  batchFinished,
  batchPaused,
  chunkDispatched,
  chunkReversalDispatched,
  chunkReversalSettled,
  chunkSettled,
  COMPENSATION_ID,
  compensationFinished,
  compensationRequested,
  executionStarted,
  existingBatch,
  existingChunk,
  failed,
  fundsReserved,
  givenSaga,
  HOLD_ID,
  invalidRow,
  paid,
  reservationRefused,
  reservationReleased,
  reversalFailed,
  reversalsDispatched,
  reversalsSettled,
  reversed,
  rowsDispatched,
  rowsSettled,
  rowsUploaded,
  sampleBatch,
  sampleChunk,
  sampleChunkRecorded,
  sampleUpload,
  UPLOAD_ID,
  validRow,
} from './testing/payout-fixtures';

const NOW = at(100);
const T = NOW.toISOString();

/** A batch of 4 rows, 2 per chunk, whose chunk 0 holds only rows refused at upload. */
const HALF_INVALID_ROWS = [invalidRow(1), invalidRow(2, 'RECIPIENT_UNKNOWN'), validRow(3, 300n), validRow(4, 400n)];
const halfInvalid = {
  upload: sampleUpload({ rows: 4, validRows: 2, invalidRows: 2, validTotalMinor: 700n, chunks: 2, rowsPerChunk: 2 }),
  chunk0: (): PayoutChunkEvent[] => [sampleChunkRecorded(0, HALF_INVALID_ROWS, 2)],
};
const halfInvalidBatch = (...more: PayoutBatchEvent[]): PayoutBatchEvent[] => [batchCreated(), rowsUploaded(halfInvalid.upload), executionStarted(700n), ...more];

/** The sample after execution (PARTIALLY_FAILED: rows 1, 3, 4 paid, 2 and 5 failed), compensating. */
const compensating = (scope: 'ALL_SUCCEEDED' | 'SELECTED' = 'ALL_SUCCEEDED', rows: number[] = [], chunks: number[] = [0, 1], ...more: PayoutBatchEvent[]): PayoutBatchEvent[] => [
  ...sampleBatch.partiallyFailed(),
  compensationRequested(scope, rows, chunks),
  ...more,
];
/** Chunk 0's rows 1 and 3 sent for reversal (attempt 1) by the current compensation. */
const chunk0Reversing = (): PayoutChunkEvent[] => [...sampleChunk.chunk0Paid(), reversalsDispatched([{ row: 1, attempt: 1 }, { row: 3, attempt: 1 }])];
/** A first compensation left row 3 REVERSAL_FAILED (attempt 1) and reversed row 1. */
const chunk0AfterFirstCompensation = (): PayoutChunkEvent[] => [...chunk0Reversing(), reversalsSettled([reversed(1), reversalFailed(3)])];
const afterFirstCompensation = (): PayoutBatchEvent[] => [
  ...compensating('SELECTED', [1, 3], [0]),
  chunkReversalDispatched(0, 2),
  chunkReversalSettled(0, { SUCCEEDED: -2, REVERSED: 1, REVERSAL_FAILED: 1 }, 100n),
  compensationFinished('PARTIALLY_COMPENSATED'),
];

describe('nextSagaActions', () => {
  it('first reserves the batch total (paused or not)', () => {
    expect(nextSagaActions(existingBatch(sampleBatch.processing()), 2)).toEqual([{ kind: 'reserve' }]);
    expect(nextSagaActions(existingBatch([...sampleBatch.processing(), batchPaused()]), 2)).toEqual([{ kind: 'reserve' }]);
  });

  it('then dispatches chunks in order, at most maxInFlightChunks waiting on the ledger', () => {
    const reserved = existingBatch(sampleBatch.reserved());
    expect(nextSagaActions(reserved, 1)).toEqual([{ kind: 'dispatch', chunk: 0 }]);
    expect(nextSagaActions(reserved, 2)).toEqual([{ kind: 'dispatch', chunk: 0 }, { kind: 'dispatch', chunk: 1 }]);
    expect(nextSagaActions(reserved, 10)).toEqual([{ kind: 'dispatch', chunk: 0 }, { kind: 'dispatch', chunk: 1 }]);
    const inFlight = existingBatch(sampleBatch.chunk0InFlight());
    expect(nextSagaActions(inFlight, 1)).toEqual([{ kind: 'awaitRows', chunk: 0 }]);
    expect(nextSagaActions(inFlight, 2)).toEqual([{ kind: 'awaitRows', chunk: 0 }, { kind: 'dispatch', chunk: 1 }]);
  });

  it('dispatches nothing new while paused, but still waits for what is in flight', () => {
    expect(nextSagaActions(existingBatch([...sampleBatch.reserved(), batchPaused()]), 3)).toEqual([]);
    expect(nextSagaActions(existingBatch([...sampleBatch.chunk0InFlight(), batchPaused()]), 3)).toEqual([{ kind: 'awaitRows', chunk: 0 }]);
  });

  it('releases the rest of the reservation once every chunk is settled', () => {
    expect(nextSagaActions(existingBatch(sampleBatch.allSettled()), 1)).toEqual([{ kind: 'release' }]);
    expect(nextSagaActions(existingBatch([...sampleBatch.allSettled(), batchPaused()]), 1)).toEqual([{ kind: 'release' }]);
  });

  it('after a refused reservation fails every open chunk, then finishes', () => {
    expect(nextSagaActions(existingBatch(sampleBatch.refused()), 1)).toEqual([
      { kind: 'failUnreserved', chunk: 0 },
      { kind: 'failUnreserved', chunk: 1 },
    ]);
    const oneLeft = [...sampleBatch.refused(), chunkSettled(0, { PENDING: -2, FAILED: 2 }, 0n)];
    expect(nextSagaActions(existingBatch(oneLeft), 1)).toEqual([{ kind: 'failUnreserved', chunk: 1 }]);
    expect(nextSagaActions(existingBatch([...oneLeft, chunkSettled(1, { PENDING: -2, FAILED: 2 }, 0n)]), 1)).toEqual([{ kind: 'finishRefused' }]);
  });

  it('compensates chunk by chunk under the same bound and pause, then finishes', () => {
    expect(nextSagaActions(existingBatch(compensating()), 1)).toEqual([{ kind: 'dispatchReversals', chunk: 0 }]);
    const inFlight = compensating('ALL_SUCCEEDED', [], [0, 1], chunkReversalDispatched(0, 2));
    expect(nextSagaActions(existingBatch(inFlight), 1)).toEqual([{ kind: 'awaitReversals', chunk: 0 }]);
    expect(nextSagaActions(existingBatch(inFlight), 2)).toEqual([{ kind: 'awaitReversals', chunk: 0 }, { kind: 'dispatchReversals', chunk: 1 }]);
    expect(nextSagaActions(existingBatch([...inFlight, batchPaused()]), 2)).toEqual([{ kind: 'awaitReversals', chunk: 0 }]);
    expect(nextSagaActions(existingBatch(compensating('SELECTED', [4], [1])), 2)).toEqual([{ kind: 'dispatchReversals', chunk: 1 }]);
    const settled = compensating('SELECTED', [4], [1], chunkReversalDispatched(1, 1), chunkReversalSettled(1, { SUCCEEDED: -1, REVERSED: 1 }, 400n));
    expect(nextSagaActions(existingBatch(settled), 2)).toEqual([{ kind: 'finishCompensation' }]);
  });

  it.each([
    ['PENDING', sampleBatch.pending],
    ['VALIDATED', sampleBatch.validated],
    ['PARTIALLY_FAILED', sampleBatch.partiallyFailed],
    ['PARTIALLY_COMPENSATED', afterFirstCompensation],
  ])('has nothing to do for a %s batch', (_status, history) => {
    expect(nextSagaActions(existingBatch(history()), 3)).toEqual([]);
  });
});

describe('reservation answers', () => {
  it('funds reserved: the saga may pay', () => {
    const batch = existingBatch(sampleBatch.processing());
    const events = decideFundsReserved(batch, HOLD_ID, '77', NOW);
    expect(events).toEqual([{ type: 'PayoutFundsReserved', data: { holdId: HOLD_ID, amountMinor: '1300', position: '77', reservedAt: T } }]);
    expect(existingBatch([...sampleBatch.processing(), ...events]).reservation).toBe('reserved');
  });

  it('reservation refused: remembered with its reason', () => {
    const events = decideReservationRefused(existingBatch(sampleBatch.processing()), HOLD_ID, 'WALLET_FROZEN', 'frozen', NOW);
    expect(events).toEqual([{ type: 'PayoutReservationRefused', data: { holdId: HOLD_ID, reason: 'WALLET_FROZEN', message: 'frozen', refusedAt: T } }]);
    expect(existingBatch([...sampleBatch.processing(), ...events])).toMatchObject({ reservation: 'refused', refusalReason: 'WALLET_FROZEN' });
  });

  it.each([
    ['a duplicate reserved answer', sampleBatch.reserved],
    ['a reserved answer after the refusal', sampleBatch.refused],
    ['a reserved answer to a finished batch', sampleBatch.partiallyFailed],
  ])('%s is a no-op', (_case, history) => {
    expect(decideFundsReserved(existingBatch(history()), HOLD_ID, '77', NOW)).toEqual([]);
  });

  it.each([
    ['a duplicate refusal', sampleBatch.refused],
    ['a refusal after the reservation', sampleBatch.reserved],
  ])('%s is a no-op', (_case, history) => {
    expect(decideReservationRefused(existingBatch(history()), HOLD_ID, 'INSUFFICIENT_FUNDS', 'no', NOW)).toEqual([]);
  });

  it('answers about another hold are no-ops', () => {
    const batch = existingBatch(sampleBatch.processing());
    expect(decideFundsReserved(batch, 'another-hold', '77', NOW)).toEqual([]);
    expect(decideReservationRefused(batch, 'another-hold', 'INSUFFICIENT_FUNDS', 'no', NOW)).toEqual([]);
  });
});

describe('decideDispatchChunk', () => {
  it('sends the chunk\'s PENDING rows: they become PROCESSING, on the chunk and in the batch counts', () => {
    const when = givenSaga(sampleBatch.reserved(), sampleChunk.recorded(0)).when((batch, chunk) => decideDispatchChunk(batch, chunk, NOW));
    const { batch, chunk } = when.then({
      chunkEvents: [{ type: 'PayoutRowsDispatched', data: { rows: [1, 3], dispatchedAt: T } }],
      batchEvents: [{ type: 'PayoutChunkDispatched', data: { chunk: 0, delta: { PENDING: -2, PROCESSING: 2 }, dispatchedAt: T } }],
    });
    expect(when.result.rows.map((row) => [row.row, row.recipientId, row.amountMinor])).toEqual([
      [1, validRow(1, 100n).recipientId, 100n],
      [3, validRow(3, 300n).recipientId, 300n],
    ]);
    expect(batch.counts).toMatchObject({ PENDING: 2, PROCESSING: 2, FAILED: 1 });
    expect([...chunk.rows.values()].map((row) => row.status)).toEqual(['PROCESSING', 'FAILED', 'PROCESSING']);
    expect(rowsAwaitingPayment(chunk).map((row) => row.row)).toEqual([1, 3]);
  });

  it('settles at once a chunk with nothing to pay (every row refused at upload)', () => {
    givenSaga(halfInvalidBatch(fundsReserved(700n)), halfInvalid.chunk0())
      .when((batch, chunk) => decideDispatchChunk(batch, chunk, NOW))
      .then({
        chunkEvents: [],
        batchEvents: [
          { type: 'PayoutChunkDispatched', data: { chunk: 0, delta: {}, dispatchedAt: T } },
          { type: 'PayoutChunkSettled', data: { chunk: 0, delta: {}, paidMinor: '0', settledAt: T } },
        ],
      });
  });

  it.each([
    ['already dispatched (a replayed step)', sampleBatch.chunk0InFlight, () => [...sampleChunk.recorded(0), rowsDispatched([1, 3])]],
    ['paused', () => [...sampleBatch.reserved(), batchPaused()], () => sampleChunk.recorded(0)],
    ['not reserved yet', sampleBatch.processing, () => sampleChunk.recorded(0)],
    ['refused', sampleBatch.refused, () => sampleChunk.recorded(0)],
    ['finished', sampleBatch.partiallyFailed, sampleChunk.chunk0Paid],
  ])('sends nothing when the batch is %s', (_case, batchHistory, chunkHistory) => {
    givenSaga(batchHistory(), chunkHistory())
      .when((batch, chunk) => decideDispatchChunk(batch, chunk, NOW))
      .thenNothing();
  });
});

describe('decideRowsSettled', () => {
  const inFlight = () => givenSaga(sampleBatch.chunk0InFlight(), [...sampleChunk.recorded(0), rowsDispatched([1, 3])]);

  it('records the ledger\'s answer; the batch hears of the chunk with the money paid', () => {
    const { batch, chunk } = inFlight()
      .when((batch, chunk) => decideRowsSettled(batch, chunk, [paid(1), failed(3, 'RECIPIENT_CLOSED')], NOW))
      .then({
        chunkEvents: [{ type: 'PayoutRowsSettled', data: { results: [paid(1), failed(3, 'RECIPIENT_CLOSED')], settledAt: T } }],
        batchEvents: [{ type: 'PayoutChunkSettled', data: { chunk: 0, delta: { PROCESSING: -2, SUCCEEDED: 1, FAILED: 1 }, paidMinor: '100', settledAt: T } }],
      });
    expect(batch).toMatchObject({ counts: { PENDING: 2, PROCESSING: 0, SUCCEEDED: 1, FAILED: 2 }, paidMinor: 100n });
    expect(chunk.rows.get(1)).toMatchObject({ status: 'SUCCEEDED', transactionId: 'tx-1', reason: null });
    expect(chunk.rows.get(3)).toMatchObject({ status: 'FAILED', reason: 'RECIPIENT_CLOSED', transactionId: null });
  });

  it('a partial answer is recorded on the chunk only; the last one settles the whole chunk', () => {
    const first = inFlight()
      .when((batch, chunk) => decideRowsSettled(batch, chunk, [paid(3)], NOW))
      .then({ chunkEvents: [{ type: 'PayoutRowsSettled', data: { results: [paid(3)], settledAt: T } }], batchEvents: [] });
    expect(rowsAwaitingPayment(first.chunk).map((row) => row.row)).toEqual([1]);
    const step = decideRowsSettled(first.batch, first.chunk, [paid(1)], NOW);
    expect(step.batchEvents).toEqual([{ type: 'PayoutChunkSettled', data: { chunk: 0, delta: { PROCESSING: -2, SUCCEEDED: 2, FAILED: 0 }, paidMinor: '400', settledAt: T } }]);
  });

  it('a duplicate answer after the chunk settled is a no-op', () => {
    givenSaga(sampleBatch.allSettled(), sampleChunk.chunk0Paid())
      .when((batch, chunk) => decideRowsSettled(batch, chunk, [paid(1), paid(3)], NOW))
      .thenNothing();
  });

  it('a duplicate partial answer (rows already settled, chunk not yet) is a no-op', () => {
    givenSaga(sampleBatch.chunk0InFlight(), [...sampleChunk.recorded(0), rowsDispatched([1, 3]), rowsSettled([paid(3)])])
      .when((batch, chunk) => decideRowsSettled(batch, chunk, [paid(3)], NOW))
      .thenNothing();
  });

  it('ignores results for rows that are not waiting: other chunks, unknown rows, refused rows', () => {
    inFlight()
      .when((batch, chunk) => decideRowsSettled(batch, chunk, [paid(4), paid(99), paid(2)], NOW))
      .thenNothing();
    inFlight()
      .when((batch, chunk) => decideRowsSettled(batch, chunk, [paid(4), paid(1)], NOW))
      .then({ chunkEvents: [{ type: 'PayoutRowsSettled', data: { results: [paid(1)], settledAt: T } }], batchEvents: [] });
  });

  it('ignores an answer for a chunk never dispatched', () => {
    givenSaga(sampleBatch.reserved(), sampleChunk.recorded(0))
      .when((batch, chunk) => decideRowsSettled(batch, chunk, [paid(1), paid(3)], NOW))
      .thenNothing();
  });
});

describe('decideFailUnreserved', () => {
  it('fails every PENDING row of the chunk with the refusal\'s reason', () => {
    const reason = (row: number) => ({ row, outcome: 'FAILED' as const, reason: 'INSUFFICIENT_FUNDS', transactionId: null, position: null });
    const { batch, chunk } = givenSaga(sampleBatch.refused(), sampleChunk.recorded(0))
      .when((batch, chunk) => decideFailUnreserved(batch, chunk, NOW))
      .then({
        chunkEvents: [{ type: 'PayoutRowsSettled', data: { results: [reason(1), reason(3)], settledAt: T } }],
        batchEvents: [{ type: 'PayoutChunkSettled', data: { chunk: 0, delta: { PENDING: -2, FAILED: 2 }, paidMinor: '0', settledAt: T } }],
      });
    expect(batch.counts).toMatchObject({ PENDING: 2, FAILED: 3 });
    expect(chunk.rows.get(1)).toMatchObject({ status: 'FAILED', reason: 'INSUFFICIENT_FUNDS' });
    expect(chunk.rows.get(2)).toMatchObject({ status: 'FAILED', reason: 'AMOUNT_INVALID' });
  });

  it('settles a chunk with no PENDING row without touching it', () => {
    givenSaga(halfInvalidBatch(reservationRefused()), halfInvalid.chunk0())
      .when((batch, chunk) => decideFailUnreserved(batch, chunk, NOW))
      .then({ chunkEvents: [], batchEvents: [{ type: 'PayoutChunkSettled', data: { chunk: 0, delta: {}, paidMinor: '0', settledAt: T } }] });
  });

  it.each([
    ['already settled (a replayed step)', () => [...sampleBatch.refused(), chunkSettled(0, { PENDING: -2, FAILED: 2 }, 0n)]],
    ['reserved', sampleBatch.reserved],
    ['still waiting for the answer', sampleBatch.processing],
  ])('does nothing when the chunk is %s', (_case, history) => {
    givenSaga(history(), sampleChunk.recorded(0))
      .when((batch, chunk) => decideFailUnreserved(batch, chunk, NOW))
      .thenNothing();
  });
});

describe('finishing execution', () => {
  /** One chunk of rows 1 and 3, settled with the given results. */
  const settledWith = (delta: Record<string, number>, paidMinor: bigint, invalid = 0): PayoutBatchEvent[] => [
    batchCreated(),
    rowsUploaded(sampleUpload({ rows: 2 + invalid, validRows: 2, invalidRows: invalid, validTotalMinor: 400n, chunks: 1 })),
    executionStarted(400n),
    fundsReserved(400n),
    chunkDispatched(0, { PENDING: -2, PROCESSING: 2 }),
    chunkSettled(0, { PROCESSING: -2, ...delta }, paidMinor),
  ];

  it.each([
    ['every row paid', settledWith({ SUCCEEDED: 2 }, 400n), 'COMPLETED'],
    ['a row failed at the ledger', settledWith({ SUCCEEDED: 1, FAILED: 1 }, 100n), 'PARTIALLY_FAILED'],
    ['a row refused at upload', settledWith({ SUCCEEDED: 2 }, 400n, 1), 'PARTIALLY_FAILED'],
    ['no row paid', settledWith({ FAILED: 2 }, 0n), 'FAILED'],
  ])('releases the rest of the reservation and finishes: %s → %s', (_case, history, status) => {
    const batch = existingBatch(history);
    expect(executionOutcome(batch)).toBe(status);
    const released = (400n - batch.paidMinor).toString();
    const events = decideReservationReleased(batch, HOLD_ID, released, null, NOW);
    expect(events).toEqual([
      { type: 'PayoutReservationReleased', data: { holdId: HOLD_ID, releasedMinor: released, note: null, releasedAt: T } },
      { type: 'PayoutBatchFinished', data: { status, finishedAt: T } },
    ]);
    expect(existingBatch([...history, ...events])).toMatchObject({ status, executionOutcome: status, reservation: 'released', releasedMinor: 400n - batch.paidMinor });
  });

  it.each([
    ['a chunk is not settled yet', sampleBatch.chunk0InFlight, HOLD_ID],
    ['the answer is about another hold', sampleBatch.allSettled, 'another-hold'],
    ['the batch already finished (a duplicate answer)', sampleBatch.partiallyFailed, HOLD_ID],
  ])('a release answer is a no-op when %s', (_case, history, holdId) => {
    expect(decideReservationReleased(existingBatch(history()), holdId, '500', null, NOW)).toEqual([]);
  });

  it('a refused batch finishes FAILED once every chunk is settled, once', () => {
    const settled = [...sampleBatch.refused(), chunkSettled(0, { PENDING: -2, FAILED: 2 }, 0n), chunkSettled(1, { PENDING: -2, FAILED: 2 }, 0n)];
    const events = decideFinishRefused(existingBatch(settled), NOW);
    expect(events).toEqual([{ type: 'PayoutBatchFinished', data: { status: 'FAILED', finishedAt: T } }]);
    expect(existingBatch([...settled, ...events])).toMatchObject({ status: 'FAILED', counts: { FAILED: 5, PENDING: 0 } });
    expect(decideFinishRefused(existingBatch([...settled, ...events]), NOW)).toEqual([]);
    expect(decideFinishRefused(existingBatch(settled.slice(0, -1)), NOW)).toEqual([]);
    expect(decideFinishRefused(existingBatch(sampleBatch.allSettled()), NOW)).toEqual([]);
  });
});

describe('decideDispatchReversals', () => {
  it('sends every paid row of the chunk, attempt 1', () => {
    const when = givenSaga(compensating(), sampleChunk.chunk0Paid()).when((batch, chunk) => decideDispatchReversals(batch, chunk, NOW));
    const { batch, chunk } = when.then({
      chunkEvents: [{ type: 'PayoutReversalsDispatched', data: { compensationId: COMPENSATION_ID, rows: [{ row: 1, attempt: 1 }, { row: 3, attempt: 1 }], dispatchedAt: T } }],
      batchEvents: [{ type: 'PayoutChunkReversalDispatched', data: { compensationId: COMPENSATION_ID, chunk: 0, rows: 2, dispatchedAt: T } }],
    });
    expect(when.result.rows.map(({ row, attempt }) => [row.row, row.amountMinor, attempt])).toEqual([
      [1, 100n, 1],
      [3, 300n, 1],
    ]);
    expect(batch.compensation?.dispatched).toEqual(new Set([0]));
    expect(rowsAwaitingReversal(chunk).map(({ row, attempt }) => [row.row, attempt])).toEqual([
      [1, 1],
      [3, 1],
    ]);
    // Sent rows are not compensable again until their result is in.
    expect([...chunk.rows.values()].map(isCompensable)).toEqual([false, false, false]);
  });

  it('SELECTED sends only the selected rows', () => {
    givenSaga(compensating('SELECTED', [3], [0]), sampleChunk.chunk0Paid())
      .when((batch, chunk) => decideDispatchReversals(batch, chunk, NOW))
      .then({
        chunkEvents: [{ type: 'PayoutReversalsDispatched', data: { compensationId: COMPENSATION_ID, rows: [{ row: 3, attempt: 1 }], dispatchedAt: T } }],
        batchEvents: [{ type: 'PayoutChunkReversalDispatched', data: { compensationId: COMPENSATION_ID, chunk: 0, rows: 1, dispatchedAt: T } }],
      });
  });

  it('tries a REVERSAL_FAILED row again under the next attempt; a REVERSED row never', () => {
    const history = [...afterFirstCompensation(), compensationRequested('ALL_SUCCEEDED', [], [0, 1], 'comp-2')];
    givenSaga(history, chunk0AfterFirstCompensation())
      .when((batch, chunk) => decideDispatchReversals(batch, chunk, NOW))
      .then({
        chunkEvents: [{ type: 'PayoutReversalsDispatched', data: { compensationId: 'comp-2', rows: [{ row: 3, attempt: 2 }], dispatchedAt: T } }],
        batchEvents: [{ type: 'PayoutChunkReversalDispatched', data: { compensationId: 'comp-2', chunk: 0, rows: 1, dispatchedAt: T } }],
      });
  });

  it('settles at once a chunk with nothing to reverse', () => {
    givenSaga(compensating('SELECTED', [2], [0]), sampleChunk.chunk0Paid())
      .when((batch, chunk) => decideDispatchReversals(batch, chunk, NOW))
      .then({
        chunkEvents: [],
        batchEvents: [
          { type: 'PayoutChunkReversalDispatched', data: { compensationId: COMPENSATION_ID, chunk: 0, rows: 0, dispatchedAt: T } },
          { type: 'PayoutChunkReversalSettled', data: { compensationId: COMPENSATION_ID, chunk: 0, delta: {}, reversedMinor: '0', settledAt: T } },
        ],
      });
  });

  it.each([
    ['the chunk was already dispatched (a replayed step)', () => compensating('ALL_SUCCEEDED', [], [0, 1], chunkReversalDispatched(0, 2)), chunk0Reversing],
    ['the chunk is not part of the compensation', () => compensating('SELECTED', [4], [1]), sampleChunk.chunk0Paid],
    ['the batch is paused', () => [...compensating(), batchPaused()], sampleChunk.chunk0Paid],
    ['the batch is not compensating', sampleBatch.partiallyFailed, sampleChunk.chunk0Paid],
  ])('sends nothing when %s', (_case, batchHistory, chunkHistory) => {
    givenSaga(batchHistory(), chunkHistory())
      .when((batch, chunk) => decideDispatchReversals(batch, chunk, NOW))
      .thenNothing();
  });
});

describe('decideReversalsSettled', () => {
  const reversing = () => givenSaga(compensating('ALL_SUCCEEDED', [], [0, 1], chunkReversalDispatched(0, 2)), chunk0Reversing());

  it('records the results; the batch hears of the chunk with the rows moved and the money reversed', () => {
    const { batch, chunk } = reversing()
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, COMPENSATION_ID, [reversed(1), reversalFailed(3)], NOW))
      .then({
        chunkEvents: [{ type: 'PayoutReversalsSettled', data: { compensationId: COMPENSATION_ID, results: [reversed(1), reversalFailed(3)], settledAt: T } }],
        batchEvents: [
          { type: 'PayoutChunkReversalSettled', data: { compensationId: COMPENSATION_ID, chunk: 0, delta: { SUCCEEDED: -2, REVERSED: 1, REVERSAL_FAILED: 1 }, reversedMinor: '100', settledAt: T } },
        ],
      });
    expect(batch).toMatchObject({ counts: { SUCCEEDED: 1, REVERSED: 1, REVERSAL_FAILED: 1, FAILED: 2 }, reversedMinor: 100n });
    expect(chunk.rows.get(1)).toMatchObject({ status: 'REVERSED', reason: null, transactionId: 'tx-1', reversalTransactionId: 'rev-1-1', reversalPending: false });
    expect(chunk.rows.get(3)).toMatchObject({ status: 'REVERSAL_FAILED', reason: 'INSUFFICIENT_FUNDS', reversalAttempts: 1, reversalPending: false });
    expect(isCompensable(chunk.rows.get(3)!)).toBe(true);
  });

  it('results in several messages: the batch hears of every row of the chunk (regression)', () => {
    const first = reversing()
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, COMPENSATION_ID, [reversed(1)], NOW))
      .then({ chunkEvents: [{ type: 'PayoutReversalsSettled', data: { compensationId: COMPENSATION_ID, results: [reversed(1)], settledAt: T } }], batchEvents: [] });
    expect(rowsAwaitingReversal(first.chunk).map(({ row }) => row.row)).toEqual([3]);
    const step = decideReversalsSettled(first.batch, first.chunk, COMPENSATION_ID, [reversed(3)], NOW);
    // Before the fix, the delta was { SUCCEEDED: -1, REVERSED: 1 } and 300: row 1 was never counted.
    expect(step.batchEvents).toEqual([
      { type: 'PayoutChunkReversalSettled', data: { compensationId: COMPENSATION_ID, chunk: 0, delta: { SUCCEEDED: -2, REVERSED: 2 }, reversedMinor: '400', settledAt: T } },
    ]);
  });

  it('a retried row that is reversed at last moves from REVERSAL_FAILED and loses its old failure reason (regression)', () => {
    const batchHistory = [...afterFirstCompensation(), compensationRequested('SELECTED', [3], [0], 'comp-2'), chunkReversalDispatched(0, 1, 'comp-2')];
    const chunkHistory = [...chunk0AfterFirstCompensation(), reversalsDispatched([{ row: 3, attempt: 2 }], 'comp-2')];
    const { batch, chunk } = givenSaga(batchHistory, chunkHistory)
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, 'comp-2', [reversed(3, 2)], NOW))
      .then({
        chunkEvents: [{ type: 'PayoutReversalsSettled', data: { compensationId: 'comp-2', results: [reversed(3, 2)], settledAt: T } }],
        batchEvents: [{ type: 'PayoutChunkReversalSettled', data: { compensationId: 'comp-2', chunk: 0, delta: { REVERSAL_FAILED: -1, REVERSED: 1 }, reversedMinor: '300', settledAt: T } }],
      });
    expect(chunk.rows.get(3)).toMatchObject({ status: 'REVERSED', reason: null, reversalAttempts: 2, reversalTransactionId: 'rev-3-2' });
    expect(batch).toMatchObject({ counts: { SUCCEEDED: 1, REVERSED: 2, REVERSAL_FAILED: 0 }, reversedMinor: 400n });
  });

  it('a retried row that fails again stays REVERSAL_FAILED with the new reason: no count moves', () => {
    const batchHistory = [...afterFirstCompensation(), compensationRequested('SELECTED', [3], [0], 'comp-2'), chunkReversalDispatched(0, 1, 'comp-2')];
    const chunkHistory = [...chunk0AfterFirstCompensation(), reversalsDispatched([{ row: 3, attempt: 2 }], 'comp-2')];
    const { chunk } = givenSaga(batchHistory, chunkHistory)
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, 'comp-2', [reversalFailed(3, 2, 'WALLET_CLOSED')], NOW))
      .then({
        chunkEvents: [{ type: 'PayoutReversalsSettled', data: { compensationId: 'comp-2', results: [reversalFailed(3, 2, 'WALLET_CLOSED')], settledAt: T } }],
        batchEvents: [{ type: 'PayoutChunkReversalSettled', data: { compensationId: 'comp-2', chunk: 0, delta: {}, reversedMinor: '0', settledAt: T } }],
      });
    expect(chunk.rows.get(3)).toMatchObject({ status: 'REVERSAL_FAILED', reason: 'WALLET_CLOSED' });
  });

  it('a stale attempt (the answer to an earlier try) is a no-op', () => {
    const batchHistory = [...afterFirstCompensation(), compensationRequested('SELECTED', [3], [0], 'comp-2'), chunkReversalDispatched(0, 1, 'comp-2')];
    const chunkHistory = [...chunk0AfterFirstCompensation(), reversalsDispatched([{ row: 3, attempt: 2 }], 'comp-2')];
    givenSaga(batchHistory, chunkHistory)
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, 'comp-2', [reversed(3, 1), reversalFailed(3, 1)], NOW))
      .thenNothing();
  });

  it('results for another compensation id are a no-op', () => {
    reversing()
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, 'comp-0', [reversed(1), reversed(3)], NOW))
      .thenNothing();
  });

  it('a duplicate answer after the chunk settled is a no-op', () => {
    const batchHistory = compensating('ALL_SUCCEEDED', [], [0, 1], chunkReversalDispatched(0, 2), chunkReversalSettled(0, { SUCCEEDED: -2, REVERSED: 2 }, 400n));
    givenSaga(batchHistory, [...chunk0Reversing(), reversalsSettled([reversed(1), reversed(3)])])
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, COMPENSATION_ID, [reversed(1), reversed(3)], NOW))
      .thenNothing();
  });

  it('a duplicate partial answer is a no-op', () => {
    givenSaga(compensating('ALL_SUCCEEDED', [], [0, 1], chunkReversalDispatched(0, 2)), [...chunk0Reversing(), reversalsSettled([reversed(1)])])
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, COMPENSATION_ID, [reversed(1)], NOW))
      .thenNothing();
  });

  it('an answer after the compensation finished is a no-op', () => {
    givenSaga(afterFirstCompensation(), chunk0AfterFirstCompensation())
      .when((batch, chunk) => decideReversalsSettled(batch, chunk, COMPENSATION_ID, [reversed(3)], NOW))
      .thenNothing();
  });
});

describe('decideFinishCompensation', () => {
  const allSettled = (delta: Record<string, number>, reversedMinor: bigint, chunk1Delta: Record<string, number> = { SUCCEEDED: -1, REVERSED: 1 }) =>
    compensating('ALL_SUCCEEDED', [], [0, 1], chunkReversalDispatched(0, 2), chunkReversalSettled(0, delta, reversedMinor), chunkReversalDispatched(1, 1), chunkReversalSettled(1, chunk1Delta, 400n));

  it.each([
    ['every paid row reversed', allSettled({ SUCCEEDED: -2, REVERSED: 2 }, 400n), 'COMPENSATED'],
    ['some rows still paid', allSettled({ SUCCEEDED: -2, REVERSED: 1, REVERSAL_FAILED: 1 }, 100n), 'PARTIALLY_COMPENSATED'],
    ['every reversal failed: the execution\'s outcome again', allSettled({ SUCCEEDED: -2, REVERSAL_FAILED: 2 }, 0n, { SUCCEEDED: -1, REVERSAL_FAILED: 1 }), 'PARTIALLY_FAILED'],
  ])('%s → %s', (_case, history, status) => {
    const events = decideFinishCompensation(existingBatch(history), NOW);
    expect(events).toEqual([{ type: 'PayoutCompensationFinished', data: { compensationId: COMPENSATION_ID, status, finishedAt: T } }]);
    const after = existingBatch([...history, ...events]);
    expect(after).toMatchObject({ status, compensation: undefined, paused: false, compensations: 1 });
    // Finishing twice is a no-op.
    expect(decideFinishCompensation(after, NOW)).toEqual([]);
  });

  it('is a no-op while a chunk of the compensation is not settled', () => {
    expect(decideFinishCompensation(existingBatch(compensating('ALL_SUCCEEDED', [], [0, 1], chunkReversalDispatched(0, 2))), NOW)).toEqual([]);
  });

  it('a COMPLETED batch whose reversals all failed is COMPLETED again', () => {
    const history: PayoutBatchEvent[] = [
      batchCreated(),
      rowsUploaded(sampleUpload({ rows: 2, validRows: 2, invalidRows: 0, validTotalMinor: 400n, chunks: 1 })),
      executionStarted(400n),
      fundsReserved(400n),
      chunkDispatched(0, { PENDING: -2, PROCESSING: 2 }),
      chunkSettled(0, { PROCESSING: -2, SUCCEEDED: 2 }, 400n),
      reservationReleased(0n),
      batchFinished('COMPLETED'),
      compensationRequested('ALL_SUCCEEDED', [], [0]),
      chunkReversalDispatched(0, 2),
      chunkReversalSettled(0, { SUCCEEDED: -2, REVERSAL_FAILED: 2 }, 0n),
    ];
    expect(decideFinishCompensation(existingBatch(history), NOW)).toEqual([{ type: 'PayoutCompensationFinished', data: { compensationId: COMPENSATION_ID, status: 'COMPLETED', finishedAt: T } }]);
  });
});

describe('the chunk fold', () => {
  it('ignores events before the chunk is recorded, and results for rows not in the expected state', () => {
    expect(existingChunk([sampleChunkRecorded(0)]).rows.size).toBe(3);
    const chunk = existingChunk([sampleChunkRecorded(0), rowsSettled([paid(1)]), rowsDispatched([2])]);
    // Row 1 was PENDING: a settle of a PENDING row is how a refused reservation fails it.
    expect(chunk.rows.get(1)?.status).toBe('SUCCEEDED');
    // Row 2 was refused at upload: never dispatched.
    expect(chunk.rows.get(2)).toMatchObject({ status: 'FAILED', reason: 'AMOUNT_INVALID', amountMinor: null });
    expect(existingChunk([sampleChunkRecorded(0)])).toMatchObject({ batchId: BATCH_ID, uploadId: UPLOAD_ID, chunk: 0 });
  });
});
