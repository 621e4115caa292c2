import { CommandProcessor } from '@ledger/event-sourcing';
import type { CheckpointStore } from '@ledger/event-store';
import { migrateEventStore, PostgresCheckpointStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { waitFor } from '@ledger/testing';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { HoldExpiryKit, TestClock, type PlacedHold } from '../testing/hold-expiry-kit';
import { HOLD_EXPIRY_CONSUMER_ID, HoldExpiryWorker } from './hold-expiry.worker';

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const MINUTE = 60_000;
const WAIT_MS = 20_000;

/** What one ledger process owns: its own pool, store, checkpoints and processor over the shared schema. */
interface Instance {
  readonly pool: Pool;
  readonly store: PostgresEventStore;
  readonly checkpoints: PostgresCheckpointStore;
  readonly processor: CommandProcessor;
  close(): Promise<void>;
}

/** Stands for a process killed between checkpoint writes: after crash(), writes are lost. */
class CrashableCheckpoints implements CheckpointStore {
  crashed = false;
  constructor(private readonly inner: CheckpointStore) {}
  load(consumerId: string): Promise<bigint> {
    return this.inner.load(consumerId);
  }
  async store(consumerId: string, position: bigint): Promise<void> {
    if (!this.crashed) await this.inner.store(consumerId, position);
  }
}

describe('HoldExpiryWorker on PostgreSQL', () => {
  let schema: string;
  let clock: TestClock;
  const instances: Instance[] = [];
  const workers: HoldExpiryWorker[] = [];

  beforeEach(async () => {
    schema = `es_${randomBytes(5).toString('hex')}`;
    clock = new TestClock(T0);
    const admin = new Pool({ connectionString: process.env['DATABASE_URL'], max: 1 });
    try {
      await migrateEventStore(admin, schema);
    } finally {
      await admin.end();
    }
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
    await Promise.all(instances.splice(0).map((instance) => instance.close()));
  });

  function instance(): Instance {
    const pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 4 });
    const store = new PostgresEventStore({ pool, schema, pollIntervalMs: 20 });
    const processor = new CommandProcessor(store, { maxBatchSize: 64, maxConflictRetries: 5, maxQueuedCommands: 1_000, cacheEntries: 1_000 });
    const created: Instance = {
      pool,
      store,
      checkpoints: new PostgresCheckpointStore(pool, schema),
      processor,
      async close() {
        await processor.close();
        await store.close();
        await pool.end();
      },
    };
    instances.push(created);
    return created;
  }

  async function closeInstance(which: Instance): Promise<void> {
    instances.splice(instances.indexOf(which), 1);
    await which.close();
  }

  function startWorker(on: Instance, checkpoints: CheckpointStore = on.checkpoints): HoldExpiryWorker {
    const worker = new HoldExpiryWorker(
      { store: on.store, checkpoints, processor: on.processor, clock: clock.now },
      { maxTrackedHolds: 1_000, maxSleepMs: 10, checkpointIntervalMs: 1 },
    );
    workers.push(worker);
    worker.start();
    return worker;
  }

  async function expectExpiredOnce(kit: HoldExpiryKit, holds: readonly PlacedHold[]): Promise<void> {
    await waitFor(async () => {
      const all = await kit.resolutions();
      return holds.every((hold) => (all.get(hold.holdId) ?? []).length > 0);
    }, WAIT_MS, `${holds.length} holds resolved`);
    const all = await kit.resolutions();
    for (const hold of holds) expect((all.get(hold.holdId) ?? []).map((e) => e.type)).toEqual(['HoldExpired']);
  }

  it('a restarted process expires holds placed before the restart and while it was down, exactly once', async () => {
    const first = instance();
    const kit = new HoldExpiryKit(first.store, first.processor, clock);
    const wallet = await kit.fundedWallet('100.00');
    const before = await kit.placeHold(wallet, '10.00', 2 * MINUTE);
    const captured = await kit.placeHold(wallet, '10.00', MINUTE);
    const worker = startWorker(first);
    await waitFor(() => worker.status().caughtUp && worker.status().trackedHolds === 2, WAIT_MS, 'two holds tracked');
    await kit.capture(captured);
    await waitFor(() => worker.status().trackedHolds === 1, WAIT_MS, 'the capture read');
    await worker.stop();
    await closeInstance(first);

    // A new process. The checkpoint stayed just below the oldest hold still open.
    const second = instance();
    expect(await second.checkpoints.load(HOLD_EXPIRY_CONSUMER_ID)).toBe(before.position - 1n);
    // While no worker runs: a new hold, and both deadlines pass.
    const kit2 = new HoldExpiryKit(second.store, second.processor, clock);
    const whileDown = await kit2.placeHold(wallet, '10.00', 3 * MINUTE);
    clock.advance(10 * MINUTE);
    const restarted = startWorker(second);
    await expectExpiredOnce(kit2, [before, whileDown]);
    expect(await kit2.resolutionTypes(captured.holdId)).toEqual(['HoldCaptured']);
    expect(await kit2.available(wallet)).toBe('90.00');
    await waitFor(() => restarted.status().trackedHolds === 0, WAIT_MS, 'nothing left tracked');
    expect(restarted.status().expired).toBe(2);
  });

  it('forgets a hold drawn to zero and, after a restart, expires a partly drawn one with what remains', async () => {
    const first = instance();
    const kit = new HoldExpiryKit(first.store, first.processor, clock);
    const wallet = await kit.fundedWallet('100.00');
    const payee = await kit.fundedWallet('1.00');
    const emptied = await kit.placeHold(wallet, '10.00', 2 * MINUTE);
    const partly = await kit.placeHold(wallet, '10.00', 3 * MINUTE);
    const worker = startWorker(first);
    await waitFor(() => worker.status().caughtUp && worker.status().trackedHolds === 2, WAIT_MS, 'two holds tracked');
    await kit.draw(emptied, payee, '10.00');
    await waitFor(() => worker.status().trackedHolds === 1, WAIT_MS, 'the emptied hold forgotten');
    const drawn = await kit.draw(partly, payee, '4.00');
    await waitFor(() => worker.status().position >= drawn, WAIT_MS, 'the partial draw read');
    expect(worker.status().trackedHolds).toBe(1);
    await worker.stop();
    await closeInstance(first);

    const second = instance();
    // The emptied hold no longer holds the checkpoint back; the partly drawn one does.
    expect(await second.checkpoints.load(HOLD_EXPIRY_CONSUMER_ID)).toBe(partly.position - 1n);
    const kit2 = new HoldExpiryKit(second.store, second.processor, clock);
    clock.advance(10 * MINUTE);
    const restarted = startWorker(second);
    await expectExpiredOnce(kit2, [partly]);
    const [expired] = (await kit2.resolutions()).get(partly.holdId) ?? [];
    expect(expired?.data).toMatchObject({ releasedMinor: '600' });
    expect(await kit2.outcomeTypes(emptied.holdId)).toEqual(['HoldDrawn']);
    expect(await kit2.outcomeTypes(partly.holdId)).toEqual(['HoldDrawn', 'HoldExpired']);
    expect(await kit2.available(wallet)).toBe('86.00');
    await waitFor(() => restarted.status().trackedHolds === 0, WAIT_MS, 'nothing left tracked');
    expect(restarted.status().expired).toBe(1);
  });

  it('after a crash (the last checkpoint writes lost) a new process expires every hold once', async () => {
    const first = instance();
    const kit = new HoldExpiryKit(first.store, first.processor, clock);
    const wallet = await kit.fundedWallet('100.00');
    const holds = [await kit.placeHold(wallet, '1.00', MINUTE), await kit.placeHold(wallet, '1.00', 2 * MINUTE)];
    const checkpoints = new CrashableCheckpoints(first.checkpoints);
    const crashing = startWorker(first, checkpoints);
    await waitFor(() => crashing.status().caughtUp && crashing.status().trackedHolds === 2, WAIT_MS, 'tracking');
    // The first deadline passes and is expired; then the process dies before writing the checkpoint.
    checkpoints.crashed = true;
    clock.advance(MINUTE);
    await waitFor(() => crashing.status().expired === 1, WAIT_MS, 'first hold expired');
    holds.push(await kit.placeHold(wallet, '1.00', 3 * MINUTE));
    await crashing.stop();
    await closeInstance(first);

    const second = instance();
    const kit2 = new HoldExpiryKit(second.store, second.processor, clock);
    clock.advance(5 * MINUTE);
    const restarted = startWorker(second);
    await expectExpiredOnce(kit2, holds);
    await waitFor(() => restarted.status().trackedHolds === 0, WAIT_MS, 'nothing left tracked');
    expect(restarted.status().expired).toBe(2);
  });

  it('two processes on one database expire each hold once', async () => {
    const [a, b] = [instance(), instance()];
    const kit = new HoldExpiryKit(a.store, a.processor, clock);
    const wallet = await kit.fundedWallet('100.00');
    const holds: PlacedHold[] = [];
    for (let i = 1; i <= 6; i += 1) holds.push(await kit.placeHold(wallet, '1.00', i * MINUTE));
    const workers2 = [startWorker(a), startWorker(b)];
    await waitFor(() => workers2.every((w) => w.status().caughtUp && w.status().trackedHolds === 6), WAIT_MS, 'both tracking');
    clock.advance(10 * MINUTE);
    await expectExpiredOnce(kit, holds);
    await waitFor(() => workers2.every((w) => w.status().trackedHolds === 0), WAIT_MS, 'both done');
    expect(workers2.reduce((sum, w) => sum + w.status().expired, 0)).toBe(6);
    expect(await kit.available(wallet)).toBe('100.00');
  });
});
