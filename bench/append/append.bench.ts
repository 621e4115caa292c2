/**
 * Append throughput of the PostgreSQL event-store adapter against a same-run raw-SQL baseline.
 * Run with `npm run bench:append`; see bench/README.md for what is measured and how to read it.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Pool } from 'pg';
import { migrateEventStore } from '@ledger/event-store-postgres';
import { startEmbeddedPostgres, type RunningPostgres } from '@ledger/infra';
import { machineInfo, type MachineInfo } from '../lib/machine-info';
import {
  checkpoint,
  countStatements,
  markWal,
  readServerSettings,
  vacuumEventStores,
  waitForBackendsToExit,
  walUsageSince,
  type ServerSettings,
} from '../lib/postgres-probes';
import {
  formatDecimal,
  formatMs,
  formatRate,
  formatRatio,
  formatTable,
  NOT_APPLICABLE,
  ratio,
  type Column,
} from '../lib/report';
import { ownCpuMs, processTreeCpuMs } from '../lib/process-cpu';
import { runFor } from '../lib/run-for';
import type { LatencySummary } from '../lib/latency-recorder';
import { readAppendBenchConfig, type AppendBenchConfig, type ScenarioName } from './append.config';
import { adapterDriver } from './adapter.driver';
import { measureCpuBreakdown, type CpuBreakdown } from './append.cpu-breakdown';
import { baselineDriver } from './baseline.driver';
import {
  APPEND_OUTCOMES,
  EVENTS_PER_APPEND,
  IMPLEMENTATIONS,
  MIN_WRITERS,
  SCENARIO_TITLES,
  type CellContext,
  type Implementation,
} from './append.driver';

const SCHEMAS: Readonly<Record<Implementation, string>> = { adapter: 'bench_adapter', baseline: 'bench_baseline' };
/** The bench's own probe connections, besides each cell's pool. */
const ADMIN_POOL_SIZE = 2;
/** Room for autovacuum and the superuser reserve on top of our own connections. */
const SERVER_CONNECTION_HEADROOM = 10;
const CONNECT_TIMEOUT_MS = 10_000;
const BACKEND_EXIT_TIMEOUT_MS = 10_000;
const RESULTS_DIR = resolve(__dirname, '..', 'results');

interface CellResult {
  readonly scenario: ScenarioName;
  readonly implementation: Implementation;
  readonly writers: number;
  /** Successful appends per second. */
  readonly appendsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly conflictsPerSecond: number;
  readonly measuredAttempts: number;
  readonly appends: number;
  readonly conflicts: number;
  readonly elapsedMs: number;
  readonly hitMaxOps: boolean;
  /** Latency of every measured append attempt (successful or conflicting). */
  readonly latency: LatencySummary | null;
  /** Per append attempt, warm-up included (the server counters cannot tell warm-up apart). */
  readonly statementsPerAttempt: number;
  readonly walBytesPerAttempt: number;
  readonly walFsyncsPerAttempt: number | null;
  /** CPU of this Node.js process (bench driver + pg driver + adapter code), microseconds per attempt. */
  readonly clientCpuUsPerAttempt: number;
  /** CPU of the whole PostgreSQL process tree, microseconds per attempt; null without /proc. */
  readonly serverCpuUsPerAttempt: number | null;
}

interface Comparison {
  readonly scenario: ScenarioName;
  readonly writers: number;
  /** adapter ÷ baseline successful appends per second: below 1 means the adapter is slower. */
  readonly throughputRatio: number | null;
  /** adapter ÷ baseline p99 latency: above 1 means the adapter's tail is longer. */
  readonly p99Ratio: number | null;
}

async function main(): Promise<void> {
  const config = readAppendBenchConfig();
  const machine = machineInfo();
  const root = mkdtempSync(join(tmpdir(), 'ledger-bench-append-'));
  chmodSync(root, 0o755); // the server runs as the postgres user and must enter this folder
  let server: RunningPostgres | undefined;
  let admin: Pool | undefined;
  const cleanUp = once(async () => {
    await admin?.end().catch(() => undefined);
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping PostgreSQL and removing ${root}\n`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    progress(`starting PostgreSQL (fsync on) in ${root}`);
    server = await startEmbeddedPostgres({
      dataDir: join(root, 'postgres'),
      port: 0,
      fsync: true,
      maxConnections: config.poolSize + ADMIN_POOL_SIZE + SERVER_CONNECTION_HEADROOM,
    });
    admin = new Pool({ connectionString: server.url, max: ADMIN_POOL_SIZE, application_name: 'bench-admin', connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    const settings = await readServerSettings(admin);
    if (settings.fsync !== 'on' || settings.synchronous_commit !== 'on') {
      throw new Error(`Refusing to measure without durability: fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit}`);
    }
    for (const schema of Object.values(SCHEMAS)) await migrateEventStore(admin, schema);
    printHeader(config, machine, settings);

    const runId = randomBytes(3).toString('hex');
    const plan = config.scenarios.flatMap((scenario) =>
      config.concurrency
        .filter((writers) => writers >= MIN_WRITERS[scenario])
        .flatMap((writers) => IMPLEMENTATIONS.map((implementation) => ({ scenario, writers, implementation }))),
    );
    const cells: CellResult[] = [];
    for (const [index, cell] of plan.entries()) {
      const label = `[${index + 1}/${plan.length}] ${cell.scenario} × ${cell.writers} writers, ${cell.implementation}`;
      progress(`${label} …`);
      const result = await runCell(server, admin, config, { ...cell, cellTag: `${runId}.c${index}` });
      progress(`${label}: ${formatRate(result.appendsPerSecond)} appends/s, p99 ${formatMs(result.latency?.p99Ms)} ms`);
      cells.push(result);
    }

    const comparisons = compare(cells);
    progress('measuring in-process CPU per append (no I/O) …');
    const cpuBreakdown = measureCpuBreakdown();
    for (const scenario of config.scenarios) printScenario(scenario, cells, comparisons);
    printLegend();
    printCpuBreakdown(cpuBreakdown);
    const file = writeResults({ config, machine, settings, cells, comparisons, cpuBreakdown });
    process.stdout.write(`\nResults written to ${relative(process.cwd(), file)}\n`);
  } finally {
    await cleanUp();
  }
}

async function runCell(
  server: RunningPostgres,
  admin: Pool,
  config: AppendBenchConfig,
  cell: { scenario: ScenarioName; writers: number; implementation: Implementation; cellTag: string },
): Promise<CellResult> {
  // A pool per cell: its connections start fresh, and closing them makes PostgreSQL publish their I/O counters.
  const applicationName = `bench-append-${cell.cellTag}`;
  const pool = new Pool({
    connectionString: server.url,
    max: config.poolSize,
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 0, // keep every connection for the whole cell
  });
  pool.on('error', (error) => progress(`idle connection error: ${error.message}`));
  const statements = countStatements(pool);
  const context: CellContext = { scenario: cell.scenario, pool, schema: SCHEMAS[cell.implementation], cellTag: cell.cellTag, writers: cell.writers };
  const driver = cell.implementation === 'adapter' ? adapterDriver(context) : baselineDriver(context);
  let run: Awaited<ReturnType<typeof runFor<(typeof APPEND_OUTCOMES)[number]>>>;
  let statementsRun: number;
  let mark: Awaited<ReturnType<typeof markWal>>;
  let clientCpuBeforeMs: number;
  let serverCpuBeforeMs: number | null;
  try {
    await driver.setUp();
    await vacuumEventStores(admin, Object.values(SCHEMAS));
    await checkpoint(admin);
    mark = await markWal(admin);
    clientCpuBeforeMs = ownCpuMs();
    serverCpuBeforeMs = processTreeCpuMs(server.pid);
    const statementsBefore = statements.count;
    run = await runFor({
      workers: cell.writers,
      warmupMs: config.warmupMs,
      durationMs: config.durationMs,
      maxOps: config.maxOpsPerCell,
      outcomes: APPEND_OUTCOMES,
      op: (writer) => driver.append(writer),
    });
    statementsRun = statements.count - statementsBefore;
  } finally {
    await pool.end();
  }
  await waitForBackendsToExit(admin, applicationName, BACKEND_EXIT_TIMEOUT_MS);
  const clientCpuMs = ownCpuMs() - clientCpuBeforeMs;
  const serverCpuAfterMs = processTreeCpuMs(server.pid);
  const serverCpuMs = serverCpuBeforeMs === null || serverCpuAfterMs === null ? null : serverCpuAfterMs - serverCpuBeforeMs;
  const wal = await walUsageSince(admin, mark);

  const seconds = run.elapsedMs / 1_000;
  const appends = run.outcomes.ok;
  const perSecond = (count: number): number => (seconds > 0 ? count / seconds : 0);
  return {
    scenario: cell.scenario,
    implementation: cell.implementation,
    writers: cell.writers,
    appendsPerSecond: perSecond(appends),
    eventsPerSecond: perSecond(appends * EVENTS_PER_APPEND[cell.scenario]),
    conflictsPerSecond: perSecond(run.outcomes.conflict),
    measuredAttempts: run.measuredOps,
    appends,
    conflicts: run.outcomes.conflict,
    elapsedMs: run.elapsedMs,
    hitMaxOps: run.hitMaxOps,
    latency: run.latency,
    statementsPerAttempt: statementsRun / run.totalOps,
    walBytesPerAttempt: Number(wal.walBytes) / run.totalOps,
    walFsyncsPerAttempt: wal.fsyncs === null ? null : Number(wal.fsyncs) / run.totalOps,
    clientCpuUsPerAttempt: (clientCpuMs * 1_000) / run.totalOps,
    serverCpuUsPerAttempt: serverCpuMs === null ? null : (serverCpuMs * 1_000) / run.totalOps,
  };
}

function compare(cells: readonly CellResult[]): Comparison[] {
  const find = (c: CellResult, implementation: Implementation): CellResult | undefined =>
    cells.find((o) => o.scenario === c.scenario && o.writers === c.writers && o.implementation === implementation);
  return cells
    .filter((c) => c.implementation === 'adapter')
    .map((adapter) => {
      const baseline = find(adapter, 'baseline');
      return {
        scenario: adapter.scenario,
        writers: adapter.writers,
        throughputRatio: ratio(adapter.appendsPerSecond, baseline?.appendsPerSecond) ?? null,
        p99Ratio: ratio(adapter.latency?.p99Ms, baseline?.latency?.p99Ms) ?? null,
      };
    });
}

function printHeader(config: AppendBenchConfig, machine: MachineInfo, settings: ServerSettings): void {
  const lines = [
    'Event-store append benchmark (PostgresEventStore vs raw-SQL baseline, same server, same run)',
    `machine     ${machine.cpuCount} × ${machine.cpuModel}, ${machine.memoryMiB} MiB, ${machine.platform}`,
    `node        ${machine.nodeVersion}`,
    `postgres    ${settings.server_version}, fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit}, ` +
      `wal_sync_method=${settings.wal_sync_method}, full_page_writes=${settings.full_page_writes}, commit_delay=${settings.commit_delay}, ` +
      `data_checksums=${settings.data_checksums}, autovacuum=${settings.autovacuum}, shared_buffers=${settings.shared_buffers}`,
    `cells       writers ${config.concurrency.join(', ')}; scenarios ${config.scenarios.join(', ')}; ` +
      `${config.warmupMs / 1_000} s warm-up + ${config.durationMs / 1_000} s measured (at most ${config.maxOpsPerCell.toLocaleString('en-US')} appends) each; ` +
      `pool size ${config.poolSize}`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function printScenario(scenario: ScenarioName, cells: readonly CellResult[], comparisons: readonly Comparison[]): void {
  const rows = cells.filter((c) => c.scenario === scenario);
  if (rows.length === 0) return;
  const withConflicts = scenario === 'hot';
  const columns: Column[] = [
    { header: 'writers', align: 'right' },
    { header: 'impl', align: 'left' },
    { header: 'appends/s', align: 'right' },
    { header: 'events/s', align: 'right' },
    ...(withConflicts ? [{ header: 'conflicts/s', align: 'right' } as const] : []),
    { header: 'p50 ms', align: 'right' },
    { header: 'p99 ms', align: 'right' },
    { header: 'stmts/op', align: 'right' },
    { header: 'WAL B/op', align: 'right' },
    { header: 'fsyncs/op', align: 'right' },
    { header: 'node µs/op', align: 'right' },
    { header: 'pg µs/op', align: 'right' },
    { header: 'thr ratio', align: 'right' },
    { header: 'p99 ratio', align: 'right' },
  ];
  const table = rows.map((c) => {
    const comparison = comparisons.find((o) => o.scenario === c.scenario && o.writers === c.writers);
    const isAdapter = c.implementation === 'adapter';
    return [
      String(c.writers),
      c.implementation + (c.hitMaxOps ? '*' : ''),
      formatRate(c.appendsPerSecond),
      formatRate(c.eventsPerSecond),
      ...(withConflicts ? [formatRate(c.conflictsPerSecond)] : []),
      formatMs(c.latency?.p50Ms),
      formatMs(c.latency?.p99Ms),
      formatDecimal(c.statementsPerAttempt, 2),
      formatDecimal(c.walBytesPerAttempt, 0),
      formatDecimal(c.walFsyncsPerAttempt ?? undefined, 2),
      formatDecimal(c.clientCpuUsPerAttempt, 0),
      formatDecimal(c.serverCpuUsPerAttempt ?? undefined, 0),
      isAdapter ? formatRatio(comparison?.throughputRatio ?? undefined) : NOT_APPLICABLE,
      isAdapter ? formatRatio(comparison?.p99Ratio ?? undefined) : NOT_APPLICABLE,
    ];
  });
  process.stdout.write(`\n${SCENARIO_TITLES[scenario]}\n${formatTable(columns, table)}\n`);
}

function printLegend(): void {
  process.stdout.write(
    [
      '',
      'thr ratio = adapter appends/s ÷ baseline appends/s (1.00x = as fast as raw SQL; lower is slower).',
      'p99 ratio = adapter p99 ÷ baseline p99 (higher = longer tail). Latency covers every attempt, conflicts included.',
      'stmts/op, WAL B/op, fsyncs/op: statements sent, WAL bytes written and WAL fsyncs issued by the server, per append',
      'attempt, warm-up included. fsyncs/op below 1 means PostgreSQL flushed several commits with one fsync.',
      'node µs/op, pg µs/op: CPU time per append attempt of this Node.js process and of the whole PostgreSQL process',
      'tree. With C cores, C × 1e6 ÷ (node + pg µs/op) is a ceiling on appends/s once the cores are saturated.',
      '* = the cell stopped at BENCH_MAX_OPS before its time ran out.',
      '',
    ].join('\n'),
  );
}

function printCpuBreakdown(breakdown: readonly CpuBreakdown[]): void {
  const columns: Column[] = [
    { header: 'scenario', align: 'left' },
    { header: 'adapter prepareAppend + hash body µs', align: 'right' },
    { header: 'baseline JSON.stringify µs', align: 'right' },
  ];
  const rows = breakdown.map((b) => [b.scenario, formatDecimal(b.adapterPrepareAndHashUs, 1), formatDecimal(b.baselineSerialiseUs, 1)]);
  process.stdout.write(`In-process CPU per append, no I/O (compare with node µs/op above; the rest is driver work per statement):\n${formatTable(columns, rows)}\n`);
}

function writeResults(results: {
  config: AppendBenchConfig;
  machine: MachineInfo;
  settings: ServerSettings;
  cells: readonly CellResult[];
  comparisons: readonly Comparison[];
  cpuBreakdown: readonly CpuBreakdown[];
}): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const generatedAt = new Date().toISOString();
  const file = join(RESULTS_DIR, `append-${generatedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ bench: 'append', generatedAt, ...results }, null, 2)}\n`);
  return file;
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= action());
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:append failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
