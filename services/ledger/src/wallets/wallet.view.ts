import { formatAmount } from '@ledger/money';
import { availableMinor, type WalletState } from '@ledger/ledger-domain';
import type { StreamState } from '@ledger/event-store';
import type { JsonObject } from '@ledger/event-store';

/** A wallet as the APIs show it: decimal strings in major units, revision as a string. */
export interface WalletView extends JsonObject {
  walletId: string;
  ownerId: string;
  currency: string;
  status: 'open' | 'frozen' | 'closed';
  balance: string;
  available: string;
  held: string;
  /** Stream revision this view reflects (the If-Match / ETag value). */
  revision: string;
  openHolds: Array<{ holdId: string; amount: string; expiresAt: string }>;
}

export function toWalletView(state: WalletState, revision: StreamState): WalletView | undefined {
  if (state.status === 'none') return undefined;
  return {
    walletId: state.walletId,
    ownerId: state.ownerId,
    currency: state.currency,
    status: state.status,
    balance: formatAmount(state.balanceMinor, state.currency),
    available: formatAmount(availableMinor(state), state.currency),
    held: formatAmount(state.heldMinor, state.currency),
    revision: revision === 'no_stream' ? '-1' : revision.toString(),
    openHolds: [...state.openHolds.values()].map((hold) => ({
      holdId: hold.holdId,
      amount: formatAmount(hold.amountMinor, state.currency),
      expiresAt: hold.expiresAt,
    })),
  };
}
