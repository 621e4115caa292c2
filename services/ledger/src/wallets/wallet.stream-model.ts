import type { StreamModel } from '@ledger/event-sourcing';
import { evolveWallet, initialWalletState, WALLET_CATEGORY, WALLET_EVENT_TYPES, type WalletEvent, type WalletState } from '@ledger/ledger-domain';

export const walletStreamModel: StreamModel<WalletState> = {
  category: WALLET_CATEGORY,
  initialState: initialWalletState,
  eventTypes: WALLET_EVENT_TYPES,
  evolve: (state, event) => evolveWallet(state, event as unknown as WalletEvent),
};
