import type { RecordedEvent } from '@ledger/event-store';
import { pgArrayLiteral } from '@ledger/infra';
import type { PoolClient } from 'pg';
import type { WalletReadModelTables } from './read-models.schema';
import { holdKey, holdsToLoad, planWalletBatch, walletIdOf, type StoredWallet, type WalletBatchPlan, type WalletStatus } from './wallet-projection.plan';

/**
 * Applies a batch of wallet events to one version's tables inside the caller's transaction:
 * one statement to lock and read the touched balances rows, one for the hold amounts the batch
 * resolves, then one multi-row statement per table (unnest of column arrays), whatever the batch
 * size. That is what lets a rebuild reach tens of thousands of events per second.
 *
 * The balances rows are locked (FOR UPDATE) so two appliers of one wallet (a Kafka rebalance
 * overlap, two projector processes) serialise; the second then sees the first's revision and
 * skips its events as duplicates. A wallet's first event has no row to lock: two racing appliers
 * both insert history revision 0 and the second fails with a unique violation, an operating
 * error its runner retries (it then sees a duplicate).
 *
 * The plan's poison, if any, is returned, not thrown: the caller commits the prefix before it
 * (with the matching watermark) and records the stop, so nothing after the poison is applied and
 * nothing before it is lost.
 */
export async function applyWalletEvents(client: PoolClient, tables: WalletReadModelTables, events: readonly RecordedEvent[]): Promise<WalletBatchPlan> {
  const walletIds = new Set<string>();
  for (const event of events) {
    try {
      walletIds.add(walletIdOf(event));
    } catch {
      // planWalletBatch reports it at its place in the batch.
    }
  }
  const stored = await loadWallets(client, tables, [...walletIds]);
  const holds = await loadHolds(client, tables, holdsToLoad(events));
  const plan = planWalletBatch(events, stored, holds);
  await writePlan(client, tables, plan);
  return plan;
}

interface BalanceRecord {
  wallet_id: string;
  owner_id: string;
  currency: string;
  status: WalletStatus;
  balance_minor: string;
  held_minor: string;
  stream_revision: string;
  global_position: string;
}

async function loadWallets(client: PoolClient, tables: WalletReadModelTables, walletIds: readonly string[]): Promise<Map<string, StoredWallet>> {
  const stored = new Map<string, StoredWallet>();
  if (walletIds.length === 0) return stored;
  // Sorted ids: concurrent appliers lock rows in one order and cannot deadlock each other.
  const { rows } = await client.query<BalanceRecord>(
    `SELECT wallet_id, owner_id, currency, status, balance_minor::text, held_minor::text, stream_revision::text, global_position::text
       FROM ${tables.balances} WHERE wallet_id = ANY($1::text[]) ORDER BY wallet_id COLLATE "C" FOR UPDATE`,
    [[...walletIds].sort()],
  );
  for (const row of rows) {
    stored.set(row.wallet_id, {
      walletId: row.wallet_id,
      ownerId: row.owner_id,
      currency: row.currency,
      status: row.status,
      balanceMinor: BigInt(row.balance_minor),
      heldMinor: BigInt(row.held_minor),
      streamRevision: BigInt(row.stream_revision),
      globalPosition: BigInt(row.global_position),
    });
  }
  return stored;
}

async function loadHolds(client: PoolClient, tables: WalletReadModelTables, keys: ReturnType<typeof holdsToLoad>): Promise<Map<string, bigint>> {
  const holds = new Map<string, bigint>();
  if (keys.length === 0) return holds;
  const { rows } = await client.query<{ wallet_id: string; hold_id: string; amount_minor: string }>(
    `SELECT h.wallet_id, h.hold_id, h.amount_minor::text FROM ${tables.openHolds} h
       JOIN unnest($1::text[], $2::text[]) AS k(wallet_id, hold_id) USING (wallet_id, hold_id)`,
    [keys.map((k) => k.walletId), keys.map((k) => k.holdId)],
  );
  for (const row of rows) holds.set(holdKey(row.wallet_id, row.hold_id), BigInt(row.amount_minor));
  return holds;
}

async function writePlan(client: PoolClient, t: WalletReadModelTables, plan: WalletBatchPlan): Promise<void> {
  if (plan.history.length > 0) {
    const h = plan.history;
    // History first: a racing first insert of a wallet fails here, before anything else moved.
    await client.query(
      `INSERT INTO ${t.history} (wallet_id, stream_revision, event_id, global_position, recorded_at, type, amount_minor, balance_after,
                                 held_after, currency, counterparty, transaction_id, hold_id, reference, idempotency_key, correlation_id)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::bigint[], $5::timestamptz[], $6::text[], $7::numeric[], $8::numeric[],
                            $9::numeric[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])`,
      [
        pgArrayLiteral(h.map((r) => r.walletId)),
        pgArrayLiteral(h.map((r) => r.streamRevision.toString())),
        pgArrayLiteral(h.map((r) => r.eventId)),
        pgArrayLiteral(h.map((r) => r.globalPosition.toString())),
        pgArrayLiteral(h.map((r) => r.recordedAt.toISOString())),
        pgArrayLiteral(h.map((r) => r.type)),
        pgArrayLiteral(h.map((r) => r.amountMinor.toString())),
        pgArrayLiteral(h.map((r) => r.balanceAfter.toString())),
        pgArrayLiteral(h.map((r) => r.heldAfter.toString())),
        pgArrayLiteral(h.map((r) => r.currency)),
        pgArrayLiteral(h.map((r) => r.counterparty)),
        pgArrayLiteral(h.map((r) => r.transactionId)),
        pgArrayLiteral(h.map((r) => r.holdId)),
        pgArrayLiteral(h.map((r) => r.reference)),
        pgArrayLiteral(h.map((r) => r.idempotencyKey)),
        pgArrayLiteral(h.map((r) => r.correlationId)),
      ],
    );
  }
  if (plan.balances.length > 0) {
    const b = plan.balances;
    await client.query(
      `INSERT INTO ${t.balances} AS b (wallet_id, owner_id, currency, status, balance_minor, held_minor, stream_revision, global_position, updated_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::numeric[], $7::bigint[], $8::bigint[], $9::timestamptz[])
       ON CONFLICT (wallet_id) DO UPDATE SET status = EXCLUDED.status, balance_minor = EXCLUDED.balance_minor, held_minor = EXCLUDED.held_minor,
         stream_revision = EXCLUDED.stream_revision, global_position = EXCLUDED.global_position, updated_at = EXCLUDED.updated_at`,
      [
        pgArrayLiteral(b.map((r) => r.walletId)),
        pgArrayLiteral(b.map((r) => r.ownerId)),
        pgArrayLiteral(b.map((r) => r.currency)),
        pgArrayLiteral(b.map((r) => r.status)),
        pgArrayLiteral(b.map((r) => r.balanceMinor.toString())),
        pgArrayLiteral(b.map((r) => r.heldMinor.toString())),
        pgArrayLiteral(b.map((r) => r.streamRevision.toString())),
        pgArrayLiteral(b.map((r) => r.globalPosition.toString())),
        pgArrayLiteral(b.map((r) => r.updatedAt.toISOString())),
      ],
    );
  }
  if (plan.directoryInserts.length > 0) {
    const d = plan.directoryInserts;
    await client.query(
      `INSERT INTO ${t.directory} (wallet_id, owner_id, currency, status, opened_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])`,
      [pgArrayLiteral(d.map((r) => r.walletId)), pgArrayLiteral(d.map((r) => r.ownerId)), pgArrayLiteral(d.map((r) => r.currency)), pgArrayLiteral(d.map((r) => r.status)), pgArrayLiteral(d.map((r) => r.openedAt))],
    );
  }
  if (plan.directoryStatus.length > 0) {
    const d = plan.directoryStatus;
    await client.query(
      `UPDATE ${t.directory} d SET status = u.status FROM unnest($1::text[], $2::text[]) AS u(wallet_id, status) WHERE d.wallet_id = u.wallet_id`,
      [pgArrayLiteral(d.map((r) => r.walletId)), pgArrayLiteral(d.map((r) => r.status))],
    );
  }
  if (plan.holdsToDelete.length > 0) {
    const k = plan.holdsToDelete;
    await client.query(
      `DELETE FROM ${t.openHolds} h USING unnest($1::text[], $2::text[]) AS k(wallet_id, hold_id) WHERE h.wallet_id = k.wallet_id AND h.hold_id = k.hold_id`,
      [pgArrayLiteral(k.map((r) => r.walletId)), pgArrayLiteral(k.map((r) => r.holdId))],
    );
  }
  if (plan.holdsToUpsert.length > 0) {
    const u = plan.holdsToUpsert;
    await client.query(
      `INSERT INTO ${t.openHolds} (wallet_id, hold_id, amount_minor) SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[])
       ON CONFLICT (wallet_id, hold_id) DO UPDATE SET amount_minor = EXCLUDED.amount_minor`,
      [pgArrayLiteral(u.map((r) => r.walletId)), pgArrayLiteral(u.map((r) => r.holdId)), pgArrayLiteral(u.map((r) => r.amountMinor.toString()))],
    );
  }
}
