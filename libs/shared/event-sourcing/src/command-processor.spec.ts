import { IllegalStateError } from '@ledger/errors';
import { InMemoryEventStore, type EventStore, type JsonObject } from '@ledger/event-store';
import { randomUUID } from 'node:crypto';
import { CommandProcessor, NOTHING_APPENDED, type CommandRequest } from './command-processor';
import { requestHash } from './idempotency';
import type { DomainEvent, StreamModel, StreamView } from './stream-view';

/** A tiny account model: balance in minor units; Debited/Credited events. */
interface Account {
  readonly balance: number;
}
const accountModel: StreamModel<Account> = {
  category: 'account',
  initialState: { balance: 0 },
  eventTypes: ['Credited', 'Debited'],
  evolve: (state, event) => ({ balance: state.balance + (event.type === 'Credited' ? 1 : -1) * Number(event.data['amount']) }),
};
const metadata = { correlationId: 'c', causationId: 'c', principal: 'user:test' };

function credit(streamId: string, amount: number, key?: string): CommandRequest<JsonObject> {
  return {
    streams: [{ streamId, model: accountModel as StreamModel<unknown> }],
    decide: () => ({ events: [[{ type: 'Credited', data: { amount } }]], result: { credited: amount } }),
    ...(key ? { idempotency: { scope: 'alice', key, requestHash: requestHash({ op: 'credit', streamId, amount }) } } : {}),
    metadata,
  };
}

function transfer(from: string, to: string, amount: number, key?: string): CommandRequest<JsonObject> {
  return {
    streams: [
      { streamId: from, model: accountModel as StreamModel<unknown> },
      { streamId: to, model: accountModel as StreamModel<unknown> },
    ],
    decide: (views: readonly StreamView[]) => {
      const source = views[0]!.state as Account;
      if (source.balance < amount) throw new IllegalStateError('INSUFFICIENT_FUNDS', 'not enough');
      const events: DomainEvent[][] = [[{ type: 'Debited', data: { amount } }], [{ type: 'Credited', data: { amount } }]];
      return { events, result: { moved: amount } };
    },
    ...(key ? { idempotency: { scope: 'alice', key, requestHash: requestHash({ op: 'transfer', from, to, amount }) } } : {}),
    metadata,
  };
}

/** Counts store calls, so tests can see group commit and cache hits. */
function counting(store: EventStore): EventStore & { batches: number[]; reads: number } {
  const wrapper = Object.create(store) as EventStore & { batches: number[]; reads: number };
  wrapper.batches = [];
  wrapper.reads = 0;
  wrapper.appendBatch = (requests) => {
    wrapper.batches.push(requests.length);
    return store.appendBatch(requests);
  };
  wrapper.readStream = (streamId, options) => {
    wrapper.reads += 1;
    return store.readStream(streamId, options);
  };
  return wrapper;
}

async function balance(store: EventStore, streamId: string): Promise<number> {
  const events = await store.readStream(streamId, { direction: 'forwards', maxCount: 4_096 });
  return events.reduce((sum, e) => sum + (e.type === 'Credited' ? 1 : -1) * Number(e.data['amount']), 0);
}

const options = { maxBatchSize: 64, maxConflictRetries: 3, maxQueuedCommands: 1_000, cacheEntries: 1_000 };

describe('CommandProcessor', () => {
  it('group-commits concurrent commands into one appendBatch and decides each on the state left by the previous', async () => {
    const store = counting(new InMemoryEventStore());
    const processor = new CommandProcessor(store, options);
    const a = `account-${randomUUID()}`;
    const b = `account-${randomUUID()}`;
    await processor.execute(credit(a, 100));
    store.batches.length = 0;
    // Five transfers of 30 from an account holding 100: exactly three fit.
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => processor.execute(transfer(a, b, 30))));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(3);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused.map((o) => (o.reason as { code: string }).code)).toEqual(['INSUFFICIENT_FUNDS', 'INSUFFICIENT_FUNDS']);
    expect(store.batches).toEqual([3]);
    expect([await balance(store, a), await balance(store, b)]).toEqual([10, 90]);
  });

  it('answers a decision that appends nothing at once, without an append, while the others of its batch commit', async () => {
    const store = counting(new InMemoryEventStore());
    const processor = new CommandProcessor(store, options);
    const a = `account-${randomUUID()}`;
    await processor.execute(credit(a, 10));
    const appendsBefore = store.batches.length;
    const noop: CommandRequest<JsonObject> = {
      streams: [{ streamId: a, model: accountModel as StreamModel<unknown> }],
      decide: () => ({ events: [[]], result: { noop: true } }),
      metadata,
    };
    const [nothing, credited] = await Promise.all([processor.execute(noop), processor.execute(credit(a, 5))]);
    expect(nothing).toEqual({ result: { noop: true }, position: NOTHING_APPENDED, replayed: false });
    expect(credited.position).toBeGreaterThan(0n);
    expect(store.batches.length).toBe(appendsBefore + 1);
    expect(await balance(store, a)).toBe(15);
  });

  it('decides from its cache without reading, and returns increasing positions', async () => {
    const store = counting(new InMemoryEventStore());
    const processor = new CommandProcessor(store, options);
    const a = `account-${randomUUID()}`;
    const first = await processor.execute(credit(a, 1));
    const readsAfterFirst = store.reads;
    const second = await processor.execute(credit(a, 1));
    expect(store.reads).toBe(readsAfterFirst);
    expect(second.position).toBeGreaterThan(first.position);
    expect(second.replayed).toBe(false);
  });

  it('recovers from a stale cache: the expected revision fails, the command retries on a fresh read', async () => {
    const inner = new InMemoryEventStore();
    const processor = new CommandProcessor(inner, options);
    const a = `account-${randomUUID()}`;
    const b = `account-${randomUUID()}`;
    await processor.execute(credit(a, 50));
    // Another process moves money out behind this processor's back.
    await inner.appendToStream(a, [{ type: 'Debited', data: { amount: 40 }, metadata: { ...metadata, schemaVersion: 1 } }], { expectedState: 0n });
    await expect(processor.execute(transfer(a, b, 30))).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    await processor.execute(transfer(a, b, 10));
    expect(await balance(inner, a)).toBe(0);
  });

  it('gives up after the bounded retries with CONCURRENCY_CONFLICT', async () => {
    const inner = new InMemoryEventStore();
    const a = `account-${randomUUID()}`;
    const store = Object.create(inner) as EventStore;
    // Every append loses a race: someone else always appends first.
    store.appendBatch = async (requests) => {
      await inner.appendToStream(a, [{ type: 'Credited', data: { amount: 1 }, metadata: { ...metadata, schemaVersion: 1 } }], { expectedState: 'any' });
      return inner.appendBatch(requests);
    };
    const processor = new CommandProcessor(store, { ...options, maxConflictRetries: 2 });
    await expect(processor.execute(credit(a, 1))).rejects.toMatchObject({ code: 'CONCURRENCY_CONFLICT' });
  });

  describe('idempotency', () => {
    it('replays the original result and position for the same key and request, marked as a replay', async () => {
      const store = new InMemoryEventStore();
      const processor = new CommandProcessor(store, options);
      const a = `account-${randomUUID()}`;
      const first = await processor.execute(credit(a, 7, 'key-00000001'));
      const again = await processor.execute(credit(a, 7, 'key-00000001'));
      expect(again).toEqual({ result: first.result, position: first.position, replayed: true });
      expect(await balance(store, a)).toBe(7);
    });

    it('refuses the same key with a different request', async () => {
      const processor = new CommandProcessor(new InMemoryEventStore(), options);
      const a = `account-${randomUUID()}`;
      await processor.execute(credit(a, 7, 'key-00000002'));
      await expect(processor.execute(credit(a, 8, 'key-00000002'))).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    });

    it('answers a redelivered group of executed keys on one stream in two rounds, not one round per command', async () => {
      const store = counting(new InMemoryEventStore());
      const a = `account-${randomUUID()}`;
      const keys = Array.from({ length: 40 }, (_, i) => `redelivered-${String(i).padStart(4, '0')}`);
      const first = new CommandProcessor(store, options);
      const originals = await Promise.all(keys.map((key) => first.execute(credit(a, 1, key))));
      // A restarted consumer gets the same commands again (fresh processor, empty cache).
      const again = new CommandProcessor(store, options);
      const appendsBefore = store.batches.length;
      const replays = await Promise.all(keys.map((key) => again.execute(credit(a, 1, key))));
      expect(replays.every((outcome) => outcome.replayed)).toBe(true);
      expect(replays.map((outcome) => outcome.position)).toEqual(originals.map((outcome) => outcome.position));
      expect(store.batches.length - appendsBefore).toBeLessThanOrEqual(2);
      expect(await balance(store, a)).toBe(40);
    });

    it('executes exactly once when many requests with one key arrive together', async () => {
      const store = new InMemoryEventStore();
      const processor = new CommandProcessor(store, options);
      const a = `account-${randomUUID()}`;
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => processor.execute(credit(a, 5, 'key-00000003'))));
      expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
      expect(new Set(outcomes.map((o) => o.position)).size).toBe(1);
      expect(await balance(store, a)).toBe(5);
    });

    it('executes exactly once across two processors (two service instances) sharing the store', async () => {
      const store = new InMemoryEventStore();
      const one = new CommandProcessor(store, options);
      const two = new CommandProcessor(store, options);
      const a = `account-${randomUUID()}`;
      const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).execute(credit(a, 5, 'key-00000004'))));
      expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
      expect(await balance(store, a)).toBe(5);
    });

    it('answers a retry with the original success even when the request would now be refused', async () => {
      const store = new InMemoryEventStore();
      const processor = new CommandProcessor(store, options);
      const a = `account-${randomUUID()}`;
      const b = `account-${randomUUID()}`;
      await processor.execute(credit(a, 30));
      const original = await processor.execute(transfer(a, b, 30, 'key-00000005'));
      const retry = await processor.execute(transfer(a, b, 30, 'key-00000005'));
      expect(retry).toEqual({ ...original, replayed: true });
      expect(await balance(store, b)).toBe(30);
    });
  });

  it('fails only the command whose events the store refuses as malformed', async () => {
    const store = new InMemoryEventStore();
    const processor = new CommandProcessor(store, options);
    const a = `account-${randomUUID()}`;
    const huge: CommandRequest<JsonObject> = { ...credit(a, 1), decide: () => ({ events: [[{ type: 'Credited', data: { amount: 1, blob: 'x'.repeat(300_000) } }]], result: {} }) };
    const [good, bad] = await Promise.allSettled([processor.execute(credit(a, 2)), processor.execute(huge)]);
    expect(good.status).toBe('fulfilled');
    expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'EVENT_TOO_LARGE' } });
    expect(await balance(store, a)).toBe(2);
  });

  it('pushes back with OVERLOADED instead of queueing without bound', async () => {
    const processor = new CommandProcessor(new InMemoryEventStore(), { ...options, maxQueuedCommands: 2 });
    const a = `account-${randomUUID()}`;
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => processor.execute(credit(a, 1))));
    expect(results.some((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'OVERLOADED')).toBe(true);
  });
});

/** appendBatch calls wait until released one by one; records what was in flight together. */
function gated(store: EventStore): EventStore & { calls: string[][]; maxConcurrent: number; inFlight: number; releaseNext(): void; waitForCalls(n: number): Promise<void> } {
  const wrapper = Object.create(store) as EventStore & { calls: string[][]; maxConcurrent: number; inFlight: number; releaseNext(): void; waitForCalls(n: number): Promise<void> };
  const gates: Array<() => void> = [];
  const callWaiters: Array<{ n: number; resolve: () => void }> = [];
  wrapper.calls = [];
  wrapper.maxConcurrent = 0;
  wrapper.inFlight = 0;
  wrapper.appendBatch = async (requests) => {
    wrapper.calls.push(requests.flatMap((writes) => writes.map((w) => w.streamId)));
    wrapper.inFlight += 1;
    wrapper.maxConcurrent = Math.max(wrapper.maxConcurrent, wrapper.inFlight);
    for (const waiter of callWaiters.filter((w) => wrapper.calls.length >= w.n)) waiter.resolve();
    await new Promise<void>((release) => gates.push(release));
    wrapper.inFlight -= 1;
    return store.appendBatch(requests);
  };
  wrapper.releaseNext = () => gates.shift()?.();
  wrapper.waitForCalls = (n) => (wrapper.calls.length >= n ? Promise.resolve() : new Promise((resolve) => callWaiters.push({ n, resolve })));
  return wrapper;
}

describe('CommandProcessor with several batches in flight', () => {
  const pipelined = { ...options, maxBatchesInFlight: 2 };

  it('appends a batch on other streams while one is in flight, and holds back commands on its streams', async () => {
    const store = gated(new InMemoryEventStore());
    const processor = new CommandProcessor(store, pipelined);
    const a = `account-${randomUUID()}`;
    const b = `account-${randomUUID()}`;
    const first = processor.execute(credit(a, 1));
    await store.waitForCalls(1);
    const second = processor.execute(credit(b, 2)); // other stream: starts at once
    await store.waitForCalls(2);
    expect(store.maxConcurrent).toBe(2);
    const third = processor.execute(credit(a, 3)); // a is in flight: waits
    await Promise.resolve();
    expect(store.calls).toHaveLength(2);
    store.releaseNext(); // the first batch lands; the third may go now
    await first;
    await store.waitForCalls(3);
    expect(store.calls[2]).toEqual([a]);
    store.releaseNext();
    store.releaseNext();
    await Promise.all([second, third]);
    expect(await balance(store, a)).toBe(4);
    expect(await balance(store, b)).toBe(2);
  });

  it('never runs two commands with one idempotency key at once: the second is answered from the first', async () => {
    const store = gated(new InMemoryEventStore());
    const processor = new CommandProcessor(store, pipelined);
    const a = `account-${randomUUID()}`;
    const first = processor.execute(credit(a, 5, 'key-0001'));
    await store.waitForCalls(1);
    const again = processor.execute(credit(a, 5, 'key-0001'));
    await Promise.resolve();
    expect(store.calls).toHaveLength(1);
    store.releaseNext();
    await expect(first).resolves.toMatchObject({ replayed: false });
    // Decided after the first landed: its append finds the key's record and it is answered from it.
    await store.waitForCalls(2);
    store.releaseNext();
    await expect(again).resolves.toMatchObject({ replayed: true, result: { credited: 5 } });
    expect(await balance(store, a)).toBe(5);
  });

  it('keeps each stream in arrival order: a later command does not overtake one waiting for a busy stream', async () => {
    const store = gated(new InMemoryEventStore());
    const processor = new CommandProcessor(store, pipelined);
    const a = `account-${randomUUID()}`;
    const b = `account-${randomUUID()}`;
    await Promise.all([processor.execute(credit(a, 100)), store.waitForCalls(1).then(() => store.releaseNext())]);
    const busy = processor.execute(credit(a, 1));
    await store.waitForCalls(2);
    const waiting = processor.execute(transfer(a, b, 60)); // needs a: waits
    const later = processor.execute(transfer(b, a, 50)); // needs b, which the waiting one reserved: must not go first
    await Promise.resolve();
    expect(store.calls).toHaveLength(2);
    store.releaseNext();
    await busy;
    await store.waitForCalls(3);
    store.releaseNext();
    await expect(waiting).resolves.toMatchObject({ result: { moved: 60 } });
    await expect(later).resolves.toMatchObject({ result: { moved: 50 } }); // b holds 60 by now: only possible in arrival order
    expect(await balance(store, a)).toBe(91);
    expect(await balance(store, b)).toBe(10);
  });

  it('conserves money and never overdraws under many concurrent transfers with 3 batches in flight', async () => {
    const store = counting(new InMemoryEventStore());
    const processor = new CommandProcessor(store, { ...options, maxBatchSize: 8, maxBatchesInFlight: 3 });
    const accounts = Array.from({ length: 6 }, () => `account-${randomUUID()}`);
    await Promise.all(accounts.map((account) => processor.execute(credit(account, 100))));
    let seed = 7;
    const next = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const moves = Array.from({ length: 400 }, () => {
      const from = next(accounts.length);
      const to = (from + 1 + next(accounts.length - 1)) % accounts.length;
      return processor.execute(transfer(accounts[from]!, accounts[to]!, 1 + next(10)));
    });
    const outcomes = await Promise.allSettled(moves);
    expect(outcomes.filter((o) => o.status === 'rejected').every((o) => (o as PromiseRejectedResult).reason.code === 'INSUFFICIENT_FUNDS')).toBe(true);
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThan(100); // 144 with this seed; the rest drained their source
    let total = 0;
    for (const account of accounts) {
      // Folded event by event: the balance never went below zero.
      const events = await store.readStream(account, { direction: 'forwards', maxCount: 4_096 });
      let running = 0;
      for (const event of events) {
        running += (event.type === 'Credited' ? 1 : -1) * Number(event.data['amount']);
        expect(running).toBeGreaterThanOrEqual(0);
      }
      total += running;
    }
    expect(total).toBe(600);
    expect(Math.max(...store.batches)).toBeLessThanOrEqual(8);
  });

  it('close() waits for every batch in flight', async () => {
    const store = gated(new InMemoryEventStore());
    const processor = new CommandProcessor(store, pipelined);
    const done: string[] = [];
    const a = processor.execute(credit(`account-${randomUUID()}`, 1)).then(() => done.push('a'));
    await store.waitForCalls(1);
    const b = processor.execute(credit(`account-${randomUUID()}`, 1)).then(() => done.push('b'));
    await store.waitForCalls(2);
    let closed = false;
    const closing = processor.close().then(() => {
      closed = true;
    });
    store.releaseNext();
    await a;
    expect(closed).toBe(false);
    store.releaseNext();
    await Promise.all([b, closing]);
    expect(closed).toBe(true);
    expect(done.sort()).toEqual(['a', 'b']);
  });
});
