import { randomBytes } from 'node:crypto';
import { createKafka, ensureTopics, KafkaBusPublisher, KafkaBusSubscriber, topicPartitionCount } from '@ledger/bus-kafka';
import type { RecordedEvent } from '@ledger/event-store';
import { migrateEventStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { encodeLedgerEvent, encodeWatermark, JSON_CONTENT_TYPE } from '@ledger/integration-events';
import { waitFor } from '@ledger/testing';
import type { Admin, Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { readWatermark } from './projection-state';
import { walletTables } from './read-models.schema';
import { startWalletProjection } from './start-wallet-projection';
import { differencesFromFold, seededRandom, WalletWorkload } from './testing/wallet-workload';

const WAIT_MS = 60_000;
const PARTITIONS = 3;
const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('wallet projection from Kafka', () => {
  let pool: Pool;
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 6 });
    kafka = createKafka({ brokers: process.env['KAFKA_BROKERS'] as string, clientId: `rm-test-${randomBytes(4).toString('hex')}`, log: () => undefined });
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
    await pool.end();
  });

  it('applies events once despite redelivery, tracks per-partition watermarks, and stops at an undecodable message', async () => {
    const suffix = randomBytes(5).toString('hex');
    const topic = `rmtest.wallet.${suffix}`;
    await ensureTopics(admin, [topic], PARTITIONS);
    const esSchema = `es_${suffix}`;
    const schema = `rm_${suffix}`;
    await migrateEventStore(pool, esSchema);
    const store = new PostgresEventStore({ pool, schema: esSchema });
    const workload = new WalletWorkload(store, seededRandom(21));
    await workload.open(6);
    await workload.run(200);
    const events: RecordedEvent[] = [];
    let from = 0n;
    await waitFor(async () => {
      for (;;) {
        const page = await store.readAll({ fromPosition: from, maxCount: 1_000, filter: { categories: ['wallet'] } });
        events.push(...page.events);
        from = page.checkpoint;
        if (!page.isEndOfBatch) return from >= workload.lastPosition;
      }
    }, WAIT_MS, 'the workload in the global log');

    const publisher = new KafkaBusPublisher(kafka);
    const half = events.slice(0, Math.floor(events.length / 2));
    // A relay that crashed before its checkpoint publishes the first half twice.
    await publisher.publish(topic, half.map(encodeLedgerEvent));
    await publisher.publish(topic, half.map(encodeLedgerEvent));
    const watermarks = (position: bigint) => Array.from({ length: PARTITIONS }, (_, partition) => ({ ...encodeWatermark(position), partition }));
    await publisher.publish(topic, watermarks(half[half.length - 1]!.position));
    await publisher.publish(topic, events.slice(half.length).map(encodeLedgerEvent));
    const last = events[events.length - 1]!.position;
    await publisher.publish(topic, watermarks(last));

    const errors: Array<Record<string, unknown>> = [];
    const projection = await startWalletProjection({
      pool,
      schema,
      source: 'kafka',
      logger: { ...silent, error: (m) => errors.push(m as Record<string, unknown>) },
      subscriber: new KafkaBusSubscriber(kafka, { handlerRetries: 1 }),
      groupId: `rm-test-${suffix}`,
      topics: [topic],
      partitionsOf: (t) => topicPartitionCount(admin, t),
    });
    try {
      await waitFor(() => projection.status().watermarkPosition >= last, WAIT_MS, 'the Kafka watermark to reach the last event');
      const tables = walletTables(schema, 1);
      expect(await differencesFromFold(pool, store, tables, workload.walletIds)).toEqual([]);
      const rows = await pool.query<{ source: string; position: string }>(`SELECT source, position::text FROM ${tables.watermarks} ORDER BY source`);
      expect(rows.rows).toEqual(Array.from({ length: PARTITIONS }, (_, p) => ({ source: `${topic}:${p}`, position: last.toString() })));
      expect(await readWatermark(pool, tables)).toBe(last);
      expect(projection.status()).toMatchObject({ eventsApplied: events.length, duplicatesSkipped: half.length, lagSeconds: 0 });

      // A message the decoder refuses: the projection stops and names it; what follows is not applied.
      await publisher.publish(topic, [{ key: 'wallet-x', value: '{not json', headers: { 'content-type': JSON_CONTENT_TYPE, 'ledger-message': 'event' }, partition: 0 }]);
      await publisher.publish(topic, [{ ...watermarks(last + 1_000_000n)[0]!, partition: 0 }]);
      await waitFor(() => projection.status().stoppedReason !== undefined, WAIT_MS, 'the projection to stop at the undecodable message');
      await projection.done;
      expect(projection.status().stoppedReason).toMatch(new RegExp(`UNDECODABLE_MESSAGE|${topic}:0@`));
      expect(errors).toEqual([expect.objectContaining({ alert: 'ProjectionStopped', reason: 'UNDECODABLE_MESSAGE', message: expect.stringContaining(`${topic}:0@`) })]);
      expect(await readWatermark(pool, tables)).toBe(last);
      const state = await pool.query<{ stopped_reason: string }>(`SELECT stopped_reason FROM ${schema}.projection_state`);
      expect(state.rows[0]!.stopped_reason).toContain(`${topic}:0@`);
    } finally {
      await projection.stop();
      await publisher.close();
    }
  });
});
