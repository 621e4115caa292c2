import type { LoopKind, Pattern, Transport } from './transfers.config';

/**
 * The performance targets of issue 3 (section 7) and how a measured cell is judged against them.
 * A target is MET when at least one cell of its pattern and transport qualifies; a run that did
 * not measure that pattern and transport says NOT MEASURED rather than guessing.
 */

/** What the judgement needs of a cell. */
export interface JudgedCell {
  readonly pattern: Pattern;
  readonly loop: LoopKind;
  /** Closed loop: callers. Open loop: offered transfers/s. */
  readonly level: number;
  readonly transport: Transport;
  readonly transfersPerSecond: number;
  readonly p99Ms: number | null;
  /** Measured requests that did not succeed (any reason code). */
  readonly errors: number;
  /** Open loop: measured sends not made because the in-flight cap was reached. */
  readonly dropped: number;
}

export interface Target {
  readonly id: string;
  readonly title: string;
  readonly pattern: Pattern;
  readonly transport: Transport;
  readonly minPerSecond: number;
  readonly maxP99Ms?: number;
}

export const TARGETS: readonly Target[] = [
  {
    id: 'grpc-throughput',
    title: '>= 5,000 transfers/s with p99 < 25 ms over gRPC (spread)',
    pattern: 'spread',
    transport: 'grpc',
    minPerSecond: 5_000,
    maxP99Ms: 25,
  },
  { id: 'hot-wallet', title: '>= 2,000 transfers/s from one hot wallet over gRPC', pattern: 'hot', transport: 'grpc', minPerSecond: 2_000 },
];

/**
 * An open-loop cell sustains its offered rate when it delivers at least this share of it: the
 * delivered count moves by a request or two with where answers fall at the window's edges.
 */
export const OPEN_LOOP_KEPT_UP = 0.99;

export type Verdict = 'MET' | 'NOT MET' | 'NOT MEASURED';

export interface TargetResult {
  readonly target: Target;
  readonly verdict: Verdict;
  /** The qualifying cell with the highest throughput; else the candidate that came closest (by throughput). */
  readonly cell: JudgedCell | undefined;
  /** Why that cell does or does not qualify. */
  readonly reason: string;
}

/** Whether one cell meets a target, and why not. */
export function judgeCell(cell: JudgedCell, target: Target): { readonly ok: boolean; readonly reason: string } {
  const problems: string[] = [];
  if (cell.loop === 'open') {
    if (cell.level < target.minPerSecond) problems.push(`offered ${cell.level}/s < ${target.minPerSecond}/s`);
    if (cell.transfersPerSecond < OPEN_LOOP_KEPT_UP * cell.level) {
      problems.push(`delivered ${Math.round(cell.transfersPerSecond)}/s of ${cell.level}/s offered (< ${OPEN_LOOP_KEPT_UP * 100}%)`);
    }
  } else if (cell.transfersPerSecond < target.minPerSecond) {
    problems.push(`${Math.round(cell.transfersPerSecond)}/s < ${target.minPerSecond}/s`);
  }
  if (target.maxP99Ms !== undefined && (cell.p99Ms === null || cell.p99Ms >= target.maxP99Ms)) {
    problems.push(`p99 ${cell.p99Ms === null ? 'none' : cell.p99Ms.toFixed(1)} ms >= ${target.maxP99Ms} ms`);
  }
  if (cell.errors > 0) problems.push(`${cell.errors} errors`);
  if (cell.dropped > 0) problems.push(`${cell.dropped} dropped`);
  return problems.length === 0 ? { ok: true, reason: 'qualifies' } : { ok: false, reason: problems.join('; ') };
}

export function evaluateTarget(cells: readonly JudgedCell[], target: Target): TargetResult {
  const candidates = cells.filter((c) => c.pattern === target.pattern && c.transport === target.transport);
  if (candidates.length === 0) return { target, verdict: 'NOT MEASURED', cell: undefined, reason: `no ${target.pattern} × ${target.transport} cell in this run` };
  const byThroughput = [...candidates].sort((a, b) => b.transfersPerSecond - a.transfersPerSecond);
  const qualifying = byThroughput.find((c) => judgeCell(c, target).ok);
  if (qualifying) return { target, verdict: 'MET', cell: qualifying, reason: 'qualifies' };
  const closest = byThroughput[0]!;
  return { target, verdict: 'NOT MET', cell: closest, reason: judgeCell(closest, target).reason };
}

/** The baseline cell a service cell is compared with: same pattern, loop kind and level. */
export function baselineFor<Cell extends JudgedCell>(cells: readonly Cell[], cell: JudgedCell): Cell | undefined {
  return cells.find((o) => o.transport === 'sql' && o.pattern === cell.pattern && o.loop === cell.loop && o.level === cell.level);
}

/** The highest throughput of a pattern and transport over every cell of the run (error-free or not). */
export function bestThroughput(cells: readonly JudgedCell[], pattern: Pattern, transport: Transport): JudgedCell | undefined {
  return cells
    .filter((c) => c.pattern === pattern && c.transport === transport)
    .reduce<JudgedCell | undefined>((best, c) => (best === undefined || c.transfersPerSecond > best.transfersPerSecond ? c : best), undefined);
}
