import type { RecipientInfo } from '@ledger/payouts-domain';
import { liveVersion, walletTables } from '@ledger/read-models';
import type { Pool } from 'pg';

export interface WalletDirectoryEntry extends RecipientInfo {
  readonly walletId: string;
  readonly ownerId: string;
}

/** Wallets as the ledger's read model knows them (owner, currency, status). */
export interface WalletDirectory {
  /** At most MAX_DIRECTORY_LOOKUP ids per call; unknown ids are simply absent. */
  lookup(walletIds: readonly string[]): Promise<Map<string, WalletDirectoryEntry>>;
}

export const MAX_DIRECTORY_LOOKUP = 5_000;

/**
 * The wallet read model (ADR 0007) as a directory. It may lag the ledger by the projection's
 * delay: a wallet opened a moment ago can be unknown (the row is refused RECIPIENT_UNKNOWN at
 * upload), and a wallet closed a moment ago can look open — the ledger decides again at payment
 * time, so such a row FAILS then with the ledger's reason instead of being paid.
 */
export class ReadModelWalletDirectory implements WalletDirectory {
  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {}

  async lookup(walletIds: readonly string[]): Promise<Map<string, WalletDirectoryEntry>> {
    if (walletIds.length > MAX_DIRECTORY_LOOKUP) throw new RangeError(`lookup takes at most ${MAX_DIRECTORY_LOOKUP} ids`);
    const found = new Map<string, WalletDirectoryEntry>();
    if (walletIds.length === 0) return found;
    const version = await liveVersion(this.pool, this.schema);
    if (version === undefined) return found;
    const tables = walletTables(this.schema, version);
    const { rows } = await this.pool.query<{ wallet_id: string; owner_id: string; currency: string; status: string }>(
      `SELECT wallet_id, owner_id, currency, status FROM ${tables.balances} WHERE wallet_id = ANY($1::text[])`,
      [walletIds],
    );
    for (const row of rows) {
      found.set(row.wallet_id, { walletId: row.wallet_id, ownerId: row.owner_id, currency: row.currency as RecipientInfo['currency'], status: row.status as RecipientInfo['status'] });
    }
    return found;
  }
}
