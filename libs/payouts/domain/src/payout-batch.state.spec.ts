import { chunkOfRow, payoutBatchStreamId, payoutChunkStreamId } from './payout.events';
import { progressOf } from './payout-batch.state';
import {
  batchCreated,
  chunkReversalDispatched,
  chunkReversalSettled,
  chunkSettled,
  compensationRequested,
  existingBatch,
  foldBatch,
  rowsUploaded,
  sampleBatch,
  sampleUpload,
} from './testing/payout-fixtures';

describe('payout streams', () => {
  it('names the batch and chunk streams', () => {
    expect(payoutBatchStreamId('b-1')).toBe('payoutBatch-b-1');
    expect(payoutChunkStreamId('u-1', 3)).toBe('payoutChunk-u-1.3');
  });

  it.each([
    [1, 500, 0],
    [500, 500, 0],
    [501, 500, 1],
    [3, 3, 0],
    [4, 3, 1],
    [7, 1, 6],
  ])('row %i with %i rows per chunk is in chunk %i', (row, rowsPerChunk, chunk) => {
    expect(chunkOfRow(row, rowsPerChunk)).toBe(chunk);
  });
});

describe('the batch fold', () => {
  it('ignores events before the batch is created', () => {
    expect(foldBatch([rowsUploaded(), chunkSettled(0, { SUCCEEDED: 1 }, 5n)])).toEqual({ status: 'none' });
  });

  it('ignores reversal progress when no compensation is running', () => {
    const history = sampleBatch.partiallyFailed();
    expect(existingBatch([...history, chunkReversalDispatched(0, 2), chunkReversalSettled(0, { SUCCEEDED: -2, REVERSED: 2 }, 400n)])).toEqual(existingBatch(history));
  });
});

describe('progressOf', () => {
  it('is the share of valid rows settled during execution', () => {
    expect(progressOf(existingBatch(sampleBatch.pending()))).toBe(0);
    expect(progressOf(existingBatch(sampleBatch.validated()))).toBe(0);
    expect(progressOf(existingBatch(sampleBatch.chunk0InFlight()))).toBe(0);
    expect(progressOf(existingBatch([...sampleBatch.chunk0InFlight(), chunkSettled(0, { PROCESSING: -2, SUCCEEDED: 2 }, 400n)]))).toBe(0.5);
    expect(progressOf(existingBatch(sampleBatch.partiallyFailed()))).toBe(1);
  });

  it('is the share of chunks settled during a compensation', () => {
    const compensating = [...sampleBatch.partiallyFailed(), compensationRequested('ALL_SUCCEEDED', [], [0, 1])];
    expect(progressOf(existingBatch(compensating))).toBe(0);
    expect(progressOf(existingBatch([...compensating, chunkReversalDispatched(0, 2), chunkReversalSettled(0, { SUCCEEDED: -2, REVERSED: 2 }, 400n)]))).toBe(0.5);
  });

  it('is complete for a batch with no valid row once uploaded', () => {
    expect(progressOf(existingBatch([batchCreated(), rowsUploaded(sampleUpload({ rows: 1, validRows: 0, invalidRows: 1, validTotalMinor: 0n, chunks: 1 }))]))).toBe(1);
  });
});
