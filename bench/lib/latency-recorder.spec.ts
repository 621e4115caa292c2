import { LatencyRecorder, MAX_LATENCY_SAMPLES, nearestRank } from './latency-recorder';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('nearestRank', () => {
  it('returns the sample at rank ceil(p/100 × n)', () => {
    const samples = range(1, 100);
    expect(nearestRank(samples, 50)).toBe(50);
    expect(nearestRank(samples, 90)).toBe(90);
    expect(nearestRank(samples, 99)).toBe(99);
    expect(nearestRank(samples, 100)).toBe(100);
    expect(nearestRank(samples, 0.5)).toBe(1);
  });

  it('never interpolates: p50 of an even count is the lower middle sample', () => {
    expect(nearestRank([10, 20, 30, 40], 50)).toBe(20);
    expect(nearestRank([10, 20, 30, 40], 51)).toBe(30);
  });

  it('gives the maximum for p99 of fewer than 100 samples', () => {
    expect(nearestRank(range(1, 10), 99)).toBe(10);
    expect(nearestRank([7], 50)).toBe(7);
    expect(nearestRank([7], 99)).toBe(7);
  });

  it('is not pushed up a rank by binary rounding', () => {
    // 99.9 / 100 × 1000 is 999.0000000000001 in floating point; the rank is 999.
    expect(nearestRank(range(1, 1_000), 99.9)).toBe(999);
    expect(nearestRank(range(1, 10), 70)).toBe(7);
  });

  it('refuses an empty sample set and percentiles outside (0, 100]', () => {
    expect(() => nearestRank([], 50)).toThrow(RangeError);
    expect(() => nearestRank([1], 0)).toThrow(RangeError);
    expect(() => nearestRank([1], 100.1)).toThrow(RangeError);
    expect(() => nearestRank([1], Number.NaN)).toThrow(RangeError);
  });
});

describe('LatencyRecorder', () => {
  it('summarises unsorted samples in milliseconds', () => {
    const recorder = new LatencyRecorder(1_000);
    // 1..100 ms, recorded in a scrambled order, half as bigint nanoseconds
    const order = range(1, 100).sort((a, b) => ((a * 37) % 101) - ((b * 37) % 101));
    for (const ms of order) recorder.record(ms % 2 === 0 ? BigInt(ms) * 1_000_000n : ms * 1_000_000);
    expect(recorder.summary()).toEqual({
      count: 100,
      minMs: 1,
      meanMs: 50.5,
      p50Ms: 50,
      p90Ms: 90,
      p99Ms: 99,
      p999Ms: 100,
      maxMs: 100,
    });
    expect(recorder.percentileNs(75)).toBe(75_000_000);
  });

  it('keeps sub-millisecond precision', () => {
    const recorder = new LatencyRecorder(2);
    recorder.record(250_000n);
    recorder.record(1_750_000n);
    expect(recorder.summary()).toMatchObject({ minMs: 0.25, p50Ms: 0.25, maxMs: 1.75, meanMs: 1 });
  });

  it('re-sorts after samples are added following a summary', () => {
    const recorder = new LatencyRecorder(10);
    recorder.record(5);
    recorder.record(1);
    expect(recorder.percentileNs(100)).toBe(5);
    recorder.record(9);
    recorder.record(0);
    expect(recorder.percentileNs(100)).toBe(9);
    expect(recorder.percentileNs(25)).toBe(0);
    expect(recorder.size).toBe(4);
  });

  it('has no summary when empty', () => {
    expect(new LatencyRecorder(1).summary()).toBeNull();
    expect(() => new LatencyRecorder(1).percentileNs(50)).toThrow(RangeError);
  });

  it('is bounded: refuses a sample beyond its capacity and a capacity beyond the limit', () => {
    const recorder = new LatencyRecorder(1);
    recorder.record(1);
    expect(() => recorder.record(2)).toThrow(/full/);
    expect(() => new LatencyRecorder(0)).toThrow(RangeError);
    expect(() => new LatencyRecorder(MAX_LATENCY_SAMPLES + 1)).toThrow(RangeError);
    expect(() => new LatencyRecorder(1.5)).toThrow(RangeError);
  });

  it('refuses negative and non-finite samples', () => {
    const recorder = new LatencyRecorder(4);
    expect(() => recorder.record(-1)).toThrow(RangeError);
    expect(() => recorder.record(-1n)).toThrow(RangeError);
    expect(() => recorder.record(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(recorder.size).toBe(0);
  });
});
