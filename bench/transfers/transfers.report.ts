import type { LatencySummary } from '../lib/latency-recorder';
import { formatDecimal, formatMs, formatRate, formatRatio, formatTable, NOT_APPLICABLE, type Column } from '../lib/report';
import type { ConservationCheck } from './load.protocol';
import { bestThroughput, type JudgedCell, type TargetResult } from './targets';
import type { TransferOutcome } from './transfer-outcomes';
import { LOOPS, PATTERNS, type LoopKind, type Pattern, type Transport } from './transfers.config';

/** One measured cell as printed and written to the results file. */
export interface CellResult extends JudgedCell {
  readonly index: number;
  readonly latency: LatencySummary | null;
  readonly measured: number;
  readonly outcomes: Readonly<Record<TransferOutcome, number>>;
  readonly otherReasons: Readonly<Record<string, number>>;
  readonly totalOps: number;
  readonly hitMaxOps: boolean;
  readonly unfinished: number;
  readonly maxSendLagMs: number | null;
  readonly maxInFlightSeen: number | null;
  readonly poolSize: number | null;
  /** Per request answered, warm-up included (the server cannot tell them apart). */
  readonly walBytesPerTransfer: number;
  /** Requests answered per PostgreSQL write transaction (xid) in the cell: 1 for the baseline, the mean batch size with group commit. */
  readonly transfersPerCommit: number | null;
  readonly serviceCpuUsPerTransfer: number;
  readonly clientCpuUsPerTransfer: number;
  readonly pgCpuUsPerTransfer: number | null;
  /** Event-loop utilisation of the service's process over the cell (0 to 1). */
  readonly serviceLoopUtilisation: number;
  /** p99 of the service's event-loop delay over the cell. */
  readonly serviceLoopDelayP99Ms: number;
  readonly throughputRatio: number | null;
  readonly p99Ratio: number | null;
}

const TRANSPORT_LABEL: Readonly<Record<Transport, string>> = { sql: 'raw SQL', grpc: 'gRPC', http: 'HTTP' };
const PATTERN_TITLE: Readonly<Record<Pattern, string>> = {
  spread: 'spread: random distinct source and destination among all wallets',
  hot: 'hot: one source wallet pays random destinations',
};
const LOOP_TITLE: Readonly<Record<LoopKind, string>> = {
  closed: 'closed loop (C callers, each waits for its answer)',
  open: 'open loop (fixed arrival rate; latency from the scheduled send time)',
};

export function transportLabel(transport: Transport): string {
  return TRANSPORT_LABEL[transport];
}

export function describeCell(cell: Pick<JudgedCell, 'pattern' | 'loop' | 'level' | 'transport'>): string {
  const level = cell.loop === 'closed' ? `C=${cell.level}` : `${cell.level.toLocaleString('en-US')}/s offered`;
  return `${cell.pattern} ${cell.loop} ${level} ${TRANSPORT_LABEL[cell.transport]}`;
}

/** One table per pattern × loop kind; rows are level × transport (the baseline first). */
export function formatCellTables(cells: readonly CellResult[], cpuCount: number): string {
  const blocks: string[] = [];
  for (const pattern of PATTERNS) {
    for (const loop of LOOPS) {
      const rows = cells.filter((c) => c.pattern === pattern && c.loop === loop);
      if (rows.length === 0) continue;
      const open = loop === 'open';
      const columns: Column[] = [
        { header: open ? 'offered/s' : 'C', align: 'right' },
        { header: 'transport', align: 'left' },
        { header: 'transfers/s', align: 'right' },
        { header: 'p50 ms', align: 'right' },
        { header: 'p99 ms', align: 'right' },
        { header: 'p99.9 ms', align: 'right' },
        { header: 'errors', align: 'right' },
        ...(open ? [{ header: 'dropped', align: 'right' } as const] : []),
        { header: 'thr ratio', align: 'right' },
        { header: 'p99 ratio', align: 'right' },
        { header: 'xfer/commit', align: 'right' },
        { header: 'WAL B/xfer', align: 'right' },
        { header: 'svc µs/xfer', align: 'right' },
        { header: 'client µs/xfer', align: 'right' },
        { header: 'pg µs/xfer', align: 'right' },
        { header: 'cpu cap/s', align: 'right' },
        { header: 'svc loop', align: 'right' },
      ];
      const table = rows.map((c) => {
        const isBaseline = c.transport === 'sql';
        // The idle service is not in the baseline's path: its CPU is not the baseline's.
        const cpuUs = (isBaseline ? 0 : c.serviceCpuUsPerTransfer) + c.clientCpuUsPerTransfer + (c.pgCpuUsPerTransfer ?? 0);
        return [
          c.level.toLocaleString('en-US'),
          TRANSPORT_LABEL[c.transport] + (c.hitMaxOps ? '*' : ''),
          formatRate(c.transfersPerSecond),
          formatMs(c.latency?.p50Ms),
          formatMs(c.latency?.p99Ms),
          formatMs(c.latency?.p999Ms),
          String(c.errors),
          ...(open ? [String(c.dropped)] : []),
          isBaseline ? NOT_APPLICABLE : formatRatio(c.throughputRatio ?? undefined),
          isBaseline ? NOT_APPLICABLE : formatRatio(c.p99Ratio ?? undefined),
          formatDecimal(c.transfersPerCommit ?? undefined, 1),
          formatDecimal(c.walBytesPerTransfer, 0),
          isBaseline ? NOT_APPLICABLE : formatDecimal(c.serviceCpuUsPerTransfer, 0),
          formatDecimal(c.clientCpuUsPerTransfer, 0),
          formatDecimal(c.pgCpuUsPerTransfer ?? undefined, 0),
          c.pgCpuUsPerTransfer === null || cpuUs <= 0 ? NOT_APPLICABLE : formatRate((cpuCount * 1e6) / cpuUs),
          isBaseline ? NOT_APPLICABLE : `${Math.round(c.serviceLoopUtilisation * 100)}%`,
        ];
      });
      const errors = rows.filter((c) => c.errors > 0 || c.unfinished > 0).map((c) => `  ${describeCell(c)}: ${describeErrors(c)}`);
      blocks.push(`${PATTERN_TITLE[pattern]} · ${LOOP_TITLE[loop]}\n${formatTable(columns, table)}${errors.length > 0 ? `\nerrors by reason:\n${errors.join('\n')}` : ''}`);
    }
  }
  return blocks.join('\n\n');
}

function describeErrors(cell: CellResult): string {
  const parts = Object.entries(cell.outcomes)
    .filter(([outcome, count]) => outcome !== 'ok' && outcome !== 'OTHER' && count > 0)
    .map(([outcome, count]) => `${outcome} ${count}`);
  const other = Object.entries(cell.otherReasons).map(([reason, count]) => `${reason} ${count}`);
  if (cell.outcomes.OTHER > 0) parts.push(`OTHER ${cell.outcomes.OTHER} (warm-up included: ${other.join(', ')})`);
  if (cell.unfinished > 0) parts.push(`${cell.unfinished} unanswered after the drain timeout`);
  return parts.join(', ');
}

export function formatTargets(results: readonly TargetResult[], cells: readonly CellResult[]): string {
  const lines = ['Targets (issue 3, section 7; a cell qualifies with no errors and no drops; an open-loop cell must deliver >= 99% of its offered rate)'];
  for (const result of results) {
    const where = result.cell ? `${describeCell(result.cell)}: ${formatRate(result.cell.transfersPerSecond)}/s, p99 ${formatMs(result.cell.p99Ms ?? undefined)} ms` : '';
    const why = result.verdict === 'MET' ? '' : ` (${result.reason})`;
    lines.push(`  ${result.verdict.padEnd(12)} ${result.target.title}${where ? `: ${result.verdict === 'MET' ? 'e.g.' : 'best'} ${where}` : ''}${why}`);
  }
  lines.push('Beat the baseline (highest transfers/s of the run, any loop or level, errors or not):');
  for (const pattern of PATTERNS) {
    const baseline = bestThroughput(cells, pattern, 'sql');
    for (const transport of ['grpc', 'http'] as const) {
      const service = bestThroughput(cells, pattern, transport);
      if (!service || !baseline) continue;
      const ratio = service.transfersPerSecond / baseline.transfersPerSecond;
      lines.push(
        `  ${(ratio > 1 ? 'BEATS' : 'DOES NOT BEAT').padEnd(13)} ${pattern} ${TRANSPORT_LABEL[transport]}: ${formatRate(service.transfersPerSecond)}/s (${describeCell(service)}) ` +
          `vs raw SQL ${formatRate(baseline.transfersPerSecond)}/s (${describeCell(baseline)}) = ${formatRatio(ratio)}`,
      );
    }
  }
  return lines.join('\n');
}

export function formatConservation(checks: readonly ConservationCheck[]): string {
  const lines = ['Money conserved (every wallet read back after the run)'];
  for (const check of checks) {
    const sums = `${check.wallets.toLocaleString('en-US')} wallets, balances sum to ${BigInt(check.balancesMinor).toLocaleString('en-US')} minor units, deposited ${BigInt(check.depositedMinor).toLocaleString('en-US')}`;
    const journal = check.journalRows === null ? '' : `; journal rows ${check.journalRows.toLocaleString('en-US')}, transfers acknowledged ${check.acknowledged?.toLocaleString('en-US')}`;
    const via = check.system === 'service' ? 'service (HTTP GET /v1/wallets/:id)' : 'baseline (SQL sum)';
    lines.push(`  ${check.conserved ? 'OK      ' : 'MISMATCH'} ${via}: ${sums}${journal}`);
  }
  return lines.join('\n');
}

export const LEGEND = [
  'transfers/s   successful transfers per second. Closed loop: measured successes ÷ (window start to the last measured answer).',
  '              Open loop: successes answered inside the window ÷ its length (equals the offered rate when the system keeps up).',
  'p50/p99/p99.9 latency of every measured request, errors included. Open loop: from the SCHEDULED send time, so queueing in',
  '              the client (in-flight cap, sockets) and scheduler lateness count (no coordinated omission).',
  'errors        measured requests that failed, by reason below the table; dropped: open-loop sends not made (in-flight cap).',
  'thr ratio     transfers/s ÷ raw SQL transfers/s at the same pattern, loop and level (above 1x: the service is faster).',
  'p99 ratio     p99 ÷ raw SQL p99 at the same pattern, loop and level (above 1x: the service\'s tail is longer).',
  'xfer/commit   requests answered per PostgreSQL write transaction: 1 for raw SQL; the mean group-commit batch for the service.',
  'WAL B/xfer    WAL bytes per request answered. Per-request server columns include the warm-up.',
  'svc/client/pg µs/xfer  CPU per request answered: the ledger service process, the load process (all clients), and the',
  '              whole PostgreSQL process tree. cpu cap/s = cores × 1e6 ÷ their sum: the rate at which this machine\'s CPUs',
  '              would be saturated by this work alone. svc loop = event-loop utilisation of the service process.',
  '* = the cell stopped at BENCH_MAX_OPS before its time ran out.',
].join('\n');
