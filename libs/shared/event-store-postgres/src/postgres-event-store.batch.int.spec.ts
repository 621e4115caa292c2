import { chainBodyParts, DEFAULT_EVENT_STORE_LIMITS, prepareAppend, verifyChain, type AppendBatchOutcome, type StreamWrite } from '@ledger/event-store';
import { testEvent, testEvents, uniqueStream, waitFor } from '@ledger/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { MAX_BATCH_ATTEMPTS, PostgresEventStore } from './postgres-event-store';
import { migrateEventStore, POSITION_SHIFT } from './postgres-schema';

/**
 * What the contract cannot see of appendBatch on PostgreSQL (migration 4, `append_batch_packed`):
 * one statement per batch, event texts packed into one parameter and hashed in SQL exactly as
 * chainHash does, no placeholder heads left by skipped requests, positions inside one
 * transaction, the race with a concurrent writer of the same event id, and no deadlocks.
 */
describe('PostgresEventStore.appendBatch', () => {
  let pool: Pool;
  let schema: string;
  let store: PostgresEventStore;

  beforeAll(async () => {
    pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 12 });
    schema = `es_${randomBytes(5).toString('hex')}`;
    await migrateEventStore(pool, schema);
    store = new PostgresEventStore({ pool, schema });
  });
  afterAll(async () => {
    await store.close();
    await pool.end();
  });

  async function headRows(streamIds: readonly string[]): Promise<Array<{ stream_id: string; revision: string }>> {
    const { rows } = await pool.query<{ stream_id: string; revision: string }>(
      `SELECT stream_id, revision::text FROM ${schema}.streams WHERE stream_id = ANY($1::text[]) ORDER BY stream_id`,
      [streamIds],
    );
    return rows;
  }

  it('sends the whole batch as ONE statement', async () => {
    const spy = jest.spyOn(pool, 'query');
    try {
      const outcomes = await store.appendBatch(
        Array.from({ length: 16 }, () => [
          { streamId: uniqueStream(), expectedState: 'no_stream' as const, events: testEvents(1) },
          { streamId: uniqueStream(), expectedState: 'no_stream' as const, events: testEvents(1) },
        ]),
      );
      expect(outcomes.every((o) => o.ok)).toBe(true);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('hashes what chainHash hashes and stores the data it was given, whatever characters the texts hold', async () => {
    const awkward = {
      control: '\u0001\u0002\u001f\n\t\r\b\f',
      quotes: 'say "hi" \\ back\\slash / slash',
      unicode: 'é ß 中文 🙂 \u2028\u2029',
      nested: { 'key "quoted"': ['\u0001', 1, -2.5, true, null], empty: {}, list: [] },
      'ключ': 'значение',
    };
    const a = uniqueStream();
    const b = uniqueStream();
    const eventsA = [testEvent('Awkward', awkward), testEvent('Plain', {})];
    const eventsB = [testEvent('Awkward', { ...awkward, again: '\u0001' })];
    const outcomes = await store.appendBatch([
      [{ streamId: a, expectedState: 'no_stream', events: eventsA }],
      [{ streamId: b, expectedState: 'no_stream', events: eventsB }],
    ]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const readA = await store.readStream(a, { direction: 'forwards', maxCount: 10 });
    const readB = await store.readStream(b, { direction: 'forwards', maxCount: 10 });
    expect(readA.map((e) => e.data)).toEqual(eventsA.map((e) => e.data));
    expect(readB.map((e) => e.data)).toEqual(eventsB.map((e) => e.data));
    expect(readA[0]!.data).toMatchObject(awkward);
    expect(verifyChain(readA)).toMatchObject({ ok: true, checked: 2 });
    expect(verifyChain(readB)).toMatchObject({ ok: true, checked: 1 });
  });

  it('refuses a packed call whose texts do not match its event ids, writing nothing', async () => {
    const stream = uniqueStream();
    const call = rawAppendBatchPacked([[{ streamId: stream, expectedState: 'no_stream', events: testEvents(2) }]]);
    const values = [...call.values];
    values[7] = String(values[7]).split('\u0001')[0];
    await expect(pool.query(call.text, values)).rejects.toThrow(/2 event ids but 1 data and 2 metadata texts/);
    expect(await headRows([stream])).toEqual([]);
  });

  it('deletes the heads it created for requests it then skipped: no revision -1 row survives', async () => {
    const fresh = uniqueStream();
    const alsoFresh = uniqueStream();
    const busy = uniqueStream();
    const written = uniqueStream();
    await store.appendToStream(busy, testEvents(1), { expectedState: 'no_stream' });
    const outcomes = await store.appendBatch([
      [
        { streamId: fresh, expectedState: 'no_stream', events: testEvents(1) },
        { streamId: busy, expectedState: 'no_stream', events: testEvents(1) },
      ],
      [{ streamId: written, expectedState: 'no_stream', events: testEvents(1) }],
      [{ streamId: alsoFresh, expectedState: 3n, events: testEvents(1) }],
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([false, true, false]);
    expect(await headRows([fresh, alsoFresh, busy, written])).toEqual(
      [
        { stream_id: busy, revision: '0' },
        { stream_id: written, revision: '0' },
      ].sort((x, y) => (x.stream_id < y.stream_id ? -1 : 1)),
    );
    const { rows } = await pool.query(`SELECT stream_id FROM ${schema}.streams WHERE revision < 0`);
    expect(rows).toEqual([]);
    // The stream is still new: created later with no_stream, it starts at revision 0 and chains from genesis.
    await store.appendToStream(fresh, testEvents(2), { expectedState: 'no_stream' });
    const read = await store.readStream(fresh, { direction: 'forwards', maxCount: 10 });
    expect(read.map((e) => e.revision)).toEqual([0n, 1n]);
    expect(verifyChain(read).ok).toBe(true);
  });

  it('numbers positions transaction id × 2^16 + index, counting on across appends inside one transaction', async () => {
    const a = uniqueStream();
    const b = uniqueStream();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // append_to_streams, then append_batch (the previous release's) and append_batch_packed, all in the same transaction.
      await client.query(rawAppendToStreams([{ streamId: a, expectedState: 'no_stream', events: testEvents(2) }]));
      const first = await client.query<{ r_status: string }>(
        rawAppendBatch([[{ streamId: a, expectedState: 1n, events: testEvents(1) }], [{ streamId: b, expectedState: 'no_stream', events: testEvents(2) }]]),
      );
      const second = await client.query<{ r_status: string }>(
        rawAppendBatchPacked([[{ streamId: b, expectedState: 0n, events: testEvents(1) }], [{ streamId: a, expectedState: 2n, events: testEvents(1) }]]),
      );
      await client.query('COMMIT');
      expect(first.rows.map((r) => r.r_status)).toEqual(['ok', 'ok']);
      expect(second.rows.map((r) => r.r_status)).toEqual(['conflict', 'ok']);
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
    const readA = await store.readStream(a, { direction: 'forwards', maxCount: 10 });
    const readB = await store.readStream(b, { direction: 'forwards', maxCount: 10 });
    const positions = [...readA, ...readB].map((e) => e.position).sort((x, y) => (x < y ? -1 : 1));
    expect(positions).toHaveLength(6);
    const xid = positions[0]! / POSITION_SHIFT;
    expect(positions).toEqual([0n, 1n, 2n, 3n, 4n, 5n].map((i) => xid * POSITION_SHIFT + i));
    expect(readA.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n]);
    expect(verifyChain(readA).ok).toBe(true);
    expect(verifyChain(readB).ok).toBe(true);
  });

  it('skips a request whose event id another transaction commits while the batch runs (the statement is run again)', async () => {
    const id = randomUUID();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const holding = new Promise<void>((resolve) => (reached = resolve));
    const holder = new PostgresEventStore({
      pool,
      schema,
      beforeCommit: async () => {
        reached();
        await held;
      },
    });
    const holderAppend = holder.appendToStream(uniqueStream(), [testEvent('Claimed', {}, id)], { expectedState: 'no_stream' });
    let batch: Promise<readonly AppendBatchOutcome[]> | undefined;
    const spy = jest.spyOn(pool, 'query');
    try {
      await holding;
      const loser = uniqueStream();
      const other = uniqueStream();
      batch = store.appendBatch([
        [{ streamId: loser, expectedState: 'no_stream', events: [testEvent('Late', {}, id)] }],
        [{ streamId: other, expectedState: 'no_stream', events: testEvents(1) }],
      ]);
      // The batch's lookup cannot see the uncommitted id; its INSERT waits on the holder's transaction.
      await waitFor(async () => {
        const { rows } = await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%append_batch%' AND datname = current_database()`,
        );
        return rows.length > 0;
      }, 10_000, 'the batch waiting on the uncommitted event id');
      release();
      await holderAppend;
      const outcomes = await batch;
      expect(outcomes[0]).toMatchObject({ ok: false, error: { code: 'DUPLICATE_EVENT_ID', eventId: id } });
      expect(outcomes[1]).toMatchObject({ ok: true });
      expect(await store.readStream(loser, { direction: 'forwards', maxCount: 1 })).toEqual([]);
      expect(await headRows([loser])).toEqual([]);
      const batchCalls = spy.mock.calls.filter(([text]) => typeof text === 'string' && text.includes('.append_batch_packed('));
      expect(batchCalls).toHaveLength(2);
      expect(MAX_BATCH_ATTEMPTS).toBeGreaterThanOrEqual(2);
    } finally {
      spy.mockRestore();
      release();
      await holderAppend.catch(() => undefined);
      await batch?.catch(() => undefined);
      await holder.close();
    }
  });

  it('never deadlocks: concurrent batches naming shared streams in opposite orders all commit', async () => {
    const streams = Array.from({ length: 6 }, () => uniqueStream());
    for (const s of streams) await store.appendToStream(s, testEvents(1), { expectedState: 'no_stream' });
    const batches = Array.from({ length: 10 }, (_, i) => {
      const order = i % 2 === 0 ? streams : [...streams].reverse();
      return store.appendBatch(
        Array.from({ length: 3 }, (_, k) => [
          { streamId: order[k]!, expectedState: 'any' as const, events: testEvents(1) },
          { streamId: order[5 - k]!, expectedState: 'stream_exists' as const, events: testEvents(1) },
        ]),
      );
    });
    const outcomes = (await Promise.all(batches)).flat();
    expect(outcomes.every((o) => o.ok)).toBe(true);
    for (const s of streams) {
      const read = await store.readStream(s, { direction: 'forwards', maxCount: 100 });
      expect(read).toHaveLength(1 + 10);
      expect(verifyChain(read).ok).toBe(true);
    }
  });

  it('refuses limits PostgreSQL cannot honour: more than 65,536 events in a batch', () => {
    expect(() => new PostgresEventStore({ pool, schema, limits: { ...DEFAULT_EVENT_STORE_LIMITS, maxEventsPerBatch: 65_537 } })).toThrow(
      /maxEventsPerBatch may not exceed 65536/,
    );
  });

  /** The flat arrays both functions take, built as the adapter builds them. */
  function columns(writes: readonly StreamWrite[]): unknown[] {
    const prepared = prepareAppend(writes, DEFAULT_EVENT_STORE_LIMITS);
    const events = prepared.flatMap((w) => w.events.map((e) => ({ ...e, streamId: w.streamId, parts: chainBodyParts({ ...e, streamId: w.streamId }) })));
    return [
      prepared.map((w) => w.streamId),
      prepared.map((w) => w.category),
      prepared.map((w) => (typeof w.expectedState === 'bigint' ? w.expectedState.toString() : w.expectedState)),
      prepared.map((w) => w.events.length),
      events.map((e) => e.id),
      events.map((e) => e.type),
      events.map((e) => e.dataJson),
      events.map((e) => e.metadataJson),
      events.map((e) => e.parts.beforeRevision),
      events.map((e) => e.parts.afterRevision),
    ];
  }

  function rawAppendToStreams(writes: readonly StreamWrite[]): { text: string; values: unknown[] } {
    return {
      text: `SELECT * FROM ${schema}.append_to_streams($1::text[], $2::text[], $3::text[], $4::int[], $5::uuid[], $6::text[], $7::jsonb[], $8::jsonb[], $9::text[], $10::text[])`,
      values: columns(writes),
    };
  }

  /** Migration 3's function, kept for instances of the previous release. */
  function rawAppendBatch(requests: readonly (readonly StreamWrite[])[]): { text: string; values: unknown[] } {
    return {
      text: `SELECT * FROM ${schema}.append_batch($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::uuid[], $7::text[], $8::jsonb[], $9::jsonb[], $10::text[], $11::text[], $12::uuid[])`,
      values: [requests.map((r) => r.length), ...columns(requests.flat()), []],
    };
  }

  function rawAppendBatchPacked(requests: readonly (readonly StreamWrite[])[]): { text: string; values: unknown[] } {
    const [streamIds, categories, expected, counts, ids, types, data, metadata] = columns(requests.flat()) as string[][];
    return {
      text: `SELECT * FROM ${schema}.append_batch_packed($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::uuid[], $7::text[], $8::text, $9::text, $10::uuid[])`,
      values: [requests.map((r) => r.length), streamIds, categories, expected, counts, ids, types, data!.join('\u0001'), metadata!.join('\u0001'), []],
    };
  }
});
