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
  /** Append requests (transfers in the batch scenario) per call to the store: B for batch cells, else 1. */
  readonly batchSize: number;
  /** Successful calls to the store per second (appends; batches in the batch scenario's adapter cells). */
  readonly appendsPerSecond: number;
  /** Successful append requests per second: appendsPerSecond × batchSize (transfers/s in the batch scenario). */
  readonly requestsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly conflictsPerSecond: number;
  readonly measuredAttempts: number;
  readonly appends: number;
  readonly conflicts: number;
  readonly elapsedMs: number;
  readonly hitMaxOps: boolean;
  /** Latency of every measured call to the store (successful or conflicting); a batch call in batch cells. */
  readonly latency: LatencySummary | null;
  /** Per call to the store (attempt), warm-up included (the server counters cannot tell warm-up apart). */
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
  readonly batchSize: number;
  /** adapter ÷ baseline successful append requests (transfers) per second: below 1 means the adapter is slower. */
  readonly throughputRatio: number | null;
  /** adapter ÷ the best baseline of the scenario at any writer count (batch scenario: the naive limit). */
  readonly bestBaselineRatio: number | null;
  /** adapter ÷ baseline p99 latency of one request (transfer): above 1 means the adapter's tail is longer. */
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
        .flatMap((writers) =>
          IMPLEMENTATIONS.flatMap((implementation) =>
            // The batch scenario measures the adapter once per batch size against one baseline cell.
            (scenario === 'batch' && implementation === 'adapter' ? config.batchSizes : [1]).map((batchSize) => ({ scenario, writers, implementation, batchSize })),
          ),
        ),
    );
    const cells: CellResult[] = [];
    for (const [index, cell] of plan.entries()) {
      const batch = cell.scenario === 'batch' && cell.implementation === 'adapter' ? ` B=${cell.batchSize}` : '';
      const label = `[${index + 1}/${plan.length}] ${cell.scenario} × ${cell.writers} writers, ${cell.implementation}${batch}`;
      progress(`${label} …`);
      const result = await runCell(server, admin, config, { ...cell, cellTag: `${runId}.c${index}` });
      progress(`${label}: ${formatRate(result.requestsPerSecond)} ${cell.scenario === 'batch' ? 'transfers' : 'appends'}/s, p99 ${formatMs(result.latency?.p99Ms)} ms`);
      cells.push(result);
    }

    const comparisons = compare(cells);
    progress('measuring in-process CPU per append (no I/O) …');
    const cpuBreakdown = measureCpuBreakdown();
    for (const scenario of config.scenarios) {
      if (scenario === 'batch') printBatchScenario(cells, comparisons);
      else printScenario(scenario, cells, comparisons);
    }
    printLegend(config.scenarios.includes('batch'));
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
  cell: { scenario: ScenarioName; writers: number; implementation: Implementation; batchSize: number; cellTag: string },
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
  const context: CellContext = {
    scenario: cell.scenario,
    pool,
    schema: SCHEMAS[cell.implementation],
    cellTag: cell.cellTag,
    writers: cell.writers,
    batchSize: cell.batchSize,
  };
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
    batchSize: cell.batchSize,
    appendsPerSecond: perSecond(appends),
    requestsPerSecond: perSecond(appends * cell.batchSize),
    eventsPerSecond: perSecond(appends * cell.batchSize * EVENTS_PER_APPEND[cell.scenario]),
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
  const baselineOf = (c: CellResult): CellResult | undefined =>
    cells.find((o) => o.scenario === c.scenario && o.writers === c.writers && o.implementation === 'baseline');
  const bestBaseline = (scenario: ScenarioName): number | undefined => {
    const rates = cells.filter((o) => o.scenario === scenario && o.implementation === 'baseline').map((o) => o.requestsPerSecond);
    return rates.length > 0 ? Math.max(...rates) : undefined;
  };
  return cells
    .filter((c) => c.implementation === 'adapter')
    .map((adapter) => {
      const baseline = baselineOf(adapter);
      return {
        scenario: adapter.scenario,
        writers: adapter.writers,
        batchSize: adapter.batchSize,
        throughputRatio: ratio(adapter.requestsPerSecond, baseline?.requestsPerSecond) ?? null,
        bestBaselineRatio: ratio(adapter.requestsPerSecond, bestBaseline(adapter.scenario)) ?? null,
        // Every request of a batch waits for the whole batch, so a batch's latency is each of its transfers'.
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
      `pool size ${config.poolSize}` +
      (config.scenarios.includes('batch') ? `; batch sizes ${config.batchSizes.join(', ')}` : ''),
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
    const comparison = comparisons.find((o) => o.scenario === c.scenario && o.writers === c.writers && o.batchSize === c.batchSize);
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

/**
 * The batch scenario, in transfers: the baseline row is one raw-SQL transaction per transfer; each
 * adapter row is one appendBatch of B transfers per call. Server columns are per transfer.
 */
function printBatchScenario(cells: readonly CellResult[], comparisons: readonly Comparison[]): void {
  const rows = cells.filter((c) => c.scenario === 'batch');
  if (rows.length === 0) return;
  const columns: Column[] = [
    { header: 'writers', align: 'right' },
    { header: 'impl', align: 'left' },
    { header: 'B', align: 'right' },
    { header: 'transfers/s', align: 'right' },
    { header: 'batches/s', align: 'right' },
    { header: 'batch p50 ms', align: 'right' },
    { header: 'batch p99 ms', align: 'right' },
    { header: 'xfer p50 ms', align: 'right' },
    { header: 'xfer p99 ms', align: 'right' },
    { header: 'stmts/call', align: 'right' },
    { header: 'WAL B/xfer', align: 'right' },
    { header: 'fsyncs/xfer', align: 'right' },
    { header: 'node µs/xfer', align: 'right' },
    { header: 'pg µs/xfer', align: 'right' },
    { header: 'thr ratio', align: 'right' },
    { header: 'vs best base', align: 'right' },
    { header: 'p99 ratio', align: 'right' },
  ];
  const table = rows.map((c) => {
    const isAdapter = c.implementation === 'adapter';
    const comparison = comparisons.find((o) => o.scenario === 'batch' && o.writers === c.writers && o.batchSize === c.batchSize);
    const perTransfer = (value: number | null): string => formatDecimal(value === null ? undefined : value / c.batchSize, 0);
    return [
      String(c.writers),
      c.implementation + (c.hitMaxOps ? '*' : ''),
      isAdapter ? String(c.batchSize) : NOT_APPLICABLE,
      formatRate(c.requestsPerSecond),
      isAdapter ? formatRate(c.appendsPerSecond) : NOT_APPLICABLE,
      isAdapter ? formatMs(c.latency?.p50Ms) : NOT_APPLICABLE,
      isAdapter ? formatMs(c.latency?.p99Ms) : NOT_APPLICABLE,
      // A transfer waits for its whole batch (baseline: for its own transaction).
      formatMs(c.latency?.p50Ms),
      formatMs(c.latency?.p99Ms),
      formatDecimal(c.statementsPerAttempt, 2),
      perTransfer(c.walBytesPerAttempt),
      formatDecimal(c.walFsyncsPerAttempt === null ? undefined : c.walFsyncsPerAttempt / c.batchSize, 3),
      perTransfer(c.clientCpuUsPerAttempt),
      perTransfer(c.serverCpuUsPerAttempt),
      isAdapter ? formatRatio(comparison?.throughputRatio ?? undefined) : NOT_APPLICABLE,
      isAdapter ? formatRatio(comparison?.bestBaselineRatio ?? undefined) : NOT_APPLICABLE,
      isAdapter ? formatRatio(comparison?.p99Ratio ?? undefined) : NOT_APPLICABLE,
    ];
  });
  process.stdout.write(`\n${SCENARIO_TITLES.batch}\n${formatTable(columns, table)}\n`);
}

function printLegend(withBatch: boolean): void {
  const batch = withBatch
    ? [
        '(d) group commit: transfers/s counts transfers written (B per batch); batches/s counts appendBatch calls. A transfer',
        'waits for its whole batch, so xfer p50/p99 equal batch p50/p99 on adapter rows (closed loop: a batch starts when',
        'the previous one of its writer returns; queueing before a batch is what bench/transfers measures). Server columns',
        'are per transfer; stmts/call is per batch on adapter rows. thr ratio and p99 ratio compare with the baseline at the',
        'same writer count; vs best base = transfers/s ÷ the fastest baseline row of the table (the naive limit).',
      ]
    : [];
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
      ...batch,
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
