import { ValidationError } from '@ledger/errors';
import type { PayoutRowStatus } from '@ledger/payouts-domain';

/**
 * Opaque cursor of a rows listing: the last row number returned, bound to the batch and the
 * status filter it was issued for (a cursor from another listing is refused, never misread).
 */
export function encodeRowsCursor(lastRow: number, batchId: string, status: PayoutRowStatus | undefined): string {
  return Buffer.from(JSON.stringify({ v: 1, b: batchId, s: status ?? null, r: lastRow })).toString('base64url');
}

const MAX_CURSOR_LENGTH = 256;

export function decodeRowsCursor(cursor: unknown, batchId: string, status: PayoutRowStatus | undefined): number {
  const invalid = (): ValidationError => new ValidationError('INVALID_CURSOR', 'cursor is not one this listing issued; start again without it');
  if (typeof cursor !== 'string' || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const c = parsed as { v?: unknown; b?: unknown; s?: unknown; r?: unknown };
  if (c.v !== 1 || c.b !== batchId || c.s !== (status ?? null) || typeof c.r !== 'number' || !Number.isInteger(c.r) || c.r < 0) throw invalid();
  return c.r;
}
