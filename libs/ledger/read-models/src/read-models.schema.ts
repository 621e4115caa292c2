import { applyMigrations, inTransaction, type SchemaMigration } from '@ledger/infra';
import type { Pool, PoolClient } from 'pg';

/**
 * The read models' PostgreSQL layout (ADR 0007). Tables of one projection version carry the
 * suffix `_v<n>`; a rebuild fills version n+1 beside the live version n and then switches
 * `projection_state.live_version`. Queries and the live projector resolve the live version.
 */

export const DEFAULT_READ_MODELS_SCHEMA = 'read_models';
/** The wallet projection: balances, history and directory share one version and one watermark. */
export const WALLETS_PROJECTION = 'wallets';
/** Versions are small positive integers; a bound keeps table names short and typos loud. */
export const MAX_PROJECTION_VERSION = 9_999;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertReadModelsSchema(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`Invalid read-models schema name '${schema.slice(0, 80)}': use lower-case letters, digits and _`);
}

export function assertProjectionVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1 || version > MAX_PROJECTION_VERSION) {
    throw new RangeError(`Projection version must be an integer from 1 to ${MAX_PROJECTION_VERSION}, got ${String(version)}`);
  }
}

/** Fully qualified names of one version's tables. */
export interface WalletReadModelTables {
  readonly version: number;
  readonly balances: string;
  readonly history: string;
  readonly directory: string;
  readonly watermarks: string;
  /**
   * Open holds (wallet, hold, amount still reserved): the projection's private working state, so
   * a capture, release, expiry or draw takes exactly what the hold reserves, as evolveWallet
   * does. A draw leaves the remaining amount (the row is deleted when nothing remains). Not a
   * query surface.
   */
  readonly openHolds: string;
}

export function walletTables(schema: string, version: number): WalletReadModelTables {
  assertReadModelsSchema(schema);
  assertProjectionVersion(version);
  return {
    version,
    balances: `${schema}.wallet_balances_v${version}`,
    history: `${schema}.wallet_history_v${version}`,
    directory: `${schema}.wallet_directory_v${version}`,
    watermarks: `${schema}.projection_watermarks_v${version}`,
    openHolds: `${schema}.wallet_open_holds_v${version}`,
  };
}

/** Append-only list: never edit a released migration, add a new one. */
export const READ_MODEL_MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: 'projection_state',
    // One row per projection: the version queries read, the version a rebuild is filling (if
    // any) and its progress. Version tables are created by createWalletTables, not here: a new
    // layout is a new version, filled by a rebuild.
    sql: (s) => `
      CREATE TABLE ${s}.projection_state (
        projection       text PRIMARY KEY,
        live_version     int NOT NULL CHECK (live_version >= 1),
        building_version int CHECK (building_version IS NULL OR building_version > live_version),
        build_started_at timestamptz,
        build_position   bigint,
        build_target     bigint,
        build_events     bigint,
        stopped_reason   text,
        updated_at       timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

export async function migrateReadModels(pool: Pool, schema: string = DEFAULT_READ_MODELS_SCHEMA): Promise<number[]> {
  assertReadModelsSchema(schema);
  return applyMigrations(pool, { schema, historyTable: 'schema_migrations', lockName: 'read-model-migrations', migrations: READ_MODEL_MIGRATIONS });
}

/**
 * Creates one version's tables if they do not exist (idempotent, safe to race).
 *
 * - balances: one row per wallet, as of its `stream_revision` (the last applied event of its
 *   stream) and that event's `global_position`. available = balance − held.
 * - history: one row per event of the wallet stream (lifecycle events too, amount 0), with the
 *   signed effect on the balance and the balances after it, so a balance at a position or time
 *   is the last row at or before it.
 * - directory: wallets by owner.
 * - watermarks: per source partition (embedded: one row, source 'store'), the position up to which
 *   every event has been applied; the projection's watermark is the minimum over its rows.
 * - open holds: the projection's working state (see WalletReadModelTables.openHolds).
 */
export async function createWalletTables(client: Pool | PoolClient, schema: string, version: number): Promise<WalletReadModelTables> {
  const t = walletTables(schema, version);
  const v = `v${version}`;
  await client.query(`
    CREATE TABLE IF NOT EXISTS ${t.balances} (
      wallet_id        text PRIMARY KEY,
      owner_id         text NOT NULL,
      currency         text NOT NULL,
      status           text NOT NULL,
      balance_minor    numeric(39, 0) NOT NULL,
      held_minor       numeric(39, 0) NOT NULL,
      stream_revision  bigint NOT NULL,
      global_position  bigint NOT NULL,
      updated_at       timestamptz NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${t.history} (
      wallet_id        text NOT NULL,
      stream_revision  bigint NOT NULL,
      event_id         uuid NOT NULL UNIQUE,
      global_position  bigint NOT NULL,
      recorded_at      timestamptz NOT NULL,
      type             text NOT NULL,
      amount_minor     numeric(39, 0) NOT NULL,
      balance_after    numeric(39, 0) NOT NULL,
      held_after       numeric(39, 0) NOT NULL,
      currency         text NOT NULL,
      counterparty     text,
      transaction_id   text,
      hold_id          text,
      reference        text,
      idempotency_key  text,
      correlation_id   text,
      PRIMARY KEY (wallet_id, stream_revision)
    );
    CREATE INDEX IF NOT EXISTS wallet_history_${v}_by_position ON ${t.history} (wallet_id, global_position);
    CREATE INDEX IF NOT EXISTS wallet_history_${v}_by_time ON ${t.history} (wallet_id, recorded_at, stream_revision);
    CREATE TABLE IF NOT EXISTS ${t.directory} (
      wallet_id        text PRIMARY KEY,
      owner_id         text NOT NULL,
      currency         text NOT NULL,
      status           text NOT NULL,
      opened_at        timestamptz NOT NULL
    );
    CREATE INDEX IF NOT EXISTS wallet_directory_${v}_by_owner ON ${t.directory} (owner_id, wallet_id);
    CREATE TABLE IF NOT EXISTS ${t.watermarks} (
      source           text PRIMARY KEY,
      position         bigint NOT NULL,
      updated_at       timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS ${t.openHolds} (
      wallet_id        text NOT NULL,
      hold_id          text NOT NULL,
      amount_minor     numeric(39, 0) NOT NULL,
      PRIMARY KEY (wallet_id, hold_id)
    );
  `);
  return t;
}

/** The live version of a projection, or undefined before its first start. */
export async function liveVersion(client: Pool | PoolClient, schema: string, projection: string = WALLETS_PROJECTION): Promise<number | undefined> {
  assertReadModelsSchema(schema);
  const { rows } = await client.query<{ live_version: number }>(`SELECT live_version FROM ${schema}.projection_state WHERE projection = $1`, [projection]);
  return rows[0]?.live_version;
}

/** Drops one version's tables (after a switch made another version live). */
export async function dropWalletTables(client: Pool | PoolClient, schema: string, version: number): Promise<void> {
  const t = walletTables(schema, version);
  await client.query(`DROP TABLE IF EXISTS ${t.balances}, ${t.history}, ${t.directory}, ${t.watermarks}, ${t.openHolds}`);
}

/**
 * Makes the projection usable: migrations, the projection_state row (live version 1 on a first
 * start) and the live version's tables. Idempotent and safe to race (several processes booting).
 * Returns the live version.
 */
export async function ensureWalletProjection(pool: Pool, schema: string = DEFAULT_READ_MODELS_SCHEMA): Promise<number> {
  await migrateReadModels(pool, schema);
  return inTransaction(pool, async (client) => {
    // Concurrent CREATE TABLE IF NOT EXISTS of one name can still collide in the catalog.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`read-model-tables:${schema}`]);
    await client.query(`INSERT INTO ${schema}.projection_state (projection, live_version) VALUES ($1, 1) ON CONFLICT (projection) DO NOTHING`, [WALLETS_PROJECTION]);
    const version = await liveVersion(client, schema);
    if (version === undefined) throw new Error(`projection_state has no row for '${WALLETS_PROJECTION}' after creating it`);
    await createWalletTables(client, schema, version);
    return version;
  });
}
