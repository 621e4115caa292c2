import type { Pool, PoolClient } from 'pg';

/** Schema names are interpolated into SQL, so they are checked, never escaped (as in the event store). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertPinSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`Invalid PostgreSQL schema name '${schema.slice(0, 80)}': use lower-case letters, digits and _`);
  }
}

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (schema: string) => string;
}

/**
 * Append-only list: never edit a released migration, add a new one. Tracked in its own
 * `auth_schema_migrations` table, so the auth tables may share a schema with other stores.
 */
export const PIN_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'transaction_pins',
    // No PIN, only its scrypt hash with the salt and parameters that produced it.
    sql: (s) => `
      CREATE TABLE ${s}.transaction_pins (
        owner_id             text        PRIMARY KEY CHECK (length(owner_id) BETWEEN 1 AND 200),
        pin_hash             bytea       NOT NULL,
        salt                 bytea       NOT NULL CHECK (length(salt) >= 16),
        scrypt_n             integer     NOT NULL CHECK (scrypt_n > 1),
        scrypt_r             integer     NOT NULL CHECK (scrypt_r > 0),
        scrypt_p             integer     NOT NULL CHECK (scrypt_p > 0),
        key_length           integer     NOT NULL CHECK (key_length = length(pin_hash)),
        consecutive_failures integer     NOT NULL CHECK (consecutive_failures >= 0),
        locked_until         timestamptz NULL,
        updated_at           timestamptz NOT NULL
      );
    `,
  },
];

/**
 * Applies pending migrations in one transaction under an advisory lock, so several instances
 * booting together migrate once. Safe to call on every start.
 */
export async function migratePinStore(pool: Pool, schema: string): Promise<number[]> {
  assertPinSchemaName(schema);
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`auth-migrations:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.auth_schema_migrations (
         version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.auth_schema_migrations`);
    const applied = new Set(rows.map((row) => row.version));
    const newlyApplied: number[] = [];
    for (const migration of PIN_STORE_MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql(schema));
      await client.query(`INSERT INTO ${schema}.auth_schema_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      newlyApplied.push(migration.version);
    }
    await client.query('COMMIT');
    return newlyApplied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
