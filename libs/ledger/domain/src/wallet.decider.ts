import { formatAmount, minorToText, type Money } from '@ledger/money';
import { systemAccount, type Counterparty } from './accounts';
import { holdNotFound, invalidCommand, LedgerRejection, walletNotFound } from './ledger.rejections';
import {
  MAX_FREEZE_REASON_LENGTH,
  MAX_HOLD_DURATION_MS,
  MAX_OPEN_HOLDS_PER_WALLET,
  MAX_REFERENCE_LENGTH,
  type CaptureHoldToWalletCommand,
  type CommandContext,
  type DrawFromHoldCommand,
  type TransferCommand,
  type WalletCommand,
} from './wallet.commands';
import type { WalletEvent } from './wallet.events';
import { availableMinor, type ExistingWallet, type OpenHold, type WalletState } from './wallet.state';

/**
 * decide(command, state) → events, for commands on one wallet. Throws LedgerRejection (a named
 * business refusal), NotFoundError (WALLET_NOT_FOUND, HOLD_NOT_FOUND) or ValidationError.
 */
export function decideWallet(command: WalletCommand, state: WalletState, context: CommandContext): WalletEvent[] {
  const at = context.now.toISOString();
  if (command.type === 'OpenWallet') {
    if (state.status !== 'none') {
      throw new LedgerRejection('WALLET_ALREADY_EXISTS', `Wallet ${command.walletId} already exists`, { walletId: command.walletId });
    }
    return [{ type: 'WalletOpened', data: { walletId: command.walletId, ownerId: command.ownerId, currency: command.currency, openedAt: at } }];
  }
  const wallet = requireWallet(state, command.walletId);
  switch (command.type) {
    case 'FreezeWallet':
      requireNotClosed(wallet);
      if (wallet.status === 'frozen') throw new LedgerRejection('WALLET_FROZEN', `Wallet ${wallet.walletId} is already frozen`, { walletId: wallet.walletId });
      requireText(command.reason, 'FREEZE_REASON_INVALID', MAX_FREEZE_REASON_LENGTH, false);
      return [{ type: 'WalletFrozen', data: { walletId: wallet.walletId, reason: command.reason, frozenAt: at } }];
    case 'UnfreezeWallet':
      requireNotClosed(wallet);
      if (wallet.status !== 'frozen') throw new LedgerRejection('WALLET_NOT_FROZEN', `Wallet ${wallet.walletId} is not frozen`, { walletId: wallet.walletId });
      return [{ type: 'WalletUnfrozen', data: { walletId: wallet.walletId, unfrozenAt: at } }];
    case 'CloseWallet':
      requireNotClosed(wallet);
      if (wallet.openHolds.size > 0) {
        throw new LedgerRejection('WALLET_HAS_OPEN_HOLDS', `Wallet ${wallet.walletId} has ${wallet.openHolds.size} open holds`, { walletId: wallet.walletId });
      }
      if (wallet.balanceMinor !== 0n) {
        throw new LedgerRejection('WALLET_NOT_EMPTY', `Wallet ${wallet.walletId} holds ${formatAmount(wallet.balanceMinor, wallet.currency)} ${wallet.currency}`, {
          walletId: wallet.walletId,
          balance: formatAmount(wallet.balanceMinor, wallet.currency),
        });
      }
      return [{ type: 'WalletClosed', data: { walletId: wallet.walletId, closedAt: at } }];
    case 'Deposit':
      requireActive(wallet);
      requireCurrency(wallet, command.amount);
      return [{ type: 'FundsDeposited', data: { ...movement(wallet, command.transactionId, command.amount, at, command.reference), from: systemAccount('external-funding', wallet.currency) } }];
    case 'Withdraw':
      requireActive(wallet);
      requireCurrency(wallet, command.amount);
      requireAvailable(wallet, command.amount);
      return [{ type: 'FundsWithdrawn', data: { ...movement(wallet, command.transactionId, command.amount, at, command.reference), to: systemAccount('external-funding', wallet.currency) } }];
    case 'PlaceHold': {
      requireActive(wallet);
      requireCurrency(wallet, command.amount);
      const remainingMs = command.expiresAt.getTime() - context.now.getTime();
      if (!(remainingMs > 0)) throw invalidCommand('HOLD_EXPIRY_IN_PAST', 'A hold must expire after now', { expiresAt: safeIso(command.expiresAt) });
      if (remainingMs > MAX_HOLD_DURATION_MS) {
        throw invalidCommand('HOLD_EXPIRY_TOO_FAR', `A hold may last at most ${MAX_HOLD_DURATION_MS / 86_400_000} days`, { expiresAt: command.expiresAt.toISOString() });
      }
      if (wallet.openHolds.has(command.holdId) || wallet.resolvedHoldIds.has(command.holdId)) {
        throw new LedgerRejection('HOLD_ALREADY_EXISTS', `Hold ${command.holdId} already exists on wallet ${wallet.walletId}`, { holdId: command.holdId });
      }
      if (wallet.openHolds.size >= MAX_OPEN_HOLDS_PER_WALLET) {
        throw new LedgerRejection('HOLD_LIMIT_REACHED', `Wallet ${wallet.walletId} already has ${MAX_OPEN_HOLDS_PER_WALLET} open holds; capture or release one first`, {
          walletId: wallet.walletId,
          limit: String(MAX_OPEN_HOLDS_PER_WALLET),
        });
      }
      requireAvailable(wallet, command.amount);
      return [{
        type: 'HoldPlaced',
        data: { walletId: wallet.walletId, holdId: command.holdId, amountMinor: minorToText(command.amount.amountMinor), currency: wallet.currency, expiresAt: command.expiresAt.toISOString(), placedAt: at },
      }];
    }
    case 'ReleaseHold': {
      requireNotClosed(wallet);
      const hold = requireOpenHold(wallet, command.holdId);
      return [{ type: 'HoldReleased', data: { walletId: wallet.walletId, holdId: hold.holdId, releasedMinor: minorToText(hold.amountMinor), currency: wallet.currency, releasedAt: at } }];
    }
    case 'ExpireHold': {
      requireNotClosed(wallet);
      const hold = requireOpenHold(wallet, command.holdId);
      if (context.now.getTime() < Date.parse(hold.expiresAt)) {
        throw new LedgerRejection('HOLD_NOT_YET_EXPIRED', `Hold ${hold.holdId} expires at ${hold.expiresAt}`, { holdId: hold.holdId, expiresAt: hold.expiresAt });
      }
      return [{ type: 'HoldExpired', data: { walletId: wallet.walletId, holdId: hold.holdId, releasedMinor: minorToText(hold.amountMinor), currency: wallet.currency, expiredAt: at } }];
    }
    case 'CaptureHoldToSystem': {
      const { hold, capturedMinor } = captureAmounts(wallet, command.holdId, command.amount, context);
      return [captured(wallet, hold, capturedMinor, command.transactionId, { kind: 'system', account: systemAccount(command.account, wallet.currency) }, at)];
    }
    default: {
      const unknownCommand: never = command;
      throw invalidCommand('UNKNOWN_COMMAND', `Unknown command ${(unknownCommand as { type: string }).type}`);
    }
  }
}

/** Both legs of a transfer, decided on the two wallets' current states. */
export function decideTransfer(
  command: TransferCommand,
  from: WalletState,
  to: WalletState,
  context: CommandContext,
): { readonly fromEvents: WalletEvent[]; readonly toEvents: WalletEvent[] } {
  if (command.fromWalletId === command.toWalletId) {
    throw new LedgerRejection('SAME_WALLET', 'A transfer needs two different wallets', { walletId: command.fromWalletId });
  }
  const source = requireWallet(from, command.fromWalletId);
  const destination = requireWallet(to, command.toWalletId);
  requireActive(source);
  requireActive(destination);
  requireCurrency(source, command.amount);
  requireCurrency(destination, command.amount);
  requireAvailable(source, command.amount);
  const at = context.now.toISOString();
  return {
    fromEvents: [{ type: 'TransferDebited', data: { ...movement(source, command.transactionId, command.amount, at, command.reference), toWalletId: destination.walletId } }],
    toEvents: [{ type: 'TransferCredited', data: { ...movement(destination, command.transactionId, command.amount, at, command.reference), fromWalletId: source.walletId } }],
  };
}

/** Captures a hold into another wallet: debit (with the rest released) on the holder, credit on the destination. */
export function decideCaptureHoldToWallet(
  command: CaptureHoldToWalletCommand,
  holder: WalletState,
  to: WalletState,
  context: CommandContext,
): { readonly fromEvents: WalletEvent[]; readonly toEvents: WalletEvent[] } {
  const { source, destination } = holderAndDestination(command, holder, to, 'captured');
  const { hold, capturedMinor } = captureAmounts(source, command.holdId, command.amount, context);
  requireReceiverOf(destination, source);
  const at = context.now.toISOString();
  return {
    fromEvents: [captured(source, hold, capturedMinor, command.transactionId, { kind: 'wallet', walletId: destination.walletId }, at)],
    toEvents: [creditFromHold(destination, source, hold, capturedMinor, command.transactionId, at, command.reference)],
  };
}

/**
 * Draws part of a hold into another wallet (one row of a batch payout): HoldDrawn on the holder
 * (balance and held down by the amount, available unchanged), TransferCredited on the
 * destination. The hold stays open with what remains, so it can be drawn again; drawing the last
 * of it resolves it. Release, expiry and capture of a partly drawn hold act on what remains.
 */
export function decideDrawFromHold(
  command: DrawFromHoldCommand,
  holder: WalletState,
  to: WalletState,
  context: CommandContext,
): { readonly fromEvents: WalletEvent[]; readonly toEvents: WalletEvent[] } {
  const { source, destination } = holderAndDestination(command, holder, to, 'drawn');
  const hold = requireLiveHold(source, command.holdId, context);
  requireCurrency(source, command.amount);
  const drawnMinor = command.amount.amountMinor;
  if (drawnMinor <= 0n) throw invalidCommand('AMOUNT_NOT_POSITIVE', 'A draw must be greater than zero', { amount: formatAmount(drawnMinor, source.currency) });
  if (drawnMinor > hold.amountMinor) {
    throw new LedgerRejection('DRAW_EXCEEDS_HOLD', `Draw of ${formatAmount(drawnMinor, source.currency)} exceeds what hold ${hold.holdId} still reserves`, {
      holdId: hold.holdId,
      held: formatAmount(hold.amountMinor, source.currency),
      requested: formatAmount(drawnMinor, source.currency),
    });
  }
  requireReceiverOf(destination, source);
  const at = context.now.toISOString();
  const credit = creditFromHold(destination, source, hold, drawnMinor, command.transactionId, at, command.reference);
  return {
    fromEvents: [{
      type: 'HoldDrawn',
      data: {
        walletId: source.walletId,
        holdId: hold.holdId,
        transactionId: command.transactionId,
        drawnMinor: minorToText(drawnMinor),
        remainingMinor: minorToText(hold.amountMinor - drawnMinor),
        currency: source.currency,
        to: { kind: 'wallet', walletId: destination.walletId },
        drawnAt: at,
        ...(command.reference === undefined ? {} : { reference: command.reference }),
      },
    }],
    toEvents: [credit],
  };
}

/** The two wallets of money moving out of a hold into another wallet: different, and both existing. */
function holderAndDestination(
  command: { readonly walletId: string; readonly toWalletId: string },
  holder: WalletState,
  to: WalletState,
  verb: 'captured' | 'drawn',
): { source: ExistingWallet; destination: ExistingWallet } {
  if (command.walletId === command.toWalletId) {
    throw new LedgerRejection('SAME_WALLET', `A hold cannot be ${verb} into the wallet that holds it`, { walletId: command.walletId });
  }
  return { source: requireWallet(holder, command.walletId), destination: requireWallet(to, command.toWalletId) };
}

/** The destination of a hold's money: active, and in the holder's currency. */
function requireReceiverOf(destination: ExistingWallet, source: ExistingWallet): void {
  requireActive(destination);
  if (destination.currency !== source.currency) {
    throw new LedgerRejection('CURRENCY_MISMATCH', `Wallet ${destination.walletId} is in ${destination.currency}, the hold in ${source.currency}`, {
      walletCurrency: destination.currency,
      amountCurrency: source.currency,
    });
  }
}

/** The destination's leg of a capture or draw: a credit naming the hold the money came out of. */
function creditFromHold(
  destination: ExistingWallet,
  source: ExistingWallet,
  hold: OpenHold,
  amountMinor: bigint,
  transactionId: string,
  at: string,
  reference: string | undefined,
): WalletEvent {
  const amount = { amountMinor, currency: source.currency };
  return { type: 'TransferCredited', data: { ...movement(destination, transactionId, amount, at, reference), fromWalletId: source.walletId, holdId: hold.holdId } };
}

function captureAmounts(wallet: ExistingWallet, holdId: string, amount: Money | undefined, context: CommandContext): { hold: OpenHold; capturedMinor: bigint } {
  const hold = requireLiveHold(wallet, holdId, context);
  if (amount === undefined) return { hold, capturedMinor: hold.amountMinor };
  requireCurrency(wallet, amount);
  if (amount.amountMinor > hold.amountMinor) {
    throw new LedgerRejection('CAPTURE_EXCEEDS_HOLD', `Capture of ${formatAmount(amount.amountMinor, wallet.currency)} exceeds hold ${holdId}`, {
      holdId,
      held: formatAmount(hold.amountMinor, wallet.currency),
      requested: formatAmount(amount.amountMinor, wallet.currency),
    });
  }
  return { hold, capturedMinor: amount.amountMinor };
}

/** A hold money may still come out of: on an active wallet, open, and not past its deadline. */
function requireLiveHold(wallet: ExistingWallet, holdId: string, context: CommandContext): OpenHold {
  requireActive(wallet);
  const hold = requireOpenHold(wallet, holdId);
  if (context.now.getTime() >= Date.parse(hold.expiresAt)) {
    throw new LedgerRejection('HOLD_EXPIRED', `Hold ${holdId} expired at ${hold.expiresAt}`, { holdId, expiresAt: hold.expiresAt });
  }
  return hold;
}

function captured(wallet: ExistingWallet, hold: OpenHold, capturedMinor: bigint, transactionId: string, to: Counterparty, at: string): WalletEvent {
  return {
    type: 'HoldCaptured',
    data: {
      walletId: wallet.walletId,
      holdId: hold.holdId,
      transactionId,
      capturedMinor: minorToText(capturedMinor),
      releasedMinor: minorToText(hold.amountMinor - capturedMinor),
      currency: wallet.currency,
      to,
      capturedAt: at,
    },
  };
}

function movement(wallet: ExistingWallet, transactionId: string, amount: Money, at: string, reference: string | undefined) {
  if (reference !== undefined) requireText(reference, 'REFERENCE_INVALID', MAX_REFERENCE_LENGTH, true);
  return {
    walletId: wallet.walletId,
    transactionId,
    amountMinor: minorToText(amount.amountMinor),
    currency: wallet.currency,
    occurredAt: at,
    ...(reference === undefined ? {} : { reference }),
  };
}

function requireWallet(state: WalletState, walletId: string): ExistingWallet {
  if (state.status === 'none') throw walletNotFound(walletId);
  return state;
}

function requireNotClosed(wallet: ExistingWallet): void {
  if (wallet.status === 'closed') throw new LedgerRejection('WALLET_CLOSED', `Wallet ${wallet.walletId} is closed`, { walletId: wallet.walletId });
}

function requireActive(wallet: ExistingWallet): void {
  requireNotClosed(wallet);
  if (wallet.status === 'frozen') throw new LedgerRejection('WALLET_FROZEN', `Wallet ${wallet.walletId} is frozen`, { walletId: wallet.walletId });
}

function requireCurrency(wallet: ExistingWallet, amount: Money): void {
  if (amount.currency !== wallet.currency) {
    throw new LedgerRejection('CURRENCY_MISMATCH', `Wallet ${wallet.walletId} is in ${wallet.currency}, the amount in ${amount.currency}`, {
      walletId: wallet.walletId,
      walletCurrency: wallet.currency,
      amountCurrency: amount.currency,
    });
  }
}

function requireAvailable(wallet: ExistingWallet, amount: Money): void {
  const available = availableMinor(wallet);
  if (amount.amountMinor > available) {
    throw new LedgerRejection('INSUFFICIENT_FUNDS', `Wallet ${wallet.walletId} has ${formatAmount(available, wallet.currency)} ${wallet.currency} available`, {
      walletId: wallet.walletId,
      available: formatAmount(available, wallet.currency),
      requested: formatAmount(amount.amountMinor, wallet.currency),
    });
  }
}

function requireOpenHold(wallet: ExistingWallet, holdId: string): OpenHold {
  if (wallet.resolvedHoldIds.has(holdId)) {
    throw new LedgerRejection('HOLD_ALREADY_RESOLVED', `Hold ${holdId} was already captured, released, expired or drawn in full`, { holdId });
  }
  const hold = wallet.openHolds.get(holdId);
  if (!hold) throw holdNotFound(wallet.walletId, holdId);
  return hold;
}

/** Free text stored in events: bounded, no control characters. */
function requireText(text: string, code: string, maxLength: number, allowEmpty: boolean): void {
  // eslint-disable-next-line no-control-regex
  if (typeof text !== 'string' || text.length > maxLength || (!allowEmpty && text.trim().length === 0) || /[\u0000-\u001f\u007f]/.test(text)) {
    throw invalidCommand(code, `Text must be ${allowEmpty ? '' : 'non-empty, '}at most ${maxLength} characters, without control characters`);
  }
}

function safeIso(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'invalid date' : date.toISOString();
}
