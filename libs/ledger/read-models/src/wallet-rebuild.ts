import type { EventStore, RecordedEvent } from '@ledger/event-store';
import { WALLET_CATEGORY } from '@ledger/ledger-domain';
import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '@ledger/infra';
import { readWatermark, STORE_WATERMARK_SOURCE } from './projection-state';
import { createWalletTables, dropWalletTables, ensureWalletProjection, walletTables, WALLETS_PROJECTION, type WalletReadModelTables } from './read-models.schema';
import { applyWalletEvents } from './wallet-projection.store';

const LOCK_NOT_AVAILABLE = '55P03';
const MAX_SWITCH_ATTEMPTS = 5;

export interface RebuildOptions {
  readonly pool: Pool;
  readonly store: EventStore;
  readonly schema: string;
  /** Events per readAll; 1..the store's maxReadCount. */
  readonly readBatchSize: number;
  /**
   * Events applied per transaction. Bigger is faster, but each transaction holds an xid, which
   * holds back the event store's read horizon for every reader of the cluster (ADR 0002) for as
   * long as it runs: keep one transaction well under a second.
   */
  readonly eventsPerTransaction: number;
  /** Bound on waiting for the live appliers at the switch, milliseconds. */
  readonly switchLockTimeoutMs: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RebuildProgress) => void;
}

export interface RebuildProgress {
  readonly phase: 'replaying' | 'switching' | 'switched';
  readonly version: number;
  /** The store position replayed up to (exclusive checkpoint of the reads). */
  readonly position: bigint;
  /** The live version's watermark the replay must reach before it may switch. */
  readonly target: bigint;
  readonly events: number;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
}

export interface RebuildResult {
  readonly previousVersion: number;
  readonly version: number;
  readonly events: number;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
  /** Versions whose tables were dropped before the build (older than the previous live one). */
  readonly droppedVersions: readonly number[];
}

export class RebuildAlreadyRunningError extends Error {
  readonly code = 'REBUILD_ALREADY_RUNNING' as const;
  constructor(schema: string) {
    super(`Another rebuild of the wallet projection in schema ${schema} holds the rebuild lock`);
    this.name = 'RebuildAlreadyRunningError';
  }
}

/**
 * Rebuilds the wallet projection side by side (ADR 0007):
 *
 * 1. Under a session advisory lock (one rebuild at a time), drop what an earlier rebuild left
 *    half-built and every version older than the live one (the version live before the last
 *    switch was kept until now for queries still reading it), create version n+1 and record
 *    building_version.
 * 2. Replay the store's global log (wallet category) from position 0 into n+1, many events per
 *    transaction with multi-row statements, recording build_position/build_events/build_target
 *    with each transaction. The live runner keeps serving version n meanwhile.
 * 3. Once the replay reached the store's read horizon and the live watermark, switch in ONE
 *    transaction: lock the projection_state row FOR UPDATE (waits for the live appliers, which
 *    hold KEY SHARE, and holds new ones off), replay the last events up to the current horizon
 *    (so n+1 holds everything n holds: the live runner only ever applied events below an earlier
 *    horizon), carry n's watermark rows over (never lowering n+1's), and set live_version = n+1.
 *    Blocked appliers then resume in n+1, where what they re-apply is a duplicate.
 *
 * Version n is not dropped at the switch: queries that resolved it just before still read it.
 * The next rebuild drops it.
 *
 * @throws RebuildAlreadyRunningError; ProjectionPoisonError when an event cannot be applied (the
 *   live version is untouched; building_version stays recorded until the next rebuild drops it).
 */
export async function rebuildWalletProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { pool, schema } = options;
  assertCount('readBatchSize', options.readBatchSize, 1, 100_000);
  assertCount('eventsPerTransaction', options.eventsPerTransaction, 1, 65_536);
  await ensureWalletProjection(pool, schema);
  const lockClient = await pool.connect();
  try {
    const { rows } = await lockClient.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [`read-model-rebuild:${schema}`]);
    if (!rows[0]?.locked) throw new RebuildAlreadyRunningError(schema);
    try {
      return await rebuildLocked(options);
    } finally {
      await lockClient.query('SELECT pg_advisory_unlock(hashtext($1))', [`read-model-rebuild:${schema}`]);
    }
  } finally {
    lockClient.release();
  }
}

async function rebuildLocked(options: RebuildOptions): Promise<RebuildResult> {
  const { pool, schema } = options;
  const startedMs = Date.now();
  const { live, next, dropped } = await prepareVersion(pool, schema);
  const nextTables = walletTables(schema, next);
  const liveTables = walletTables(schema, live);
  let position = 0n;
  let events = 0;
  let target = 0n;
  const progress = (phase: RebuildProgress['phase']): void => {
    const elapsedMs = Date.now() - startedMs;
    options.onProgress?.({ phase, version: next, position, target, events, elapsedMs, eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : 0 });
  };

  // Replay: the next chunk is read while the current one is written (two connections).
  const readChunk = async (from: bigint): Promise<{ events: RecordedEvent[]; checkpoint: bigint; atHorizon: boolean }> => {
    const events: RecordedEvent[] = [];
    let checkpoint = from;
    while (events.length < options.eventsPerTransaction) {
      const result = await options.store.readAll({ fromPosition: checkpoint, maxCount: options.readBatchSize, filter: { categories: [WALLET_CATEGORY] } });
      events.push(...result.events);
      checkpoint = result.checkpoint;
      if (!result.isEndOfBatch) return { events, checkpoint, atHorizon: true };
    }
    return { events, checkpoint, atHorizon: false };
  };
  let pending = readChunk(position);
  for (;;) {
    if (options.signal?.aborted) throw new Error('Rebuild aborted');
    const chunk = await pending;
    position = chunk.checkpoint;
    pending = readChunk(position);
    pending.catch(() => undefined); // awaited next turn; a failure there is reported then
    target = await inTransaction(pool, async (client) => {
      // No WAL flush wait per replay transaction: a crash can only lose whole transactions of a
      // version that is not live yet, and a rebuild that died starts over anyway. The switch
      // below commits synchronously.
      await client.query('SET LOCAL synchronous_commit = off');
      await applyReplayed(client, nextTables, chunk.events);
      const liveWatermark = await readWatermark(client, liveTables);
      await client.query(
        `UPDATE ${schema}.projection_state SET build_position = $2, build_events = build_events + $3, build_target = $4, updated_at = now() WHERE projection = $1`,
        [WALLETS_PROJECTION, position.toString(), chunk.events.length, liveWatermark.toString()],
      );
      return liveWatermark;
    });
    events += chunk.events.length;
    progress('replaying');
    // At the read horizon: the switch replays the rest. Waiting here for the live watermark could
    // last forever: the live watermark is a read horizon too, and this loop reads ahead while its
    // own transaction is open, which holds its horizon back. The switch needs no such wait: it
    // reads after taking FOR UPDATE, when every live applier has committed, and the horizon then
    // is at or beyond any horizon a live applier saw before (a running transaction's xid is at
    // or above every earlier horizon).
    if (chunk.atHorizon) break;
  }
  await pending.catch(() => undefined);
  await restoreHistoryIndexes(pool, schema, next);

  progress('switching');
  for (let attempt = 1; ; attempt += 1) {
    try {
      await switchVersion(options, liveTables, nextTables, position, (extra, at) => {
        events += extra;
        position = at;
      });
      break;
    } catch (error) {
      // lock_not_available: a live applier held its lock past switchLockTimeoutMs; try again.
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE || attempt >= MAX_SWITCH_ATTEMPTS) throw error;
    }
  }
  const elapsedMs = Date.now() - startedMs;
  progress('switched');
  return { previousVersion: live, version: next, events, elapsedMs, eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : 0, droppedVersions: dropped };
}

/** Step 1: clean up, create n+1, record it as building. */
async function prepareVersion(pool: Pool, schema: string): Promise<{ live: number; next: number; dropped: number[] }> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ live_version: number; building_version: number | null }>(
      `SELECT live_version, building_version FROM ${schema}.projection_state WHERE projection = $1 FOR NO KEY UPDATE`,
      [WALLETS_PROJECTION],
    );
    const live = (rows[0] as { live_version: number }).live_version;
    const existing = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name ~ '^wallet_balances_v[0-9]+$'`,
      [schema],
    );
    const dropped: number[] = [];
    for (const row of existing.rows) {
      const version = Number(row.table_name.slice('wallet_balances_v'.length));
      if (version !== live) {
        await dropWalletTables(client, schema, version);
        dropped.push(version);
      }
    }
    const next = live + 1;
    const created = await createWalletTables(client, schema, next);
    // Bulk loading into a table without its secondary indexes and then building them is several
    // times cheaper than maintaining them row by row; restoreHistoryIndexes puts them back (the
    // same definitions, createWalletTables's own) before the version can become live.
    await client.query(
      `DROP INDEX ${schema}.wallet_history_v${next}_by_position, ${schema}.wallet_history_v${next}_by_time;
       ALTER TABLE ${created.history} DROP CONSTRAINT wallet_history_v${next}_event_id_key`,
    );
    await client.query(
      `UPDATE ${schema}.projection_state SET building_version = $2, build_started_at = now(), build_position = 0, build_target = 0, build_events = 0, updated_at = now()
        WHERE projection = $1`,
      [WALLETS_PROJECTION, next],
    );
    return { live, next, dropped: dropped.sort((a, b) => a - b) };
  });
}

/** The history indexes prepareVersion dropped for the bulk load, back before the switch. */
async function restoreHistoryIndexes(pool: Pool, schema: string, version: number): Promise<void> {
  const tables = walletTables(schema, version);
  await pool.query(`ALTER TABLE ${tables.history} ADD CONSTRAINT wallet_history_v${version}_event_id_key UNIQUE (event_id)`);
  await createWalletTables(pool, schema, version);
}

async function applyReplayed(client: PoolClient, tables: WalletReadModelTables, events: readonly RecordedEvent[]): Promise<void> {
  if (events.length === 0) return;
  const plan = await applyWalletEvents(client, tables, events);
  if (plan.poison) throw plan.poison;
}

/** Step 3: the final catch-up and the switch, in one transaction. */
async function switchVersion(
  options: RebuildOptions,
  liveTables: WalletReadModelTables,
  nextTables: WalletReadModelTables,
  fromPosition: bigint,
  advanced: (events: number, position: bigint) => void,
): Promise<void> {
  const { pool, schema } = options;
  await inTransaction(pool, async (client) => {
    await client.query(`SET LOCAL lock_timeout = ${Math.trunc(options.switchLockTimeoutMs)}`);
    await client.query(`SELECT live_version FROM ${schema}.projection_state WHERE projection = $1 FOR UPDATE`, [WALLETS_PROJECTION]);
    let position = fromPosition;
    let extra = 0;
    for (;;) {
      const page = await options.store.readAll({ fromPosition: position, maxCount: options.readBatchSize, filter: { categories: [WALLET_CATEGORY] } });
      await applyReplayed(client, nextTables, page.events);
      extra += page.events.length;
      position = page.checkpoint;
      if (!page.isEndOfBatch) break;
    }
    await client.query(
      `INSERT INTO ${nextTables.watermarks} AS w (source, position) SELECT source, position FROM ${liveTables.watermarks}
       ON CONFLICT (source) DO UPDATE SET position = GREATEST(w.position, EXCLUDED.position), updated_at = now()`,
    );
    // Embedded source: n+1 holds every wallet event up to `position`.
    await client.query(`UPDATE ${nextTables.watermarks} SET position = GREATEST(position, $2), updated_at = now() WHERE source = $1`, [STORE_WATERMARK_SOURCE, position.toString()]);
    await client.query(
      `UPDATE ${schema}.projection_state SET live_version = $2, building_version = NULL, build_position = $3, build_target = $3,
              build_events = build_events + $4, updated_at = now() WHERE projection = $1`,
      [WALLETS_PROJECTION, nextTables.version, position.toString(), extra],
    );
    advanced(extra, position);
  });
}

function assertCount(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`rebuildWalletProjection: ${name} must be an integer from ${min} to ${max}; got ${value}`);
}
