/**
 * Records operation latencies (nanoseconds from a monotonic clock) into a fixed-size buffer and
 * summarises them with nearest-rank percentiles. Every sample is kept, so percentiles are exact,
 * not estimated from buckets; the capacity bounds the memory (8 bytes a sample).
 */

/** 50 million samples is 400 MB: beyond that a bench must bound its operation count instead. */
export const MAX_LATENCY_SAMPLES = 50_000_000;

const NS_PER_MS = 1_000_000;

export interface LatencySummary {
  readonly count: number;
  readonly minMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export class LatencyRecorder {
  private readonly samplesNs: Float64Array;
  private count = 0;
  private sorted = true;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > MAX_LATENCY_SAMPLES) {
      throw new RangeError(`LatencyRecorder capacity must be an integer from 1 to ${MAX_LATENCY_SAMPLES}; got ${capacity}`);
    }
    this.samplesNs = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Adds one sample. `durationNs` is typically `process.hrtime.bigint()` end minus start. */
  record(durationNs: bigint | number): void {
    const value = typeof durationNs === 'bigint' ? Number(durationNs) : durationNs;
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`A latency must be a finite, non-negative number of nanoseconds; got ${String(durationNs)}`);
    }
    if (this.count >= this.capacity) {
      // Programmer error: the caller sizes the recorder from its own operation bound.
      throw new RangeError(`LatencyRecorder is full (${this.capacity} samples); bound the operation count`);
    }
    this.samplesNs[this.count] = value;
    this.count += 1;
    this.sorted = false;
  }

  /** Nearest-rank percentile in nanoseconds; see `nearestRank`. Throws on an empty recorder. */
  percentileNs(percent: number): number {
    return nearestRank(this.sortedSamples(), percent);
  }

  /** Null when nothing was recorded: a cell that completed no operation has no latency. */
  summary(): LatencySummary | null {
    if (this.count === 0) return null;
    const samples = this.sortedSamples();
    let totalNs = 0;
    for (const sample of samples) totalNs += sample;
    return {
      count: this.count,
      minMs: samples[0]! / NS_PER_MS,
      meanMs: totalNs / this.count / NS_PER_MS,
      p50Ms: nearestRank(samples, 50) / NS_PER_MS,
      p90Ms: nearestRank(samples, 90) / NS_PER_MS,
      p99Ms: nearestRank(samples, 99) / NS_PER_MS,
      p999Ms: nearestRank(samples, 99.9) / NS_PER_MS,
      maxMs: samples[this.count - 1]! / NS_PER_MS,
    };
  }

  private sortedSamples(): Float64Array {
    const view = this.samplesNs.subarray(0, this.count);
    if (!this.sorted) {
      view.sort(); // typed arrays sort numerically, ascending
      this.sorted = true;
    }
    return view;
  }
}

/**
 * Nearest-rank percentile of samples sorted ascending: the smallest sample such that at least
 * `percent`% of all samples are less than or equal to it, i.e. the sample at 1-based rank
 * ceil(percent / 100 × n). It is always one of the samples (never interpolated), so p100 is the
 * maximum, and p99 of fewer than 100 samples is the maximum too.
 */
export function nearestRank(sortedAscending: ArrayLike<number>, percent: number): number {
  const n = sortedAscending.length;
  if (n === 0) throw new RangeError('No samples: a percentile of nothing is undefined');
  if (!Number.isFinite(percent) || percent <= 0 || percent > 100) {
    throw new RangeError(`A percentile must be in (0, 100]; got ${percent}`);
  }
  // The epsilon stops binary rounding (e.g. 99.9 / 100 × 1000 = 999.0000000000001) adding a rank.
  const rank = Math.max(1, Math.ceil((percent / 100) * n - 1e-9));
  return sortedAscending[Math.min(rank, n) - 1]!;
}
