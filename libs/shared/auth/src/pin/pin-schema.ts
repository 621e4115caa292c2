import { applyMigrations, type SchemaMigration } from '@ledger/infra';
import type { Pool } from 'pg';

/** Schema names are interpolated into SQL, so they are checked, never escaped (as in the event store). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertPinSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`Invalid PostgreSQL schema name '${schema.slice(0, 80)}': use lower-case letters, digits and _`);
  }
}


/**
 * Append-only list: never edit a released migration, add a new one. Tracked in its own
 * `auth_schema_migrations` table, so the auth tables may share a schema with other stores.
 */
export const PIN_STORE_MIGRATIONS: readonly SchemaMigration[] = [
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
  return applyMigrations(pool, { schema, historyTable: 'auth_schema_migrations', lockName: 'auth-migrations', migrations: PIN_STORE_MIGRATIONS });
}
