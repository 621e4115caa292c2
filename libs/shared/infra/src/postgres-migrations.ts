import type { Pool } from 'pg';
import { inTransaction } from './postgres-transaction';

export interface SchemaMigration {
  readonly version: number;
  readonly name: string;
  /** SQL for the given (already validated) schema name. */
  readonly sql: (schema: string) => string;
}

export interface ApplyMigrationsOptions {
  /** A validated schema name: it is interpolated into SQL. */
  readonly schema: string;
  /** Table (in the schema) recording applied versions; one per store sharing a schema. */
  readonly historyTable: string;
  /** Name of the advisory lock that serialises concurrent boots migrating the same store. */
  readonly lockName: string;
  /** Append-only list: never edit a released migration, add a new one. */
  readonly migrations: readonly SchemaMigration[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Applies pending migrations in one transaction under an advisory lock, so several instances
 * booting together migrate once and a failed migration leaves nothing half-applied. Safe to call
 * on every start; returns the versions it applied.
 */
export async function applyMigrations(pool: Pool, options: ApplyMigrationsOptions): Promise<number[]> {
  const { schema, historyTable } = options;
  if (!IDENTIFIER.test(schema) || !IDENTIFIER.test(historyTable)) throw new Error(`Invalid schema or table name: ${schema}.${historyTable}`);
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${options.lockName}:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.${historyTable} (
         version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.${historyTable}`);
    const applied = new Set(rows.map((row) => row.version));
    const newlyApplied: number[] = [];
    for (const migration of options.migrations) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql(schema));
      await client.query(`INSERT INTO ${schema}.${historyTable} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      newlyApplied.push(migration.version);
    }
    return newlyApplied;
  });
}
