import { testEvents, uniqueCategory, uniqueStream, waitFor } from '@ledger/testing';
import type { RecordedEvent } from '@ledger/event-store';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { PostgresEventStore } from './postgres-event-store';
import { migrateEventStore } from './postgres-schema';

/** A latch a test opens by hand: the held transaction stays open until then. */
function latch(): { wait: Promise<void>; open: () => void; reached: Promise<void>; markReached: () => void } {
  let open!: () => void;
  let markReached!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (markReached = resolve));
  return { wait, open, reached, markReached };
}

describe('PostgresEventStore: out-of-order commits never make a reader skip', () => {
  let pool: Pool;
  let schema: string;

  beforeAll(async () => {
    pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 10 });
    schema = `es_${randomBytes(5).toString('hex')}`;
    await migrateEventStore(pool, schema);
  });
  afterAll(() => pool.end());

  it('holds back a later commit until the earlier transaction ends, then delivers both', async () => {
    const category = uniqueCategory();
    const slowStream = uniqueStream(category);
    const fastStream = uniqueStream(category);
    const hold = latch();
    const slowStore = new PostgresEventStore({
      pool,
      schema,
      beforeCommit: async () => {
        hold.markReached();
        await hold.wait;
      },
    });
    const store = new PostgresEventStore({ pool, schema });

    // The slow transaction takes its transaction id (and so its positions) first...
    const slowAppend = slowStore.appendToStream(slowStream, testEvents(2), { expectedState: 'no_stream' });
    await hold.reached;
    try {
    // ...then a later transaction commits first.
    const fast = await store.appendToStream(fastStream, testEvents(1), { expectedState: 'no_stream' });

    // A naive "position > checkpoint" reader would return the fast event now and then skip the slow ones.
    const whileHeld = await store.readAll({ fromPosition: 0n, maxCount: 100, filter: { categories: [category] } });
    expect(whileHeld.events).toEqual([]);
    expect(whileHeld.checkpoint).toBeLessThan(fast.position);
    // The committed event is readable by stream: only the global order waits.
    expect(await store.readStream(fastStream, { direction: 'forwards', maxCount: 10 })).toHaveLength(1);

    hold.open();
    const slow = await slowAppend;
    expect(slow.position).toBeLessThan(fast.position);
    // Both committed; another suite's transaction on the shared server may still hold the horizon
    // for a moment, so read until the horizon passes the fast event (bounded), then check order.
    let after: readonly RecordedEvent[] = [];
    await waitFor(
      async () => {
        const read = await store.readAll({ fromPosition: whileHeld.checkpoint, maxCount: 100, filter: { categories: [category] } });
        after = read.events;
        return read.checkpoint >= fast.position;
      },
      30_000,
      'the read horizon to pass both commits',
    );
    expect(after.map((e) => e.streamId)).toEqual([slowStream, slowStream, fastStream]);
    } finally {
      hold.open(); // never leave the held transaction open when an assertion fails
      await slowAppend.catch(() => undefined);
    }
  });

  it('a live subscription under concurrent, randomly delayed appends receives every event exactly once, in position order', async () => {
    const category = uniqueCategory();
    const writers = 8;
    const appendsPerWriter = 15;
    let delayed = 0;
    const store = new PostgresEventStore({
      pool,
      schema,
      pollIntervalMs: 10,
      // Every third transaction lingers before COMMIT, so commit order keeps departing from position order.
      beforeCommit: async () => {
        delayed += 1;
        if (delayed % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
        if (delayed % 5 === 0) await pool.query('SELECT pg_sleep(0.01)');
      },
    });
    const reader = new PostgresEventStore({ pool, schema, pollIntervalMs: 5 });
    const expectedCount = writers * appendsPerWriter * 2;
    const abort = new AbortController();
    const received: RecordedEvent[] = [];
    const consuming = (async () => {
      for await (const event of reader.subscribeToAll({ fromPosition: 0n, filter: { categories: [category] }, signal: abort.signal, batchSize: 7 })) {
        received.push(event);
        if (received.length === expectedCount) abort.abort();
      }
    })();
    await Promise.all(
      Array.from({ length: writers }, async () => {
        for (let i = 0; i < appendsPerWriter; i += 1) {
          await store.appendToStream(uniqueStream(category), testEvents(2), { expectedState: 'no_stream' });
        }
      }),
    );
    const timeout = setTimeout(() => abort.abort(), 20_000); // bound: a skipped event would otherwise wait forever
    await consuming;
    clearTimeout(timeout);
    expect(received).toHaveLength(expectedCount);
    expect(new Set(received.map((e) => e.id)).size).toBe(expectedCount);
    expect(received.every((e, i) => i === 0 || e.position > received[i - 1]!.position)).toBe(true);
  });
});
