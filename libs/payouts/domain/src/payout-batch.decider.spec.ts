import {
  decideCancel,
  decideCreateBatch,
  decidePause,
  decideRecordUpload,
  decideRequestCompensation,
  decideResume,
  decideStartExecution,
  MAX_RESERVATION_TTL_MS,
  MAX_ROWS_PER_COMPENSATION,
  type CreateBatch,
} from './payout-batch.decider';
import type { PayoutBatchEvent } from './payout.events';
import {
  at,
  BATCH_ID,
  batchCreated,
  batchFinished,
  batchPaused,
  batchResumed,
  chunkDispatched,
  chunkReversalDispatched,
  chunkReversalSettled,
  chunkSettled,
  compensationFinished,
  compensationRequested,
  executionStarted,
  fundsReserved,
  givenBatch,
  HOLD_ID,
  OTHER_FILE_SHA,
  OWNER_ID,
  reservationReleased,
  rowsUploaded,
  SAMPLE_VALID_TOTAL,
  sampleBatch,
  sampleUpload,
  SOURCE_WALLET_ID,
} from './testing/payout-fixtures';

const NOW = at(100);
const ANOTHER_BATCH_ID = '99999999-9999-4999-8999-999999999999';

/** Batch histories in each status (the sample batch, paid and then compensated in places). */
const cancelled = (): PayoutBatchEvent[] => [...sampleBatch.validated(), { type: 'PayoutBatchCancelled', data: { cancelledBy: OWNER_ID, reason: null, cancelledAt: at(3).toISOString() } }];
/** Every valid row paid: COMPLETED (an upload with only the rows that were paid, 1 and 3). */
const completed = (): PayoutBatchEvent[] => [
  batchCreated(),
  rowsUploaded(sampleUpload({ rows: 2, validRows: 2, invalidRows: 0, validTotalMinor: 400n, chunks: 1, rowsPerChunk: 3 })),
  executionStarted(400n),
  fundsReserved(400n),
  chunkDispatched(0, { PENDING: -2, PROCESSING: 2 }),
  chunkSettled(0, { PROCESSING: -2, SUCCEEDED: 2 }, 400n),
  reservationReleased(0n),
  batchFinished('COMPLETED'),
];
const failed = (): PayoutBatchEvent[] => [
  ...sampleBatch.refused(),
  chunkSettled(0, { PENDING: -2, FAILED: 2 }, 0n),
  chunkSettled(1, { PENDING: -2, FAILED: 2 }, 0n),
  batchFinished('FAILED'),
];
const compensating = (): PayoutBatchEvent[] => [...sampleBatch.partiallyFailed(), compensationRequested('ALL_SUCCEEDED', [], [0, 1])];
/** Row 1 reversed, rows 3 and 4 still paid. */
const partiallyCompensated = (): PayoutBatchEvent[] => [
  ...sampleBatch.partiallyFailed(),
  compensationRequested('SELECTED', [1], [0]),
  chunkReversalDispatched(0, 1),
  chunkReversalSettled(0, { SUCCEEDED: -1, REVERSED: 1 }, 100n),
  compensationFinished('PARTIALLY_COMPENSATED'),
];
/** Every paid row reversed. */
const compensated = (): PayoutBatchEvent[] => [
  ...sampleBatch.partiallyFailed(),
  compensationRequested('ALL_SUCCEEDED', [], [0, 1]),
  chunkReversalDispatched(0, 2),
  chunkReversalSettled(0, { SUCCEEDED: -2, REVERSED: 2 }, 400n),
  chunkReversalDispatched(1, 1),
  chunkReversalSettled(1, { SUCCEEDED: -1, REVERSED: 1 }, 400n),
  compensationFinished('COMPENSATED'),
];

const create: CreateBatch = { batchId: BATCH_ID, ownerId: OWNER_ID, sourceWalletId: SOURCE_WALLET_ID, currency: 'EUR', description: 'April', by: 'user:clerk' };

describe('decideCreateBatch', () => {
  it('creates a PENDING batch', () => {
    const state = givenBatch([])
      .when((state) => decideCreateBatch(create, state, NOW))
      .then([
        {
          type: 'PayoutBatchCreated',
          data: { batchId: BATCH_ID, ownerId: OWNER_ID, sourceWalletId: SOURCE_WALLET_ID, currency: 'EUR', description: 'April', createdBy: 'user:clerk', createdAt: NOW.toISOString() },
        },
      ]);
    expect(state).toMatchObject({ status: 'PENDING', currency: 'EUR', upload: undefined, reservation: 'none', paidMinor: 0n });
  });

  it.each([
    ['PENDING', sampleBatch.pending],
    ['PROCESSING', sampleBatch.processing],
    ['CANCELLED', cancelled],
  ])('refuses a second batch with the same id (%s): BATCH_ALREADY_EXISTS', (_status, history) => {
    givenBatch(history())
      .when((state) => decideCreateBatch(create, state, NOW))
      .thenRejects('BATCH_ALREADY_EXISTS', 'illegal_state', { batchId: BATCH_ID });
  });
});

describe('decideRecordUpload', () => {
  it('records the upload summary: VALIDATED, valid rows PENDING and invalid rows FAILED', () => {
    const upload = sampleUpload();
    const state = givenBatch(sampleBatch.pending())
      .when((state) => decideRecordUpload(state, BATCH_ID, upload, 'user:clerk', NOW))
      .then([
        {
          type: 'PayoutRowsUploaded',
          data: {
            uploadId: upload.uploadId,
            fileSha256: upload.fileSha256,
            fileBytes: 420,
            rows: 5,
            validRows: 4,
            invalidRows: 1,
            validTotalMinor: '1300',
            chunks: 2,
            rowsPerChunk: 3,
            uploadedBy: 'user:clerk',
            uploadedAt: NOW.toISOString(),
          },
        },
      ]);
    expect(state).toMatchObject({ status: 'VALIDATED', upload: { ...upload, validTotalMinor: 1300n }, counts: { PENDING: 4, FAILED: 1, PROCESSING: 0, SUCCEEDED: 0 } });
  });

  it.each([
    ['VALIDATED', sampleBatch.validated],
    ['PROCESSING', sampleBatch.processing],
    ['PARTIALLY_FAILED', sampleBatch.partiallyFailed],
    ['CANCELLED after upload', () => [...sampleBatch.validated(), ...cancelled().slice(2)]],
  ])('the same file again is a replay: nothing to append (%s)', (_status, history) => {
    givenBatch(history())
      .when((state) => decideRecordUpload(state, BATCH_ID, sampleUpload({ uploadId: 'another-upload-of-the-same-bytes' }), OWNER_ID, NOW))
      .thenNothing();
  });

  it('refuses another file for a batch that already has one: BATCH_CONTENT_CONFLICT', () => {
    givenBatch(sampleBatch.validated())
      .when((state) => decideRecordUpload(state, BATCH_ID, sampleUpload({ fileSha256: OTHER_FILE_SHA }), OWNER_ID, NOW))
      .thenRejects('BATCH_CONTENT_CONFLICT', 'idempotency_conflict', { batchId: BATCH_ID });
  });

  it('refuses an upload to a batch that does not exist: BATCH_NOT_FOUND', () => {
    givenBatch([])
      .when((state) => decideRecordUpload(state, BATCH_ID, sampleUpload(), OWNER_ID, NOW))
      .thenRejects('BATCH_NOT_FOUND', 'not_found', { batchId: BATCH_ID });
  });

  it('refuses an upload to a batch cancelled before it had rows: BATCH_NOT_EXECUTABLE', () => {
    givenBatch([...sampleBatch.pending(), ...cancelled().slice(2)])
      .when((state) => decideRecordUpload(state, BATCH_ID, sampleUpload(), OWNER_ID, NOW))
      .thenRejects('BATCH_NOT_EXECUTABLE', 'illegal_state', { status: 'CANCELLED' });
  });

  it.each([
    ['counts that do not add up', { validRows: 3 }],
    ['no rows', { rows: 0, validRows: 0, invalidRows: 0, chunks: 0 }],
    ['a wrong chunk count', { chunks: 1 }],
    ['no rows per chunk', { rowsPerChunk: 0 }],
    // Regression: a negative chunk size or negative counts used to add up.
    ['a negative chunk size', { rows: 3, validRows: 3, invalidRows: 0, rowsPerChunk: -1, chunks: -3 }],
    ['negative counts', { validRows: -1, invalidRows: 6 }],
    ['a fractional count', { validRows: 3.5, invalidRows: 1.5 }],
    ['a negative total', { validTotalMinor: -1n }],
  ])('treats an upload summary with %s as a bug: UPLOAD_SUMMARY_INCONSISTENT', (_case, overrides) => {
    givenBatch(sampleBatch.pending())
      .when((state) => decideRecordUpload(state, BATCH_ID, sampleUpload(overrides), OWNER_ID, NOW))
      .thenRejects('UPLOAD_SUMMARY_INCONSISTENT', 'invariant_violation');
  });
});

describe('decideStartExecution', () => {
  const start = { holdId: HOLD_ID, by: 'user:approver', reservationTtlMs: 60_000 };

  it('starts a VALIDATED batch: PROCESSING, the reservation of the valid total requested', () => {
    const state = givenBatch(sampleBatch.validated())
      .when((state) => decideStartExecution(state, BATCH_ID, start, NOW))
      .then([
        {
          type: 'PayoutExecutionStarted',
          data: { holdId: HOLD_ID, amountMinor: SAMPLE_VALID_TOTAL.toString(), reservationExpiresAt: at(160).toISOString(), startedBy: 'user:approver', startedAt: NOW.toISOString() },
        },
      ]);
    expect(state).toMatchObject({ status: 'PROCESSING', reservation: 'requested', holdId: HOLD_ID, reservationExpiresAt: at(160).toISOString() });
  });

  it('accepts the longest reservation the ledger allows', () => {
    expect(decideStartExecution(givenBatch(sampleBatch.validated()).state, BATCH_ID, { ...start, reservationTtlMs: MAX_RESERVATION_TTL_MS }, NOW)).toHaveLength(1);
  });

  it('refuses a batch that does not exist: BATCH_NOT_FOUND', () => {
    givenBatch([])
      .when((state) => decideStartExecution(state, BATCH_ID, start, NOW))
      .thenRejects('BATCH_NOT_FOUND', 'not_found');
  });

  it('refuses a batch without rows: BATCH_NOT_UPLOADED', () => {
    givenBatch(sampleBatch.pending())
      .when((state) => decideStartExecution(state, BATCH_ID, start, NOW))
      .thenRejects('BATCH_NOT_UPLOADED', 'illegal_state', { status: 'PENDING' });
  });

  it.each([
    ['PROCESSING', sampleBatch.processing],
    ['CANCELLED', cancelled],
    ['COMPLETED', completed],
    ['FAILED', failed],
    ['COMPENSATING', compensating],
  ])('refuses a batch that is %s: BATCH_NOT_EXECUTABLE', (status, history) => {
    givenBatch(history())
      .when((state) => decideStartExecution(state, BATCH_ID, start, NOW))
      .thenRejects('BATCH_NOT_EXECUTABLE', 'illegal_state', { status });
  });

  it('refuses a batch whose every row was refused at upload: BATCH_NO_VALID_ROWS', () => {
    givenBatch([batchCreated(), rowsUploaded(sampleUpload({ rows: 2, validRows: 0, invalidRows: 2, validTotalMinor: 0n, chunks: 1 }))])
      .when((state) => decideStartExecution(state, BATCH_ID, start, NOW))
      .thenRejects('BATCH_NO_VALID_ROWS', 'illegal_state', { invalidRows: 2 });
  });

  it.each([0, -1, 1.5, MAX_RESERVATION_TTL_MS + 1, Number.NaN])('treats a reservation TTL of %p ms as a bug: RESERVATION_TTL_INVALID', (reservationTtlMs) => {
    givenBatch(sampleBatch.validated())
      .when((state) => decideStartExecution(state, BATCH_ID, { ...start, reservationTtlMs }, NOW))
      .thenRejects('RESERVATION_TTL_INVALID', 'invariant_violation');
  });
});

describe('decideCancel', () => {
  it.each([
    ['PENDING', sampleBatch.pending],
    ['VALIDATED', sampleBatch.validated],
  ])('cancels a batch not yet executed (%s)', (_status, history) => {
    const state = givenBatch(history())
      .when((state) => decideCancel(state, BATCH_ID, 'user:clerk', 'wrong file', NOW))
      .then([{ type: 'PayoutBatchCancelled', data: { cancelledBy: 'user:clerk', reason: 'wrong file', cancelledAt: NOW.toISOString() } }]);
    expect(state.status).toBe('CANCELLED');
  });

  it('cancelling a cancelled batch again changes nothing', () => {
    givenBatch(cancelled())
      .when((state) => decideCancel(state, BATCH_ID, 'user:clerk', null, NOW))
      .thenNothing();
  });

  it.each([
    ['PROCESSING', sampleBatch.processing],
    ['COMPLETED', completed],
    ['PARTIALLY_FAILED', sampleBatch.partiallyFailed],
    ['FAILED', failed],
    ['COMPENSATING', compensating],
    ['COMPENSATED', compensated],
  ])('refuses a batch that is %s: BATCH_NOT_CANCELLABLE', (status, history) => {
    givenBatch(history())
      .when((state) => decideCancel(state, BATCH_ID, 'user:clerk', null, NOW))
      .thenRejects('BATCH_NOT_CANCELLABLE', 'illegal_state', { status });
  });

  it('refuses a batch that does not exist: BATCH_NOT_FOUND', () => {
    givenBatch([])
      .when((state) => decideCancel(state, ANOTHER_BATCH_ID, 'user:clerk', null, NOW))
      .thenRejects('BATCH_NOT_FOUND', 'not_found', { batchId: ANOTHER_BATCH_ID });
  });
});

describe('decidePause and decideResume', () => {
  it.each([
    ['PROCESSING', sampleBatch.chunk0InFlight],
    ['COMPENSATING', compensating],
  ])('pause a running batch (%s) and resume it', (status, history) => {
    const paused = givenBatch(history())
      .when((state) => decidePause(state, BATCH_ID, 'user:ops', NOW))
      .then([{ type: 'PayoutBatchPaused', data: { pausedBy: 'user:ops', pausedAt: NOW.toISOString() } }]);
    expect(paused).toMatchObject({ status, paused: true });
    const resumed = givenBatch([...history(), batchPaused()])
      .when((state) => decideResume(state, BATCH_ID, 'user:ops', NOW))
      .then([{ type: 'PayoutBatchResumed', data: { resumedBy: 'user:ops', resumedAt: NOW.toISOString() } }]);
    expect(resumed).toMatchObject({ status, paused: false });
  });

  it('refuses to pause a paused batch: BATCH_ALREADY_PAUSED', () => {
    givenBatch([...sampleBatch.chunk0InFlight(), batchPaused()])
      .when((state) => decidePause(state, BATCH_ID, 'user:ops', NOW))
      .thenRejects('BATCH_ALREADY_PAUSED', 'illegal_state');
  });

  it.each([
    ['PENDING', sampleBatch.pending],
    ['VALIDATED', sampleBatch.validated],
    ['CANCELLED', cancelled],
    ['COMPLETED', completed],
    ['FAILED', failed],
    ['PARTIALLY_COMPENSATED', partiallyCompensated],
  ])('refuses to pause a batch that is not running (%s): BATCH_NOT_RUNNING', (status, history) => {
    givenBatch(history())
      .when((state) => decidePause(state, BATCH_ID, 'user:ops', NOW))
      .thenRejects('BATCH_NOT_RUNNING', 'illegal_state', { status });
  });

  it.each([
    ['running', sampleBatch.chunk0InFlight],
    ['resumed', () => [...sampleBatch.chunk0InFlight(), batchPaused(), batchResumed()]],
    ['finished while paused (finishing clears the pause)', () => [...sampleBatch.allSettled(), batchPaused(), reservationReleased(500n), batchFinished('PARTIALLY_FAILED')]],
    ['VALIDATED', sampleBatch.validated],
  ])('refuses to resume a batch that is not paused (%s): BATCH_NOT_PAUSED', (_case, history) => {
    givenBatch(history())
      .when((state) => decideResume(state, BATCH_ID, 'user:ops', NOW))
      .thenRejects('BATCH_NOT_PAUSED', 'illegal_state');
  });

  it('refuses to pause or resume a batch that does not exist: BATCH_NOT_FOUND', () => {
    givenBatch([])
      .when((state) => decidePause(state, BATCH_ID, 'user:ops', NOW))
      .thenRejects('BATCH_NOT_FOUND', 'not_found');
    givenBatch([])
      .when((state) => decideResume(state, BATCH_ID, 'user:ops', NOW))
      .thenRejects('BATCH_NOT_FOUND', 'not_found');
  });
});

describe('decideRequestCompensation', () => {
  const all = { compensationId: 'comp-9', scope: 'ALL_SUCCEEDED' as const, rows: [], by: 'user:ops' };
  const selected = (rows: number[]) => ({ compensationId: 'comp-9', scope: 'SELECTED' as const, rows, by: 'user:ops' });

  it('ALL_SUCCEEDED visits every chunk: COMPENSATING', () => {
    const state = givenBatch(sampleBatch.partiallyFailed())
      .when((state) => decideRequestCompensation(state, BATCH_ID, all, NOW))
      .then([
        {
          type: 'PayoutCompensationRequested',
          data: { compensationId: 'comp-9', scope: 'ALL_SUCCEEDED', rows: [], chunks: [0, 1], requestedBy: 'user:ops', requestedAt: NOW.toISOString() },
        },
      ]);
    expect(state).toMatchObject({ status: 'COMPENSATING', compensations: 1, compensation: { compensationId: 'comp-9', chunks: [0, 1] } });
  });

  it('SELECTED visits the chunks of the selected rows only', () => {
    givenBatch(sampleBatch.partiallyFailed())
      .when((state) => decideRequestCompensation(state, BATCH_ID, selected([3, 4]), NOW))
      .then([
        {
          type: 'PayoutCompensationRequested',
          data: { compensationId: 'comp-9', scope: 'SELECTED', rows: [3, 4], chunks: [0, 1], requestedBy: 'user:ops', requestedAt: NOW.toISOString() },
        },
      ]);
    givenBatch(sampleBatch.partiallyFailed())
      .when((state) => decideRequestCompensation(state, BATCH_ID, selected([4, 5]), NOW))
      .then([expect.objectContaining({ data: expect.objectContaining({ rows: [4, 5], chunks: [1] }) }) as PayoutBatchEvent]);
  });

  it.each([
    ['COMPLETED', completed],
    ['PARTIALLY_COMPENSATED', partiallyCompensated],
    // Every reversal of the last compensation failed: the rows are still paid, the batch is back to COMPLETED.
    ['COMPLETED with only REVERSAL_FAILED rows', () => [...completed(), compensationRequested('ALL_SUCCEEDED', [], [0]), chunkReversalDispatched(0, 2), chunkReversalSettled(0, { SUCCEEDED: -2, REVERSAL_FAILED: 2 }, 0n), compensationFinished('COMPLETED')]],
  ])('compensates a %s batch again', (_status, history) => {
    expect(givenBatch(history()).when((state) => decideRequestCompensation(state, BATCH_ID, all, NOW)).then([expect.objectContaining({ type: 'PayoutCompensationRequested' }) as PayoutBatchEvent])).toMatchObject({
      status: 'COMPENSATING',
    });
  });

  it.each([
    ['PENDING', sampleBatch.pending],
    ['VALIDATED', sampleBatch.validated],
    ['PROCESSING', sampleBatch.chunk0InFlight],
    ['CANCELLED', cancelled],
    ['FAILED', failed],
    ['COMPENSATING', compensating],
    ['COMPENSATED', compensated],
  ])('refuses a batch that is %s: BATCH_NOT_COMPENSABLE', (status, history) => {
    givenBatch(history())
      .when((state) => decideRequestCompensation(state, BATCH_ID, all, NOW))
      .thenRejects('BATCH_NOT_COMPENSABLE', 'illegal_state', { status });
  });

  it('refuses a finished batch with no paid row left: NOTHING_TO_COMPENSATE', () => {
    // Not reachable through the saga (a batch without paid rows finishes FAILED or COMPENSATED):
    // the guard holds for any history, e.g. one whose last finish recorded a stale status.
    givenBatch([...compensated().slice(0, -1), compensationFinished('PARTIALLY_COMPENSATED')])
      .when((state) => decideRequestCompensation(state, BATCH_ID, all, NOW))
      .thenRejects('NOTHING_TO_COMPENSATE', 'illegal_state');
  });

  it('refuses a batch that does not exist: BATCH_NOT_FOUND', () => {
    givenBatch([])
      .when((state) => decideRequestCompensation(state, BATCH_ID, all, NOW))
      .thenRejects('BATCH_NOT_FOUND', 'not_found');
  });

  it.each([
    ['ALL_SUCCEEDED with a row list', { ...all, rows: [1] }, 'COMPENSATION_ROWS_UNEXPECTED'],
    ['SELECTED without rows', selected([]), 'COMPENSATION_ROWS_INVALID'],
    ['SELECTED with too many rows', selected(Array.from({ length: MAX_ROWS_PER_COMPENSATION + 1 }, (_, index) => index + 1)), 'COMPENSATION_ROWS_INVALID'],
    // Regression: a row beyond the upload sent the saga to a chunk that does not exist, forever.
    ['SELECTED with a row beyond the upload', selected([1, 6]), 'COMPENSATION_ROWS_INVALID'],
    ['SELECTED with row 0', selected([0, 1]), 'COMPENSATION_ROWS_INVALID'],
    ['SELECTED with a fractional row', selected([1.5]), 'COMPENSATION_ROWS_INVALID'],
    ['SELECTED unsorted', selected([3, 1]), 'COMPENSATION_ROWS_INVALID'],
    ['SELECTED with a repeated row', selected([1, 1]), 'COMPENSATION_ROWS_INVALID'],
  ])('treats %s as a bug of the caller', (_case, command, code) => {
    givenBatch(sampleBatch.partiallyFailed())
      .when((state) => decideRequestCompensation(state, BATCH_ID, command, NOW))
      .thenRejects(code, 'invariant_violation');
  });
});
