import type { CurrencyCode } from '@ledger/money';
import type { Counterparty, SystemAccountId } from './accounts';

/**
 * Events of a wallet stream (`wallet-<walletId>`). Data is plain JSON: amounts are integer minor
 * units as decimal strings (`amountMinor`), times are ISO 8601 UTC strings, and every movement
 * names its counterparty, so each event is one complete double entry. Schema version 1.
 */
export type WalletEvent =
  | { type: 'WalletOpened'; data: { walletId: string; ownerId: string; currency: CurrencyCode; openedAt: string } }
  | { type: 'WalletFrozen'; data: { walletId: string; reason: string; frozenAt: string } }
  | { type: 'WalletUnfrozen'; data: { walletId: string; unfrozenAt: string } }
  | { type: 'WalletClosed'; data: { walletId: string; closedAt: string } }
  | { type: 'FundsDeposited'; data: MovementData & { from: SystemAccountId } }
  | { type: 'FundsWithdrawn'; data: MovementData & { to: SystemAccountId } }
  | { type: 'TransferDebited'; data: MovementData & { toWalletId: string } }
  | { type: 'TransferCredited'; data: MovementData & { fromWalletId: string; holdId?: string } }
  | { type: 'HoldPlaced'; data: { walletId: string; holdId: string; amountMinor: string; currency: CurrencyCode; expiresAt: string; placedAt: string } }
  | {
      type: 'HoldCaptured';
      data: {
        walletId: string;
        holdId: string;
        transactionId: string;
        /** Leaves the wallet (debit) to `to`. */
        capturedMinor: string;
        /** The rest of the hold, back to available. */
        releasedMinor: string;
        currency: CurrencyCode;
        to: Counterparty;
        capturedAt: string;
      };
    }
  | {
      type: 'HoldDrawn';
      data: {
        walletId: string;
        holdId: string;
        transactionId: string;
        /** Leaves the wallet (debit) to `to`, out of the hold: balance and held both go down. */
        drawnMinor: string;
        /** What the hold still reserves after this draw; 0 resolves the hold. */
        remainingMinor: string;
        currency: CurrencyCode;
        /** Credited by that wallet's TransferCredited (with this holdId) in the same append. */
        to: Extract<Counterparty, { kind: 'wallet' }>;
        drawnAt: string;
        reference?: string;
      };
    }
  | { type: 'HoldReleased'; data: { walletId: string; holdId: string; releasedMinor: string; currency: CurrencyCode; releasedAt: string } }
  | { type: 'HoldExpired'; data: { walletId: string; holdId: string; releasedMinor: string; currency: CurrencyCode; expiredAt: string } };

export interface MovementData {
  readonly walletId: string;
  /** Shared by both legs of one movement (and by the idempotency record that produced it). */
  readonly transactionId: string;
  readonly amountMinor: string;
  readonly currency: CurrencyCode;
  readonly occurredAt: string;
  /** Free text from the caller (e.g. a payout reference), at most 140 characters. */
  readonly reference?: string;
}

export type WalletEventType = WalletEvent['type'];

export const WALLET_EVENT_TYPES: readonly WalletEventType[] = [
  'WalletOpened', 'WalletFrozen', 'WalletUnfrozen', 'WalletClosed', 'FundsDeposited', 'FundsWithdrawn',
  'TransferDebited', 'TransferCredited', 'HoldPlaced', 'HoldCaptured', 'HoldReleased', 'HoldExpired',
  'HoldDrawn',
];

export const WALLET_EVENT_SCHEMA_VERSION = 1;

export const WALLET_CATEGORY = 'wallet';

export function walletStreamId(walletId: string): string {
  return `${WALLET_CATEGORY}-${walletId}`;
}
