import type { Pool, PoolClient } from 'pg';

/**
 * Cheap, read-only views of what the PostgreSQL server did during a benchmark cell, used as
 * evidence next to the timings: statements sent, WAL bytes written, WAL fsyncs issued.
 */

/** Settings that decide what a commit costs; printed with every result. */
const DURABILITY_SETTINGS = [
  'server_version',
  'fsync',
  'synchronous_commit',
  'wal_sync_method',
  'full_page_writes',
  'commit_delay',
  'commit_siblings',
  'wal_level',
  'data_checksums',
  'autovacuum',
  'shared_buffers',
  'max_connections',
] as const;

export type ServerSettings = Readonly<Record<(typeof DURABILITY_SETTINGS)[number], string>>;

export async function readServerSettings(pool: Pool): Promise<ServerSettings> {
  const { rows } = await pool.query<{ name: string; value: string }>(
    `SELECT name, CASE WHEN unit IS NULL THEN setting ELSE setting || ' × ' || unit END AS value
       FROM pg_settings WHERE name = ANY($1::text[])`,
    [DURABILITY_SETTINGS],
  );
  const byName = new Map(rows.map((row) => [row.name, row.value]));
  return Object.fromEntries(DURABILITY_SETTINGS.map((name) => [name, byName.get(name) ?? 'unknown'])) as ServerSettings;
}

export interface WalMark {
  readonly lsn: string;
  /** WAL fsyncs counted by pg_stat_io (PostgreSQL 16+), null when the view is missing. */
  readonly fsyncs: bigint | null;
}

export interface WalUsage {
  readonly walBytes: bigint;
  readonly fsyncs: bigint | null;
}

export async function markWal(pool: Pool): Promise<WalMark> {
  const { rows } = await pool.query<{ lsn: string; fsyncs: string | null }>(
    `SELECT pg_current_wal_lsn()::text AS lsn,
            CASE WHEN current_setting('server_version_num')::int >= 160000
                 THEN (SELECT coalesce(sum(fsyncs), 0)::text FROM pg_stat_io WHERE object = 'wal') END AS fsyncs`,
  );
  const row = rows[0]!;
  return { lsn: row.lsn, fsyncs: row.fsyncs === null ? null : BigInt(row.fsyncs) };
}

/**
 * WAL written and fsyncs issued since `since`. Backends publish their I/O counters when they
 * exit (or at most about once a second while busy), so call this after the cell's connections
 * are closed: see waitForBackendsToExit.
 */
export async function walUsageSince(pool: Pool, since: WalMark): Promise<WalUsage> {
  const now = await markWal(pool);
  const { rows } = await pool.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint::text AS bytes', [
    now.lsn,
    since.lsn,
  ]);
  return {
    walBytes: BigInt(rows[0]!.bytes),
    fsyncs: now.fsyncs === null || since.fsyncs === null ? null : now.fsyncs - since.fsyncs,
  };
}

/**
 * Vacuums and analyses the event-store tables of each schema, so that autovacuum, triggered by
 * rows an earlier cell wrote, is unlikely to start in the middle of the next cell and bill its
 * work to whichever implementation is running then.
 */
export async function vacuumEventStores(pool: Pool, schemas: readonly string[]): Promise<void> {
  for (const schema of schemas) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`Invalid schema name '${schema.slice(0, 80)}'`);
    await pool.query(`VACUUM (ANALYZE) ${schema}.events, ${schema}.streams`);
  }
}

/** Flushes dirty pages so each cell starts from the same state (full-page writes restart too). */
export async function checkpoint(pool: Pool): Promise<void> {
  await pool.query('CHECKPOINT');
}

/** Waits, bounded, until no backend with this application_name is left. */
export async function waitForBackendsToExit(pool: Pool, applicationName: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);
    if (rows[0]!.n === 0) return;
    if (Date.now() > deadline) throw new Error(`Backends of '${applicationName}' still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10)); // poll interval; backends exit within milliseconds
  }
}

export interface StatementCounter {
  /** Statements sent by every client of the pool since the counter was attached. */
  readonly count: number;
}

/**
 * Counts statements (each one a network round trip with the `pg` driver) sent through any client
 * of `pool`, including those the pool hands to code under test. Attach before the first connect.
 * The cost is one increment per query, negligible next to a round trip.
 */
export function countStatements(pool: Pool): StatementCounter {
  const counter = { count: 0 };
  pool.on('connect', (client: PoolClient) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      counter.count += 1;
      return original(...args);
    };
  });
  return counter;
}

/**
 * The next transaction id the server will assign (`pg_snapshot_xmax` of the current snapshot),
 * read without taking one. The difference between two marks is the number of transactions that
 * wrote something in between, i.e. commits (and rollbacks) that cost a WAL flush: divide the
 * operations done by it to see how many a group commit put in one transaction. Exact and
 * immediate, unlike the statistics views, which backends publish with a delay.
 */
export async function markTransactionId(pool: Pool): Promise<bigint> {
  const { rows } = await pool.query<{ xmax: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xmax');
  return BigInt(rows[0]!.xmax);
}

/** VACUUM (ANALYZE) of the given schema-qualified tables (see vacuumEventStores for why). */
export async function vacuumTables(pool: Pool, qualifiedTables: readonly string[]): Promise<void> {
  for (const table of qualifiedTables) {
    if (!/^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/.test(table)) throw new Error(`Invalid table name '${table.slice(0, 130)}'`);
  }
  if (qualifiedTables.length > 0) await pool.query(`VACUUM (ANALYZE) ${qualifiedTables.join(', ')}`);
}
