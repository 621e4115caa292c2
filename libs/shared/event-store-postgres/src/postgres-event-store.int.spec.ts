import { describeEventStoreContract } from '@ledger/testing';
import { Pool } from 'pg';
import { randomBytes } from 'node:crypto';
import { PostgresCheckpointStore } from './postgres-checkpoint-store';
import { PostgresEventStore } from './postgres-event-store';
import { migrateEventStore } from './postgres-schema';

export function databaseUrl(): string {
  const url = process.env['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is not set: run through jest so the integration global setup starts PostgreSQL');
  return url;
}

describeEventStoreContract('postgres', async () => {
  const schema = `es_${randomBytes(5).toString('hex')}`;
  const pool = new Pool({ connectionString: databaseUrl(), max: 20 });
  await migrateEventStore(pool, schema);
  const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 20 });
  const otherPools: Pool[] = [];
  return {
    store,
    checkpoints: new PostgresCheckpointStore(pool, schema),
    reopen: async () => {
      const otherPool = new Pool({ connectionString: databaseUrl(), max: 4 });
      otherPools.push(otherPool);
      return new PostgresEventStore({ pool: otherPool, schema });
    },
    teardown: async () => {
      await store.close();
      await Promise.all(otherPools.map((p) => p.end()));
      await pool.end();
    },
  };
});
