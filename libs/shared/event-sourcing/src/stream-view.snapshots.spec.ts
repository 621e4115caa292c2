import { InMemoryEventStore, type EventStore, type JsonObject } from '@ledger/event-store';
import { randomUUID } from 'node:crypto';
import { waitFor } from '@ledger/testing';
import { CommandProcessor, type CommandRequest } from './command-processor';
import { crossesSnapshotBoundary, loadStreamView, snapshotStreamId, SNAPSHOT_EVENT_TYPE, type StreamModel } from './stream-view';

interface Counter {
  readonly total: number;
  readonly count: number;
}
const plain: StreamModel<Counter> = {
  category: 'counter',
  initialState: { total: 0, count: 0 },
  eventTypes: ['Added'],
  evolve: (state, event) => ({ total: state.total + Number(event.data['n']), count: state.count + 1 }),
};
const snapshotted: StreamModel<Counter> = {
  ...plain,
  snapshots: { category: 'counterSnapshot', every: 5, schemaVersion: 2, encode: (s) => ({ total: s.total, count: s.count }), decode: (d) => ({ total: Number(d['total']), count: Number(d['count']) }) },
};
const metadata = { correlationId: 'c', causationId: 'c', principal: 'user:test' };

function add(streamId: string, n: number): CommandRequest<JsonObject> {
  return { streams: [{ streamId, model: snapshotted as StreamModel<unknown> }], decide: () => ({ events: [[{ type: 'Added', data: { n } }]], result: {} }), metadata };
}

function countingReads(store: EventStore): EventStore & { reads: Array<[string, bigint | undefined]> } {
  const wrapper = Object.create(store) as EventStore & { reads: Array<[string, bigint | undefined]> };
  wrapper.reads = [];
  wrapper.readStream = (streamId, options) => {
    wrapper.reads.push([streamId, options.fromRevision]);
    return store.readStream(streamId, options);
  };
  return wrapper;
}

describe('snapshots', () => {
  it('detects a crossed boundary exactly', () => {
    const codec = snapshotted.snapshots!;
    expect(crossesSnapshotBoundary(codec, 'no_stream', 3n)).toBe(false); // 4 events
    expect(crossesSnapshotBoundary(codec, 'no_stream', 4n)).toBe(true); // the 5th event
    expect(crossesSnapshotBoundary(codec, 4n, 8n)).toBe(false);
    expect(crossesSnapshotBoundary(codec, 8n, 9n)).toBe(true);
    expect(crossesSnapshotBoundary(codec, 2n, 12n)).toBe(true);
  });

  it('are written as the processor crosses boundaries, and a load folds only the events after the latest', async () => {
    const inner = new InMemoryEventStore();
    const processor = new CommandProcessor(inner, { maxBatchSize: 8, maxConflictRetries: 2, maxQueuedCommands: 100, cacheEntries: 100 });
    const streamId = `counter-${randomUUID()}`;
    for (let n = 1; n <= 12; n += 1) await processor.execute(add(streamId, n));
    const snapshots = snapshotStreamId(snapshotted.snapshots!, streamId);
    await waitFor(async () => (await inner.readStream(snapshots, { direction: 'forwards', maxCount: 10 })).length === 2, 5_000, 'two snapshots');
    const written = await inner.readStream(snapshots, { direction: 'forwards', maxCount: 10 });
    expect(written.map((e) => [e.type, e.data['revision']])).toEqual([[SNAPSHOT_EVENT_TYPE, '4'], [SNAPSHOT_EVENT_TYPE, '9']]);

    const store = countingReads(inner);
    const fast = await loadStreamView(store, snapshotted, streamId);
    const full = await loadStreamView(inner, plain, streamId);
    expect(fast).toEqual(full);
    expect(fast).toEqual({ streamId, revision: 11n, state: { total: 78, count: 12 } });
    expect(store.reads).toEqual([[snapshots, undefined], [streamId, 10n]]);
  });

  it('ignores a snapshot of another stream or of an older encoding', async () => {
    const store = new InMemoryEventStore();
    const streamId = `counter-${randomUUID()}`;
    await store.appendToStream(streamId, [1, 2, 3].map((n) => ({ type: 'Added', data: { n }, metadata: { ...metadata, schemaVersion: 1 } })), { expectedState: 'no_stream' });
    const forged = (data: JsonObject) => ({ type: SNAPSHOT_EVENT_TYPE, data, metadata: { ...metadata, schemaVersion: 1 } });
    const snapshots = snapshotStreamId(snapshotted.snapshots!, streamId);
    await store.appendToStream(snapshots, [forged({ streamId: 'counter-other', revision: '2', codecVersion: 2, state: { total: 1000, count: 3 } })], { expectedState: 'any' });
    expect((await loadStreamView(store, snapshotted, streamId)).state).toEqual({ total: 6, count: 3 });
    await store.appendToStream(snapshots, [forged({ streamId, revision: '2', codecVersion: 1, state: { total: 1000, count: 3 } })], { expectedState: 'any' });
    expect((await loadStreamView(store, snapshotted, streamId)).state).toEqual({ total: 6, count: 3 });
  });
});

describe('loadStreamView since an earlier view', () => {
  it('reads only the events after the view and folds them onto it', async () => {
    const store = countingReads(new InMemoryEventStore());
    const processor = new CommandProcessor(store, { maxBatchSize: 8, maxConflictRetries: 1, maxQueuedCommands: 100, cacheEntries: 10 });
    const stream = `counter-${randomUUID()}`;
    for (const n of [1, 2, 3]) await processor.execute({ ...add(stream, n), streams: [{ streamId: stream, model: plain as StreamModel<unknown> }] });
    const earlier = await loadStreamView(store, plain, stream);
    for (const n of [4, 5]) await processor.execute({ ...add(stream, n), streams: [{ streamId: stream, model: plain as StreamModel<unknown> }] });
    store.reads.length = 0;
    const later = await loadStreamView(store, plain, stream, earlier);
    expect(later).toEqual({ streamId: stream, revision: 4n, state: { total: 15, count: 5 } });
    expect(store.reads).toEqual([[stream, 3n]]);
    await expect(loadStreamView(store, plain, `counter-${randomUUID()}`, earlier)).rejects.toMatchObject({ code: 'STREAM_VIEW_MISMATCH' });
  });
});
