import { assertCanActOnWallet, type Principal } from '@ledger/auth';
import { loadStreamView } from '@ledger/event-sourcing';
import type { EventStore } from '@ledger/event-store';
import { walletNotFound, walletStreamId, type WalletState } from '@ledger/ledger-domain';
import { parseWalletId } from './wallet-commands.service';
import { walletStreamModel } from './wallet.stream-model';
import { toWalletView, type WalletView } from './wallet.view';

/** Reads a wallet decided from its own stream (always current; read models arrive in issue 4). */
export class WalletQueriesService {
  constructor(private readonly store: EventStore) {}

  /** @throws ValidationError INVALID_WALLET_ID, NotFoundError WALLET_NOT_FOUND, ForbiddenError WALLET_ACCESS_DENIED */
  async getWallet(principal: Principal, walletIdInput: unknown): Promise<WalletView> {
    const walletId = parseWalletId(walletIdInput);
    const view = await loadStreamView<WalletState>(this.store, walletStreamModel, walletStreamId(walletId));
    const wallet = toWalletView(view.state, view.revision);
    if (!wallet) throw walletNotFound(walletId);
    assertCanActOnWallet(principal, wallet.ownerId, 'read');
    return wallet;
  }
}
