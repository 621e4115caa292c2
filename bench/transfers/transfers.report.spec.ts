import { TRANSFER_OUTCOMES, type TransferOutcome } from './transfer-outcomes';
import { evaluateTarget, TARGETS } from './targets';
import { describeCell, formatCellTables, formatConservation, formatTargets, type CellResult } from './transfers.report';

function outcomes(counts: Partial<Record<TransferOutcome, number>>): Record<TransferOutcome, number> {
  return { ...(Object.fromEntries(TRANSFER_OUTCOMES.map((o) => [o, 0])) as Record<TransferOutcome, number>), ...counts };
}

function cell(overrides: Partial<CellResult>): CellResult {
  return {
    index: 0,
    pattern: 'spread',
    loop: 'closed',
    level: 64,
    transport: 'grpc',
    transfersPerSecond: 1_500,
    p99Ms: 80,
    errors: 0,
    dropped: 0,
    latency: { count: 9_000, minMs: 1, meanMs: 40, p50Ms: 40, p90Ms: 60, p99Ms: 80, p999Ms: 95, maxMs: 120 },
    measured: 9_000,
    outcomes: outcomes({ ok: 9_000 }),
    otherReasons: {},
    totalOps: 10_500,
    hitMaxOps: false,
    unfinished: 0,
    maxSendLagMs: null,
    maxInFlightSeen: null,
    poolSize: null,
    walBytesPerTransfer: 5_800,
    transfersPerCommit: 21.5,
    serviceCpuUsPerTransfer: 480,
    clientCpuUsPerTransfer: 270,
    pgCpuUsPerTransfer: 250,
    serviceLoopUtilisation: 0.8,
    serviceLoopDelayP99Ms: 20,
    throughputRatio: 0.35,
    p99Ratio: 2.5,
    ...overrides,
  };
}

describe('transfers report', () => {
  it('names a cell by pattern, loop, level and transport', () => {
    expect(describeCell(cell({}))).toBe('spread closed C=64 gRPC');
    expect(describeCell(cell({ loop: 'open', level: 5_000, transport: 'sql' }))).toBe('spread open 5,000/s offered raw SQL');
  });

  it('prints one table per pattern and loop, with ratios only on service rows and errors by reason', () => {
    const text = formatCellTables(
      [
        cell({ transport: 'sql', throughputRatio: null, p99Ratio: null, transfersPerSecond: 4_200, transfersPerCommit: 1 }),
        cell({ errors: 3, outcomes: outcomes({ ok: 8_997, TIMEOUT: 2, OTHER: 1 }), otherReasons: { HTTP_502: 1 } }),
        cell({ pattern: 'hot', loop: 'open', level: 2_000, dropped: 7 }),
      ],
      2,
    );
    expect(text).toContain('spread: random distinct source and destination among all wallets · closed loop');
    expect(text).toContain('hot: one source wallet pays random destinations · open loop');
    expect(text).toMatch(/64 {2}raw SQL +4,200 .* - +- +1\.0 /);
    expect(text).toContain('0.35x');
    // cpu cap/s: 2 cores × 1e6 ÷ (480 + 270 + 250) µs = 2,000/s.
    expect(text).toContain('2,000');
    expect(text).toContain('spread closed C=64 gRPC: TIMEOUT 2, OTHER 1 (warm-up included: HTTP_502 1)');
    expect(text).toMatch(/dropped/);
  });

  it('prints verdicts and the comparison with the best baseline', () => {
    const cells = [cell({ transport: 'sql', transfersPerSecond: 4_000 }), cell({})];
    const text = formatTargets(TARGETS.map((t) => evaluateTarget(cells, t)), cells);
    expect(text).toContain('NOT MET      >= 5,000 transfers/s with p99 < 25 ms over gRPC (spread): best spread closed C=64 gRPC: 1,500/s');
    expect(text).toContain('NOT MEASURED >= 2,000 transfers/s from one hot wallet over gRPC');
    expect(text).toContain('DOES NOT BEAT spread gRPC: 1,500/s');
    expect(text).toContain('= 0.38x');
  });

  it('says whether money was conserved', () => {
    const text = formatConservation([
      { system: 'service', wallets: 2, depositedMinor: '200', balancesMinor: '200', conserved: true, journalRows: null, acknowledged: null },
      { system: 'baseline', wallets: 2, depositedMinor: '200', balancesMinor: '199', conserved: false, journalRows: 5, acknowledged: 5 },
    ]);
    expect(text).toContain('OK       service');
    expect(text).toContain('MISMATCH baseline (SQL sum): 2 wallets, balances sum to 199 minor units, deposited 200; journal rows 5, transfers acknowledged 5');
  });
});
