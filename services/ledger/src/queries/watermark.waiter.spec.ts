import { isApplicationError } from '@ledger/errors';
import { WatermarkWaiter } from './watermark.waiter';

/** The shared poll loop with a scripted watermark (no database, real timers, short waits). */
describe('WatermarkWaiter', () => {
  function scripted(initial: bigint) {
    let watermark = initial;
    let reads = 0;
    const waiter = new WatermarkWaiter({
      readWatermark: async () => {
        reads += 1;
        return watermark;
      },
      pollMaxIntervalMs: 40,
      maxWaiters: 3,
    });
    return { waiter, set: (w: bigint) => void (watermark = w), reads: () => reads };
  }

  it('resolves every waiter whose target the watermark reached, from ONE poll loop', async () => {
    const { waiter, set, reads } = scripted(10n);
    const low = waiter.waitFor(11n, 5_000);
    const high = waiter.waitFor(12n, 5_000);
    const higher = waiter.waitFor(12n, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const readsWhileStuck = reads();
    // Doubling from 5 ms up to 40 ms: a handful of reads in 150 ms, not one per waiter per tick.
    expect(readsWhileStuck).toBeLessThanOrEqual(8);
    set(12n);
    await expect(Promise.all([low, high, higher])).resolves.toEqual([12n, 12n, 12n]);
    expect(waiter.waiting).toBe(0);
    const after = reads();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reads()).toBe(after); // the loop stops when nobody waits
  });

  it('times out with READ_MODEL_NOT_CAUGHT_UP naming the target and the last watermark seen', async () => {
    const { waiter } = scripted(7n);
    const error = await waiter.waitFor(9n, 60).catch((e: unknown) => e);
    expect(isApplicationError(error) && [error.code, error.kind, error.details['minPosition'], error.details['watermark']]).toEqual(['READ_MODEL_NOT_CAUGHT_UP', 'timeout', '9', '7']);
    expect(waiter.waiting).toBe(0);
  });

  it('stops waiting when the caller goes away, and bounds how many may wait', async () => {
    const { waiter } = scripted(0n);
    const controller = new AbortController();
    const cancelled = waiter.waitFor(5n, 5_000, { signal: controller.signal });
    const others = [waiter.waitFor(5n, 200), waiter.waitFor(5n, 200)];
    const refused = await waiter.waitFor(5n, 200).catch((e: unknown) => e);
    expect(isApplicationError(refused) && refused.code).toBe('TOO_MANY_WAITING_QUERIES');
    controller.abort(new Error('client went away'));
    await expect(cancelled).rejects.toThrow('client went away');
    await Promise.allSettled(others);
    expect(waiter.waiting).toBe(0);
  });

  it('keeps polling through read failures until the deadline', async () => {
    let calls = 0;
    const waiter = new WatermarkWaiter({
      readWatermark: async () => {
        calls += 1;
        if (calls < 3) throw new Error('database away');
        return 5n;
      },
      pollMaxIntervalMs: 10,
      maxWaiters: 10,
    });
    await expect(waiter.waitFor(5n, 2_000)).resolves.toBe(5n);
  });
});
