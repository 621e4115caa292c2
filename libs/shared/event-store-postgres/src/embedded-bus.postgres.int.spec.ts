import { EmbeddedBusPublisher, EmbeddedBusSubscriber, type EmbeddedBusLogEntry } from '@ledger/bus';
import { describeBusContract, describeEmbeddedBusRestart } from '@ledger/testing';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { PostgresCheckpointStore } from './postgres-checkpoint-store';
import { PostgresEventStore } from './postgres-event-store';
import { migrateEventStore } from './postgres-schema';

/**
 * The embedded bus (libs/shared/bus) on the real PostgreSQL event store and checkpoint table, each
 * suite in a fresh schema. Lives here, not in libs/shared/testing, because this project's specs
 * already depend on the testing library: the other way round would be a project cycle.
 */

function databaseUrl(): string {
  const url = process.env['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is not set: run through jest so the integration global setup starts PostgreSQL');
  return url;
}

async function freshSchema(): Promise<{ pool: Pool; schema: string }> {
  const schema = `bus_${randomBytes(5).toString('hex')}`;
  const pool = new Pool({ connectionString: databaseUrl(), max: 10 });
  await migrateEventStore(pool, schema);
  return { pool, schema };
}

const MAX_KEPT_LOG_ENTRIES = 1_000;

describeBusContract(
  'embedded (postgres event store)',
  async () => {
    const { pool, schema } = await freshSchema();
    const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 20 });
    const publisher = new EmbeddedBusPublisher(store);
    const logs: EmbeddedBusLogEntry[] = [];
    const subscriber = new EmbeddedBusSubscriber(store, new PostgresCheckpointStore(pool, schema), {
      log: (entry) => {
        logs.push(entry);
        if (logs.length > MAX_KEPT_LOG_ENTRIES) logs.splice(0, logs.length - MAX_KEPT_LOG_ENTRIES);
      },
    });
    return {
      publisher,
      subscriber,
      // One partition per topic whatever is asked; topics need no creation.
      newTopic: async () => `contract.${randomBytes(5).toString('hex')}`,
      teardown: async () => {
        await publisher.close();
        await store.close();
        await pool.end();
      },
    };
  },
  { spreadsKeysOverPartitions: false, splitsPartitionsAcrossMembers: false },
);

describeEmbeddedBusRestart('postgres event store', async () => {
  const { pool, schema } = await freshSchema();
  const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 20 });
  return {
    store,
    checkpoints: new PostgresCheckpointStore(pool, schema),
    reopenCheckpoints: () => new PostgresCheckpointStore(pool, schema),
    teardown: async () => {
      await store.close();
      await pool.end();
    },
  };
});
