import type { CheckpointStore } from '@ledger/event-store';
import type { Pool, PoolClient } from 'pg';
import { assertSchemaName } from './postgres-schema';

/**
 * Consumer checkpoints in the event store's schema. `storeInTransaction` lets a consumer commit
 * its effect and its checkpoint together, which is what makes redelivery harmless.
 */
export class PostgresCheckpointStore implements CheckpointStore {
  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {
    assertSchemaName(schema);
  }

  async load(consumerId: string, client: Pool | PoolClient = this.pool): Promise<bigint> {
    const { rows } = await client.query<{ position: string }>(
      `SELECT position::text FROM ${this.schema}.checkpoints WHERE consumer_id = $1`,
      [consumerId],
    );
    return rows[0] ? BigInt(rows[0].position) : 0n;
  }

  /** Locks the consumer's checkpoint row for the rest of the transaction and returns it. */
  async lockInTransaction(client: PoolClient, consumerId: string): Promise<bigint> {
    await client.query(
      `INSERT INTO ${this.schema}.checkpoints (consumer_id, position) VALUES ($1, 0) ON CONFLICT DO NOTHING`,
      [consumerId],
    );
    const { rows } = await client.query<{ position: string }>(
      `SELECT position::text FROM ${this.schema}.checkpoints WHERE consumer_id = $1 FOR UPDATE`,
      [consumerId],
    );
    return BigInt((rows[0] as { position: string }).position);
  }

  store(consumerId: string, position: bigint): Promise<void> {
    return this.storeInTransaction(this.pool, consumerId, position);
  }

  async storeInTransaction(client: Pool | PoolClient, consumerId: string, position: bigint): Promise<void> {
    await client.query(
      `INSERT INTO ${this.schema}.checkpoints AS c (consumer_id, position) VALUES ($1, $2)
       ON CONFLICT (consumer_id) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
        WHERE c.position < EXCLUDED.position`,
      [consumerId, position.toString()],
    );
  }
}
