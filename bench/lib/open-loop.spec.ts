import fc from 'fast-check';
import { runOpenLoop, scheduledOffsetNs, sendsBefore, sendsDueBy } from './open-loop';

/** A clock that moves only when the scheduler sleeps or an operation says so. */
function fakeClock(): { nowNs: () => bigint; advanceMs: (ms: number) => void; sleep: (ms: number) => Promise<void> } {
  let now = 0n;
  const advanceMs = (ms: number): void => {
    now += BigInt(Math.round(ms * 1e6));
  };
  return {
    nowNs: () => now,
    advanceMs,
    // Answers already given settle first, at the time they were given; then time moves on.
    sleep: async (ms) => {
      await new Promise((resolve) => setImmediate(resolve));
      advanceMs(ms);
    },
  };
}

describe('open-loop schedule math', () => {
  it('spaces sends 1e9 / rate nanoseconds apart, rounding down', () => {
    expect(scheduledOffsetNs(0, 5_000)).toBe(0n);
    expect(scheduledOffsetNs(1, 5_000)).toBe(200_000n);
    expect(scheduledOffsetNs(5_000, 5_000)).toBe(1_000_000_000n);
    expect(scheduledOffsetNs(1, 3)).toBe(333_333_333n);
    expect(scheduledOffsetNs(2, 3)).toBe(666_666_666n);
  });

  it('counts the sends due by a time, the first one at time zero', () => {
    expect(sendsDueBy(-1n, 1_000)).toBe(0);
    expect(sendsDueBy(0n, 1_000)).toBe(1);
    expect(sendsDueBy(999_999n, 1_000)).toBe(1);
    expect(sendsDueBy(1_000_000n, 1_000)).toBe(2);
    expect(sendsBefore(1_000_000_000n, 2_000)).toBe(2_000); // one second at 2,000/s
    expect(sendsBefore(0n, 2_000)).toBe(0);
  });

  it('agrees with the schedule for any rate and time (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.bigInt({ min: 0n, max: 60_000_000_000n }), (rate, elapsed) => {
        const due = sendsDueBy(elapsed, rate);
        // Every send counted is due, and the next one is not.
        expect(scheduledOffsetNs(due - 1, rate) <= elapsed).toBe(true);
        expect(scheduledOffsetNs(due, rate) > elapsed).toBe(true);
      }),
    );
  });
});

describe('runOpenLoop', () => {
  it('sends on schedule and measures latency from the scheduled time', async () => {
    const clock = fakeClock();
    const sent: number[] = [];
    const result = await runOpenLoop({
      ratePerSecond: 1_000,
      warmupMs: 10,
      durationMs: 100,
      maxInFlight: 1_000,
      drainTimeoutMs: 1_000,
      outcomes: ['ok', 'refused'],
      okOutcome: 'ok',
      nowNs: clock.nowNs,
      sleep: clock.sleep,
      op: async (index) => {
        sent.push(index);
        return 'ok';
      },
    });
    expect(sent).toHaveLength(110); // 10 warm-up + 100 measured, one per millisecond
    expect(result.scheduled).toBe(100);
    expect(result.dropped).toBe(0);
    expect(result.outcomes).toEqual({ ok: 100, refused: 0 });
    expect(result.totalOps).toBe(110);
    expect(result.opsPerSecond).toBe(1_000);
    expect(result.achievedRatio).toBe(1);
    expect(result.unfinished).toBe(0);
  });

  it('counts a late scheduler in the latency (no coordinated omission)', async () => {
    const clock = fakeClock();
    const result = await runOpenLoop({
      ratePerSecond: 10_000, // 10 sends due per millisecond; the fake timer wakes every 1 ms
      warmupMs: 0,
      durationMs: 10,
      maxInFlight: 1_000,
      drainTimeoutMs: 100,
      outcomes: ['ok'],
      okOutcome: 'ok',
      nowNs: clock.nowNs,
      sleep: clock.sleep,
      op: async () => 'ok',
    });
    expect(result.scheduled).toBe(100);
    // Sends due at +0.1 ms … +0.9 ms go out at the next wake-up: they waited up to 0.9 ms.
    expect(result.latency?.maxMs).toBeCloseTo(0.9, 6);
    expect(result.maxSendLagMs).toBeCloseTo(0.9, 6);
  });

  it('keeps sending while answers are slow, and counts the wait from the schedule', async () => {
    const clock = fakeClock();
    const waiting: Array<() => void> = [];
    const run = runOpenLoop({
      ratePerSecond: 1_000,
      warmupMs: 0,
      durationMs: 5,
      maxInFlight: 100,
      drainTimeoutMs: 1_000,
      outcomes: ['ok'],
      okOutcome: 'ok',
      nowNs: clock.nowNs,
      sleep: async (ms) => {
        await clock.sleep(ms);
        // Nothing is answered until every send is out: a closed loop would have sent one.
        if (waiting.length === 5) waiting.splice(0).forEach((answer) => answer());
      },
      op: () => new Promise<'ok'>((resolve) => waiting.push(() => resolve('ok'))),
    });
    const result = await run;
    expect(result.maxInFlightSeen).toBe(5);
    expect(result.outcomes.ok).toBe(5);
    // Sent at 0..4 ms, all answered at the first drain poll, 6 ms: 6, 5, 4, 3, 2 ms.
    expect(result.latency).toMatchObject({ count: 5, maxMs: 6, minMs: 2, p50Ms: 4 });
  });

  it('drops sends beyond the in-flight cap and counts them', async () => {
    const clock = fakeClock();
    const result = await runOpenLoop({
      ratePerSecond: 1_000,
      warmupMs: 0,
      durationMs: 10,
      maxInFlight: 3,
      drainTimeoutMs: 5,
      outcomes: ['ok'],
      okOutcome: 'ok',
      nowNs: clock.nowNs,
      sleep: clock.sleep,
      op: () => new Promise<'ok'>(() => undefined), // never answers
    });
    expect(result.scheduled).toBe(10);
    expect(result.dropped).toBe(7);
    expect(result.unfinished).toBe(3);
    expect(result.opsPerSecond).toBe(0);
    expect(result.latency).toBeNull();
  });

  it('counts only successful completions inside the window as throughput', async () => {
    const clock = fakeClock();
    let n = 0;
    const result = await runOpenLoop({
      ratePerSecond: 1_000,
      warmupMs: 0,
      durationMs: 10,
      maxInFlight: 100,
      drainTimeoutMs: 100,
      outcomes: ['ok', 'OVERLOADED'],
      okOutcome: 'ok',
      nowNs: clock.nowNs,
      sleep: clock.sleep,
      op: async () => (++n % 2 === 0 ? 'OVERLOADED' : 'ok'),
    });
    expect(result.outcomes).toEqual({ ok: 5, OVERLOADED: 5 });
    expect(result.opsPerSecond).toBe(500);
    expect(result.achievedRatio).toBe(0.5);
  });

  it('rethrows an operation that fails', async () => {
    const clock = fakeClock();
    await expect(
      runOpenLoop({
        ratePerSecond: 1_000,
        warmupMs: 0,
        durationMs: 10,
        maxInFlight: 10,
        drainTimeoutMs: 10,
        outcomes: ['ok'],
        okOutcome: 'ok',
        nowNs: clock.nowNs,
        sleep: clock.sleep,
        op: async (index) => {
          if (index === 3) throw new Error('boom');
          return 'ok';
        },
      }),
    ).rejects.toThrow('boom');
  });

  it('runs on the real clock', async () => {
    const result = await runOpenLoop({
      ratePerSecond: 2_000,
      warmupMs: 0,
      durationMs: 50,
      maxInFlight: 100,
      drainTimeoutMs: 1_000,
      outcomes: ['ok'],
      okOutcome: 'ok',
      op: () => new Promise<'ok'>((resolve) => setTimeout(() => resolve('ok'), 1)),
    });
    expect(result.scheduled).toBe(100);
    expect(result.outcomes.ok + result.dropped).toBe(100);
    expect(result.unfinished).toBe(0);
  });

  it('refuses unbounded or nonsensical options', async () => {
    const base = {
      ratePerSecond: 1,
      warmupMs: 0,
      durationMs: 1,
      maxInFlight: 1,
      drainTimeoutMs: 0,
      outcomes: ['ok'] as const,
      okOutcome: 'ok' as const,
      op: async () => 'ok' as const,
    };
    await expect(runOpenLoop({ ...base, ratePerSecond: 0 })).rejects.toThrow(RangeError);
    await expect(runOpenLoop({ ...base, ratePerSecond: 1.5 })).rejects.toThrow(RangeError);
    await expect(runOpenLoop({ ...base, maxInFlight: 0 })).rejects.toThrow(RangeError);
    await expect(runOpenLoop({ ...base, durationMs: 0 })).rejects.toThrow(RangeError);
  });
});
