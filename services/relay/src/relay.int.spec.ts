import { PostgresEventStore } from '@ledger/event-store-postgres';
import { testEvents, uniqueCategory, uniqueStream, waitFor } from '@ledger/testing';
import type { Admin, Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { LeaderLock, LeadershipLostError } from './leadership/leader-lock';
import { startRelayApp, type RelayApp } from './relay.app';
import {
  eventsBehindWatermarks,
  eventsOf,
  freshSchema,
  lockHolder,
  readTopic,
  relayTestConfig,
  requiredEnv,
  revisionGaps,
  storedCheckpoint,
  testKafka,
  type ReadMessage,
} from './testing/relay-test-kit';

const quietLogger = { log: () => undefined, error: () => undefined, warn: () => undefined, debug: () => undefined, verbose: () => undefined };
const DELIVERY_TIMEOUT_MS = 30_000;

describe('relay (in process, real PostgreSQL and Kafka)', () => {
  let pool: Pool;
  let kafka: Kafka;
  let admin: Admin;
  const apps: RelayApp[] = [];
  const readers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    pool = new Pool({ connectionString: requiredEnv('DATABASE_URL'), max: 6 });
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close()));
    await Promise.all(readers.map((stop) => stop()));
    await admin.disconnect();
    await pool.end();
  });

  async function start(schema: string, category: string): Promise<RelayApp> {
    const app = await startRelayApp(relayTestConfig(schema, category), quietLogger);
    apps.push(app);
    return app;
  }

  /** Reads a topic the relay creates, once it exists. */
  async function read(topic: string): Promise<ReadMessage[]> {
    await waitFor(async () => (await admin.listTopics()).includes(topic), DELIVERY_TIMEOUT_MS, `topic ${topic} created by the relay`);
    const reader = await readTopic(kafka, topic);
    readers.push(reader.stop);
    return reader.messages;
  }

  it('publishes every committed event of its categories to ledger.<category>.v1, keyed by stream, in stream order, with watermarks on every partition; a restart resumes from the checkpoint', async () => {
    const schema = await freshSchema(pool);
    const store = new PostgresEventStore({ pool, schema });
    const category = uniqueCategory('wallet');
    const topic = `ledger.${category}.v1`;
    const streams = Array.from({ length: 6 }, () => uniqueStream(category));
    for (const stream of streams) await store.appendToStream(stream, testEvents(3), { expectedState: 'no_stream' });
    await store.appendToStream(uniqueStream('idempotency'), testEvents(1), { expectedState: 'no_stream' }); // never published

    const first = await start(schema, category);
    await waitFor(async () => (await admin.listTopics()).includes(topic), DELIVERY_TIMEOUT_MS, `topic ${topic} created by the relay`);
    expect((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions).toHaveLength(3);
    const messages = await read(topic);
    await waitFor(() => eventsOf(messages).length === 18, DELIVERY_TIMEOUT_MS, '18 events on the topic');
    const log = (await store.readAll({ fromPosition: 0n, maxCount: 100, filter: { categories: [category] } })).events;
    expect(eventsOf(messages).map((m) => m.decoded.event).sort((a, b) => (a.position < b.position ? -1 : 1))).toEqual(log);
    expect(eventsOf(messages).every((m) => m.key === m.decoded.event.streamId)).toBe(true);
    for (const stream of streams) {
      const revisions = eventsOf(messages).filter((m) => m.key === stream).map((m) => m.decoded.event.revision);
      expect(revisions).toEqual([0n, 1n, 2n]);
      expect(new Set(eventsOf(messages).filter((m) => m.key === stream).map((m) => m.partition)).size).toBe(1);
    }
    const lastPosition = log[log.length - 1]!.position;
    await waitFor(
      () => [0, 1, 2].every((p) => messages.some((m) => m.partition === p && m.decoded.kind === 'watermark' && m.decoded.position >= lastPosition)),
      DELIVERY_TIMEOUT_MS,
      'a watermark at or above the last event on every partition',
    );
    // Within a partition, an event never comes after a watermark that claims it.
    expect(eventsBehindWatermarks(messages)).toEqual([]);
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(metrics).toMatch(/^ledger_relay_leader\{service="relay"\} 1$/m);
    expect(metrics).toMatch(new RegExp(`^ledger_relay_published_total\\{topic="${topic.replace(/\./g, '\\.')}",service="relay"\\} 18$`, 'm'));
    expect(metrics).toMatch(/^ledger_relay_lag_seconds\{service="relay"\} 0$/m);
    expect((await fetch(`${first.url}/health/ready`)).status).toBe(200);
    expect((await fetch(`${first.url}/health/live`)).status).toBe(200);

    await first.close();
    expect(await storedCheckpoint(pool, schema)).toBeGreaterThanOrEqual(lastPosition);
    expect(await lockHolder(pool, schema)).toBeUndefined(); // released on close
    const more = uniqueStream(category);
    await store.appendToStream(more, testEvents(2), { expectedState: 'no_stream' });
    await store.appendToStream(streams[0]!, testEvents(1), { expectedState: 2n });
    await start(schema, category);
    await waitFor(() => eventsOf(messages).length === 21, DELIVERY_TIMEOUT_MS, 'the 3 events appended while the relay was down');
    // Resumed from its checkpoint: after a clean stop nothing is published twice.
    const ids = eventsOf(messages).map((m) => m.decoded.event.id);
    expect(new Set(ids).size).toBe(21);
    expect(revisionGaps(messages)).toEqual([]);
  });

  it('publishes an event whose transaction commits after a later one (out of position order), never skipping it', async () => {
    const schema = await freshSchema(pool);
    const category = uniqueCategory('wallet');
    let open!: () => void;
    let markReached!: () => void;
    const released = new Promise<void>((resolve) => (open = resolve));
    const reached = new Promise<void>((resolve) => (markReached = resolve));
    const slowStore = new PostgresEventStore({
      pool,
      schema,
      beforeCommit: async () => {
        markReached();
        await released;
      },
    });
    const store = new PostgresEventStore({ pool, schema });
    await start(schema, category);
    const messages = await read(`ledger.${category}.v1`);
    const slowStream = uniqueStream(category);
    const slowAppend = slowStore.appendToStream(slowStream, testEvents(2), { expectedState: 'no_stream' });
    try {
      await reached; // the slow transaction holds its (smaller) positions, uncommitted
      const fast = await store.appendToStream(uniqueStream(category), testEvents(1), { expectedState: 'no_stream' });
      // The relay keeps running (heartbeat watermarks) but cannot pass the open transaction.
      const watermarksBefore = messages.filter((m) => m.decoded.kind === 'watermark').length;
      await waitFor(() => messages.filter((m) => m.decoded.kind === 'watermark').length >= watermarksBefore + 3, DELIVERY_TIMEOUT_MS, 'heartbeat watermarks while the transaction is open');
      expect(eventsOf(messages)).toEqual([]);
      open();
      const slow = await slowAppend;
      expect(slow.position).toBeLessThan(fast.position);
      await waitFor(() => eventsOf(messages).length === 3, DELIVERY_TIMEOUT_MS, 'the slow and the fast events');
      expect(eventsOf(messages).filter((m) => m.key === slowStream).map((m) => m.decoded.event.revision)).toEqual([0n, 1n]);
      // No watermark claimed the slow events before they were on the topic.
      expect(eventsBehindWatermarks(messages)).toEqual([]);
    } finally {
      open();
      await slowAppend.catch(() => undefined);
    }
  });

  it('a relay whose lock connection is terminated stops leading and cannot store a checkpoint; the lock passes on', async () => {
    const schema = await freshSchema(pool);
    const options = { databaseUrl: requiredEnv('DATABASE_URL'), schema, consumerId: 'relay:ledger', statementTimeoutMs: 5_000 };
    const a = await LeaderLock.connect({ ...options, applicationName: 'relay-test-a' });
    const b = await LeaderLock.connect({ ...options, applicationName: 'relay-test-b' });
    try {
      expect(await a.tryAcquire()).toBe(true);
      expect(await b.tryAcquire()).toBe(false);
      await expect(b.storeCheckpoint(5n)).rejects.toBeInstanceOf(LeadershipLostError); // a standby never writes
      await a.storeCheckpoint(10n);
      expect(await storedCheckpoint(pool, schema)).toBe(10n);
      expect((await lockHolder(pool, schema))?.applicationName).toBe('relay-test-a');

      await pool.query('SELECT pg_terminate_backend($1)', [await a.backendPid()]);
      await waitFor(() => a.lost.aborted, 10_000, 'the relay to notice its lock connection ended');
      await expect(a.storeCheckpoint(20n)).rejects.toBeInstanceOf(LeadershipLostError);
      expect(await storedCheckpoint(pool, schema)).toBe(10n);
      expect(await b.tryAcquire()).toBe(true);
      await b.storeCheckpoint(30n);
      expect(await storedCheckpoint(pool, schema)).toBe(30n);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a running relay whose lock connection is terminated goes back to standby, then leads again on a new session', async () => {
    const schema = await freshSchema(pool);
    const category = uniqueCategory('wallet');
    const app = await start(schema, category);
    await waitFor(async () => (await lockHolder(pool, schema)) !== undefined && app.role() === 'leader', DELIVERY_TIMEOUT_MS, 'the relay to lead');
    const before = (await lockHolder(pool, schema))!;
    await pool.query('SELECT pg_terminate_backend($1)', [before.pid]);
    await waitFor(async () => {
      const holder = await lockHolder(pool, schema);
      return holder !== undefined && holder.pid !== before.pid && app.role() === 'leader';
    }, DELIVERY_TIMEOUT_MS, 'leadership on a new session');
    const messages = await read(`ledger.${category}.v1`);
    const store = new PostgresEventStore({ pool, schema });
    await store.appendToStream(uniqueStream(category), testEvents(2), { expectedState: 'no_stream' });
    await waitFor(() => eventsOf(messages).length === 2, DELIVERY_TIMEOUT_MS, 'events published by the new term');
  });
});
