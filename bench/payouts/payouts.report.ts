import type { MachineInfo } from '../lib/machine-info';
import { formatProfileSummary } from '../lib/cpu-profile';
import { formatDecimal, formatRate, formatRatio, formatTable, NOT_APPLICABLE, ratio } from '../lib/report';
import { EXECUTION_TARGET_SECONDS, INTAKE_TARGET_SECONDS, TARGET_ROWS, type Mode, type PayoutsBenchConfig } from './payouts.config';
import type { BaselineResult, Check, CpuByProcess, MachineUsage, PayoutRunResult } from './payouts.run';
import { describeDatabaseUsage } from './database-probe';
import { summariseTimeline, type StepStat } from './saga-timeline';

export interface ModeOutcome {
  readonly mode: Mode;
  readonly result?: PayoutRunResult;
  readonly error?: string;
  readonly notes: readonly string[];
  readonly setup?: { readonly recipientsSeconds: number; readonly readModelSeconds: number };
}

export interface ReportInput {
  readonly machine: MachineInfo;
  readonly config: PayoutsBenchConfig;
  readonly durability: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly totalMinorText: string;
  readonly baseline?: BaselineResult;
  readonly baselineError?: string;
  readonly modes: readonly ModeOutcome[];
}

const indent = (text: string, by = '    '): string =>
  text
    .split('\n')
    .map((line) => by + line)
    .join('\n');

const seconds = (value: number | undefined): string => formatDecimal(value, 2);

/** Baseline seconds for `rows` rows at the measured rate (the baseline may be a slice). */
function baselineSecondsFor(baseline: BaselineResult, rows: number): number {
  return rows / baseline.rowsPerSecond;
}

export function verdict(mode: Mode, what: 'intake' | 'execution', measuredSeconds: number, rows: number): string {
  const limit = what === 'intake' ? INTAKE_TARGET_SECONDS : EXECUTION_TARGET_SECONDS;
  const title = `${mode} ${what} < ${limit} s for ${TARGET_ROWS.toLocaleString('en-US')} rows`;
  if (rows !== TARGET_ROWS) {
    const scaled = (measuredSeconds * TARGET_ROWS) / rows;
    return `NOT JUDGED  ${title}: this run had ${rows.toLocaleString('en-US')} rows (${seconds(measuredSeconds)} s; linear estimate for ${TARGET_ROWS.toLocaleString('en-US')}: ${seconds(scaled)} s)`;
  }
  return `${measuredSeconds < limit ? 'PASS' : 'MISS'}        ${title}: ${seconds(measuredSeconds)} s`;
}

/** Share of all cores busy, the part of it no measured process used, and iowait. */
function machineLine(usage: MachineUsage | undefined): string {
  if (!usage || usage.wallMs <= 0) return 'no /proc/stat';
  const share = (ms: number): string => `${((ms / (usage.wallMs * usage.cores)) * 100).toFixed(0)}%`;
  const other = usage.otherMs / (usage.wallMs * usage.cores);
  return (
    `${share(usage.busyMs)} of ${usage.cores} cores busy, ${share(usage.otherMs)} by processes outside the platform, iowait ${share(usage.iowaitMs)}` +
    (other > 0.1 ? '  WARNING: other work shared the machine; these figures understate the platform' : '')
  );
}

function cpuLine(cpu: CpuByProcess, wallSeconds: number): string {
  return Object.entries(cpu)
    .map(([name, ms]) => `${name} ${Number.isFinite(ms) ? (ms / 1_000).toFixed(1) : '?'} s (${Number.isFinite(ms) && wallSeconds > 0 ? ((ms / 1_000 / wallSeconds) * 100).toFixed(0) : '?'}% of a core)`)
    .join('; ');
}

export function formatReport(input: ReportInput): string {
  const { machine, config, baseline } = input;
  const lines: string[] = [];
  lines.push('');
  lines.push(`machine     ${machine.cpuCount} × ${machine.cpuModel}, ${machine.memoryMiB} MiB; node ${machine.nodeVersion}; ${machine.platform}`);
  lines.push(`PostgreSQL  ${input.durability}`);
  lines.push(
    `batch       ${config.rows.toLocaleString('en-US')} rows from one source wallet to ${config.recipients.toLocaleString('en-US')} recipients (row i pays recipient i mod ${config.recipients}), total ${input.totalMinorText} USD`,
  );
  const settings = Object.entries(input.settings);
  lines.push(`settings    ${settings.length === 0 ? 'service defaults' : settings.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  lines.push('');
  lines.push('upload (PUT, streamed CSV) → COMPLETED, over REST. exec = POST execute → the first GET showing COMPLETED');

  const columns = [
    { header: 'mode', align: 'left' as const },
    { header: 'rows', align: 'right' as const },
    { header: 'intake s', align: 'right' as const },
    { header: 'intake rows/s', align: 'right' as const },
    { header: 'exec s', align: 'right' as const },
    { header: 'exec rows/s', align: 'right' as const },
    { header: 'exec ratio', align: 'right' as const },
    { header: 'upload→done s', align: 'right' as const },
    { header: 'e2e rows/s', align: 'right' as const },
    { header: 'e2e ratio', align: 'right' as const },
  ];
  const rows: string[][] = [];
  for (const outcome of input.modes) {
    const r = outcome.result;
    if (!r) {
      rows.push([outcome.mode, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE]);
      continue;
    }
    const execRate = r.rows / r.executionSeconds;
    const total = r.intakeSeconds + r.executionSeconds;
    rows.push([
      r.mode,
      r.rows.toLocaleString('en-US'),
      seconds(r.intakeSeconds),
      formatRate(r.rows / r.intakeSeconds),
      seconds(r.executionSeconds),
      formatRate(execRate),
      formatRatio(ratio(execRate, baseline?.rowsPerSecond)),
      seconds(total),
      formatRate(r.rows / total),
      formatRatio(ratio(r.rows / total, baseline?.rowsPerSecond)),
    ]);
  }
  if (baseline) {
    const slice = baseline.rows < config.rows;
    rows.push([
      `baseline: plain transfers${slice ? ' (slice)' : ''}`,
      baseline.rows.toLocaleString('en-US'),
      NOT_APPLICABLE,
      NOT_APPLICABLE,
      seconds(baseline.seconds),
      formatRate(baseline.rowsPerSecond),
      '1.00x',
      NOT_APPLICABLE,
      NOT_APPLICABLE,
      NOT_APPLICABLE,
    ]);
  }
  lines.push(formatTable(columns, rows));
  if (baseline) {
    const slice = baseline.rows < config.rows;
    lines.push(
      `baseline    ${baseline.rows.toLocaleString('en-US')} of the same payments as single-row WalletCommandsService.transfer calls in-process (embedded ledger, ${baseline.concurrency} in flight, one source wallet), no saga/bus/hold/intake` +
        (slice ? `; EXTRAPOLATED to ${config.rows.toLocaleString('en-US')} rows at the same rate: ${seconds(baselineSecondsFor(baseline, config.rows))} s` : ''),
    );
    lines.push(`            ${baseline.transactions.toLocaleString('en-US')} PostgreSQL transactions (group commits), ${formatDecimal(baseline.rows / baseline.transactions, 1)} transfers each; CPU: ${cpuLine(baseline.cpuMs, baseline.seconds)}`);
    lines.push(`            PostgreSQL: ${describeDatabaseUsage(baseline.database, baseline.rows)}`);
    lines.push(`            machine: ${machineLine(baseline.machine)}`);
  } else {
    lines.push(`baseline    ${input.baselineError ? `FAILED: ${input.baselineError}` : 'not run (BENCH_BASELINE_ROWS=0): no ratios'}`);
  }
  lines.push('ratios      rows/s ÷ baseline rows/s; 1.00x = as fast as calling transfer once per row in-process; 0.50x = half as fast');
  lines.push('');

  lines.push('Targets (issue 5, ADR 0008: 2-core machine)');
  for (const outcome of input.modes) {
    const r = outcome.result;
    if (!r) {
      lines.push(`  NOT MEASURED  ${outcome.mode}: ${outcome.error ?? 'no result'}`);
      continue;
    }
    lines.push(`  ${verdict(r.mode, 'intake', r.intakeSeconds, r.rows)}`);
    lines.push(`  ${verdict(r.mode, 'execution', r.executionSeconds, r.rows)}`);
  }

  for (const outcome of input.modes) {
    lines.push('');
    lines.push(`── ${outcome.mode} ──`);
    for (const note of outcome.notes) lines.push(`  note: ${note}`);
    if (outcome.setup) lines.push(`  setup (not timed): ${config.recipients.toLocaleString('en-US')} recipients opened in ${seconds(outcome.setup.recipientsSeconds)} s; read model caught up ${seconds(outcome.setup.readModelSeconds)} s later`);
    const r = outcome.result;
    if (!r) {
      lines.push(`  FAILED: ${outcome.error ?? 'no result'}`);
      continue;
    }
    lines.push(`  batch ${r.batchId}; file ${(r.fileBytes / 1024 / 1024).toFixed(2)} MiB; ${r.polls} GETs every ${config.pollMs} ms: COMPLETED happened at most ${r.executionResolutionMs.toFixed(0)} ms before the measured end (resolution)`);
    lines.push(`  CPU during intake:    ${cpuLine(r.cpuIntakeMs, r.intakeSeconds)}`);
    lines.push(`  CPU during execution: ${cpuLine(r.cpuExecutionMs, r.executionSeconds)}`);
    lines.push(`  machine during intake:    ${machineLine(r.machineIntake)}`);
    lines.push(`  machine during execution: ${machineLine(r.machineExecution)}`);
    lines.push(`  PostgreSQL during intake:    ${describeDatabaseUsage(r.databaseIntake, r.rows)}`);
    lines.push(`  PostgreSQL during execution: ${describeDatabaseUsage(r.databaseExecution, r.rows)}`);
    if (r.cpuProfile) {
      const p = r.cpuProfile;
      lines.push(`  CPU profile of this process during the execution (${(p.sampledMs / 1_000).toFixed(1)} s sampled; ${p.file}):`);
      lines.push(...formatProfileSummary(p, '    '));
    }
    if (r.timeline) {
      const summary = summariseTimeline(r.timeline);
      lines.push('  where the time goes (from the batch, chunk and ledger events; ms):');
      lines.push(
        indent(
          formatTable(
            [{ header: 'phase', align: 'left' }, { header: 'ms', align: 'right' }],
            summary.phases.map((p) => [p.phase, p.ms === undefined ? NOT_APPLICABLE : p.ms.toFixed(0)]),
          ),
        ),
      );
      lines.push('  per chunk (500 rows, one ledger command message each), from its dispatch:');
      lines.push(indent(stepTable(summary.steps)));
      lines.push("  the ledger's cycle, chunk after chunk in the order it paid them (transaction = one group commit):");
      lines.push(indent(stepTable(summary.ledgerCycle)));
      lines.push(
        `  chunks in flight (mean over the paying phase): ${formatDecimal(summary.meanChunksInFlight, 2)}; ledger committing some chunk's rows ${summary.ledgerBusyShare === undefined ? NOT_APPLICABLE : `${(summary.ledgerBusyShare * 100).toFixed(0)}%`} of it; ` +
          `inside a chunk's commit window the ledger pays ${formatRate(summary.ledgerRowsPerSecondInChunk ?? Number.NaN)} rows/s`,
      );
      lines.push(`  ledger transactions (group commits) per chunk: ${formatDecimal(summary.transactionsPerChunk, 1)}, ${formatDecimal(summary.rowsPerTransaction, 0)} rows each`);
    } else if (r.timelineError) {
      lines.push(`  timeline unavailable: ${r.timelineError}`);
    }
  }

  lines.push('');
  lines.push('Checks');
  const checkLine = (c: Check): string => `  ${c.ok ? 'OK    ' : 'FAILED'}  ${c.text}`;
  for (const c of baseline?.checks ?? []) lines.push(checkLine(c));
  for (const outcome of input.modes) for (const c of outcome.result?.checks ?? []) lines.push(checkLine({ ...c, text: `${outcome.mode}: ${c.text}` }));
  return lines.join('\n');
}

export function allChecksPassed(input: ReportInput): boolean {
  const checks = [...(input.baseline?.checks ?? []), ...input.modes.flatMap((m) => m.result?.checks ?? [])];
  return !input.baselineError && input.modes.every((m) => m.result !== undefined) && checks.every((c) => c.ok);
}

/** Per-step chunk timings (count, mean, p50, max) as a table. */
function stepTable(steps: readonly StepStat[]): string {
  return formatTable(
    [{ header: 'step', align: 'left' }, { header: 'chunks', align: 'right' }, { header: 'mean ms', align: 'right' }, { header: 'p50 ms', align: 'right' }, { header: 'max ms', align: 'right' }],
    steps.map((s) => [s.step, String(s.count), s.meanMs.toFixed(0), s.p50Ms.toFixed(0), s.maxMs.toFixed(0)]),
  );
}
