import { baselineFor, bestThroughput, evaluateTarget, judgeCell, TARGETS, type JudgedCell } from './targets';

const throughputTarget = TARGETS.find((t) => t.id === 'grpc-throughput')!;
const hotTarget = TARGETS.find((t) => t.id === 'hot-wallet')!;

function cell(overrides: Partial<JudgedCell>): JudgedCell {
  return { pattern: 'spread', loop: 'closed', level: 64, transport: 'grpc', transfersPerSecond: 6_000, p99Ms: 20, errors: 0, dropped: 0, ...overrides };
}

describe('judgeCell', () => {
  it('accepts a closed-loop cell fast enough, with a short enough tail and no errors', () => {
    expect(judgeCell(cell({}), throughputTarget)).toEqual({ ok: true, reason: 'qualifies' });
  });

  it('names every reason a cell falls short', () => {
    const verdict = judgeCell(cell({ transfersPerSecond: 4_000, p99Ms: 30, errors: 2 }), throughputTarget);
    expect(verdict.ok).toBe(false);
    expect(verdict.reason).toBe('4000/s < 5000/s; p99 30.0 ms >= 25 ms; 2 errors');
    expect(judgeCell(cell({ p99Ms: 25 }), throughputTarget).ok).toBe(false); // "under 25 ms" is strict
    expect(judgeCell(cell({ p99Ms: null }), throughputTarget).ok).toBe(false);
  });

  it('judges an open-loop cell by the rate it was offered and how much of it it delivered', () => {
    expect(judgeCell(cell({ loop: 'open', level: 5_000, transfersPerSecond: 4_960 }), throughputTarget).ok).toBe(true);
    expect(judgeCell(cell({ loop: 'open', level: 5_000, transfersPerSecond: 4_900 }), throughputTarget).reason).toMatch(/delivered 4900\/s of 5000\/s/);
    // Keeping up with 2,000/s says nothing about 5,000/s.
    expect(judgeCell(cell({ loop: 'open', level: 2_000, transfersPerSecond: 2_000 }), throughputTarget).reason).toMatch(/offered 2000\/s < 5000\/s/);
    expect(judgeCell(cell({ loop: 'open', level: 5_000, transfersPerSecond: 5_000, dropped: 3 }), throughputTarget).reason).toBe('3 dropped');
  });

  it('has no latency bound on the hot-wallet target', () => {
    expect(judgeCell(cell({ pattern: 'hot', transfersPerSecond: 2_100, p99Ms: 400 }), hotTarget).ok).toBe(true);
  });
});

describe('evaluateTarget', () => {
  it('is MET by any qualifying cell of its pattern and transport', () => {
    const cells = [cell({ transfersPerSecond: 7_000, p99Ms: 90 }), cell({ level: 16, transfersPerSecond: 5_500, p99Ms: 12 }), cell({ transport: 'http', transfersPerSecond: 9_000 })];
    const result = evaluateTarget(cells, throughputTarget);
    expect(result.verdict).toBe('MET');
    expect(result.cell?.level).toBe(16);
  });

  it('is NOT MET with the closest cell and its reasons, and NOT MEASURED without any cell', () => {
    const result = evaluateTarget([cell({ transfersPerSecond: 900, p99Ms: 120 }), cell({ transfersPerSecond: 1_200, p99Ms: 300 })], throughputTarget);
    expect(result.verdict).toBe('NOT MET');
    expect(result.cell?.transfersPerSecond).toBe(1_200);
    expect(result.reason).toMatch(/1200\/s < 5000\/s/);
    expect(evaluateTarget([cell({ transport: 'http' })], throughputTarget).verdict).toBe('NOT MEASURED');
  });
});

describe('comparisons', () => {
  it('pairs a service cell with the baseline at the same pattern, loop and level', () => {
    const baseline = cell({ transport: 'sql', transfersPerSecond: 2_000 });
    const cells = [cell({ transport: 'sql', level: 256 }), baseline, cell({ transport: 'sql', loop: 'open', level: 64 })];
    expect(baselineFor(cells, cell({}))).toBe(baseline);
    expect(baselineFor(cells, cell({ pattern: 'hot' }))).toBeUndefined();
  });

  it('finds the fastest cell of a pattern and transport', () => {
    const cells = [cell({ transfersPerSecond: 1 }), cell({ transfersPerSecond: 3 }), cell({ transfersPerSecond: 9, transport: 'sql' })];
    expect(bestThroughput(cells, 'spread', 'grpc')?.transfersPerSecond).toBe(3);
    expect(bestThroughput(cells, 'hot', 'grpc')).toBeUndefined();
  });
});
