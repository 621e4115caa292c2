import type { StreamModel } from '@ledger/event-sourcing';
import {
  decodeWalletSnapshot,
  encodeWalletSnapshot,
  evolveWallet,
  initialWalletState,
  WALLET_CATEGORY,
  WALLET_EVENT_TYPES,
  WALLET_SNAPSHOT_VERSION,
  type WalletEvent,
  type WalletState,
} from '@ledger/ledger-domain';

/** A snapshot every this many events bounds a wallet load to about as many reads (ADR 0006). */
export const WALLET_SNAPSHOT_EVERY_EVENTS = 1_000;

export const walletStreamModel: StreamModel<WalletState> = {
  category: WALLET_CATEGORY,
  initialState: initialWalletState,
  eventTypes: WALLET_EVENT_TYPES,
  evolve: (state, event) => evolveWallet(state, event as unknown as WalletEvent),
  snapshots: {
    category: 'walletSnapshot',
    every: WALLET_SNAPSHOT_EVERY_EVENTS,
    schemaVersion: WALLET_SNAPSHOT_VERSION,
    encode: (state) => encodeWalletSnapshot(state),
    decode: (data) => decodeWalletSnapshot(data),
  },
};
