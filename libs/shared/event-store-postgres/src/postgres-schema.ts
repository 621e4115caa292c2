import type { Pool, PoolClient } from 'pg';

/** Schema names are interpolated into SQL, so they are checked, never escaped. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`Invalid PostgreSQL schema name '${schema.slice(0, 80)}': use lower-case letters, digits and _`);
  }
}

/**
 * Global positions are `transaction id × 2^16 + index within the transaction` (ADR 0002), so a
 * transaction may write at most this many events.
 */
export const EVENTS_PER_TRANSACTION_LIMIT = 65_536;
export const POSITION_SHIFT = 65_536n;

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (schema: string) => string;
}

/** Append-only list: never edit a released migration, add a new one. */
export const EVENT_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'streams, events, checkpoints',
    sql: (s) => `
      CREATE TABLE ${s}.streams (
        stream_id  text   PRIMARY KEY,
        -- revision of the last event; -1 exists only inside an uncommitted append creating the stream
        revision   bigint NOT NULL,
        last_hash  text   NOT NULL
      );
      CREATE TABLE ${s}.events (
        position    bigint      PRIMARY KEY,
        event_id    uuid        NOT NULL UNIQUE,
        stream_id   text        NOT NULL,
        revision    bigint      NOT NULL,
        category    text        NOT NULL,
        type        text        NOT NULL,
        data        jsonb       NOT NULL,
        metadata    jsonb       NOT NULL,
        hash        text        NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (stream_id, revision)
      );
      CREATE INDEX events_category_position ON ${s}.events (category, position);
      CREATE INDEX events_type_position ON ${s}.events (type, position);
      CREATE TABLE ${s}.checkpoints (
        consumer_id text        PRIMARY KEY,
        position    bigint      NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
      );
      -- History is never edited: corrections are new events.
      CREATE FUNCTION ${s}.refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'events are append-only: % refused', TG_OP USING ERRCODE = 'P0001';
      END $$;
      CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ${s}.events
        FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_event_change();
      CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON ${s}.events
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_event_change();
    `,
  },
];

/**
 * Applies pending migrations in one transaction under an advisory lock, so several service
 * instances booting together migrate once. Safe to call on every start.
 */
export async function migrateEventStore(pool: Pool, schema: string): Promise<number[]> {
  assertSchemaName(schema);
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`event-store-migrations:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
         version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`);
    const applied = new Set(rows.map((row) => row.version));
    const newlyApplied: number[] = [];
    for (const migration of EVENT_STORE_MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query(migration.sql(schema));
      await client.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, $2)`, [
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
