import { IllegalStateError, NotFoundError, ValidationError } from '@ledger/errors';

/** Why the ledger refuses a well-formed command in the current state. Stable API codes. */
export type LedgerRejectionCode =
  | 'WALLET_ALREADY_EXISTS'
  | 'WALLET_FROZEN'
  | 'WALLET_NOT_FROZEN'
  | 'WALLET_CLOSED'
  | 'WALLET_NOT_EMPTY'
  | 'WALLET_HAS_OPEN_HOLDS'
  | 'INSUFFICIENT_FUNDS'
  | 'CURRENCY_MISMATCH'
  | 'SAME_WALLET'
  | 'HOLD_ALREADY_EXISTS'
  | 'HOLD_LIMIT_REACHED'
  | 'HOLD_ALREADY_RESOLVED'
  | 'HOLD_EXPIRED'
  | 'HOLD_NOT_YET_EXPIRED'
  | 'CAPTURE_EXCEEDS_HOLD'
  | 'DRAW_EXCEEDS_HOLD';

export class LedgerRejection extends IllegalStateError {
  constructor(
    override readonly code: LedgerRejectionCode,
    message: string,
    details: ConstructorParameters<typeof IllegalStateError>[2] = {},
  ) {
    super(code, message, details);
  }
}

export function walletNotFound(walletId: string): NotFoundError {
  return new NotFoundError('WALLET_NOT_FOUND', `Wallet ${walletId} does not exist`, { walletId });
}

export function holdNotFound(walletId: string, holdId: string): NotFoundError {
  return new NotFoundError('HOLD_NOT_FOUND', `Hold ${holdId} does not exist on wallet ${walletId}`, { walletId, holdId });
}

/** A command that is malformed regardless of state (bad expiry, bad id): refused as validation. */
export function invalidCommand(code: string, message: string, details: Record<string, string> = {}): ValidationError {
  return new ValidationError(code, message, details);
}
