import { BusError, type IncomingMessage } from '@ledger/bus';
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
// The testing library's index is shared with other suites; these two modules are imported directly.
import { describeBusContract } from '../../testing/src/bus-contract';
import { waitFor } from '../../testing/src/wait-for';
import { createKafka, type KafkaLogEntry } from './kafka-client.factory';
import { KafkaBusPublisher } from './kafka-bus.publisher';
import { KafkaBusSubscriber } from './kafka-bus.subscriber';
import { ensureTopics, topicPartitionCount } from './kafka-topics.admin';

function kafkaBrokers(): string {
  const brokers = process.env['KAFKA_BROKERS'];
  if (!brokers) {
    throw new Error('KAFKA_BROKERS is not set: run through jest (the integration global setup starts a broker) or point it at one, e.g. 127.0.0.1:9092');
  }
  return brokers;
}

const MAX_KEPT_LOG_ENTRIES = 2_000;

/** kafkajs logs kept in memory (bounded) instead of on the console; printed on demand. */
function memoryLog(): { log: (entry: KafkaLogEntry) => void; entries: KafkaLogEntry[] } {
  const entries: KafkaLogEntry[] = [];
  return {
    entries,
    log: (entry) => {
      if (process.env['TEST_KAFKA_VERBOSE']) process.stderr.write(`${JSON.stringify(entry)}\n`);
      entries.push(entry);
      if (entries.length > MAX_KEPT_LOG_ENTRIES) entries.splice(0, entries.length - MAX_KEPT_LOG_ENTRIES);
    },
  };
}

const suffix = (): string => randomBytes(5).toString('hex');

describeBusContract('kafka', async () => {
  const { log } = memoryLog();
  const kafka = createKafka({ brokers: kafkaBrokers(), clientId: `bus-contract-${suffix()}`, log });
  const admin = kafka.admin();
  await admin.connect();
  const publisher = new KafkaBusPublisher(kafka);
  const subscriber = new KafkaBusSubscriber(kafka);
  const topics: string[] = [];
  return {
    publisher,
    subscriber,
    newTopic: async (partitions) => {
      const topic = `contract.${suffix()}`;
      await ensureTopics(admin, [topic], partitions, { replicationFactor: 1 });
      topics.push(topic);
      return topic;
    },
    teardown: async () => {
      await publisher.close();
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
      await admin.disconnect();
    },
  };
});

describe('kafka bus adapter specifics', () => {
  let kafka: Kafka;
  let admin: Admin;
  let logs: KafkaLogEntry[];
  const topics: string[] = [];

  beforeAll(async () => {
    const memory = memoryLog();
    logs = memory.entries;
    kafka = createKafka({ brokers: kafkaBrokers(), clientId: `bus-kafka-${suffix()}`, log: memory.log });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
    await admin.disconnect();
  });

  async function newTopic(partitions: number): Promise<string> {
    const topic = `bus-kafka.${suffix()}`;
    await ensureTopics(admin, [topic], partitions, { replicationFactor: 1 });
    topics.push(topic);
    return topic;
  }

  it('fails a publish to a topic that does not exist with PUBLISH_FAILED in bounded time, then publishes normally', async () => {
    const publisher = new KafkaBusPublisher(kafka, { retries: 2 });
    try {
      const startedAt = Date.now();
      const error = await publisher.publish(`missing.${suffix()}`, [{ key: 'k', value: 'v' }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BusError);
      expect((error as BusError).code).toBe('PUBLISH_FAILED');
      expect(Date.now() - startedAt).toBeLessThan(30_000);
      // The failed producer was replaced; the publisher still works.
      const topic = await newTopic(1);
      await publisher.publish(topic, [{ key: 'k', value: 'after-failure' }]);
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.map((o) => o.high)).toEqual(['1']);
    } finally {
      await publisher.close();
    }
  }, 60_000);

  it('refuses to publish after close', async () => {
    const publisher = new KafkaBusPublisher(kafka);
    await publisher.close();
    await expect(publisher.publish(await newTopic(1), [{ key: 'k', value: 'v' }])).rejects.toMatchObject({ code: 'PUBLISH_FAILED' });
  }, 60_000);

  it('fails to start a consumer on a topic that does not exist with CONSUMER_FAILED', async () => {
    const subscriber = new KafkaBusSubscriber(kafka);
    await expect(
      subscriber.start({ groupId: `missing-${suffix()}`, topics: [`missing.${suffix()}`], fromBeginning: true, handle: async () => undefined }),
    ).rejects.toMatchObject({ code: 'CONSUMER_FAILED' });
  }, 60_000);

  it('keeps redelivering after a handler TypeError (which kafkajs alone would treat as fatal)', async () => {
    const topic = await newTopic(1);
    const publisher = new KafkaBusPublisher(kafka);
    const subscriber = new KafkaBusSubscriber(kafka, { handlerRetries: 1 });
    const attempts: string[] = [];
    let failuresLeft = 3; // more than handlerRetries: the member also has to restart once
    const running = await subscriber.start({
      groupId: `typeerror-${suffix()}`,
      topics: [topic],
      fromBeginning: true,
      handle: async (m: IncomingMessage) => {
        attempts.push(m.value);
        if (m.value === 'poison-ish' && failuresLeft-- > 0) throw new TypeError('simulated bug');
      },
    });
    try {
      await publisher.publish(topic, [
        { key: 'k', value: 'poison-ish' },
        { key: 'k', value: 'next' },
      ]);
      await waitFor(() => attempts.includes('next'), 45_000, 'the message after the failing one');
      expect(attempts).toEqual(['poison-ish', 'poison-ish', 'poison-ish', 'poison-ish', 'next']);
      expect(logs.some((e) => e.level === 'error' && /simulated bug/.test(JSON.stringify(e)))).toBe(true);
    } finally {
      await running.stop();
      await publisher.close();
    }
  }, 60_000);

  it('sends a message with an explicit partition there, whatever its key', async () => {
    const topic = await newTopic(3);
    const publisher = new KafkaBusPublisher(kafka);
    try {
      // One key for all three: without the partition they would all land in the key's partition.
      await publisher.publish(topic, [0, 1, 2].map((partition) => ({ key: 'same-key', value: `to-${partition}`, partition })));
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.sort((a, b) => a.partition - b.partition).map((o) => o.high)).toEqual(['1', '1', '1']);
    } finally {
      await publisher.close();
    }
  }, 60_000);

  it('refuses a partition the topic does not have, or that is no partition number, with INVALID_MESSAGE and sends nothing of the call', async () => {
    const topic = await newTopic(2);
    const publisher = new KafkaBusPublisher(kafka, { retries: 1 });
    try {
      for (const partition of [-1, 1.5, Number.NaN, 1_000]) {
        await expect(publisher.publish(topic, [{ key: 'k', value: 'v', partition }])).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
      }
      // Partition 2 passes the static check; kafkajs alone would drop it silently and resolve.
      const error = await publisher.publish(topic, [{ key: 'k', value: 'ok', partition: 0 }, { key: 'k', value: 'nowhere', partition: 2 }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BusError);
      expect(error).toMatchObject({ code: 'INVALID_MESSAGE', message: expect.stringMatching(/has 2 partition\(s\); a message names partition 2/) });
      expect((await admin.fetchTopicOffsets(topic)).map((o) => o.high)).toEqual(['0', '0']);
      // The publisher still works afterwards.
      await publisher.publish(topic, [{ key: 'k', value: 'after', partition: 1 }]);
      expect((await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((o) => o.high)).toEqual(['0', '1']);
    } finally {
      await publisher.close();
    }
  }, 60_000);

  it('topicPartitionCount reads a topic\'s partition count and names a missing topic', async () => {
    const topic = await newTopic(3);
    expect(await topicPartitionCount(admin, topic)).toBe(3);
    await expect(topicPartitionCount(admin, `missing.${suffix()}`)).rejects.toMatchObject({ code: 'INVALID_TOPIC' });
    await expect(topicPartitionCount(admin, 'bad topic')).rejects.toMatchObject({ code: 'INVALID_TOPIC' });
  }, 60_000);

  it('ensureTopics is idempotent and refuses an existing topic with another partition count', async () => {
    const topic = await newTopic(3);
    await ensureTopics(admin, [topic], 3);
    await expect(ensureTopics(admin, [topic], 4)).rejects.toMatchObject({ code: 'INVALID_TOPIC' });
    await expect(ensureTopics(admin, ['bad topic'], 1)).rejects.toMatchObject({ code: 'INVALID_TOPIC' });
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(3);
  }, 60_000);
});
