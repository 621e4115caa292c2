import type { Money } from '@ledger/money';
import type { SystemAccountName } from './accounts';

/**
 * Commands carry everything the decision needs, including time (`now`) and generated ids, so
 * deciders never read a clock or a random source. Amounts are already parsed Money (the
 * transport parsed the decimal string against the currency); deciders check the currency
 * against the wallet.
 */
export interface CommandContext {
  readonly now: Date;
}

export type WalletCommand =
  | { type: 'OpenWallet'; walletId: string; ownerId: string; currency: Money['currency'] }
  | { type: 'FreezeWallet'; walletId: string; reason: string }
  | { type: 'UnfreezeWallet'; walletId: string }
  | { type: 'CloseWallet'; walletId: string }
  | { type: 'Deposit'; walletId: string; transactionId: string; amount: Money; reference?: string }
  | { type: 'Withdraw'; walletId: string; transactionId: string; amount: Money; reference?: string }
  | { type: 'PlaceHold'; walletId: string; holdId: string; amount: Money; expiresAt: Date }
  | { type: 'ReleaseHold'; walletId: string; holdId: string }
  | { type: 'ExpireHold'; walletId: string; holdId: string }
  /** Capture out of the ledger through a system account (e.g. payout settlement). */
  | { type: 'CaptureHoldToSystem'; walletId: string; holdId: string; transactionId: string; amount?: Money; account: SystemAccountName };

/** Moves money between two wallets: one atomic append over both streams. */
export interface TransferCommand {
  readonly type: 'Transfer';
  readonly transactionId: string;
  readonly fromWalletId: string;
  readonly toWalletId: string;
  readonly amount: Money;
  readonly reference?: string;
}

/** Captures a hold (fully, or partially with the rest released) into another wallet. */
export interface CaptureHoldToWalletCommand {
  readonly type: 'CaptureHoldToWallet';
  readonly walletId: string;
  readonly holdId: string;
  readonly transactionId: string;
  readonly toWalletId: string;
  /** Omitted: the whole hold. */
  readonly amount?: Money;
  readonly reference?: string;
}

/**
 * Draws part of a hold into another wallet (e.g. one row of a batch payout reserved by one hold).
 * The hold stays open with what remains; drawing the last of it resolves it.
 */
export interface DrawFromHoldCommand {
  readonly type: 'DrawFromHold';
  readonly walletId: string;
  readonly holdId: string;
  readonly transactionId: string;
  readonly toWalletId: string;
  /** At most what the hold still reserves (DRAW_EXCEEDS_HOLD otherwise). */
  readonly amount: Money;
  readonly reference?: string;
}

/** Longest a hold may be placed for. */
export const MAX_HOLD_DURATION_MS = 30 * 24 * 60 * 60 * 1000;
/**
 * Open holds one wallet may carry at once; another is refused HOLD_LIMIT_REACHED. Bounds the
 * wallet's state (and its snapshot, ADR 0006) whatever a caller does.
 */
export const MAX_OPEN_HOLDS_PER_WALLET = 1_000;
/**
 * Resolved hold ids a wallet remembers, most recent first, to answer HOLD_ALREADY_RESOLVED; an
 * older resolved hold is answered HOLD_NOT_FOUND. Either way it can never be captured or released
 * again (it is no longer open), and hold ids are random UUIDs the ledger assigns, so a forgotten
 * id is never placed again. Bounds the state and snapshot of a wallet that has seen many holds.
 */
export const MAX_REMEMBERED_RESOLVED_HOLDS = 1_000;
/** Bounds on free-text fields stored in events. */
export const MAX_REFERENCE_LENGTH = 140;
export const MAX_FREEZE_REASON_LENGTH = 200;
