import { LatencyRecorder, type LatencySummary } from './latency-recorder';

/**
 * Open-loop load: requests are sent on a fixed schedule (`ratePerSecond`), whether or not earlier
 * ones have been answered, for a warm-up and then a measured window. This is how independent
 * users arrive; a closed loop (run-for.ts) slows its own arrivals down when the system slows
 * down, and so hides queueing ("coordinated omission").
 *
 * - Send i is scheduled at start + floor(i × 1e9 / rate) ns (`scheduledOffsetNs`). The scheduler
 *   wakes about once a millisecond (a timer; it never spins) and sends everything that is due.
 * - Latency is measured from the SCHEDULED send time, not the actual one, so any lateness of the
 *   scheduler, the client's event loop or a queue in front of the system is counted, not hidden.
 * - A send is measured when its scheduled time is inside the window. At most `maxInFlight`
 *   requests are outstanding: a send due while the cap is reached is not made and is counted as
 *   dropped (a system that falls behind shows drops, not an ever-growing queue in the client).
 * - Throughput is successful completions that happened inside the measured window (of any send,
 *   warm-up included), divided by the window's length: what the system delivered in that time.
 *   When it keeps up, that equals the offered rate; when it falls behind, it is what it managed.
 * - After the last send, in-flight requests are awaited for at most `drainTimeoutMs` (each
 *   request should carry its own timeout, so this is a safety net); any left are `unfinished`.
 * - An operation that throws stops the schedule; the error is rethrown.
 */
export interface OpenLoopOptions<Outcome extends string> {
  /** Sends per second, an integer. */
  readonly ratePerSecond: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Requests outstanding at once, at most; further sends due are dropped. */
  readonly maxInFlight: number;
  readonly drainTimeoutMs: number;
  /** The outcomes an operation may resolve with; each gets a counter, even when zero. 'ok' counts towards throughput. */
  readonly outcomes: readonly Outcome[];
  readonly okOutcome: Outcome;
  readonly op: (index: number) => Promise<Outcome>;
  /** Monotonic clock in nanoseconds; injectable for tests. */
  readonly nowNs?: () => bigint;
  /** Waits about `ms` milliseconds; injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface OpenLoopResult<Outcome extends string> {
  readonly ratePerSecond: number;
  /** Sends scheduled inside the measured window (made or dropped). */
  readonly scheduled: number;
  /** Of those, not made because `maxInFlight` requests were outstanding. */
  readonly dropped: number;
  /** Outcomes of the measured sends that were made and completed. */
  readonly outcomes: Readonly<Record<Outcome, number>>;
  /** Successful completions inside the window ÷ window length. */
  readonly opsPerSecond: number;
  /** opsPerSecond ÷ ratePerSecond: 1 when the system kept up. */
  readonly achievedRatio: number;
  /** From the scheduled send time to completion, over every measured send that completed. */
  readonly latency: LatencySummary | null;
  /** How late the scheduler made a send (actual - scheduled), at worst, over the measured sends it made. */
  readonly maxSendLagMs: number;
  readonly maxInFlightSeen: number;
  /** Every operation completed, warm-up included: the denominator for per-operation server counters. */
  readonly totalOps: number;
  /** Requests still outstanding when the drain timeout ran out. */
  readonly unfinished: number;
  readonly durationMs: number;
}

export const MAX_OPEN_LOOP_RATE = 1_000_000;
const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;
/** How often the drain checks whether every request has been answered. */
const DRAIN_POLL_MS = 2;

/** Nanoseconds from the schedule's start to send `index`: floor(index × 1e9 / rate). */
export function scheduledOffsetNs(index: number, ratePerSecond: number): bigint {
  return (BigInt(index) * NS_PER_SECOND) / BigInt(ratePerSecond);
}

/**
 * How many sends are due `elapsedNs` after the schedule's start: the number of indexes i ≥ 0 with
 * scheduledOffsetNs(i) ≤ elapsedNs. floor(i × 1e9 / r) ≤ e ⟺ i × 1e9 < (e + 1) × r, so the count
 * is ((e + 1) × r - 1) div 1e9 + 1, and 0 before the start.
 */
export function sendsDueBy(elapsedNs: bigint, ratePerSecond: number): number {
  if (elapsedNs < 0n) return 0;
  return Number(((elapsedNs + 1n) * BigInt(ratePerSecond) - 1n) / NS_PER_SECOND) + 1;
}

/** Sends scheduled in [0, spanNs): the first index at or after spanNs. */
export function sendsBefore(spanNs: bigint, ratePerSecond: number): number {
  return sendsDueBy(spanNs - 1n, ratePerSecond);
}

export async function runOpenLoop<Outcome extends string>(options: OpenLoopOptions<Outcome>): Promise<OpenLoopResult<Outcome>> {
  const { ratePerSecond, warmupMs, durationMs, maxInFlight, drainTimeoutMs } = options;
  assertInteger('ratePerSecond', ratePerSecond, 1, MAX_OPEN_LOOP_RATE);
  assertInteger('warmupMs', warmupMs, 0, 3_600_000);
  assertInteger('durationMs', durationMs, 1, 3_600_000);
  assertInteger('maxInFlight', maxInFlight, 1, 1_000_000);
  assertInteger('drainTimeoutMs', drainTimeoutMs, 0, 3_600_000);
  if (!options.outcomes.includes(options.okOutcome)) throw new RangeError('runOpenLoop: okOutcome must be one of the outcomes');
  const nowNs = options.nowNs ?? process.hrtime.bigint;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  const warmupNs = BigInt(warmupMs) * NS_PER_MS;
  const windowNs = BigInt(durationMs) * NS_PER_MS;
  const firstMeasured = sendsBefore(warmupNs, ratePerSecond);
  const totalSends = sendsBefore(warmupNs + windowNs, ratePerSecond);
  const scheduled = totalSends - firstMeasured;
  const recorder = new LatencyRecorder(Math.max(1, scheduled));
  const outcomes = Object.fromEntries(options.outcomes.map((o) => [o, 0])) as Record<Outcome, number>;

  let failure: { error: unknown } | undefined;
  let inFlight = 0;
  let maxInFlightSeen = 0;
  let dropped = 0;
  let totalOps = 0;
  let okInWindow = 0;
  let maxSendLagNs = 0n;

  const startNs = nowNs();
  const windowStartNs = startNs + warmupNs;
  const windowEndNs = windowStartNs + windowNs;

  const send = (index: number): void => {
    const measured = index >= firstMeasured;
    if (inFlight >= maxInFlight) {
      if (measured) dropped += 1;
      return;
    }
    const intendedNs = startNs + scheduledOffsetNs(index, ratePerSecond);
    if (measured) {
      const lag = nowNs() - intendedNs;
      if (lag > maxSendLagNs) maxSendLagNs = lag;
    }
    inFlight += 1;
    if (inFlight > maxInFlightSeen) maxInFlightSeen = inFlight;
    let pending: Promise<Outcome>;
    try {
      pending = options.op(index);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (outcome) => {
        const doneNs = nowNs();
        inFlight -= 1;
        totalOps += 1;
        if (!(outcome in outcomes)) {
          failure ??= { error: new Error(`Operation resolved with undeclared outcome '${String(outcome)}'`) };
        } else {
          if (outcome === options.okOutcome && doneNs >= windowStartNs && doneNs < windowEndNs) okInWindow += 1;
          if (measured) {
            outcomes[outcome] += 1;
            recorder.record(doneNs - intendedNs);
          }
        }
      },
      (error: unknown) => {
        inFlight -= 1;
        failure ??= { error };
      },
    );
  };

  let next = 0;
  while (next < totalSends && failure === undefined) {
    const due = Math.min(totalSends, sendsDueBy(nowNs() - startNs, ratePerSecond));
    while (next < due) send(next++);
    if (next >= totalSends) break;
    const waitNs = startNs + scheduledOffsetNs(next, ratePerSecond) - nowNs();
    // Timers have millisecond resolution: sleep at least 1 ms, then send everything due.
    await sleep(Math.max(1, Math.ceil(Number(waitNs) / 1e6)));
  }

  // Poll rather than race a long timer, so nothing is left pending once the last answer is in.
  const drainDeadlineNs = nowNs() + BigInt(drainTimeoutMs) * NS_PER_MS;
  while (inFlight > 0 && nowNs() < drainDeadlineNs) await sleep(DRAIN_POLL_MS);
  if (failure !== undefined) throw failure.error;

  const opsPerSecond = (okInWindow * 1_000) / durationMs;
  return {
    ratePerSecond,
    scheduled,
    dropped,
    outcomes,
    opsPerSecond,
    achievedRatio: opsPerSecond / ratePerSecond,
    latency: recorder.summary(),
    maxSendLagMs: Number(maxSendLagNs) / 1e6,
    maxInFlightSeen,
    totalOps,
    unfinished: inFlight,
    durationMs,
  };
}

function assertInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`runOpenLoop: ${name} must be an integer from ${min} to ${max}; got ${value}`);
  }
}
