import { applyMigrations, type SchemaMigration } from '@ledger/infra';
import type { Pool } from 'pg';

/**
 * The saga's index of batches it must drive (PROCESSING or COMPENSATING). A row is added BEFORE
 * the event that starts the work is appended, with the batch revision it was added at, and is
 * removed only once the batch rests at a LATER revision: so neither a crash after adding nor a
 * poll between adding and the append can lose a running batch. An index, not a source of truth:
 * the saga always decides on the batch's stream.
 */
export class ActiveBatches {
  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {}

  async add(batchId: string, revision: bigint): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.schema}.saga_active_batches (batch_id, tracked_revision) VALUES ($1, $2)
       ON CONFLICT (batch_id) DO UPDATE SET tracked_revision = GREATEST(saga_active_batches.tracked_revision, EXCLUDED.tracked_revision)`,
      [batchId, revision.toString()],
    );
  }

  /** Drops the row if the batch was tracked before `restingRevision` (it came to rest since). */
  async removeIfRestingSince(batchId: string, restingRevision: bigint): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.schema}.saga_active_batches WHERE batch_id = $1 AND tracked_revision < $2`, [batchId, restingRevision.toString()]);
  }

  /** Oldest first, bounded: the saga visits at most `limit` batches per round. */
  async list(limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ batch_id: string }>(`SELECT batch_id FROM ${this.schema}.saga_active_batches ORDER BY added_at, batch_id LIMIT $1`, [limit]);
    return rows.map((row) => row.batch_id);
  }
}

const MIGRATIONS: readonly SchemaMigration[] = [
  {
    version: 1,
    name: 'saga_active_batches',
    sql: (s) => `
      CREATE TABLE ${s}.saga_active_batches (
        batch_id         text PRIMARY KEY,
        tracked_revision bigint NOT NULL,
        added_at         timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

export async function migratePayoutsSchema(pool: Pool, schema: string): Promise<number[]> {
  return applyMigrations(pool, { schema, historyTable: 'payouts_schema_history', lockName: 'payouts-migrations', migrations: MIGRATIONS });
}
