import { LatencyRecorder, type LatencySummary } from './latency-recorder';

/**
 * Closed-loop load: `workers` concurrent loops, each starting its next operation as soon as the
 * previous one finishes (no think time), for a warm-up and then a measured window.
 *
 * - An operation counts as measured when it *starts* inside the window; operations still running
 *   when the window closes are awaited and counted, and no new one starts after it closes.
 * - Throughput is measured operations divided by the time from the window's start to the last
 *   measured completion, so the tail of in-flight operations is not given away for free.
 * - Latency is the monotonic-clock time of each measured operation, end to end as the caller sees
 *   it (including waiting for a pooled connection).
 * - The window also ends once `maxOps` operations have been measured: every cell is bounded in
 *   both time and count.
 * - An operation that throws stops every worker at its next iteration; the error is rethrown.
 */
export interface RunForOptions<Outcome extends string> {
  readonly workers: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly maxOps: number;
  /** The outcomes an operation may resolve with; each gets a counter, even when zero. */
  readonly outcomes: readonly Outcome[];
  readonly op: (worker: number) => Promise<Outcome>;
  /** Monotonic clock in nanoseconds; injectable for tests. */
  readonly nowNs?: () => bigint;
}

export interface RunForResult<Outcome extends string> {
  readonly workers: number;
  /** Operations started inside the measured window. */
  readonly measuredOps: number;
  readonly outcomes: Readonly<Record<Outcome, number>>;
  /** Window start to last measured completion. */
  readonly elapsedMs: number;
  readonly opsPerSecond: number;
  readonly latency: LatencySummary | null;
  /** Every operation run, warm-up included: the denominator for per-operation server counters. */
  readonly totalOps: number;
  /** True when the window closed on `maxOps` rather than on time. */
  readonly hitMaxOps: boolean;
}

export const MAX_WORKERS = 1_024;
const NS_PER_MS = 1_000_000n;

export async function runFor<Outcome extends string>(options: RunForOptions<Outcome>): Promise<RunForResult<Outcome>> {
  const { workers, warmupMs, durationMs, maxOps } = options;
  assertInteger('workers', workers, 1, MAX_WORKERS);
  assertInteger('warmupMs', warmupMs, 0, 3_600_000);
  assertInteger('durationMs', durationMs, 1, 3_600_000);
  assertInteger('maxOps', maxOps, 1, Number.MAX_SAFE_INTEGER);
  if (options.outcomes.length === 0) throw new RangeError('runFor needs at least one outcome');
  const nowNs = options.nowNs ?? process.hrtime.bigint;

  const recorder = new LatencyRecorder(maxOps);
  const outcomes = Object.fromEntries(options.outcomes.map((o) => [o, 0])) as Record<Outcome, number>;
  const startNs = nowNs();
  const windowStartNs = startNs + BigInt(warmupMs) * NS_PER_MS;
  const windowEndNs = windowStartNs + BigInt(durationMs) * NS_PER_MS;
  let started = 0; // measured operations started; reserved before awaiting so maxOps is exact
  let totalOps = 0;
  let lastCompletionNs = windowStartNs;
  let failure: { error: unknown } | undefined;

  const loop = async (worker: number): Promise<void> => {
    while (failure === undefined) {
      const t0 = nowNs();
      if (t0 >= windowEndNs || started >= maxOps) return;
      const measured = t0 >= windowStartNs;
      if (measured) started += 1;
      let outcome: Outcome;
      try {
        outcome = await options.op(worker);
      } catch (error) {
        failure ??= { error };
        return;
      }
      const t1 = nowNs();
      totalOps += 1;
      if (!measured) continue;
      if (!(outcome in outcomes)) {
        failure ??= { error: new Error(`Operation resolved with undeclared outcome '${String(outcome)}'`) };
        return;
      }
      recorder.record(t1 - t0);
      outcomes[outcome] += 1;
      if (t1 > lastCompletionNs) lastCompletionNs = t1;
    }
  };

  await Promise.all(Array.from({ length: workers }, (_, worker) => loop(worker)));
  if (failure !== undefined) throw failure.error;

  const elapsedNs = lastCompletionNs - windowStartNs;
  const elapsedMs = Number(elapsedNs) / 1e6;
  return {
    workers,
    measuredOps: recorder.size,
    outcomes,
    elapsedMs,
    opsPerSecond: elapsedNs > 0n ? (recorder.size * 1e9) / Number(elapsedNs) : 0,
    latency: recorder.summary(),
    totalOps,
    hitMaxOps: started >= maxOps,
  };
}

function assertInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`runFor: ${name} must be an integer from ${min} to ${max}; got ${value}`);
  }
}
