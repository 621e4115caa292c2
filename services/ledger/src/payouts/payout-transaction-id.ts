import { createHash } from 'node:crypto';

/**
 * The transaction id of a payout step, derived from its idempotency key: a row paid (or a
 * reversal attempt) has the same transaction id however many times its command is delivered, so
 * auditors can tie both legs and the saga's row together without the idempotency record.
 * A version-8 (custom) UUID over SHA-256 of the scope and key; distinct keys never share one in
 * practice (122 bits).
 */
export function payoutTransactionId(scope: string, key: string): string {
  const bytes = createHash('sha256').update('ledger:payout-transaction').update('\u0000').update(scope).update('\u0000').update(key).digest();
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
