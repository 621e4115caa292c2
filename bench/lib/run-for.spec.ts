import { runFor } from './run-for';

/** A clock that only moves when an operation says so: each op "takes" stepMs of fake time. */
function fakeClock(): { nowNs: () => bigint; advanceMs: (ms: number) => void } {
  let now = 0n;
  return { nowNs: () => now, advanceMs: (ms) => (now += BigInt(ms) * 1_000_000n) };
}

describe('runFor', () => {
  it('measures only operations started inside the window, after the warm-up', async () => {
    const clock = fakeClock();
    const result = await runFor({
      workers: 1,
      warmupMs: 10,
      durationMs: 100,
      maxOps: 1_000,
      outcomes: ['ok'],
      nowNs: clock.nowNs,
      op: async () => {
        clock.advanceMs(10);
        return 'ok';
      },
    });
    // Ops start at 0 (warm-up), then 10, 20, ... 100 (measured); the one starting at 100 ends at 110.
    expect(result.measuredOps).toBe(10);
    expect(result.totalOps).toBe(11);
    expect(result.elapsedMs).toBe(100);
    expect(result.opsPerSecond).toBe(100);
    expect(result.latency).toMatchObject({ count: 10, p50Ms: 10, p99Ms: 10 });
    expect(result.hitMaxOps).toBe(false);
  });

  it('closes the window on maxOps', async () => {
    const clock = fakeClock();
    const result = await runFor({
      workers: 1,
      warmupMs: 0,
      durationMs: 1_000,
      maxOps: 3,
      outcomes: ['ok'],
      nowNs: clock.nowNs,
      op: async () => {
        clock.advanceMs(1);
        return 'ok';
      },
    });
    expect(result.measuredOps).toBe(3);
    expect(result.hitMaxOps).toBe(true);
    expect(result.elapsedMs).toBe(3);
  });

  it('counts each outcome, including those that never happen', async () => {
    const clock = fakeClock();
    let n = 0;
    const result = await runFor({
      workers: 1,
      warmupMs: 0,
      durationMs: 6,
      maxOps: 100,
      outcomes: ['ok', 'conflict', 'unused'],
      nowNs: clock.nowNs,
      op: async () => {
        clock.advanceMs(1);
        n += 1;
        return n % 3 === 0 ? 'conflict' : 'ok';
      },
    });
    expect(result.outcomes).toEqual({ ok: 4, conflict: 2, unused: 0 });
  });

  it('stops every worker and rethrows when an operation fails', async () => {
    let calls = 0;
    await expect(
      runFor({
        workers: 4,
        warmupMs: 0,
        durationMs: 10_000,
        maxOps: 1_000_000,
        outcomes: ['ok'],
        op: async () => {
          calls += 1;
          await new Promise((resolve) => setImmediate(resolve));
          if (calls === 10) throw new Error('boom');
          return 'ok';
        },
      }),
    ).rejects.toThrow('boom');
    expect(calls).toBeLessThan(20);
  });

  it('runs workers concurrently on the real clock', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const result = await runFor({
      workers: 4,
      warmupMs: 0,
      durationMs: 30,
      maxOps: 100_000,
      outcomes: ['ok'],
      op: async () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight -= 1;
        return 'ok';
      },
    });
    expect(maxInFlight).toBe(4);
    expect(result.measuredOps).toBeGreaterThan(0);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(30);
  });

  it('refuses unbounded or nonsensical options', async () => {
    const base = { workers: 1, warmupMs: 0, durationMs: 1, maxOps: 1, outcomes: ['ok'] as const, op: async () => 'ok' as const };
    await expect(runFor({ ...base, workers: 0 })).rejects.toThrow(RangeError);
    await expect(runFor({ ...base, durationMs: 0 })).rejects.toThrow(RangeError);
    await expect(runFor({ ...base, maxOps: 0 })).rejects.toThrow(RangeError);
    await expect(runFor({ ...base, outcomes: [] })).rejects.toThrow(RangeError);
  });
});
