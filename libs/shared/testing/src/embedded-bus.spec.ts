import {
  BUS_MESSAGE_EVENT_TYPE,
  BusError,
  EmbeddedBusPublisher,
  EmbeddedBusSubscriber,
  embeddedConsumerId,
  streamIdFor,
  topicToCategory,
  type ConsumerOptions,
  type EmbeddedBusLogEntry,
  type IncomingMessage,
  type OutgoingMessage,
  type RunningConsumer,
} from '@ledger/bus';
import {
  DEFAULT_EVENT_STORE_LIMITS,
  EventStoreUnavailableError,
  InMemoryCheckpointStore,
  InMemoryEventStore,
  type CheckpointStore,
  type EventStore,
  type EventStoreLimits,
  type RecordedEvent,
  type StreamWrite,
} from '@ledger/event-store';
import { randomBytes } from 'node:crypto';
import { testEvents } from './event-fixtures';
import { waitFor } from './wait-for';

const WAIT_MS = 10_000;

const freshTopic = (): string => `embedded.${randomBytes(5).toString('hex')}`;
const freshGroup = (): string => `group-${randomBytes(4).toString('hex')}`;
const msg = (key: string, seq: number, headers?: Record<string, string>): OutgoingMessage => ({
  key,
  value: `${key}#${seq}`,
  ...(headers ? { headers } : {}),
});

async function busErrorOf(action: () => Promise<unknown>): Promise<BusError> {
  const outcome = await action().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(BusError);
  return outcome as BusError;
}

async function readEverything(store: EventStore, categories?: string[]): Promise<RecordedEvent[]> {
  return [...(await store.readAll({ fromPosition: 0n, maxCount: 4_096, ...(categories ? { filter: { categories } } : {}) })).events];
}

describe('embedded bus', () => {
  let store: InMemoryEventStore;
  let checkpoints: InMemoryCheckpointStore;
  let logs: EmbeddedBusLogEntry[];
  const running: RunningConsumer[] = [];

  const subscriber = (overrides: { checkpoints?: CheckpointStore; stopTimeoutMs?: number; batchSize?: number } = {}): EmbeddedBusSubscriber =>
    new EmbeddedBusSubscriber(store, overrides.checkpoints ?? checkpoints, {
      retryInitialDelayMs: 5,
      retryMaxDelayMs: 40,
      ...(overrides.stopTimeoutMs ? { stopTimeoutMs: overrides.stopTimeoutMs } : {}),
      ...(overrides.batchSize ? { batchSize: overrides.batchSize } : {}),
      log: (entry) => logs.push(entry),
    });

  async function start(options: ConsumerOptions, on = subscriber()): Promise<RunningConsumer> {
    const consumer = await on.start(options);
    running.push(consumer);
    return consumer;
  }

  function collector(): { values: string[]; handle: (m: IncomingMessage) => Promise<void>; messages: IncomingMessage[] } {
    const messages: IncomingMessage[] = [];
    const values: string[] = [];
    return {
      messages,
      values,
      handle: async (m) => {
        messages.push(m);
        values.push(m.value);
      },
    };
  }

  beforeEach(() => {
    store = new InMemoryEventStore({ pollIntervalMs: 20 });
    checkpoints = new InMemoryCheckpointStore();
    logs = [];
  });

  afterEach(async () => {
    await Promise.allSettled(running.splice(0).map((c) => c.stop()));
    await store.close();
  });

  describe('publisher', () => {
    it('appends one call as one atomic append: one stream per key, expectedState any, BusMessagePublished events', async () => {
      const appends: StreamWrite[][] = [];
      const original = store.appendToStreams.bind(store);
      jest.spyOn(store, 'appendToStreams').mockImplementation(async (writes) => {
        appends.push([...writes]);
        return original(writes);
      });
      const topic = freshTopic();
      const publisher = new EmbeddedBusPublisher(store, { principal: 'service:test' });
      await publisher.publish(topic, [msg('a', 0), msg('b', 0, { 'correlation-id': 'corr-1' }), msg('a', 1)]);

      expect(appends).toHaveLength(1);
      const category = topicToCategory(topic);
      expect(appends[0]!.map((w) => [w.streamId, w.expectedState, w.events.length])).toEqual([
        [streamIdFor(category, 'a'), 'any', 2],
        [streamIdFor(category, 'b'), 'any', 1],
      ]);
      const events = await readEverything(store);
      expect(events.map((e) => [e.type, e.data])).toEqual([
        [BUS_MESSAGE_EVENT_TYPE, { topic, key: 'a', value: 'a#0', headers: {} }],
        [BUS_MESSAGE_EVENT_TYPE, { topic, key: 'a', value: 'a#1', headers: {} }],
        [BUS_MESSAGE_EVENT_TYPE, { topic, key: 'b', value: 'b#0', headers: { 'correlation-id': 'corr-1' } }],
      ]);
      expect(events[2]!.metadata).toEqual({ correlationId: 'corr-1', causationId: 'corr-1', principal: 'service:test', schemaVersion: 1 });
      expect(events[0]!.metadata.correlationId).toBe(events[1]!.metadata.correlationId); // one call, one correlation
    });

    it('cuts a call larger than the store limits into consecutive appends that each fit, keeping per-key order', async () => {
      const limits: EventStoreLimits = { ...DEFAULT_EVENT_STORE_LIMITS, maxEventsPerAppend: 7, maxStreamsPerAppend: 3 };
      store = new InMemoryEventStore({ pollIntervalMs: 20, limits });
      const sizes: Array<[number, number]> = [];
      const original = store.appendToStreams.bind(store);
      jest.spyOn(store, 'appendToStreams').mockImplementation(async (writes) => {
        sizes.push([writes.length, writes.reduce((n, w) => n + w.events.length, 0)]);
        return original(writes);
      });
      const topic = freshTopic();
      const outgoing: OutgoingMessage[] = [];
      for (let seq = 0; seq < 10; seq++) for (const key of ['k0', 'k1', 'k2', 'k3', 'k4']) outgoing.push(msg(key, seq));
      await new EmbeddedBusPublisher(store, { limits }).publish(topic, outgoing);

      expect(sizes.length).toBeGreaterThan(1);
      for (const [streams, events] of sizes) {
        expect(streams).toBeLessThanOrEqual(3);
        expect(events).toBeLessThanOrEqual(7);
      }
      const events = await readEverything(store, [topicToCategory(topic)]);
      expect(events).toHaveLength(50);
      for (const key of ['k0', 'k1', 'k2', 'k3', 'k4']) {
        const values = events.filter((e) => e.data['key'] === key).map((e) => e.data['value']);
        expect(values).toEqual(Array.from({ length: 10 }, (_, seq) => `${key}#${seq}`));
      }
    });

    it('refuses a call with a message too large for the store, even in its last append, and writes nothing of it', async () => {
      const limits: EventStoreLimits = { ...DEFAULT_EVENT_STORE_LIMITS, maxEventsPerAppend: 2, maxEventBytes: 1_024 };
      store = new InMemoryEventStore({ pollIntervalMs: 20, limits });
      const publisher = new EmbeddedBusPublisher(store, { limits });
      const error = await busErrorOf(() => publisher.publish(freshTopic(), [msg('a', 0), msg('a', 1), msg('a', 2), { key: 'a', value: 'x'.repeat(2_000) }]));
      expect(error.code).toBe('INVALID_MESSAGE');
      expect(await readEverything(store)).toEqual([]);
    });

    it('refuses topics too long for a category with INVALID_TOPIC', async () => {
      const error = await busErrorOf(() => new EmbeddedBusPublisher(store).publish(`${'t'.repeat(40)}.${'u'.repeat(20)}`, [msg('a', 0)]));
      expect(error.code).toBe('INVALID_TOPIC');
    });

    it('fails with PUBLISH_FAILED when the store fails or after close', async () => {
      jest.spyOn(store, 'appendToStreams').mockRejectedValueOnce(new EventStoreUnavailableError('disk on fire'));
      const publisher = new EmbeddedBusPublisher(store);
      const failed = await busErrorOf(() => publisher.publish(freshTopic(), [msg('a', 0)]));
      expect(failed.code).toBe('PUBLISH_FAILED');
      expect(failed.message).toMatch(/nothing was written.*disk on fire/);
      await publisher.publish(freshTopic(), [msg('a', 0)]);
      await publisher.close();
      expect((await busErrorOf(() => publisher.publish(freshTopic(), [msg('a', 0)]))).code).toBe('PUBLISH_FAILED');
    });
  });

  describe('subscriber', () => {
    it('delivers only its topics’ bus messages, never domain events or other topics', async () => {
      const [topic, other] = [freshTopic(), freshTopic()];
      const publisher = new EmbeddedBusPublisher(store);
      // A domain stream that happens to sit in the topic's category, with another event type.
      await store.appendToStream(`${topicToCategory(topic)}-intruder`, testEvents(2), { expectedState: 'any' });
      await store.appendToStream('wallet-1', testEvents(2), { expectedState: 'any' });
      await publisher.publish(other, [msg('o', 0)]);
      await publisher.publish(topic, [msg('t', 0)]);
      const seen = collector();
      await start({ groupId: freshGroup(), topics: [topic], fromBeginning: true, handle: seen.handle });
      await publisher.publish(topic, [msg('t', 1)]);
      await waitFor(() => seen.values.length === 2, WAIT_MS, 'the topic’s two messages');
      expect(seen.values).toEqual(['t#0', 't#1']);
      expect(seen.messages.map((m) => [m.topic, m.partition])).toEqual([
        [topic, 0],
        [topic, 0],
      ]);
    });

    it('runs one member per group: a second start is refused with INVALID_OPTIONS until the first stopped', async () => {
      const topic = freshTopic();
      const groupId = freshGroup();
      const options = { groupId, topics: [topic], fromBeginning: true, handle: async () => undefined };
      const first = await start(options);
      expect((await busErrorOf(() => start(options))).code).toBe('INVALID_OPTIONS');
      // Another subscriber object on the same checkpoint store is the same group too.
      expect((await busErrorOf(() => start(options, subscriber()))).code).toBe('INVALID_OPTIONS');
      await start({ ...options, groupId: freshGroup() }); // other groups are independent
      await first.stop();
      await start(options);
    });

    it('starts a group without checkpoint at the current end when fromBeginning is false', async () => {
      const topic = freshTopic();
      const publisher = new EmbeddedBusPublisher(store, { limits: DEFAULT_EVENT_STORE_LIMITS });
      const outgoing = Array.from({ length: 30 }, (_, seq) => msg(`k${seq % 4}`, seq));
      await publisher.publish(topic, outgoing);
      const late = collector();
      const early = collector();
      await start({ groupId: freshGroup(), topics: [topic], fromBeginning: false, handle: late.handle }, subscriber({ batchSize: 7 }));
      await start({ groupId: freshGroup(), topics: [topic], fromBeginning: true, handle: early.handle });
      await publisher.publish(topic, [msg('after', 0)]);
      await waitFor(() => late.values.length === 1 && early.values.length === 31, WAIT_MS, 'both groups to reach the new message');
      expect(late.values).toEqual(['after#0']);
    });

    it('retries a failing handler with growing pauses, logging each failure, then goes on without skipping', async () => {
      const topic = freshTopic();
      await new EmbeddedBusPublisher(store).publish(topic, [msg('k', 0), msg('k', 1)]);
      const attempts: string[] = [];
      let failuresLeft = 4;
      await start({
        groupId: freshGroup(),
        topics: [topic],
        fromBeginning: true,
        handle: async (m) => {
          attempts.push(m.value);
          if (m.value === 'k#0' && failuresLeft-- > 0) throw new TypeError('simulated bug');
        },
      });
      await waitFor(() => attempts.includes('k#1'), WAIT_MS, 'the message after the failing one');
      expect(attempts).toEqual(['k#0', 'k#0', 'k#0', 'k#0', 'k#0', 'k#1']);
      const failures = logs.filter((e) => e.level === 'error');
      expect(failures.map((e) => [e.attempt, e.retryInMs, e.error])).toEqual([
        [1, 5, 'simulated bug'],
        [2, 10, 'simulated bug'],
        [3, 20, 'simulated bug'],
        [4, 40, 'simulated bug'],
      ]);
    });

    it('stops during the retry pause without committing the failing message', async () => {
      const topic = freshTopic();
      const groupId = freshGroup();
      await new EmbeddedBusPublisher(store).publish(topic, [msg('k', 0), msg('k', 1)]);
      const slow = new EmbeddedBusSubscriber(store, checkpoints, { retryInitialDelayMs: 60_000, retryMaxDelayMs: 60_000, log: (e) => logs.push(e) });
      let attempts = 0;
      const consumer = await start(
        {
          groupId,
          topics: [topic],
          fromBeginning: true,
          handle: async () => {
            attempts += 1;
            throw new Error('always fails');
          },
        },
        slow,
      );
      await waitFor(() => attempts === 1 && logs.length === 1, WAIT_MS, 'the first failure');
      const startedStopping = Date.now();
      await consumer.stop();
      expect(Date.now() - startedStopping).toBeLessThan(5_000); // did not sit out the 60 s pause
      expect(attempts).toBe(1);
      expect(await checkpoints.load(embeddedConsumerId(groupId, topic))).toBe(0n);
      const again = collector();
      await start({ groupId, topics: [topic], fromBeginning: true, handle: again.handle });
      await waitFor(() => again.values.length === 2, WAIT_MS, 'both messages for the next member');
      expect(again.values).toEqual(['k#0', 'k#1']);
    });

    it('bounds stop() by stopTimeoutMs and keeps the group taken until the stuck handler settles', async () => {
      const topic = freshTopic();
      const groupId = freshGroup();
      await new EmbeddedBusPublisher(store).publish(topic, [msg('k', 0)]);
      let finish!: () => void;
      const stuck = new Promise<void>((resolve) => (finish = resolve));
      let entered = false;
      const options: ConsumerOptions = {
        groupId,
        topics: [topic],
        fromBeginning: true,
        handle: async () => {
          entered = true;
          await stuck;
        },
      };
      const consumer = await start(options, subscriber({ stopTimeoutMs: 50 }));
      await waitFor(() => entered, WAIT_MS, 'the handler to start');
      expect((await busErrorOf(() => consumer.stop())).code).toBe('CONSUMER_FAILED');
      expect((await busErrorOf(() => start(options))).code).toBe('INVALID_OPTIONS');
      finish();
      // The handler resolved during stop: its checkpoint is stored, then the group is free again.
      await waitFor(async () => (await checkpoints.load(embeddedConsumerId(groupId, topic))) > 0n, WAIT_MS, 'the checkpoint of the finished handler');
      const next = collector();
      await waitFor(
        async () =>
          start({ ...options, handle: next.handle }).then(
            () => true,
            () => false,
          ),
        WAIT_MS,
        'the group to be free',
      );
      await new EmbeddedBusPublisher(store).publish(topic, [msg('k', 1)]);
      await waitFor(() => next.values.length === 1, WAIT_MS, 'the next message');
      expect(next.values).toEqual(['k#1']);
    });

    it('retries a failed checkpoint write before the next message, without calling the handler again', async () => {
      const topic = freshTopic();
      await new EmbeddedBusPublisher(store).publish(topic, [msg('k', 0), msg('k', 1)]);
      let failuresLeft = 2;
      const flaky: CheckpointStore = {
        load: (id) => checkpoints.load(id),
        store: async (id, position) => {
          if (failuresLeft-- > 0) throw new EventStoreUnavailableError('checkpoint table locked');
          return checkpoints.store(id, position);
        },
      };
      const seen = collector();
      const groupId = freshGroup();
      await start({ groupId, topics: [topic], fromBeginning: true, handle: seen.handle }, subscriber({ checkpoints: flaky }));
      await waitFor(() => seen.values.length === 2, WAIT_MS, 'both messages');
      expect(seen.values).toEqual(['k#0', 'k#1']);
      expect(logs.filter((e) => /checkpoint/.test(e.message)).map((e) => e.attempt)).toEqual([1, 2]);
      await waitFor(async () => (await checkpoints.load(embeddedConsumerId(groupId, topic))) === BigInt(seen.messages[1]!.offset), WAIT_MS, 'the last checkpoint');
    });

    it('keeps a checkpoint per topic: a group that adds a topic reads it from the start and nothing of the old one again', async () => {
      const [a, b] = [freshTopic(), freshTopic()];
      const groupId = freshGroup();
      const publisher = new EmbeddedBusPublisher(store);
      await publisher.publish(a, [msg('a', 0), msg('a', 1)]);
      await publisher.publish(b, [msg('b', 0)]);
      const first = collector();
      const member = await start({ groupId, topics: [a], fromBeginning: true, handle: first.handle });
      await waitFor(() => first.values.length === 2, WAIT_MS, 'topic a');
      await member.stop();

      await publisher.publish(a, [msg('a', 2)]);
      await publisher.publish(b, [msg('b', 1)]);
      const second = collector();
      await start({ groupId, topics: [a, b], fromBeginning: true, handle: second.handle });
      await waitFor(() => second.values.length === 3, WAIT_MS, 'the rest of a and all of b');
      expect(second.values).toEqual(['b#0', 'a#2', 'b#1']); // log order across the group's topics
      expect(await checkpoints.load(embeddedConsumerId(groupId, a))).toBe(BigInt(second.messages[1]!.offset));
    });

    it('moves a quiet topic’s checkpoint up when the member stops, so a restart need not re-read the busy one', async () => {
      const [busy, quiet] = [freshTopic(), freshTopic()];
      const groupId = freshGroup();
      const publisher = new EmbeddedBusPublisher(store);
      await publisher.publish(quiet, [msg('q', 0)]);
      await publisher.publish(busy, Array.from({ length: 5 }, (_, seq) => msg('b', seq)));
      const seen = collector();
      const member = await start({ groupId, topics: [busy, quiet], fromBeginning: true, handle: seen.handle });
      await waitFor(() => seen.values.length === 6, WAIT_MS, 'all six');
      await member.stop();
      const last = BigInt(seen.messages[5]!.offset);
      expect(await checkpoints.load(embeddedConsumerId(groupId, quiet))).toBe(last);
      expect(await checkpoints.load(embeddedConsumerId(groupId, busy))).toBe(last);
    });

    it('refuses malformed options with named codes', async () => {
      const base = { groupId: freshGroup(), topics: [freshTopic()], fromBeginning: true, handle: async () => undefined };
      expect((await busErrorOf(() => start({ ...base, groupId: 'bad group' }))).code).toBe('INVALID_OPTIONS');
      expect((await busErrorOf(() => start({ ...base, groupId: 'g'.repeat(64) }))).code).toBe('INVALID_OPTIONS');
      expect((await busErrorOf(() => start({ ...base, topics: [] }))).code).toBe('INVALID_OPTIONS');
      expect((await busErrorOf(() => start({ ...base, topics: ['t'.repeat(61)] }))).code).toBe('INVALID_TOPIC');
      expect((await busErrorOf(() => start({ ...base, handle: undefined as unknown as ConsumerOptions['handle'] }))).code).toBe('INVALID_OPTIONS');
      // The store refuses a read larger than its maxReadCount: start() fails and frees the group.
      store = new InMemoryEventStore({ limits: { ...DEFAULT_EVENT_STORE_LIMITS, maxReadCount: 10 } });
      expect((await busErrorOf(() => start(base, subscriber({ batchSize: 11 })))).code).toBe('CONSUMER_FAILED');
      await start(base, subscriber({ batchSize: 10 }));
    });
  });
});
