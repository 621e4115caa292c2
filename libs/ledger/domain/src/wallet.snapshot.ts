import { InvariantViolationError } from '@ledger/errors';
import { isCurrencyCode, minorFromText } from '@ledger/money';
import { MAX_REMEMBERED_RESOLVED_HOLDS } from './wallet.commands';
import type { WalletState } from './wallet.state';

/** A wallet's state as plain JSON (bigints as decimal strings), for snapshots. */
export interface WalletSnapshot {
  [key: string]: string | Array<string | { holdId: string; amountMinor: string; expiresAt: string }>;
}

export const WALLET_SNAPSHOT_VERSION = 1;

export function encodeWalletSnapshot(state: WalletState): WalletSnapshot {
  if (state.status === 'none') return { status: 'none' };
  return {
    status: state.status,
    walletId: state.walletId,
    ownerId: state.ownerId,
    currency: state.currency,
    balanceMinor: state.balanceMinor.toString(),
    heldMinor: state.heldMinor.toString(),
    // What each hold still reserves (less any HoldDrawn): a snapshot from before draws existed says the same.
    openHolds: [...state.openHolds.values()].map((hold) => ({ holdId: hold.holdId, amountMinor: hold.amountMinor.toString(), expiresAt: hold.expiresAt })),
    resolvedHoldIds: [...state.resolvedHoldIds],
  };
}

/** The inverse of encodeWalletSnapshot; anything malformed is corruption, never guessed at. */
export function decodeWalletSnapshot(data: Record<string, unknown>): WalletState {
  const status = data['status'];
  if (status === 'none') return { status: 'none' };
  if (status !== 'open' && status !== 'frozen' && status !== 'closed') throw corrupt('status');
  const text = (name: string): string => {
    const value = data[name];
    if (typeof value !== 'string') throw corrupt(name);
    return value;
  };
  const currency = text('currency');
  if (!isCurrencyCode(currency)) throw corrupt('currency');
  const holds = data['openHolds'];
  const resolved = data['resolvedHoldIds'];
  if (!Array.isArray(holds) || !Array.isArray(resolved)) throw corrupt('holds');
  return {
    status,
    walletId: text('walletId'),
    ownerId: text('ownerId'),
    currency,
    balanceMinor: minorFromText(text('balanceMinor')),
    heldMinor: minorFromText(text('heldMinor')),
    openHolds: new Map(
      holds.map((hold: { holdId: string; amountMinor: string; expiresAt: string }) => [
        hold.holdId,
        { holdId: hold.holdId, amountMinor: minorFromText(hold.amountMinor), expiresAt: hold.expiresAt },
      ]),
    ),
    // Oldest first, as encoded; a snapshot written before the bound keeps only the ids replay would.
    resolvedHoldIds: new Set((resolved as string[]).slice(-MAX_REMEMBERED_RESOLVED_HOLDS)),
  };
}

function corrupt(field: string): InvariantViolationError {
  return new InvariantViolationError('CORRUPT_WALLET_SNAPSHOT', `Wallet snapshot field ${field} is malformed`, { field });
}
