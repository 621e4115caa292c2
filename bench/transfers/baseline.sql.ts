import type { Pool, PoolClient } from 'pg';
import { sqlReason } from './transfer-outcomes';
import type { TransferClient, TransferRequest } from './service.clients';
import type { BaselineMode } from './transfers.config';

/**
 * The naive limit the ledger must beat (ARCHITECTURE.md, "Performance stance"): raw PostgreSQL on
 * the same server, ONE transaction per transfer, each commit flushed to disk (fsync on) before it
 * is acknowledged. A transfer locks the two balance rows in id order (no deadlocks), checks the
 * source's funds, updates both rows and inserts a journal row carrying the idempotency key
 * (unique), then commits.
 *
 * - `function` (default): all of it inside one PL/pgSQL function called in autocommit mode: one
 *   round trip and one transaction, so the row locks are held only for the server-side work and
 *   the commit's WAL flush. The strongest form of "one transaction per transfer".
 * - `statements`: the same steps sent one by one from the client (BEGIN; SELECT … FOR UPDATE;
 *   UPDATE; UPDATE; INSERT; COMMIT): six round trips, locks held across them, as an application
 *   without stored code would do it.
 *
 * Left out, because they are the service's work being measured: authentication, request
 * parsing and validation, the event log (hash chain, one event per side, stream heads),
 * idempotency replays, and the network hop from a caller.
 */

export const BASELINE_SCHEMA = 'bench_baseline';
export const BASELINE_TABLES = [`${BASELINE_SCHEMA}.balances`, `${BASELINE_SCHEMA}.journal`] as const;

export async function migrateBaseline(pool: Pool): Promise<void> {
  const s = BASELINE_SCHEMA;
  await pool.query(`
    CREATE SCHEMA ${s};
    CREATE TABLE ${s}.balances (
      wallet_id uuid PRIMARY KEY,
      balance_minor bigint NOT NULL CHECK (balance_minor >= 0)
    );
    CREATE TABLE ${s}.journal (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      idempotency_key text NOT NULL UNIQUE,
      from_wallet uuid NOT NULL,
      to_wallet uuid NOT NULL,
      amount_minor bigint NOT NULL CHECK (amount_minor > 0),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE FUNCTION ${s}.transfer(p_key text, p_from uuid, p_to uuid, p_amount bigint) RETURNS bigint
    LANGUAGE plpgsql AS $$
    DECLARE
      available bigint;
    BEGIN
      PERFORM 1 FROM ${s}.balances WHERE wallet_id IN (p_from, p_to) ORDER BY wallet_id FOR UPDATE;
      SELECT balance_minor INTO available FROM ${s}.balances WHERE wallet_id = p_from;
      IF NOT FOUND THEN RAISE EXCEPTION 'WALLET_NOT_FOUND'; END IF;
      IF available < p_amount THEN RAISE EXCEPTION 'INSUFFICIENT_FUNDS'; END IF;
      UPDATE ${s}.balances SET balance_minor = balance_minor - p_amount WHERE wallet_id = p_from;
      UPDATE ${s}.balances SET balance_minor = balance_minor + p_amount WHERE wallet_id = p_to;
      IF NOT FOUND THEN RAISE EXCEPTION 'WALLET_NOT_FOUND'; END IF;
      INSERT INTO ${s}.journal (idempotency_key, from_wallet, to_wallet, amount_minor) VALUES (p_key, p_from, p_to, p_amount);
      RETURN available - p_amount;
    END
    $$;`);
}

/** Opens baseline wallets with the same ids and balances as the service's. */
export async function insertBaselineWallets(pool: Pool, walletIds: readonly string[], fundsMinor: bigint): Promise<void> {
  await pool.query(`INSERT INTO ${BASELINE_SCHEMA}.balances (wallet_id, balance_minor) SELECT unnest($1::uuid[]), $2::bigint`, [
    walletIds,
    fundsMinor.toString(),
  ]);
}

export async function baselineTotals(pool: Pool): Promise<{ wallets: number; balancesMinor: bigint; journalRows: number }> {
  const { rows } = await pool.query<{ wallets: number; total: string; journal: number }>(
    `SELECT (SELECT count(*)::int FROM ${BASELINE_SCHEMA}.balances) AS wallets,
            (SELECT coalesce(sum(balance_minor), 0)::text FROM ${BASELINE_SCHEMA}.balances) AS total,
            (SELECT count(*)::int FROM ${BASELINE_SCHEMA}.journal) AS journal`,
  );
  return { wallets: rows[0]!.wallets, balancesMinor: BigInt(rows[0]!.total), journalRows: rows[0]!.journal };
}

export class SqlBaselineClient implements TransferClient {
  constructor(
    private readonly pool: Pool,
    private readonly mode: BaselineMode,
  ) {}

  async transfer(request: TransferRequest): Promise<string | null> {
    try {
      if (this.mode === 'function') await this.viaFunction(request);
      else await this.viaStatements(request);
      return null;
    } catch (error) {
      return sqlReason(error);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async viaFunction(request: TransferRequest): Promise<void> {
    await this.pool.query({
      name: 'bench-transfer',
      text: `SELECT ${BASELINE_SCHEMA}.transfer($1, $2, $3, $4)`,
      values: [request.idempotencyKey, request.from, request.to, request.amountMinor],
    });
  }

  private async viaStatements(request: TransferRequest): Promise<void> {
    const s = BASELINE_SCHEMA;
    const client: PoolClient = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        const { rows } = await client.query<{ wallet_id: string; balance_minor: string }>({
          name: 'bench-lock',
          text: `SELECT wallet_id, balance_minor FROM ${s}.balances WHERE wallet_id IN ($1, $2) ORDER BY wallet_id FOR UPDATE`,
          values: [request.from, request.to],
        });
        const source = rows.find((row) => row.wallet_id === request.from);
        if (rows.length !== 2 || source === undefined) throw refusal('WALLET_NOT_FOUND');
        if (BigInt(source.balance_minor) < BigInt(request.amountMinor)) throw refusal('INSUFFICIENT_FUNDS');
        await client.query({ name: 'bench-debit', text: `UPDATE ${s}.balances SET balance_minor = balance_minor - $2 WHERE wallet_id = $1`, values: [request.from, request.amountMinor] });
        await client.query({ name: 'bench-credit', text: `UPDATE ${s}.balances SET balance_minor = balance_minor + $2 WHERE wallet_id = $1`, values: [request.to, request.amountMinor] });
        await client.query({
          name: 'bench-journal',
          text: `INSERT INTO ${s}.journal (idempotency_key, from_wallet, to_wallet, amount_minor) VALUES ($1, $2, $3, $4)`,
          values: [request.idempotencyKey, request.from, request.to, request.amountMinor],
        });
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }
}

/** A refusal shaped like the function's RAISE, so both modes report it the same way. */
function refusal(reason: string): Error {
  return Object.assign(new Error(reason), { code: 'P0001' });
}
