import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { startKafkaBroker, type RunningKafkaBroker } from './kafka-broker';
import { findFreePort, PortInUseError } from './local-ports';

/**
 * Starts a second broker (the integration global setup runs another one) on free ports in a temp
 * folder, and drives it with kafkajs: this is also the proof that kafkajs 2.2.4 speaks to the
 * Kafka version pinned in deploy/kafka/pom.xml (produce, consumer group join, fetch, commit).
 */
describe('startKafkaBroker', () => {
  const root = mkdtempSync(join(tmpdir(), 'kafka-broker-it-'));
  const dataDir = join(root, 'broker');
  let broker: RunningKafkaBroker | undefined;

  afterAll(async () => {
    await broker?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  function client(brokers: string): Kafka {
    return new Kafka({ clientId: 'kafka-broker-it', brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 5 } });
  }

  async function roundTrip(kafka: Kafka, topic: string, values: readonly string[], groupId: string): Promise<string[]> {
    const received: string[] = [];
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let resolveAll!: () => void;
      const all = new Promise<void>((r) => (resolveAll = r));
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value?.toString() ?? '');
          if (received.length >= values.length) resolveAll();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        all,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${received.length}/${values.length} messages within 30 s`)), 30_000))),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect();
    }
    return received;
  }

  it('starts a broker on free ports that kafkajs can produce to and consume from with a group', async () => {
    broker = await startKafkaBroker({ dataDir, port: 0, heapMb: 384, startTimeoutMs: 90_000 });
    expect(broker.brokers).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(broker.pid).toBeGreaterThan(0);

    const kafka = client(broker.brokers);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      expect(cluster.brokers).toEqual([expect.objectContaining({ nodeId: 1, host: '127.0.0.1' })]);
      expect(await admin.createTopics({ topics: [{ topic: 'proof', numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
      // auto.create.topics.enable=false: a typo does not create a topic.
      await expect(admin.fetchTopicMetadata({ topics: ['no-such-topic'] })).rejects.toThrow();
    } finally {
      await admin.disconnect();
    }

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const values = Array.from({ length: 30 }, (_, i) => `value-${i}`);
    try {
      await producer.send({ topic: 'proof', acks: -1, messages: values.map((value, i) => ({ key: `key-${i % 7}`, value })) });
    } finally {
      await producer.disconnect();
    }
    const received = await roundTrip(kafka, 'proof', values, 'proof-group');
    expect([...received].sort()).toEqual([...values].sort());

    const offsets = await (async () => {
      const admin2 = kafka.admin();
      await admin2.connect();
      try {
        return await admin2.fetchOffsets({ groupId: 'proof-group', topics: ['proof'] });
      } finally {
        await admin2.disconnect();
      }
    })();
    const committed = offsets[0]?.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(committed).toBe(values.length);
  }, 120_000);

  it('refuses a second broker on a data folder in use, and ports that are busy', async () => {
    expect(broker).toBeDefined();
    await expect(startKafkaBroker({ dataDir, port: 0 })).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' });

    const busyPort = await findFreePort();
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen({ port: busyPort, host: '127.0.0.1' }, () => r()));
    try {
      const error = await startKafkaBroker({ dataDir: join(root, 'other'), port: busyPort }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortInUseError);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  }, 60_000);

  it('stops with SIGTERM, frees the port, and restarts on the same data without reformatting', async () => {
    const first = broker as RunningKafkaBroker;
    const port = Number(first.brokers.split(':')[1]);
    await first.stop();
    await first.stop(); // idempotent
    expect(() => process.kill(first.pid, 0)).toThrow();
    broker = undefined;

    broker = await startKafkaBroker({ dataDir, port, heapMb: 384, startTimeoutMs: 90_000 });
    expect(broker.brokers).toBe(`127.0.0.1:${port}`);
    const kafka = client(broker.brokers);
    const admin = kafka.admin();
    await admin.connect();
    try {
      // The topic and the group's committed offsets survived: the storage was not formatted again.
      expect(await admin.listTopics()).toContain('proof');
      // Right after a restart the group coordinator may still be loading its partition or moving
      // (kafkajs: GROUP_LOAD_IN_PROGRESS, NOT_COORDINATOR_FOR_GROUP, ...); the admin call does not
      // retry these itself. Every error kafkajs marks retriable is retried until the deadline.
      // (No @ledger/testing waitFor here: infra must not depend on the testing library.)
      let committed: number | undefined;
      for (const deadline = Date.now() + 30_000; committed === undefined; ) {
        try {
          const offsets = await admin.fetchOffsets({ groupId: 'proof-group', topics: ['proof'] });
          committed = offsets[0]?.partitions.reduce((sum, p) => sum + Number(p.offset), 0) ?? -1;
        } catch (error) {
          if ((error as { retriable?: boolean }).retriable !== true || Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 100)); // poll interval while the coordinator loads
        }
      }
      expect(committed).toBe(30);
    } finally {
      await admin.disconnect();
    }
    await broker.stop();
    broker = undefined;
  }, 120_000);

});
