import type { ReadModelSnapshot } from './wallet-read-model.store';

/**
 * The SQL of the wallet queries, one function per read, each inside a snapshot. Numbers that can
 * exceed 2^53 (positions, revisions, minor units) are read as text and never pass through a JS
 * number. Every read is bounded: by primary key, by LIMIT, or by the bounded id list.
 */

export interface BalanceRow {
  wallet_id: string;
  owner_id: string;
  currency: string;
  status: string;
  balance_minor: string;
  held_minor: string;
  stream_revision: string;
  global_position: string;
  updated_at: Date;
}

/** One history row: the wallet after one event of its stream. */
export interface HistoryRow {
  wallet_id: string;
  stream_revision: string;
  global_position: string;
  recorded_at: Date;
  type: string;
  amount_minor: string;
  balance_after: string;
  held_after: string;
  currency: string;
  counterparty: string | null;
  transaction_id: string | null;
  hold_id: string | null;
  reference: string | null;
  correlation_id: string | null;
}

export interface DirectoryRow {
  wallet_id: string;
  owner_id: string;
  currency: string;
  status: string;
  opened_at: Date;
}

/** A wallet's state after its last event at or below a position (multi-wallet reads). */
export type BalanceAtRow = Pick<DirectoryRow, 'wallet_id' | 'owner_id' | 'currency'> &
  Pick<HistoryRow, 'stream_revision' | 'global_position' | 'recorded_at' | 'balance_after' | 'held_after'>;

/**
 * Columns of a history row, read from the table aliased `h`. The text casts keep their column
 * names, so ORDER BY and WHERE must always name `h.` columns: an unqualified ORDER BY
 * stream_revision would sort the text output column ('10' before '2').
 */
const HISTORY_COLUMNS = `h.wallet_id, h.stream_revision::text AS stream_revision, h.global_position::text AS global_position, h.recorded_at, h.type,
  h.amount_minor::text AS amount_minor, h.balance_after::text AS balance_after, h.held_after::text AS held_after, h.currency,
  h.counterparty, h.transaction_id, h.hold_id, h.reference, h.correlation_id`;

export async function selectBalance(s: ReadModelSnapshot, walletId: string): Promise<BalanceRow | undefined> {
  const { rows } = await s.client.query<BalanceRow>(
    `SELECT wallet_id, owner_id, currency, status, balance_minor::text AS balance_minor, held_minor::text AS held_minor,
            stream_revision::text AS stream_revision, global_position::text AS global_position, updated_at
       FROM ${s.tables.balances} WHERE wallet_id = $1`,
    [walletId],
  );
  return rows[0];
}

/** Directory rows of the given wallets (owner ids for authorisation). */
export async function selectDirectoryEntries(s: ReadModelSnapshot, walletIds: readonly string[]): Promise<Map<string, DirectoryRow>> {
  const { rows } = await s.client.query<DirectoryRow>(
    `SELECT wallet_id, owner_id, currency, status, opened_at FROM ${s.tables.directory} WHERE wallet_id = ANY($1::text[])`,
    [walletIds],
  );
  return new Map(rows.map((row) => [row.wallet_id, row]));
}

/**
 * Each wallet's last history row with global_position ≤ `position`, in the order asked. A wallet
 * with no row at or below it is absent from the result.
 */
export async function selectBalancesAtPosition(s: ReadModelSnapshot, walletIds: readonly string[], position: bigint): Promise<BalanceAtRow[]> {
  const { rows } = await s.client.query<BalanceAtRow>(
    `SELECT d.wallet_id, d.owner_id, d.currency, h.stream_revision::text AS stream_revision, h.global_position::text AS global_position,
            h.recorded_at, h.balance_after::text AS balance_after, h.held_after::text AS held_after
       FROM unnest($1::text[]) WITH ORDINALITY AS wanted(wallet_id, ord)
       JOIN ${s.tables.directory} d ON d.wallet_id = wanted.wallet_id
       JOIN LATERAL (
         SELECT stream_revision, global_position, recorded_at, balance_after, held_after
           FROM ${s.tables.history} h
          WHERE h.wallet_id = wanted.wallet_id AND h.global_position <= $2::bigint
          ORDER BY h.global_position DESC
          LIMIT 1
       ) h ON true
      ORDER BY wanted.ord`,
    [walletIds, position.toString()],
  );
  return rows;
}

/** The wallet's last event recorded at or before `at`. */
export async function selectHistoryAtTime(s: ReadModelSnapshot, walletId: string, at: Date): Promise<HistoryRow | undefined> {
  const { rows } = await s.client.query<HistoryRow>(
    `SELECT ${HISTORY_COLUMNS} FROM ${s.tables.history} h
      WHERE h.wallet_id = $1 AND h.recorded_at <= $2
      ORDER BY h.recorded_at DESC, h.stream_revision DESC LIMIT 1`,
    [walletId, at],
  );
  return rows[0];
}

/** The wallet's first event (revision 0 unless history was trimmed): for WALLET_NOT_YET_OPENED. */
export async function selectFirstHistory(s: ReadModelSnapshot, walletId: string): Promise<HistoryRow | undefined> {
  const { rows } = await s.client.query<HistoryRow>(`SELECT ${HISTORY_COLUMNS} FROM ${s.tables.history} h WHERE h.wallet_id = $1 ORDER BY h.stream_revision LIMIT 1`, [walletId]);
  return rows[0];
}

export interface HistoryPageQuery {
  readonly walletId: string;
  readonly from: Date | undefined;
  readonly to: Date | undefined;
  readonly types: readonly string[] | undefined;
  readonly newestFirst: boolean;
  /** Continue strictly after this revision (in the page order). */
  readonly afterRevision: bigint | undefined;
  readonly limit: number;
}

/** Keyset page over (wallet_id, stream_revision), the primary key. */
export async function selectHistoryPage(s: ReadModelSnapshot, q: HistoryPageQuery): Promise<HistoryRow[]> {
  const direction = q.newestFirst ? 'DESC' : 'ASC';
  const after = q.newestFirst ? '<' : '>';
  const { rows } = await s.client.query<HistoryRow>(
    `SELECT ${HISTORY_COLUMNS} FROM ${s.tables.history} h
      WHERE h.wallet_id = $1
        AND ($2::timestamptz IS NULL OR h.recorded_at >= $2::timestamptz)
        AND ($3::timestamptz IS NULL OR h.recorded_at < $3::timestamptz)
        AND ($4::text[] IS NULL OR h.type = ANY($4::text[]))
        AND ($5::bigint IS NULL OR h.stream_revision ${after} $5::bigint)
      ORDER BY h.stream_revision ${direction}
      LIMIT $6`,
    [q.walletId, q.from ?? null, q.to ?? null, q.types ?? null, q.afterRevision?.toString() ?? null, q.limit],
  );
  return rows;
}

/** Keyset page of an owner's wallets by wallet id. */
export async function selectWalletsOfOwner(s: ReadModelSnapshot, ownerId: string, afterWalletId: string | undefined, limit: number): Promise<DirectoryRow[]> {
  const { rows } = await s.client.query<DirectoryRow>(
    `SELECT wallet_id, owner_id, currency, status, opened_at FROM ${s.tables.directory}
      WHERE owner_id = $1 AND ($2::text IS NULL OR wallet_id > $2::text)
      ORDER BY wallet_id LIMIT $3`,
    [ownerId, afterWalletId ?? null, limit],
  );
  return rows;
}
