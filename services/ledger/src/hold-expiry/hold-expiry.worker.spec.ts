import { UnavailableError } from '@ledger/errors';
import { CommandProcessor } from '@ledger/event-sourcing';
import { InMemoryCheckpointStore, InMemoryEventStore, type CheckpointStore, type RecordedEvent } from '@ledger/event-store';
import { waitFor } from '@ledger/testing';
import { HoldExpiryKit, TestClock, type PlacedHold } from '../testing/hold-expiry-kit';
import { HOLD_EXPIRY_CONSUMER_ID, HOLD_EXPIRY_PRINCIPAL, HoldExpiryWorker, holdExpiryIdempotencyKey, type HoldExpiryOptions } from './hold-expiry.worker';

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const WAIT_MS = 5_000;
jest.setTimeout(20_000);
const MINUTE = 60_000;

function newProcessor(store: InMemoryEventStore): CommandProcessor {
  return new CommandProcessor(store, { maxBatchSize: 64, maxConflictRetries: 5, maxQueuedCommands: 10_000, cacheEntries: 1_000 });
}

describe('HoldExpiryWorker (in-memory store, injected clock)', () => {
  let store: InMemoryEventStore;
  let processor: CommandProcessor;
  let checkpoints: InMemoryCheckpointStore;
  let clock: TestClock;
  let kit: HoldExpiryKit;
  const workers: HoldExpiryWorker[] = [];

  beforeEach(() => {
    store = new InMemoryEventStore({ pollIntervalMs: 20 });
    processor = newProcessor(store);
    checkpoints = new InMemoryCheckpointStore();
    clock = new TestClock(T0);
    kit = new HoldExpiryKit(store, processor, clock);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });

  function startWorker(options: Partial<HoldExpiryOptions> & { processor?: CommandProcessor; checkpoints?: CheckpointStore } = {}): HoldExpiryWorker {
    const worker = new HoldExpiryWorker(
      { store, checkpoints: options.checkpoints ?? checkpoints, processor: options.processor ?? processor, clock: clock.now },
      { maxTrackedHolds: 1_000, maxSleepMs: 10, checkpointIntervalMs: 1, ...options },
    );
    workers.push(worker);
    worker.start();
    return worker;
  }

  /** Resolves once the worker has looked at the clock twice more: it has seen whatever time the test set. */
  async function turns(worker: HoldExpiryWorker, n = 2): Promise<void> {
    const seen = worker.status().wakeups;
    await waitFor(() => worker.status().wakeups >= seen + n, WAIT_MS, `${n} more timer turns`);
  }

  async function expectExpiredOnce(holds: readonly PlacedHold[]): Promise<void> {
    const ids = new Set(holds.map((hold) => hold.holdId));
    await waitFor(async () => {
      const all = await kit.resolutions();
      return [...ids].every((id) => (all.get(id) ?? []).length > 0);
    }, WAIT_MS, `${ids.size} holds resolved`);
    const all = await kit.resolutions();
    for (const hold of holds) expect((all.get(hold.holdId) ?? []).map((e) => e.type)).toEqual(['HoldExpired']);
  }

  it('expires a hold once the clock passes its deadline, not before, as the service with a hold-based key', async () => {
    const wallet = await kit.fundedWallet('100.00');
    const hold = await kit.placeHold(wallet, '30.00', 5 * MINUTE);
    expect(await kit.available(wallet)).toBe('70.00');
    const worker = startWorker();
    await waitFor(() => worker.status().caughtUp && worker.status().trackedHolds === 1, WAIT_MS, 'the hold tracked');

    clock.set(hold.expiresAt.getTime() - 1);
    await turns(worker);
    expect(await kit.resolutionTypes(hold.holdId)).toEqual([]);
    expect(worker.status()).toMatchObject({ trackedHolds: 1, expired: 0 });

    clock.set(hold.expiresAt);
    await expectExpiredOnce([hold]);
    expect(await kit.available(wallet)).toBe('100.00');
    const [expired] = (await kit.resolutions()).get(hold.holdId) ?? [];
    expect(expired?.data).toMatchObject({ holdId: hold.holdId, walletId: wallet, releasedMinor: '3000', expiredAt: hold.expiresAt.toISOString() });
    expect(expired?.metadata).toMatchObject({ principal: HOLD_EXPIRY_PRINCIPAL, idempotencyKey: holdExpiryIdempotencyKey(hold.holdId) });
    // The expiry is caused by the placement and shares its correlation id.
    const [placed] = await store.readStream(`wallet-${wallet}`, { direction: 'forwards', fromRevision: 2n, maxCount: 1 });
    expect(placed?.type).toBe('HoldPlaced');
    expect(expired?.metadata.causationId).toBe(placed?.id);
    expect(expired?.metadata.correlationId).toBe(placed?.metadata.correlationId);
    await waitFor(() => worker.status().trackedHolds === 0, WAIT_MS, 'the hold forgotten');
    expect(worker.status()).toMatchObject({ expired: 1, alreadyResolved: 0, failedAttempts: 0 });
  });

  it('does not expire holds captured or released before their deadline', async () => {
    const wallet = await kit.fundedWallet('100.00');
    const captured = await kit.placeHold(wallet, '10.00', MINUTE);
    const released = await kit.placeHold(wallet, '10.00', MINUTE);
    const open = await kit.placeHold(wallet, '10.00', 2 * MINUTE);
    const worker = startWorker();
    await waitFor(() => worker.status().caughtUp && worker.status().trackedHolds === 3, WAIT_MS, 'three holds tracked');
    await kit.capture(captured);
    await kit.release(released);
    await waitFor(() => worker.status().trackedHolds === 1, WAIT_MS, 'the resolved holds dropped from the log');

    clock.advance(10 * MINUTE);
    await expectExpiredOnce([open]);
    expect(await kit.resolutionTypes(captured.holdId)).toEqual(['HoldCaptured']);
    expect(await kit.resolutionTypes(released.holdId)).toEqual(['HoldReleased']);
    expect(worker.status()).toMatchObject({ expired: 1, alreadyResolved: 0 });
    expect(await kit.available(wallet)).toBe('90.00');
  });

  it('forgets a hold drawn to zero, whether it reads the draws in its rebuild or live, and never expires it', async () => {
    const wallet = await kit.fundedWallet('100.00');
    const payee = await kit.fundedWallet('1.00');
    const early = await kit.placeHold(wallet, '30.00', MINUTE);
    const late = await kit.placeHold(wallet, '20.00', MINUTE);
    await kit.draw(early, payee, '10.00');
    await kit.draw(early, payee, '20.00');
    const worker = startWorker();
    await waitFor(() => worker.status().caughtUp && worker.status().trackedHolds === 1, WAIT_MS, 'only the hold not emptied tracked');
    await kit.draw(late, payee, '5.00');
    await kit.draw(late, payee, '15.00');
    await waitFor(() => worker.status().trackedHolds === 0, WAIT_MS, 'the emptied hold forgotten');

    clock.advance(2 * MINUTE);
    await turns(worker);
    expect(await kit.outcomeTypes(early.holdId)).toEqual(['HoldDrawn', 'HoldDrawn']);
    expect(await kit.outcomeTypes(late.holdId)).toEqual(['HoldDrawn', 'HoldDrawn']);
    expect(worker.status()).toMatchObject({ expired: 0, alreadyResolved: 0, failedAttempts: 0 });
    expect([await kit.available(wallet), await kit.available(payee)]).toEqual(['50.00', '51.00']);
    // An emptied hold no longer holds the checkpoint back.
    await waitFor(async () => (await checkpoints.load(HOLD_EXPIRY_CONSUMER_ID)) >= late.position, WAIT_MS, 'checkpoint past the emptied holds');
  });

  it('still expires a partly drawn hold at its deadline, releasing only what remains', async () => {
    const wallet = await kit.fundedWallet('100.00');
    const payee = await kit.fundedWallet('1.00');
    const hold = await kit.placeHold(wallet, '30.00', MINUTE);
    const worker = startWorker();
    await waitFor(() => worker.status().caughtUp && worker.status().trackedHolds === 1, WAIT_MS, 'the hold tracked');
    const drawn = await kit.draw(hold, payee, '10.00');
    await waitFor(() => worker.status().position >= drawn, WAIT_MS, 'the draw read');
    expect(worker.status().trackedHolds).toBe(1);
    expect(await kit.available(wallet)).toBe('70.00');

    clock.set(hold.expiresAt);
    await expectExpiredOnce([hold]);
    const [expired] = (await kit.resolutions()).get(hold.holdId) ?? [];
    expect(expired?.data).toMatchObject({ holdId: hold.holdId, releasedMinor: '2000' });
    expect(await kit.outcomeTypes(hold.holdId)).toEqual(['HoldDrawn', 'HoldExpired']);
    expect(await kit.available(wallet)).toBe('90.00');
    await waitFor(() => worker.status().trackedHolds === 0, WAIT_MS, 'the hold forgotten');
    expect(worker.status()).toMatchObject({ expired: 1, alreadyResolved: 0 });
  });

  it('drops a hold resolved behind its back (a capture it has not read yet): the decider refuses, nothing is appended', async () => {
    const wallet = await kit.fundedWallet('100.00');
    const hold = await kit.placeHold(wallet, '10.00', MINUTE);
    // The rebuild reads the hold; then the worker hears nothing live, as if it lagged behind the log.
    jest.spyOn(store, 'subscribeToAll').mockImplementation(({ signal }) => ({
      [Symbol.asyncIterator]: () => ({
        next: () =>
          new Promise<IteratorResult<RecordedEvent>>((resolve) => {
            signal?.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true });
          }),
      }),
    }));
    const worker = startWorker();
    await waitFor(() => worker.status().caughtUp && worker.status().trackedHolds === 1, WAIT_MS, 'the hold tracked');
    await kit.capture(hold);
    clock.advance(2 * MINUTE);
    await waitFor(() => worker.status().trackedHolds === 0, WAIT_MS, 'the hold dropped');
    expect(worker.status()).toMatchObject({ expired: 0, alreadyResolved: 1, failedAttempts: 0 });
    expect(await kit.resolutionTypes(hold.holdId)).toEqual(['HoldCaptured']);
  });

  it('two workers (two instances, two processors) on one store expire each hold exactly once', async () => {
    const wallet = await kit.fundedWallet('100.00');
    const holds = await Promise.all([1, 2, 3, 4, 5].map((i) => kit.placeHold(wallet, '1.00', i * MINUTE)));
    const first = startWorker();
    const second = startWorker({ processor: newProcessor(store) });
    await waitFor(() => [first, second].every((w) => w.status().caughtUp && w.status().trackedHolds === 5), WAIT_MS, 'both tracking');

    clock.advance(10 * MINUTE);
    await expectExpiredOnce(holds);
    await waitFor(() => [first, second].every((w) => w.status().trackedHolds === 0), WAIT_MS, 'both done');
    // Exactly one of them appended each HoldExpired; the other was answered from the idempotency
    // record, refused HOLD_ALREADY_RESOLVED, or read the HoldExpired first.
    expect(first.status().expired + second.status().expired).toBe(5);
    expect(await kit.available(wallet)).toBe('100.00');
  });

  it('a restarted worker expires holds placed before the restart and while it was down, and resumes from a low-water checkpoint', async () => {
    const wallet = await kit.fundedWallet('100.00');
    const early = await kit.placeHold(wallet, '1.00', MINUTE);
    const done = await kit.placeHold(wallet, '1.00', MINUTE);
    const first = startWorker();
    await waitFor(() => first.status().caughtUp && first.status().trackedHolds === 2, WAIT_MS, 'tracking');
    await kit.capture(done);
    const later = await kit.placeHold(wallet, '1.00', 3 * MINUTE);
    await waitFor(() => first.status().position >= later.position, WAIT_MS, 'the capture and the new hold read');
    expect(first.status().trackedHolds).toBe(2);
    await first.stop();
    // Never past the oldest hold still open.
    expect(await checkpoints.load(HOLD_EXPIRY_CONSUMER_ID)).toBe(early.position - 1n);

    const whileDown = await kit.placeHold(wallet, '1.00', 2 * MINUTE);
    clock.advance(5 * MINUTE);
    const second = startWorker();
    await expectExpiredOnce([early, later, whileDown]);
    expect(await kit.resolutionTypes(done.holdId)).toEqual(['HoldCaptured']);
    await waitFor(() => second.status().trackedHolds === 0, WAIT_MS, 'second worker done');
    // Every hold resolved: the checkpoint may move to the end of what it read.
    await waitFor(async () => (await checkpoints.load(HOLD_EXPIRY_CONSUMER_ID)) >= whileDown.position, WAIT_MS, 'checkpoint past the last hold');
  });

  it('over maxTrackedHolds it skips new holds, keeps the checkpoint below them and re-scans: every hold still expires once', async () => {
    const wallet = await kit.fundedWallet('100.00');
    // Deadlines out of placement order, one hold captured before anything expires.
    const minutes = [7, 3, 9, 1, 5, 8, 2, 6, 4];
    const holds = [];
    for (const m of minutes) holds.push(await kit.placeHold(wallet, '1.00', m * MINUTE));
    await kit.capture(holds[4] as PlacedHold);
    const open = holds.filter((_, i) => i !== 4);
    const worker = startWorker({ maxTrackedHolds: 2 });
    await waitFor(() => worker.status().caughtUp, WAIT_MS, 'caught up');
    expect(worker.status()).toMatchObject({ trackedHolds: 2, overflowFrom: holds[2]?.position });
    await worker.stop();
    expect(await checkpoints.load(HOLD_EXPIRY_CONSUMER_ID)).toBe((holds[0] as PlacedHold).position - 1n);

    const restarted = startWorker({ maxTrackedHolds: 2 });
    await waitFor(() => restarted.status().caughtUp, WAIT_MS, 'caught up again');
    clock.advance(10 * MINUTE);
    await expectExpiredOnce(open);
    await waitFor(() => restarted.status().trackedHolds === 0 && restarted.status().overflowFrom === undefined, WAIT_MS, 'nothing left');
    expect(restarted.status().rescans).toBeGreaterThanOrEqual(3);
    expect(restarted.status().expired).toBe(open.length);
    expect(await kit.resolutionTypes((holds[4] as PlacedHold).holdId)).toEqual(['HoldCaptured']);
  });

  it('keeps a hold whose ExpireHold failed and retries it after a backoff by the clock', async () => {
    const wallet = await kit.fundedWallet('100.00');
    const hold = await kit.placeHold(wallet, '1.00', MINUTE);
    const flaky = newProcessor(store);
    const execute = jest.spyOn(flaky, 'execute').mockRejectedValueOnce(new UnavailableError('OVERLOADED', 'busy'));
    const worker = startWorker({ processor: flaky, retryBaseMs: 1_000 });
    await waitFor(() => worker.status().caughtUp && worker.status().trackedHolds === 1, WAIT_MS, 'tracking');
    clock.advance(MINUTE);
    await waitFor(() => worker.status().failedAttempts === 1, WAIT_MS, 'first attempt failed');
    await turns(worker);
    expect(await kit.resolutionTypes(hold.holdId)).toEqual([]);
    expect(worker.status().trackedHolds).toBe(1);

    clock.advance(1_000);
    await expectExpiredOnce([hold]);
    expect(execute).toHaveBeenCalledTimes(2);
  });

  it('stops promptly and writes its checkpoint; start twice is refused', async () => {
    const worker = startWorker();
    expect(() => worker.start()).toThrow(/start\(\) called while running/);
    await waitFor(() => worker.status().caughtUp, WAIT_MS, 'caught up');
    await kit.fundedWallet('1.00');
    await worker.stop();
    expect(worker.status().state).toBe('stopped');
    await worker.stop();
  });
});
