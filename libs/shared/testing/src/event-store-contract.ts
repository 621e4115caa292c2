import {
  DEFAULT_EVENT_STORE_LIMITS,
  DuplicateEventIdError,
  EventStoreError,
  EventStoreValidationError,
  GENESIS_HASH,
  verifyChain,
  WrongExpectedVersionError,
  type AppendBatchOutcome,
  type AppendResult,
  type CheckpointStore,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
  type StreamWrite,
} from '@ledger/event-store';
import { randomUUID } from 'node:crypto';
import { testEvent, testEvents, testMetadata, uniqueCategory, uniqueStream } from './event-fixtures';
import { waitFor } from './wait-for';

export interface EventStoreUnderTest {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  /** A second store instance on the same storage, as another process would have. */
  readonly reopen?: () => Promise<EventStore>;
  teardown(): Promise<void>;
}

export interface EventStoreCapabilities {
  /** Refuses an event id already in the log with DuplicateEventIdError (KurrentDB deduplicates instead). */
  readonly rejectsDuplicateEventIds: boolean;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<EventStoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EventStoreError);
  expect((error as EventStoreError).code).toBe(code);
  return error as EventStoreError;
}

/** The result of a written batch request, failing the test when it was refused. */
function written(outcome: AppendBatchOutcome | undefined): AppendResult {
  if (!outcome?.ok) throw new Error(`expected a written request, got ${outcome ? `${outcome.error.name}: ${outcome.error.message}` : 'no outcome'}`);
  return outcome.result;
}

/** The error of a refused batch request, failing the test when it was written. */
function refused(outcome: AppendBatchOutcome | undefined): WrongExpectedVersionError | DuplicateEventIdError {
  if (outcome === undefined || outcome.ok) throw new Error(`expected a refused request, got ${outcome ? 'a written one' : 'no outcome'}`);
  return outcome.error;
}

async function readWhole(store: EventStore, streamId: string): Promise<readonly RecordedEvent[]> {
  return store.readStream(streamId, { direction: 'forwards', maxCount: 4_096 });
}

async function readCategory(store: EventStore, category: string, fromPosition: bigint): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let from = fromPosition;
  for (;;) {
    const page = await store.readAll({ fromPosition: from, maxCount: 100, filter: { categories: [category] } });
    out.push(...page.events);
    from = page.checkpoint;
    if (!page.isEndOfBatch) return out;
  }
}

/**
 * Reads a category of the global log once `expectedCount` events are visible. The global log may
 * trail a commit while older transactions are still open (PostgreSQL holds readers below them so
 * none is ever skipped), so the wait is bounded, not assumed away.
 */
async function collect(store: EventStore, category: string, expectedCount: number, fromPosition = 0n): Promise<RecordedEvent[]> {
  let events: RecordedEvent[] = [];
  await waitFor(async () => {
    events = await readCategory(store, category, fromPosition);
    return events.length >= expectedCount;
  }, 10_000, `${expectedCount} events of category ${category} in the global log`);
  return events;
}

/**
 * The one contract every EventStore adapter passes. Tests use fresh categories and streams, so
 * they hold on a store that other tests (or other processes) are writing to at the same time.
 */
export function describeEventStoreContract(
  adapterName: string,
  makeStore: () => Promise<EventStoreUnderTest>,
  capabilities: EventStoreCapabilities = { rejectsDuplicateEventIds: true },
): void {
  describe(`EventStore contract: ${adapterName}`, () => {
    let subject: EventStoreUnderTest;
    let store: EventStore;

    beforeAll(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterAll(async () => {
      await subject?.teardown();
    });

    describe('appending to one stream', () => {
      it('records the full envelope with revisions from 0 and increasing positions', async () => {
        const streamId = uniqueStream();
        const events = [testEvent('FundsDeposited', { amount: '10.00' }), testEvent('FundsWithdrawn')];
        const metadata = { ...testMetadata(), idempotencyKey: 'key-1' };
        const withMetadata: NewEvent[] = [{ ...events[0]!, id: randomUUID(), metadata }, events[1]!];
        const result = await store.appendToStream(streamId, withMetadata, { expectedState: 'no_stream' });

        const read = await readWhole(store, streamId);
        expect(read).toHaveLength(2);
        expect(read.map((e) => e.revision)).toEqual([0n, 1n]);
        expect(read[0]!.id).toBe(withMetadata[0]!.id);
        expect(read[0]!.type).toBe('FundsDeposited');
        expect(read[0]!.data).toEqual(withMetadata[0]!.data);
        expect(read[0]!.metadata).toEqual(metadata);
        expect(read[0]!.streamId).toBe(streamId);
        expect(read[0]!.recordedAt).toBeInstanceOf(Date);
        expect(Math.abs(read[0]!.recordedAt.getTime() - Date.now())).toBeLessThan(60_000);
        expect(read[1]!.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(read[0]!.position).toBeGreaterThan(0n);
        expect(read[1]!.position).toBeGreaterThan(read[0]!.position);
        expect(result.position).toBe(read[1]!.position);
        expect(result.streams).toEqual([{ streamId, nextExpectedRevision: 1n, position: read[1]!.position }]);
      });

      it('chains each event to the previous one of its stream, across appends', async () => {
        const streamId = uniqueStream();
        await store.appendToStream(streamId, testEvents(3), { expectedState: 'no_stream' });
        await store.appendToStream(streamId, testEvents(2), { expectedState: 2n });
        const read = await readWhole(store, streamId);
        expect(verifyChain(read)).toEqual({ ok: true, lastHash: read[4]!.hash, checked: 5 });
        expect(read[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
        const tampered = read.map((e, i) => (i === 3 ? { ...e, data: { ...e.data, value: 'forged' } } : e));
        expect(verifyChain(tampered)).toMatchObject({ ok: false, revision: 3n, reason: 'HASH_MISMATCH' });
        expect(verifyChain(read.slice(2), read[1]!.hash)).toMatchObject({ ok: true });
        expect(verifyChain(read.slice(2), GENESIS_HASH)).toMatchObject({ ok: false, reason: 'HASH_MISMATCH' });
      });

      it.each([
        ['no_stream on an existing stream', 'no_stream' as const, 0n],
        ['an exact revision that is stale', 0n, 1n],
        ['an exact revision ahead of the stream', 5n, 1n],
      ])('refuses %s and names stream, expected and actual', async (_label, expectedState, actualAfterSetup) => {
        const streamId = uniqueStream();
        await store.appendToStream(streamId, testEvents(Number(actualAfterSetup) + 1), { expectedState: 'no_stream' });
        const error = await expectCode(store.appendToStream(streamId, testEvents(1), { expectedState }), 'WRONG_EXPECTED_VERSION');
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ streamId, expected: expectedState, actual: actualAfterSetup });
        expect(await readWhole(store, streamId)).toHaveLength(Number(actualAfterSetup) + 1);
      });

      it('refuses stream_exists and exact revisions on a missing stream, reporting no_stream', async () => {
        const streamId = uniqueStream();
        await expectCode(store.appendToStream(streamId, testEvents(1), { expectedState: 'stream_exists' }), 'WRONG_EXPECTED_VERSION');
        const error = await expectCode(store.appendToStream(streamId, testEvents(1), { expectedState: 0n }), 'WRONG_EXPECTED_VERSION');
        expect(error).toMatchObject({ streamId, expected: 0n, actual: 'no_stream' });
        expect(await readWhole(store, streamId)).toHaveLength(0);
      });

      it("accepts 'any' and 'stream_exists' when they hold", async () => {
        const streamId = uniqueStream();
        await store.appendToStream(streamId, testEvents(1), { expectedState: 'any' });
        await store.appendToStream(streamId, testEvents(1), { expectedState: 'stream_exists' });
        const result = await store.appendToStream(streamId, testEvents(1), { expectedState: 'any' });
        expect(result.streams[0]!.nextExpectedRevision).toBe(2n);
        expect(verifyChain(await readWhole(store, streamId)).ok).toBe(true);
      });

      it('lets exactly one of N parallel writers with the same expected revision win', async () => {
        const streamId = uniqueStream();
        await store.appendToStream(streamId, testEvents(1), { expectedState: 'no_stream' });
        const writers = 16;
        const outcomes = await Promise.allSettled(
          Array.from({ length: writers }, () => store.appendToStream(streamId, testEvents(2), { expectedState: 0n })),
        );
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(writers - 1);
        for (const loss of lost) {
          expect(loss.reason).toBeInstanceOf(WrongExpectedVersionError);
          expect(loss.reason).toMatchObject({ streamId, expected: 0n, actual: 2n });
        }
        const read = await readWhole(store, streamId);
        expect(read).toHaveLength(3);
        expect(verifyChain(read).ok).toBe(true);
      });

      it('lets exactly one of N parallel writers create a stream with no_stream', async () => {
        const streamId = uniqueStream();
        const outcomes = await Promise.allSettled(
          Array.from({ length: 12 }, () => store.appendToStream(streamId, testEvents(1), { expectedState: 'no_stream' })),
        );
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        expect(await readWhole(store, streamId)).toHaveLength(1);
      });

      it("keeps every append of N parallel 'any' writers, in one unbroken chain", async () => {
        const streamId = uniqueStream();
        await Promise.all(Array.from({ length: 10 }, () => store.appendToStream(streamId, testEvents(2), { expectedState: 'any' })));
        const read = await readWhole(store, streamId);
        expect(read).toHaveLength(20);
        expect(verifyChain(read).ok).toBe(true);
      });
    });

    describe('appending to several streams atomically', () => {
      it('writes every stream in one commit and reports each', async () => {
        const a = uniqueStream();
        const b = uniqueStream();
        await store.appendToStream(b, testEvents(1), { expectedState: 'no_stream' });
        const result = await store.appendToStreams([
          { streamId: a, expectedState: 'no_stream', events: testEvents(2) },
          { streamId: b, expectedState: 0n, events: testEvents(1) },
        ]);
        const readA = await readWhole(store, a);
        const readB = await readWhole(store, b);
        expect(readA.map((e) => e.revision)).toEqual([0n, 1n]);
        expect(readB.map((e) => e.revision)).toEqual([0n, 1n]);
        expect(result.streams).toEqual([
          { streamId: a, nextExpectedRevision: 1n, position: readA[1]!.position },
          { streamId: b, nextExpectedRevision: 1n, position: readB[1]!.position },
        ]);
        expect(result.position).toBe([readA[1]!.position, readB[1]!.position].reduce((x, y) => (x > y ? x : y)));
      });

      it('writes nothing anywhere when one stream conflicts, and names that stream', async () => {
        const a = uniqueStream();
        const b = uniqueStream();
        await store.appendToStream(b, testEvents(2), { expectedState: 'no_stream' });
        const error = await expectCode(
          store.appendToStreams([
            { streamId: a, expectedState: 'no_stream', events: testEvents(1) },
            { streamId: b, expectedState: 0n, events: testEvents(1) },
          ]),
          'WRONG_EXPECTED_VERSION',
        );
        expect(error).toMatchObject({ streamId: b, expected: 0n, actual: 1n });
        expect(await readWhole(store, a)).toHaveLength(0);
        expect(await readWhole(store, b)).toHaveLength(2);
        // The failed append left no trace: the missing stream can still be created as new.
        await store.appendToStream(a, testEvents(1), { expectedState: 'no_stream' });
      });

      it('never loses an update when parallel transfers overlap on the same streams', async () => {
        const hub = uniqueStream();
        const spokes = Array.from({ length: 4 }, () => uniqueStream());
        await store.appendToStream(hub, testEvents(1), { expectedState: 'no_stream' });
        for (const spoke of spokes) await store.appendToStream(spoke, testEvents(1), { expectedState: 'no_stream' });
        // Each writer reads the revisions it decides on, then appends to the hub and one spoke.
        const attempt = async (spoke: string): Promise<boolean> => {
          const [hubLast] = await store.readStream(hub, { direction: 'backwards', maxCount: 1 });
          const [spokeLast] = await store.readStream(spoke, { direction: 'backwards', maxCount: 1 });
          try {
            await store.appendToStreams([
              { streamId: spoke, expectedState: spokeLast!.revision, events: testEvents(1) },
              { streamId: hub, expectedState: hubLast!.revision, events: testEvents(1) },
            ]);
            return true;
          } catch (error) {
            if (error instanceof WrongExpectedVersionError) return false;
            throw error;
          }
        };
        const results = await Promise.all(Array.from({ length: 24 }, (_, i) => attempt(spokes[i % spokes.length]!)));
        const successes = results.filter(Boolean).length;
        expect(successes).toBeGreaterThan(0);
        const hubEvents = await readWhole(store, hub);
        expect(hubEvents).toHaveLength(1 + successes);
        const spokeTotal = (await Promise.all(spokes.map((s) => readWhole(store, s)))).reduce((n, e) => n + e.length - 1, 0);
        expect(spokeTotal).toBe(successes);
        expect(verifyChain(hubEvents).ok).toBe(true);
      });
    });

    describe('batched appends', () => {
      const limits = DEFAULT_EVENT_STORE_LIMITS;

      it('writes independent requests in request order and reports each as appendToStreams would', async () => {
        const category = uniqueCategory();
        const [a, b, c] = [uniqueStream(category), uniqueStream(category), uniqueStream(category)];
        await store.appendToStream(b, testEvents(1), { expectedState: 'no_stream' });
        const outcomes = await store.appendBatch([
          [{ streamId: a, expectedState: 'no_stream', events: testEvents(2) }],
          [
            { streamId: b, expectedState: 0n, events: testEvents(1) },
            { streamId: c, expectedState: 'any', events: testEvents(1) },
          ],
        ]);
        expect(outcomes).toHaveLength(2);
        const [readA, readB, readC] = await Promise.all([a, b, c].map((s) => readWhole(store, s)));
        expect(written(outcomes[0])).toEqual({
          position: readA![1]!.position,
          streams: [{ streamId: a, nextExpectedRevision: 1n, position: readA![1]!.position }],
        });
        const second = written(outcomes[1]);
        expect(second.streams).toEqual([
          { streamId: b, nextExpectedRevision: 1n, position: readB![1]!.position },
          { streamId: c, nextExpectedRevision: 0n, position: readC![0]!.position },
        ]);
        expect(second.position).toBe([readB![1]!.position, readC![0]!.position].reduce((x, y) => (x > y ? x : y)));
        // Request order is position order: every event of the first request precedes the second's.
        expect(readA![1]!.position).toBeLessThan(readB![1]!.position);
        expect(readA![1]!.position).toBeLessThan(readC![0]!.position);
        for (const events of [readA!, readB!, readC!]) expect(verifyChain(events).ok).toBe(true);
        const log = await collect(store, category, 5);
        expect(log.slice(1).map((e) => e.streamId)).toEqual([a, a, ...(readB![1]!.position < readC![0]!.position ? [b, c] : [c, b])]);
      });

      it('skips a request whose expectation fails, writing nothing of it on any stream, and writes the others', async () => {
        const [a, fresh, busy, d] = [uniqueStream(), uniqueStream(), uniqueStream(), uniqueStream()];
        await store.appendToStream(busy, testEvents(2), { expectedState: 'no_stream' });
        const outcomes = await store.appendBatch([
          [{ streamId: a, expectedState: 'no_stream', events: testEvents(1) }],
          [
            { streamId: fresh, expectedState: 'no_stream', events: testEvents(2) },
            { streamId: busy, expectedState: 0n, events: testEvents(1) },
          ],
          [{ streamId: d, expectedState: 'no_stream', events: testEvents(1) }],
        ]);
        expect(written(outcomes[0]).streams[0]!.nextExpectedRevision).toBe(0n);
        const error = refused(outcomes[1]);
        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', streamId: busy, expected: 0n, actual: 1n });
        expect(written(outcomes[2]).streams[0]!.nextExpectedRevision).toBe(0n);
        expect(await readWhole(store, a)).toHaveLength(1);
        expect(await readWhole(store, d)).toHaveLength(1);
        expect(await readWhole(store, busy)).toHaveLength(2);
        expect(await readWhole(store, fresh)).toEqual([]);
      });

      it('leaves no trace of a stream that only a skipped request would have created', async () => {
        const fresh = uniqueStream();
        const busy = uniqueStream();
        await store.appendToStream(busy, testEvents(1), { expectedState: 'no_stream' });
        const outcomes = await store.appendBatch([
          [
            { streamId: fresh, expectedState: 'no_stream', events: testEvents(1) },
            { streamId: busy, expectedState: 'no_stream', events: testEvents(1) },
          ],
        ]);
        expect(refused(outcomes[0])).toMatchObject({ streamId: busy, expected: 'no_stream', actual: 0n });
        expect(await readWhole(store, fresh)).toEqual([]);
        expect(await store.readStream(fresh, { direction: 'backwards', maxCount: 1 })).toEqual([]);
        const [existsCheck] = await store.appendBatch([[{ streamId: fresh, expectedState: 'stream_exists', events: testEvents(1) }]]);
        expect(refused(existsCheck)).toMatchObject({ streamId: fresh, actual: 'no_stream' });
        const created = await store.appendToStream(fresh, testEvents(1), { expectedState: 'no_stream' });
        expect(created.streams[0]!.nextExpectedRevision).toBe(0n);
        const read = await readWhole(store, fresh);
        expect(read.map((e) => e.revision)).toEqual([0n]);
        expect(verifyChain(read).ok).toBe(true);
      });

      it('appends twice to one stream in one batch, the second expecting the first, in one hash chain', async () => {
        const s = uniqueStream();
        const t = uniqueStream();
        await store.appendToStream(s, testEvents(1), { expectedState: 'no_stream' });
        const outcomes = await store.appendBatch([
          [{ streamId: s, expectedState: 0n, events: testEvents(2) }],
          [
            { streamId: t, expectedState: 'no_stream', events: testEvents(1) },
            { streamId: s, expectedState: 2n, events: testEvents(1) },
          ],
          [{ streamId: s, expectedState: 'stream_exists', events: testEvents(1) }],
        ]);
        const read = await readWhole(store, s);
        expect(read.map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n, 4n]);
        expect(written(outcomes[0]).streams).toEqual([{ streamId: s, nextExpectedRevision: 2n, position: read[2]!.position }]);
        expect(written(outcomes[1]).streams[1]).toEqual({ streamId: s, nextExpectedRevision: 3n, position: read[3]!.position });
        expect(written(outcomes[2]).streams).toEqual([{ streamId: s, nextExpectedRevision: 4n, position: read[4]!.position }]);
        expect(verifyChain(read)).toEqual({ ok: true, lastHash: read[4]!.hash, checked: 5 });
        expect(read.every((e, i) => i === 0 || e.position > read[i - 1]!.position)).toBe(true);
      });

      it('decides a later request against what the skipped ones left: one that relied on a skipped request conflicts too', async () => {
        const s = uniqueStream();
        const t = uniqueStream();
        await store.appendToStream(s, testEvents(1), { expectedState: 'no_stream' });
        await store.appendToStream(t, testEvents(1), { expectedState: 'no_stream' });
        const outcomes = await store.appendBatch([
          [
            { streamId: s, expectedState: 0n, events: testEvents(1) },
            { streamId: t, expectedState: 5n, events: testEvents(1) },
          ],
          [{ streamId: s, expectedState: 1n, events: testEvents(1) }],
          [{ streamId: s, expectedState: 0n, events: testEvents(1) }],
          [{ streamId: s, expectedState: 0n, events: testEvents(1) }],
        ]);
        expect(refused(outcomes[0])).toMatchObject({ streamId: t, expected: 5n, actual: 0n });
        expect(refused(outcomes[1])).toMatchObject({ streamId: s, expected: 1n, actual: 0n });
        expect(written(outcomes[2]).streams[0]!.nextExpectedRevision).toBe(1n);
        expect(refused(outcomes[3])).toMatchObject({ streamId: s, expected: 0n, actual: 1n });
        expect(await readWhole(store, s)).toHaveLength(2);
        expect(await readWhole(store, t)).toHaveLength(1);
      });

      if (capabilities.rejectsDuplicateEventIds) {
        it('skips a request reusing an event id of the log, and gives an id shared by requests to the first one written', async () => {
          const taken = randomUUID();
          await store.appendToStream(uniqueStream(), [testEvent('A', {}, taken)], { expectedState: 'no_stream' });
          const shared = randomUUID();
          const lateClaim = randomUUID();
          const streams = Array.from({ length: 6 }, () => uniqueStream());
          const [s0, s1, s2, s3, s4, s5] = streams as [string, string, string, string, string, string];
          const outcomes = await store.appendBatch([
            [{ streamId: s0, expectedState: 'no_stream', events: [testEvent(), testEvent('B', {}, taken)] }],
            [{ streamId: s1, expectedState: 'no_stream', events: [testEvent('C', {}, shared)] }],
            [{ streamId: s2, expectedState: 'no_stream', events: [testEvent(), testEvent('D', {}, shared)] }],
            // Refused for its expectation (reported before its taken id), so it claims nothing...
            [{ streamId: s3, expectedState: 3n, events: [testEvent('E', {}, lateClaim), testEvent('F', {}, taken)] }],
            // ...and the id is still free for this one.
            [{ streamId: s4, expectedState: 'no_stream', events: [testEvent('G', {}, lateClaim)] }],
            [{ streamId: s5, expectedState: 'no_stream', events: testEvents(1) }],
          ]);
          const first = refused(outcomes[0]);
          expect(first).toBeInstanceOf(DuplicateEventIdError);
          expect(first).toMatchObject({ code: 'DUPLICATE_EVENT_ID', eventId: taken });
          written(outcomes[1]);
          expect(refused(outcomes[2])).toMatchObject({ code: 'DUPLICATE_EVENT_ID', eventId: shared });
          expect(refused(outcomes[3])).toMatchObject({ code: 'WRONG_EXPECTED_VERSION', streamId: s3, actual: 'no_stream' });
          written(outcomes[4]);
          written(outcomes[5]);
          const reads = await Promise.all(streams.map((s) => readWhole(store, s)));
          expect(reads.map((events) => events.length)).toEqual([0, 1, 0, 0, 1, 1]);
          expect(reads[1]![0]!.id).toBe(shared);
          expect(reads[4]![0]!.id).toBe(lateClaim);
        });
      }

      const badRequests: Array<[string, string, () => StreamWrite[]]> = [
        ['an invalid stream name', 'INVALID_STREAM_NAME', () => [{ streamId: 'nocategory', expectedState: 'any', events: testEvents(1) }]],
        ['no streams', 'EMPTY_APPEND', () => []],
        ['an empty event list', 'EMPTY_APPEND', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [] }]],
        ['an unknown expected state', 'INVALID_EXPECTED_STATE', () => [{ streamId: uniqueStream(), expectedState: 'latest' as 'any', events: testEvents(1) }]],
        ['NaN in data', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: { x: Number.NaN } }] }]],
        ['one event id twice', 'INVALID_EVENT_ID', () => {
          const id = randomUUID();
          return [{ streamId: uniqueStream(), expectedState: 'any', events: [testEvent('A', {}, id), testEvent('B', {}, id)] }];
        }],
        ['too many events', 'TOO_MANY_EVENTS', () => [{ streamId: uniqueStream(), expectedState: 'any', events: testEvents(limits.maxEventsPerAppend + 1) }]],
        ['the same stream twice', 'DUPLICATE_STREAM_IN_APPEND', () => {
          const s = uniqueStream();
          return [{ streamId: s, expectedState: 'any', events: testEvents(1) }, { streamId: s, expectedState: 'any', events: testEvents(1) }];
        }],
      ];
      it.each(badRequests)('rejects the whole batch when one request has %s (%s), writing nothing', async (_label, code, makeBad) => {
        const category = uniqueCategory();
        const good = (): StreamWrite[] => [{ streamId: uniqueStream(category), expectedState: 'no_stream', events: testEvents(1) }];
        const error = await expectCode(store.appendBatch([good(), makeBad(), good()]), code);
        expect(error).toBeInstanceOf(EventStoreValidationError);
        expect((error as EventStoreValidationError).details).toMatchObject({ requestIndex: 1 });
        expect(await readCategory(store, category, 0n)).toEqual([]);
      });

      it('enforces its bounds with named errors, writing nothing', async () => {
        const category = uniqueCategory();
        const request = (events = 1): StreamWrite[] => [{ streamId: uniqueStream(category), expectedState: 'no_stream', events: testEvents(events) }];
        await expectCode(store.appendBatch([]), 'EMPTY_APPEND');
        await expectCode(store.appendBatch(Array.from({ length: limits.maxRequestsPerBatch + 1 }, () => request())), 'TOO_MANY_REQUESTS_IN_BATCH');
        const full = Math.floor(limits.maxEventsPerBatch / limits.maxEventsPerAppend);
        const rest = limits.maxEventsPerBatch - full * limits.maxEventsPerAppend;
        const atBound = [...Array.from({ length: full }, () => request(limits.maxEventsPerAppend)), ...(rest > 0 ? [request(rest)] : [])];
        const overBound = [...atBound, request(1)];
        const error = await expectCode(store.appendBatch(overBound), 'TOO_MANY_EVENTS_IN_BATCH');
        expect((error as EventStoreValidationError).details).toMatchObject({ limit: limits.maxEventsPerBatch });
        expect(await readCategory(store, category, 0n)).toEqual([]);
        // Exactly at the bound is accepted.
        const outcomes = await store.appendBatch(atBound);
        expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
        const stored = await Promise.all(atBound.map((r) => readWhole(store, r[0]!.streamId)));
        expect(stored.reduce((n, events) => n + events.length, 0)).toBe(limits.maxEventsPerBatch);
      });

      it('never loses an update when concurrent batches overlap on the same streams', async () => {
        const hub = uniqueStream();
        const spokes = Array.from({ length: 4 }, () => uniqueStream());
        await store.appendToStream(hub, testEvents(1), { expectedState: 'no_stream' });
        for (const spoke of spokes) await store.appendToStream(spoke, testEvents(1), { expectedState: 'no_stream' });
        // A group committer: reads the revisions, then decides every request of its batch assuming the
        // earlier ones are written (request k expects the hub at the revision read + k).
        const batch = async (): Promise<number> => {
          const [hubLast] = await store.readStream(hub, { direction: 'backwards', maxCount: 1 });
          const spokeLast = await Promise.all(spokes.map((s) => store.readStream(s, { direction: 'backwards', maxCount: 1 })));
          const outcomes = await store.appendBatch(
            spokes.map((spoke, k) => [
              { streamId: spoke, expectedState: spokeLast[k]![0]!.revision, events: testEvents(1) },
              { streamId: hub, expectedState: hubLast!.revision + BigInt(k), events: testEvents(1) },
            ]),
          );
          for (const outcome of outcomes) if (!outcome.ok) expect(outcome.error).toBeInstanceOf(WrongExpectedVersionError);
          return outcomes.filter((outcome) => outcome.ok).length;
        };
        const committers = 8;
        const rounds = 3;
        const accepted = (
          await Promise.all(
            Array.from({ length: committers }, async () => {
              let n = 0;
              for (let round = 0; round < rounds; round += 1) n += await batch();
              return n;
            }),
          )
        ).reduce((x, y) => x + y, 0);
        expect(accepted).toBeGreaterThan(0);
        const hubEvents = await readWhole(store, hub);
        expect(hubEvents).toHaveLength(1 + accepted);
        expect(verifyChain(hubEvents).ok).toBe(true);
        const spokeEvents = await Promise.all(spokes.map((s) => readWhole(store, s)));
        expect(spokeEvents.reduce((n, e) => n + e.length - 1, 0)).toBe(accepted);
        for (const events of spokeEvents) expect(verifyChain(events).ok).toBe(true);
      });
    });

    describe('reading a stream', () => {
      it('reads forwards and backwards from a revision with a bounded count', async () => {
        const streamId = uniqueStream();
        await store.appendToStream(streamId, testEvents(10), { expectedState: 'no_stream' });
        const forwards = await store.readStream(streamId, { direction: 'forwards', fromRevision: 3n, maxCount: 4 });
        expect(forwards.map((e) => e.revision)).toEqual([3n, 4n, 5n, 6n]);
        const backwards = await store.readStream(streamId, { direction: 'backwards', fromRevision: 3n, maxCount: 10 });
        expect(backwards.map((e) => e.revision)).toEqual([3n, 2n, 1n, 0n]);
        const last = await store.readStream(streamId, { direction: 'backwards', maxCount: 2 });
        expect(last.map((e) => e.revision)).toEqual([9n, 8n]);
        const beyond = await store.readStream(streamId, { direction: 'forwards', fromRevision: 10n, maxCount: 5 });
        expect(beyond).toEqual([]);
      });

      it('reads a missing stream as empty', async () => {
        expect(await store.readStream(uniqueStream(), { direction: 'forwards', maxCount: 1 })).toEqual([]);
        expect(await store.readStream(uniqueStream(), { direction: 'backwards', maxCount: 1 })).toEqual([]);
      });

      it.each([0, -1, 1.5, 4_097, Number.NaN])('refuses maxCount %p', async (maxCount) => {
        await expectCode(store.readStream(uniqueStream(), { direction: 'forwards', maxCount }), 'INVALID_READ_REQUEST');
      });

      it('refuses an unknown direction and a negative revision', async () => {
        await expectCode(
          store.readStream(uniqueStream(), { direction: 'sideways' as 'forwards', maxCount: 1 }),
          'INVALID_READ_REQUEST',
        );
        await expectCode(store.readStream(uniqueStream(), { direction: 'forwards', fromRevision: -1n, maxCount: 1 }), 'INVALID_READ_REQUEST');
      });
    });

    describe('reading the global log', () => {
      it('reads in position order from an exclusive position, with filters by category and type', async () => {
        const category = uniqueCategory();
        const other = uniqueCategory();
        const s1 = uniqueStream(category);
        const s2 = uniqueStream(category);
        await store.appendToStream(s1, [testEvent('Opened'), testEvent('Deposited')], { expectedState: 'no_stream' });
        await store.appendToStream(uniqueStream(other), testEvents(3), { expectedState: 'no_stream' });
        await store.appendToStream(s2, [testEvent('Opened')], { expectedState: 'no_stream' });
        const mine = await collect(store, category, 3);
        expect(mine.map((e) => [e.streamId, e.type])).toEqual([
          [s1, 'Opened'],
          [s1, 'Deposited'],
          [s2, 'Opened'],
        ]);
        expect(mine.every((e, i) => i === 0 || e.position > mine[i - 1]!.position)).toBe(true);
        const after = await collect(store, category, 2, mine[0]!.position);
        expect(after.map((e) => e.id)).toEqual(mine.slice(1).map((e) => e.id));
        const opened = await store.readAll({ fromPosition: mine[0]!.position - 1n, maxCount: 100, filter: { categories: [category], eventTypes: ['Opened'] } });
        expect(opened.events.map((e) => e.streamId)).toEqual([s1, s2]);
      });

      it('pages with maxCount and resumes from the checkpoint without gaps or repeats', async () => {
        const category = uniqueCategory();
        for (let i = 0; i < 5; i += 1) await store.appendToStream(uniqueStream(category), testEvents(3), { expectedState: 'no_stream' });
        const seen: RecordedEvent[] = [];
        await collect(store, category, 15);
        let from = 0n;
        let pages = 0;
        for (;;) {
          const page = await store.readAll({ fromPosition: from, maxCount: 4, filter: { categories: [category] } });
          expect(page.events.length).toBeLessThanOrEqual(4);
          seen.push(...page.events);
          pages += 1;
          expect(page.checkpoint).toBeGreaterThanOrEqual(from);
          from = page.checkpoint;
          if (!page.isEndOfBatch) break;
        }
        expect(pages).toBeGreaterThanOrEqual(4);
        expect(seen).toHaveLength(15);
        expect(new Set(seen.map((e) => e.id)).size).toBe(15);
      });

      it('refuses malformed reads', async () => {
        await expectCode(store.readAll({ fromPosition: -1n, maxCount: 1 }), 'INVALID_READ_REQUEST');
        await expectCode(store.readAll({ fromPosition: 0n, maxCount: 0 }), 'INVALID_READ_REQUEST');
        await expectCode(store.readAll({ fromPosition: 1 as unknown as bigint, maxCount: 1 }), 'INVALID_READ_REQUEST');
        await expectCode(store.readAll({ fromPosition: 0n, maxCount: 1, filter: { categories: ['Bad-Category'] } }), 'INVALID_STREAM_NAME');
        await expectCode(store.readAll({ fromPosition: 0n, maxCount: 1, filter: { eventTypes: [] } }), 'INVALID_READ_REQUEST');
      });
    });

    describe('catch-up subscription', () => {
      it('delivers past then live events in order, and resumes from a stored checkpoint without skip or repeat', async () => {
        const category = uniqueCategory();
        const consumerId = `consumer-${randomUUID()}`;
        const streams = [uniqueStream(category), uniqueStream(category)];
        await store.appendToStream(streams[0]!, testEvents(3), { expectedState: 'no_stream' });

        const received: RecordedEvent[] = [];
        const runUntil = async (count: number, fromPosition: bigint, afterEach?: (n: number) => Promise<void>): Promise<void> => {
          const abort = new AbortController();
          let handled = 0;
          for await (const event of store.subscribeToAll({ fromPosition, filter: { categories: [category] }, signal: abort.signal, batchSize: 2 })) {
            received.push(event);
            await subject.checkpoints.store(consumerId, event.position);
            handled += 1;
            if (afterEach) await afterEach(handled);
            if (handled === count) abort.abort();
          }
        };
        // First run: 3 past events, then 2 appended while it runs (live); it "crashes" after 5.
        await runUntil(5, await subject.checkpoints.load(consumerId), async (n) => {
          if (n === 3) await store.appendToStream(streams[1]!, testEvents(2), { expectedState: 'no_stream' });
        });
        await store.appendToStream(streams[0]!, testEvents(2), { expectedState: 2n });
        // Restart from the stored checkpoint: only the 2 events appended while it was down.
        const stored = await subject.checkpoints.load(consumerId);
        expect(stored).toBe(received[4]!.position);
        await runUntil(2, stored);
        expect(received).toHaveLength(7);
        expect(new Set(received.map((e) => e.id)).size).toBe(7);
        expect(received.every((e, i) => i === 0 || e.position > received[i - 1]!.position)).toBe(true);
        expect(received.filter((e) => e.streamId === streams[0]).map((e) => e.revision)).toEqual([0n, 1n, 2n, 3n, 4n]);
      });

      it('in batches, hands each read with a checkpoint that moves past filtered-out events, so a position of another category is reached', async () => {
        const followed = uniqueCategory();
        const other = uniqueCategory();
        const start = (await store.readAll({ fromPosition: 0n, maxCount: 1, filter: { categories: [uniqueCategory()] } })).checkpoint;
        await store.appendToStream(uniqueStream(followed), testEvents(2), { expectedState: 'no_stream' });
        const lastOther = await store.appendToStream(uniqueStream(other), testEvents(1), { expectedState: 'no_stream' });
        const abort = new AbortController();
        const events: RecordedEvent[] = [];
        let checkpoint = start;
        for await (const batch of store.subscribeToAllBatches({ fromPosition: start, filter: { categories: [followed] }, signal: abort.signal, batchSize: 1 })) {
          events.push(...batch.events);
          expect(batch.events.length > 0 || batch.checkpoint > checkpoint).toBe(true);
          expect(batch.events.every((e) => e.position <= batch.checkpoint && e.position > checkpoint)).toBe(true);
          checkpoint = batch.checkpoint;
          if (checkpoint >= lastOther.position) abort.abort();
        }
        expect(events.map((e) => e.streamId.split('-')[0])).toEqual([followed, followed]);
        expect(checkpoint).toBeGreaterThanOrEqual(lastOther.position);
      });

      it('receives events appended through another store instance (another process)', async () => {
        if (!subject.reopen) return; // in-memory: there is no other process
        const other = await subject.reopen();
        const category = uniqueCategory();
        const abort = new AbortController();
        const received: string[] = [];
        const done = (async () => {
          for await (const event of store.subscribeToAll({ fromPosition: 0n, filter: { categories: [category] }, signal: abort.signal })) {
            received.push(event.id);
            if (received.length === 3) abort.abort();
          }
        })();
        await other.appendToStream(uniqueStream(category), testEvents(3), { expectedState: 'no_stream' });
        await done;
        expect(received).toHaveLength(3);
        await other.close();
      });
    });

    describe('checkpoint store', () => {
      it('starts at 0 and never moves backwards', async () => {
        const id = `consumer-${randomUUID()}`;
        expect(await subject.checkpoints.load(id)).toBe(0n);
        await subject.checkpoints.store(id, 42n);
        await subject.checkpoints.store(id, 7n);
        expect(await subject.checkpoints.load(id)).toBe(42n);
        await subject.checkpoints.store(id, 43n);
        expect(await subject.checkpoints.load(id)).toBe(43n);
      });
    });

    describe('bad input: a named error and nothing appended', () => {
      const bad: Array<[string, string, () => Parameters<EventStore['appendToStreams']>[0]]> = [
        ['a stream name without category', 'INVALID_STREAM_NAME', () => [{ streamId: 'nocategory', expectedState: 'any', events: testEvents(1) }]],
        ['a stream name with spaces', 'INVALID_STREAM_NAME', () => [{ streamId: 'wallet-a b', expectedState: 'any', events: testEvents(1) }]],
        ['a system stream name', 'INVALID_STREAM_NAME', () => [{ streamId: '$all-x', expectedState: 'any', events: testEvents(1) }]],
        ['an overlong stream name', 'INVALID_STREAM_NAME', () => [{ streamId: `wallet-${'x'.repeat(300)}`, expectedState: 'any', events: testEvents(1) }]],
        ['an empty event list', 'EMPTY_APPEND', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [] }]],
        ['no streams at all', 'EMPTY_APPEND', () => []],
        ['an unknown expected state', 'INVALID_EXPECTED_STATE', () => [{ streamId: uniqueStream(), expectedState: 'latest' as 'any', events: testEvents(1) }]],
        ['a number as expected revision', 'INVALID_EXPECTED_STATE', () => [{ streamId: uniqueStream(), expectedState: 3 as unknown as bigint, events: testEvents(1) }]],
        ['a negative expected revision', 'INVALID_EXPECTED_STATE', () => [{ streamId: uniqueStream(), expectedState: -1n, events: testEvents(1) }]],
        ['NaN in data', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: { amount: Number.NaN } }] }]],
        ['a bigint in data', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: { amount: 10n } as never }] }]],
        ['a Date in data', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: { at: new Date() } as never }] }]],
        ['a function in data', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: { f: () => 1 } as never }] }]],
        ['undefined in data', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: { x: undefined } as never }] }]],
        ['a NUL character in data', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: { x: 'a\u0000b' } }] }]],
        ['an unsafe integer in data', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: { x: 2 ** 60 } }] }]],
        ['data that is not an object', 'EVENT_DATA_NOT_JSON', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), data: 'text' as never }] }]],
        ['an event over the size limit', 'EVENT_TOO_LARGE', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [testEvent('Big', { blob: 'x'.repeat(300 * 1024) })] }]],
        ['an invalid event type', 'INVALID_EVENT_TYPE', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), type: 'not a type' }] }]],
        ['a malformed event id', 'INVALID_EVENT_ID', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), id: 'nope' }] }]],
        ['missing metadata fields', 'INVALID_METADATA', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), metadata: { schemaVersion: 1 } as never }] }]],
        ['an unknown metadata field', 'INVALID_METADATA', () => [{ streamId: uniqueStream(), expectedState: 'any', events: [{ ...testEvent(), metadata: { ...testMetadata(), password: 'x' } as never }] }]],
        ['too many events', 'TOO_MANY_EVENTS', () => [{ streamId: uniqueStream(), expectedState: 'any', events: testEvents(1_001) }]],
        ['the same stream twice', 'DUPLICATE_STREAM_IN_APPEND', () => {
          const s = uniqueStream();
          return [{ streamId: s, expectedState: 'any', events: testEvents(1) }, { streamId: s, expectedState: 'any', events: testEvents(1) }];
        }],
      ];
      it.each(bad)('refuses %s with %s', async (_label, code, makeRequest) => {
        const category = uniqueCategory();
        const good = { streamId: uniqueStream(category), expectedState: 'any' as const, events: testEvents(1) };
        const request = makeRequest();
        // Alone, and beside a valid stream write that must not be appended either.
        if (request.length > 0) await expectCode(store.appendToStreams([good, ...request]), code);
        await expectCode(store.appendToStreams(request), code);
        expect(await readCategory(store, category, 0n)).toEqual([]);
        for (const write of request) {
          if (/^[a-z][a-zA-Z0-9]*-[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(write.streamId) && write.streamId.length <= 200) {
            expect(await readWhole(store, write.streamId)).toEqual([]);
          }
        }
      });

      if (capabilities.rejectsDuplicateEventIds) {
        it('refuses an event id already in the log, appending nothing', async () => {
          const id = randomUUID();
          const first = uniqueStream();
          await store.appendToStream(first, [testEvent('A', {}, id)], { expectedState: 'no_stream' });
          const second = uniqueStream();
          const error = await expectCode(
            store.appendToStreams([{ streamId: second, expectedState: 'no_stream', events: [testEvent(), testEvent('B', {}, id)] }]),
            'DUPLICATE_EVENT_ID',
          );
          expect(error).toMatchObject({ eventId: id });
          expect(await readWhole(store, second)).toEqual([]);
        });
      }
    });
  });
}
