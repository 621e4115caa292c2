import { InvariantViolationError } from '@ledger/errors';
import { minorFromText, type CurrencyCode } from '@ledger/money';
import { MAX_REMEMBERED_RESOLVED_HOLDS } from './wallet.commands';
import type { WalletEvent } from './wallet.events';

export interface OpenHold {
  readonly holdId: string;
  /** What the hold still reserves: the amount placed less what was drawn from it (HoldDrawn). */
  readonly amountMinor: bigint;
  readonly expiresAt: string;
}

export type WalletState =
  | { readonly status: 'none' }
  | {
      readonly status: 'open' | 'frozen' | 'closed';
      readonly walletId: string;
      readonly ownerId: string;
      readonly currency: CurrencyCode;
      /** Ledger balance: every posted movement. Never negative for a user wallet. */
      readonly balanceMinor: bigint;
      /** Reserved by open holds (their remaining amounts); available = balance − held, never negative. */
      readonly heldMinor: bigint;
      readonly openHolds: ReadonlyMap<string, OpenHold>;
      /** The latest MAX_REMEMBERED_RESOLVED_HOLDS holds captured, released, expired or drawn to zero, oldest first. */
      readonly resolvedHoldIds: ReadonlySet<string>;
    };

export type ExistingWallet = Exclude<WalletState, { status: 'none' }>;

export const initialWalletState: WalletState = { status: 'none' };

export function availableMinor(wallet: ExistingWallet): bigint {
  return wallet.balanceMinor - wallet.heldMinor;
}

/**
 * Folds one event into the state. Pure and total over valid histories; an event that cannot
 * follow the state (corrupted or foreign history) is an invariant violation, never ignored.
 */
export function evolveWallet(state: WalletState, event: WalletEvent): WalletState {
  if (event.type === 'WalletOpened') {
    if (state.status !== 'none') throw corrupt(event, 'wallet opened twice');
    return {
      status: 'open',
      walletId: event.data.walletId,
      ownerId: event.data.ownerId,
      currency: event.data.currency,
      balanceMinor: 0n,
      heldMinor: 0n,
      openHolds: new Map(),
      resolvedHoldIds: new Set(),
    };
  }
  if (state.status === 'none') throw corrupt(event, 'event before WalletOpened');
  switch (event.type) {
    case 'WalletFrozen':
      return { ...state, status: 'frozen' };
    case 'WalletUnfrozen':
      return { ...state, status: 'open' };
    case 'WalletClosed':
      return { ...state, status: 'closed' };
    case 'FundsDeposited':
    case 'TransferCredited':
      return { ...state, balanceMinor: state.balanceMinor + minorFromText(event.data.amountMinor) };
    case 'FundsWithdrawn':
    case 'TransferDebited':
      return { ...state, balanceMinor: state.balanceMinor - minorFromText(event.data.amountMinor) };
    case 'HoldPlaced': {
      const amountMinor = minorFromText(event.data.amountMinor);
      const openHolds = new Map(state.openHolds);
      openHolds.set(event.data.holdId, { holdId: event.data.holdId, amountMinor, expiresAt: event.data.expiresAt });
      return { ...state, heldMinor: state.heldMinor + amountMinor, openHolds };
    }
    case 'HoldDrawn': {
      const hold = state.openHolds.get(event.data.holdId);
      if (!hold) throw corrupt(event, `hold ${event.data.holdId} is not open`);
      const drawn = minorFromText(event.data.drawnMinor);
      const remainingMinor = hold.amountMinor - drawn;
      if (drawn <= 0n || remainingMinor < 0n || minorFromText(event.data.remainingMinor) !== remainingMinor) {
        throw corrupt(event, `hold ${hold.holdId} reserves ${hold.amountMinor}, cannot draw ${drawn} leaving ${event.data.remainingMinor}`);
      }
      const openHolds = new Map(state.openHolds);
      // Drawn to zero: resolved, exactly like a capture (a later release is HOLD_ALREADY_RESOLVED).
      if (remainingMinor === 0n) openHolds.delete(hold.holdId);
      else openHolds.set(hold.holdId, { ...hold, amountMinor: remainingMinor });
      return {
        ...state,
        balanceMinor: state.balanceMinor - drawn,
        heldMinor: state.heldMinor - drawn,
        openHolds,
        resolvedHoldIds: remainingMinor === 0n ? rememberResolved(state.resolvedHoldIds, hold.holdId) : state.resolvedHoldIds,
      };
    }
    case 'HoldCaptured':
    case 'HoldReleased':
    case 'HoldExpired': {
      const hold = state.openHolds.get(event.data.holdId);
      if (!hold) throw corrupt(event, `hold ${event.data.holdId} is not open`);
      const openHolds = new Map(state.openHolds);
      openHolds.delete(event.data.holdId);
      const resolvedHoldIds = rememberResolved(state.resolvedHoldIds, event.data.holdId);
      const captured = event.type === 'HoldCaptured' ? minorFromText(event.data.capturedMinor) : 0n;
      return {
        ...state,
        balanceMinor: state.balanceMinor - captured,
        heldMinor: state.heldMinor - hold.amountMinor,
        openHolds,
        resolvedHoldIds,
      };
    }
    default: {
      const unknownEvent: never = event;
      throw corrupt(unknownEvent as WalletEvent, 'unknown event type');
    }
  }
}

/** The resolved ids plus one, forgetting the oldest beyond MAX_REMEMBERED_RESOLVED_HOLDS. */
function rememberResolved(resolved: ReadonlySet<string>, holdId: string): ReadonlySet<string> {
  const next = new Set(resolved).add(holdId);
  if (next.size > MAX_REMEMBERED_RESOLVED_HOLDS) next.delete(next.values().next().value as string);
  return next;
}

export function foldWallet(events: readonly WalletEvent[], state: WalletState = initialWalletState): WalletState {
  return events.reduce(evolveWallet, state);
}

function corrupt(event: WalletEvent, reason: string): InvariantViolationError {
  return new InvariantViolationError('CORRUPT_WALLET_HISTORY', `Cannot apply ${event.type}: ${reason}`, { eventType: event.type });
}
