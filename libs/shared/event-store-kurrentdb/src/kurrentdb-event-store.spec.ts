import {
  DuplicateEventIdError,
  EventStoreUnavailableError,
  verifyChain,
  WrongExpectedVersionError,
  type EventStore,
  type RecordedEvent,
} from '@ledger/event-store';
import { describeEventStoreContract, testEvent, testEvents, uniqueCategory, uniqueStream } from '@ledger/testing';
import { randomUUID } from 'node:crypto';
import { KurrentDbCheckpointStore } from './kurrentdb-checkpoint-store';
import { KurrentDbEventStore, MAX_APPEND_ATTEMPTS } from './kurrentdb-event-store';
import { EVENT_ID_GUARD_STREAM_PREFIX, LEDGER_HASH_KEY } from './kurrentdb-mapping';
import { FakeKurrentDb } from './testing/fake-kurrentdb-driver';

/**
 * The adapter against a fake KurrentDB (see testing/fake-kurrentdb-driver.ts for what it models).
 * This checks the adapter's own logic without a server; the real server runs the same contract in
 * kurrentdb-event-store.int.spec.ts when KURRENTDB_URL is set.
 */
describeEventStoreContract('kurrentdb adapter on a fake driver', async () => {
  const fake = new FakeKurrentDb();
  const store = new KurrentDbEventStore({ driver: fake, pollIntervalMs: 20 });
  const others: KurrentDbEventStore[] = [];
  return {
    store,
    checkpoints: new KurrentDbCheckpointStore(fake),
    reopen: async () => {
      const other = new KurrentDbEventStore({ driver: fake, ownsDriver: false, pollIntervalMs: 20 });
      others.push(other);
      return other;
    },
    teardown: async () => {
      await Promise.all(others.map((o) => o.close()));
      await store.close();
    },
  };
});

/** The item at `index`, failing the test when there is none. */
function nth<T>(items: readonly T[], index: number): T {
  if (index < 0 || index >= items.length) throw new Error(`expected an item at ${index}, got ${items.length} items`);
  return items[index] as T;
}

async function readWhole(store: EventStore, streamId: string): Promise<readonly RecordedEvent[]> {
  return store.readStream(streamId, { direction: 'forwards', maxCount: 1_000 });
}

describe('KurrentDbEventStore mapping onto KurrentDB', () => {
  let fake: FakeKurrentDb;
  let store: KurrentDbEventStore;

  beforeEach(() => {
    fake = new FakeKurrentDb();
    store = new KurrentDbEventStore({ driver: fake, pollIntervalMs: 10 });
  });
  afterEach(async () => {
    await store.close();
  });

  it('stores string-only metadata with the hash under a private key, and strips it on read (v1 and v2 appends)', async () => {
    const one = uniqueStream();
    const two = uniqueStream();
    await store.appendToStream(one, [testEvent('Opened')], { expectedState: 'no_stream' });
    await store.appendToStreams([
      { streamId: one, expectedState: 0n, events: [testEvent('Deposited')] },
      { streamId: two, expectedState: 'no_stream', events: [testEvent('Opened')] },
    ]);
    const stored = fake.records.filter((r) => r.streamId === one).map((r) => JSON.parse(r.metadata) as Record<string, unknown>);
    for (const metadata of stored) {
      expect(Object.values(metadata).every((v) => typeof v === 'string')).toBe(true);
      expect(metadata['schemaVersion']).toBe('1');
      expect(metadata[LEDGER_HASH_KEY]).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(stored[1]).toHaveProperty(['$schema.name'], 'Deposited'); // added by the server on v2 appends
    const read = await readWhole(store, one);
    expect(nth(read, 1).metadata.schemaVersion).toBe(1);
    expect(Object.keys(nth(read, 1).metadata).some((k) => k.startsWith('$'))).toBe(false);
    expect(nth(read, 1).hash).toBe(nth(stored, 1)[LEDGER_HASH_KEY]);
    expect(verifyChain(read).ok).toBe(true);
  });

  it('uses the v1 append for one stream without caller ids, and one v2 append session otherwise', async () => {
    const streamId = uniqueStream();
    await store.appendToStream(streamId, testEvents(1), { expectedState: 'no_stream' });
    expect(fake.calls.filter((c) => c === 'appendToStream' || c === 'multiStreamAppend')).toEqual(['appendToStream']);
    await store.appendToStream(streamId, [testEvent('A', {}, randomUUID())], { expectedState: 0n });
    expect(fake.calls).toContain('multiStreamAppend');
    expect(fake.streamNames().filter((s) => s.startsWith(EVENT_ID_GUARD_STREAM_PREFIX))).toHaveLength(1);
  });

  it("retries 'any' when another writer moves the stream between head read and append, keeping one chain", async () => {
    const streamId = uniqueStream();
    await store.appendToStream(streamId, testEvents(1), { expectedState: 'no_stream' });
    const other = new KurrentDbEventStore({ driver: fake, ownsDriver: false });
    let interleaved = 0;
    fake.beforeAppend = async (streams) => {
      if (interleaved < 3 && streams.includes(streamId)) {
        interleaved += 1;
        const hook = fake.beforeAppend;
        fake.beforeAppend = undefined;
        await other.appendToStream(streamId, testEvents(1), { expectedState: 'any' });
        fake.beforeAppend = hook;
      }
    };
    const result = await store.appendToStream(streamId, testEvents(2), { expectedState: 'any' });
    expect(interleaved).toBe(3);
    expect(nth(result.streams, 0).nextExpectedRevision).toBe(5n);
    const read = await readWhole(store, streamId);
    expect(read).toHaveLength(6);
    expect(verifyChain(read).ok).toBe(true);
  });

  it('maps a server conflict on an exact revision to WrongExpectedVersionError with the actual state', async () => {
    const streamId = uniqueStream();
    await store.appendToStream(streamId, testEvents(1), { expectedState: 'no_stream' });
    const other = new KurrentDbEventStore({ driver: fake, ownsDriver: false });
    fake.beforeAppend = async () => {
      fake.beforeAppend = undefined;
      await other.appendToStream(streamId, testEvents(2), { expectedState: 0n });
    };
    const error = await store.appendToStream(streamId, testEvents(1), { expectedState: 0n }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ streamId, expected: 0n, actual: 2n });
  });

  it(`gives up after ${MAX_APPEND_ATTEMPTS} attempts under endless contention, with a named conflict`, async () => {
    const streamId = uniqueStream();
    await store.appendToStream(streamId, testEvents(1), { expectedState: 'no_stream' });
    const other = new KurrentDbEventStore({ driver: fake, ownsDriver: false });
    const hook = async (): Promise<void> => {
      fake.beforeAppend = undefined;
      await other.appendToStream(streamId, testEvents(1), { expectedState: 'any' });
      fake.beforeAppend = hook;
    };
    fake.beforeAppend = hook;
    const error = await store.appendToStream(streamId, testEvents(1), { expectedState: 'stream_exists' }).catch((e: unknown) => e);
    fake.beforeAppend = undefined;
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ streamId, expected: 'stream_exists' });
    expect(await readWhole(store, streamId)).toHaveLength(1 + MAX_APPEND_ATTEMPTS);
  });

  it('refuses a caller-supplied id already in the log through its guard stream, unless that is switched off', async () => {
    const id = randomUUID();
    await store.appendToStream(uniqueStream(), [testEvent('A', {}, id)], { expectedState: 'no_stream' });
    const second = uniqueStream();
    const error = await store.appendToStream(second, [testEvent('B', {}, id)], { expectedState: 'any' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateEventIdError);
    expect(await readWhole(store, second)).toEqual([]);

    const lenient = new KurrentDbEventStore({ driver: fake, ownsDriver: false, enforceUniqueEventIds: false });
    await lenient.appendToStream(second, [testEvent('B', {}, id)], { expectedState: 'no_stream' });
    expect(nth(await readWhole(store, second), 0).id).toBe(id);
  });

  it('reports a failing expectation before a duplicate id, as the other adapters do', async () => {
    const id = randomUUID();
    await store.appendToStream(uniqueStream(), [testEvent('A', {}, id)], { expectedState: 'no_stream' });
    const existing = uniqueStream();
    await store.appendToStream(existing, testEvents(1), { expectedState: 'no_stream' });
    const error = await store.appendToStream(existing, [testEvent('B', {}, id)], { expectedState: 'no_stream' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', streamId: existing, actual: 0n });
  });

  it('refuses streams differing only in case in one atomic append (KurrentDB folds case there)', async () => {
    const category = uniqueCategory();
    const error = await store
      .appendToStreams([
        { streamId: `${category}-Abc`, expectedState: 'any', events: testEvents(1) },
        { streamId: `${category}-abc`, expectedState: 'any', events: testEvents(1) },
      ])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DUPLICATE_STREAM_IN_APPEND' });
  });

  describe('appendBatch: one atomic append per request, in order (KurrentDB has no multi-request transaction)', () => {
    const appends = (): string[] => fake.calls.filter((c) => c === 'appendToStream' || c === 'multiStreamAppend');

    it('appends request after request, each with its own atomic append, and reports each', async () => {
      const [a, b, c] = [uniqueStream(), uniqueStream(), uniqueStream()];
      const outcomes = await store.appendBatch([
        [{ streamId: a, expectedState: 'no_stream', events: testEvents(1) }],
        [
          { streamId: b, expectedState: 'no_stream', events: testEvents(1) },
          { streamId: c, expectedState: 'no_stream', events: testEvents(2) },
        ],
        [{ streamId: a, expectedState: 0n, events: testEvents(1) }],
      ]);
      expect(appends()).toEqual(['appendToStream', 'multiStreamAppend', 'appendToStream']);
      expect(outcomes.map((o) => (o.ok ? o.result.streams.map((s) => s.nextExpectedRevision) : o.error.code))).toEqual([[0n], [0n, 1n], [1n]]);
      const positions = outcomes.map((o) => (o.ok ? o.result.position : -1n));
      expect(positions).toEqual([...positions].sort((x, y) => (x < y ? -1 : 1)));
      expect(verifyChain(await readWhole(store, a)).ok).toBe(true);
    });

    it('maps a conflict the server reports (another writer in between) to that request outcome and goes on', async () => {
      const [a, b] = [uniqueStream(), uniqueStream()];
      await store.appendToStream(a, testEvents(1), { expectedState: 'no_stream' });
      const other = new KurrentDbEventStore({ driver: fake, ownsDriver: false });
      fake.beforeAppend = async (streams) => {
        if (!streams.includes(a)) return;
        fake.beforeAppend = undefined;
        await other.appendToStream(a, testEvents(1), { expectedState: 0n });
      };
      const outcomes = await store.appendBatch([
        [{ streamId: a, expectedState: 0n, events: testEvents(1) }],
        [{ streamId: b, expectedState: 'no_stream', events: testEvents(1) }],
      ]);
      expect(outcomes[0]).toMatchObject({ ok: false, error: { code: 'WRONG_EXPECTED_VERSION', streamId: a, expected: 0n, actual: 1n } });
      expect(nth(outcomes, 0).ok ? undefined : (nth(outcomes, 0) as { error: unknown }).error).toBeInstanceOf(WrongExpectedVersionError);
      expect(outcomes[1]).toMatchObject({ ok: true });
      expect(await readWhole(store, a)).toHaveLength(2);
      expect(await readWhole(store, b)).toHaveLength(1);
    });

    it('maps a taken caller id (guard stream conflict) to a DuplicateEventIdError outcome', async () => {
      const id = randomUUID();
      const [a, b] = [uniqueStream(), uniqueStream()];
      const outcomes = await store.appendBatch([
        [{ streamId: a, expectedState: 'no_stream', events: [testEvent('A', {}, id)] }],
        [{ streamId: b, expectedState: 'no_stream', events: [testEvent('B', {}, id)] }],
      ]);
      expect(outcomes[0]).toMatchObject({ ok: true });
      const second = nth(outcomes, 1);
      expect(second.ok ? undefined : second.error).toBeInstanceOf(DuplicateEventIdError);
      expect(second).toMatchObject({ ok: false, error: { eventId: id } });
      expect(await readWhole(store, b)).toEqual([]);
    });

    it('validates every request (case clashes included) before the first append', async () => {
      const category = uniqueCategory();
      const error = await store
        .appendBatch([
          [{ streamId: uniqueStream(category), expectedState: 'no_stream', events: testEvents(1) }],
          [
            { streamId: `${category}-Abc`, expectedState: 'any', events: testEvents(1) },
            { streamId: `${category}-abc`, expectedState: 'any', events: testEvents(1) },
          ],
        ])
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'DUPLICATE_STREAM_IN_APPEND', details: { requestIndex: 1 } });
      expect(appends()).toEqual([]);
    });

    it('stops at an outage and throws it, the requests before it staying written (outcome unknown to the caller)', async () => {
      const [a, b, c] = [uniqueStream(), uniqueStream(), uniqueStream()];
      let appendsSeen = 0;
      fake.beforeAppend = () => {
        appendsSeen += 1;
        if (appendsSeen === 2) fake.failNext = { type: 'unavailable', message: 'connection lost' };
      };
      const error = await store
        .appendBatch([a, b, c].map((streamId) => [{ streamId, expectedState: 'no_stream' as const, events: testEvents(1) }]))
        .catch((e: unknown) => e);
      fake.beforeAppend = undefined;
      expect(error).toBeInstanceOf(EventStoreUnavailableError);
      expect(await readWhole(store, a)).toHaveLength(1);
      expect(await readWhole(store, c)).toEqual([]);
    });
  });

  it('skips system, private and foreign-named streams in readAll while the checkpoint moves past them', async () => {
    const category = uniqueCategory();
    fake.writeSystemEvent();
    await store.appendToStream(uniqueStream(category), [testEvent('A', {}, randomUUID())], { expectedState: 'no_stream' });
    fake.writeSystemEvent();
    fake.writeForeignEvent('NotALedgerStream');
    await new KurrentDbCheckpointStore(fake).store('consumer-1', 5n);
    const lastRecord = nth(fake.records, fake.records.length - 1);
    const page = await store.readAll({ fromPosition: 0n, maxCount: 100 });
    expect(page.events.map((e) => e.streamId.startsWith(category))).toEqual([true]);
    expect(page.checkpoint).toBe(lastRecord.position);
    expect(page.isEndOfBatch).toBe(false);
    const after = await store.readAll({ fromPosition: page.checkpoint, maxCount: 100 });
    expect(after).toEqual({ events: [], checkpoint: page.checkpoint, isEndOfBatch: false });
  });

  it('fails loudly on an event in a ledger-named stream that the adapter did not write', async () => {
    const streamId = uniqueStream();
    fake.writeForeignEvent(streamId);
    await expect(readWhole(store, streamId)).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(store.appendToStream(streamId, testEvents(1), { expectedState: 'any' })).rejects.toThrow(/not written by the ledger/);
  });

  it('reads $all from a position that is not an event by seeking back to the last event before it', async () => {
    const category = uniqueCategory();
    await store.appendToStream(uniqueStream(category), testEvents(3), { expectedState: 'no_stream' });
    const { events } = await store.readAll({ fromPosition: 0n, maxCount: 10, filter: { categories: [category] } });
    const [first, second, third] = [nth(events, 0), nth(events, 1), nth(events, 2)];
    const page = await store.readAll({ fromPosition: second.position - 1n, maxCount: 10, filter: { categories: [category] } });
    expect(page.events.map((e) => e.id)).toEqual([second.id, third.id]);
    expect(first.position).toBeLessThan(second.position - 1n);
    expect(fake.calls.filter((c) => c === 'readAll').length).toBeGreaterThan(3); // refused start, backwards seek, read
    const beyond = await store.readAll({ fromPosition: third.position + 10_000n, maxCount: 10 });
    expect(beyond.events).toEqual([]);
  });

  it('translates driver failures into EventStoreUnavailableError with the driver error as cause', async () => {
    const driverError = Object.assign(new Error('14 UNAVAILABLE: connect ECONNREFUSED'), { type: 'unavailable' });
    fake.failNext = driverError;
    const error = await store.readStream(uniqueStream(), { direction: 'forwards', maxCount: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EventStoreUnavailableError);
    expect((error as Error).cause).toBe(driverError);
    fake.failNext = { type: 'deadline-exceeded', message: 'Deadline exceeded' };
    await expect(store.appendToStream(uniqueStream(), testEvents(1), { expectedState: 'any' })).rejects.toBeInstanceOf(EventStoreUnavailableError);
  });

  it('close() ends open subscriptions, refuses further calls and disposes the driver it owns', async () => {
    const category = uniqueCategory();
    await store.appendToStream(uniqueStream(category), testEvents(1), { expectedState: 'no_stream' });
    const received: string[] = [];
    const running = (async () => {
      for await (const event of store.subscribeToAll({ fromPosition: 0n, filter: { categories: [category] } })) received.push(event.id);
    })();
    while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await store.close();
    await running;
    expect(received).toHaveLength(1);
    await expect(store.readAll({ fromPosition: 0n, maxCount: 1 })).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(fake.readStream('x', {})[Symbol.asyncIterator]().next()).rejects.toMatchObject({ type: 'unavailable' });
  });
});

describe('KurrentDbCheckpointStore', () => {
  it('keeps one event per consumer (maxCount 1), never moves backwards, and stays out of readAll', async () => {
    const fake = new FakeKurrentDb();
    const checkpoints = new KurrentDbCheckpointStore(fake);
    const store = new KurrentDbEventStore({ driver: fake });
    await checkpoints.store('projector-balances', 10n);
    await checkpoints.store('projector-balances', 3n);
    await checkpoints.store('projector-balances', 12n);
    expect(await checkpoints.load('projector-balances')).toBe(12n);
    expect(await checkpoints.load('projector-history')).toBe(0n);
    expect(fake.records.filter((r) => r.streamId === '$$_ledger.checkpoint-projector-balances')).toHaveLength(1);
    expect((await store.readAll({ fromPosition: 0n, maxCount: 100 })).events).toEqual([]);
    await expect(checkpoints.store('bad id with spaces', 1n)).rejects.toMatchObject({ code: 'INVALID_STREAM_NAME' });
    await expect(checkpoints.store('ok', -1n)).rejects.toMatchObject({ code: 'INVALID_READ_REQUEST' });
  });

  it('never loses to a concurrent writer of the same consumer: the larger position wins', async () => {
    const fake = new FakeKurrentDb();
    const checkpoints = new KurrentDbCheckpointStore(fake);
    await Promise.all([50n, 40n, 70n, 60n].map((p) => checkpoints.store('c', p)));
    expect(await checkpoints.load('c')).toBe(70n);
  });
});
