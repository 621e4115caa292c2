import { MAX_SEQUENCE_NUMBER } from './payout-messages';
import { PAYOUT_UUID_PATTERN, PayoutMessageError } from './payout-message.codec';

/**
 * Deterministic idempotency keys of the saga's ledger commands, in the key space
 * PAYOUTS_IDEMPOTENCY_SCOPE. One key per effect, so a resumed or redelivered step can never
 * execute twice: a row is paid at most once per batch, a reversal at most once per attempt.
 * Every key is at most 75 characters of `[A-Za-z0-9_.:-]` (the ledger's idempotency key pattern).
 */

/** `payout:<batchId>:<row>`: paying row `row` of the batch. */
export function payoutRowKey(batchId: string, row: number): string {
  return `payout:${checkedBatchId(batchId)}:${checkedNumber(row, 'row')}`;
}

/** `payout-hold:<batchId>`: reserving the batch total. */
export function payoutHoldKey(batchId: string): string {
  return `payout-hold:${checkedBatchId(batchId)}`;
}

/** `payout-release:<batchId>`: giving back what is left of the reservation. */
export function payoutReleaseKey(batchId: string): string {
  return `payout-release:${checkedBatchId(batchId)}`;
}

/** `payout-reversal:<batchId>:<row>:<attempt>`: one attempt at reversing a paid row. */
export function payoutReversalKey(batchId: string, row: number, attempt: number): string {
  return `payout-reversal:${checkedBatchId(batchId)}:${checkedNumber(row, 'row')}:${checkedNumber(attempt, 'attempt')}`;
}

function checkedBatchId(batchId: string): string {
  if (typeof batchId !== 'string' || !PAYOUT_UUID_PATTERN.test(batchId)) throw new PayoutMessageError('must be a lower-case UUID', '$.batchId');
  return batchId;
}

function checkedNumber(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_SEQUENCE_NUMBER) {
    throw new PayoutMessageError(`must be an integer from 1 to ${MAX_SEQUENCE_NUMBER}`, `$.${name}`);
  }
  return value;
}
