/**
 * Transfers through the real ledger service (gRPC and HTTP), closed and open loop, spread and
 * hot-wallet patterns, against a same-run raw-PostgreSQL baseline of one fsync'd transaction per
 * transfer. Run with `npm run bench:transfers`; see bench/README.md for what is measured and how
 * to read it.
 */
import { issueDevToken } from '@ledger/auth';
import { JsonLogger } from '@ledger/nest';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { loadLedgerConfig, type LedgerConfig } from '../../services/ledger/src/config/ledger.config';
import { startLedgerApp, type LedgerApp } from '../../services/ledger/src/ledger.app';
import { formatProfileSummary, PhaseProfiler, type CpuProfileSummary } from '../lib/cpu-profile';
import { machineInfo, type MachineInfo } from '../lib/machine-info';
import { checkpoint, markTransactionId, markWal, readServerSettings, vacuumEventStores, vacuumTables, walUsageSince, type ServerSettings } from '../lib/postgres-probes';
import { ownCpuMs, processTreeCpuMs } from '../lib/process-cpu';
import { formatMs, formatRate } from '../lib/report';
import { BASELINE_TABLES } from './baseline.sql';
import { LoadProcess } from './load-process.client';
import type { CellRun, ConservationCheck, HotWallet, SetupResult } from './load.protocol';
import { baselineFor, evaluateTarget, TARGETS, type TargetResult } from './targets';
import { describeCell, formatCellTables, formatConservation, formatTargets, LEGEND, type CellResult } from './transfers.report';
import { planCells, readTransfersBenchConfig, socketsPerAgent, type CellPlan, type TransfersBenchConfig } from './transfers.config';

const RESULTS_DIR = resolve(__dirname, '..', 'results');
const LEDGER_PROTO = resolve(__dirname, '..', '..', 'proto', 'ledger', 'v1', 'ledger.proto');
const ADMIN_POOL_SIZE = 2;
/** Rough cost of a cell besides its warm-up and window (hot wallet, VACUUM, CHECKPOINT, drain), for the estimate. */
const CELL_OVERHEAD_SECONDS = 1.5;
const TOKEN_SUBJECT = 'bench-transfers';
/** What the ledger logs for each pooled connection its embedded PostgreSQL terminates while the service stops. */
const POOL_SHUTDOWN_LINE = 'idle PostgreSQL client failed';

async function main(): Promise<void> {
  const config = readTransfersBenchConfig();
  const machine = machineInfo();
  const plan = planCells(config);
  const root = mkdtempSync(join(tmpdir(), 'ledger-bench-transfers-'));
  chmodSync(root, 0o755); // the server runs as the postgres user and must enter this folder
  const pgDataDir = join(root, 'postgres');
  let ledger: LedgerApp | undefined;
  const ledgerLog = { shuttingDown: false, suppressed: 0 };
  let admin: Pool | undefined;
  let load: LoadProcess | undefined;
  const cleanUp = once(async () => {
    await load?.stop().catch(() => undefined);
    await admin?.end().catch(() => undefined);
    ledgerLog.shuttingDown = true;
    await ledger?.close().catch((error: unknown) => progress(`closing the ledger: ${String(error)}`));
    if (ledgerLog.suppressed > 0) {
      progress(
        `(${ledgerLog.suppressed} "${POOL_SHUTDOWN_LINE}" lines from the ledger while it stopped, not shown: its pool.end() ` +
          'resolves before the connections have closed, and the embedded PostgreSQL then terminates them)',
      );
    }
    try {
      // Retries cover files the stopping server was still removing (ENOTEMPTY, EBUSY).
      rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch (error) {
      progress(`could not remove ${root}: ${String(error)}`);
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the ledger, its PostgreSQL and the load process; removing ${root}\n`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    const ledgerConfig = loadLedgerConfig({
      ...config.serviceEnv,
      HTTP_PORT: '0',
      GRPC_PORT: '0',
      EMBEDDED_PG_DATA_DIR: pgDataDir,
      EMBEDDED_PG_PORT: '0',
      LOG_LEVEL: 'warn',
    });
    const estimate = Math.round(plan.length * ((config.warmupMs + config.durationMs) / 1_000 + CELL_OVERHEAD_SECONDS));
    progress(`starting the ledger service (embedded PostgreSQL in ${pgDataDir}); ${plan.length} cells, about ${estimate} s of load`);
    const sink = (line: string): void => {
      if (ledgerLog.shuttingDown && line.includes(POOL_SHUTDOWN_LINE)) ledgerLog.suppressed += 1;
      else process.stderr.write(`ledger: ${line}\n`);
    };
    ledger = await startLedgerApp(ledgerConfig, new JsonLogger('ledger', 'warn', sink));
    const postgres = readPostmaster(pgDataDir);
    const pgUrl = `postgres://postgres@127.0.0.1:${postgres.port}/ledger`;
    admin = new Pool({ connectionString: pgUrl, max: ADMIN_POOL_SIZE, application_name: 'bench-transfers-admin', connectionTimeoutMillis: 10_000 });
    const settings = await readServerSettings(admin);
    if (settings.fsync !== 'on' || settings.synchronous_commit !== 'on') {
      throw new Error(`Refusing to measure without durability: fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit}`);
    }
    printHeader(config, ledgerConfig, machine, settings);

    const runId = randomBytes(4).toString('hex');
    const token = issueDevToken(
      { subject: TOKEN_SUBJECT, kind: 'service', scopes: ['ledger:service'], ttlSeconds: Math.min(3_600, ledgerConfig.auth.jwt.maxTokenAgeSeconds) },
      ledgerConfig.auth.jwt,
    );
    load = LoadProcess.start();
    await load.request({ kind: 'init', init: { grpcAddress: ledger.grpcAddress, httpUrl: ledger.url, pgUrl, token, runId, protoFile: LEDGER_PROTO, config } });
    progress(`opening and funding ${config.wallets.toLocaleString('en-US')} wallets through the service (gRPC) …`);
    const setup = await load.request<SetupResult>({ kind: 'setup' });
    progress(`  ${setup.wallets.toLocaleString('en-US')} wallets funded in ${setup.seconds.toFixed(1)} s`);

    const cells: CellResult[] = [];
    for (const [index, cell] of plan.entries()) {
      const label = `[${index + 1}/${plan.length}] ${describeCell(cell)}`;
      progress(`${label} …`);
      const result = await runCell(
        { load, admin, ledgerConfig, pgPid: postgres.pid, withBaseline: config.transports.includes('sql'), cpuProfileDir: config.cpuProfileDir },
        cell,
        index,
      );
      cells.push(result);
      const errors = result.errors + result.dropped > 0 ? `, ${result.errors} errors, ${result.dropped} dropped` : '';
      progress(`${label}: ${formatRate(result.transfersPerSecond)}/s, p50 ${formatMs(result.latency?.p50Ms)} ms, p99 ${formatMs(result.latency?.p99Ms)} ms${errors}`);
    }
    const compared = cells.map((cell) => withRatios(cell, cells));

    progress('reading every wallet back to check that money was conserved …');
    const conservation = await load.request<ConservationCheck[]>({ kind: 'verify' });
    const targets = TARGETS.map((target) => evaluateTarget(compared, target));

    process.stdout.write(`\n${formatCellTables(compared, machine.cpuCount)}\n\n${LEGEND}\n\n${formatTargets(targets, compared)}\n\n${formatConservation(conservation)}\n`);
    const file = writeResults({ config, ledgerConfig, machine, settings, setup, cells: compared, targets, conservation });
    process.stdout.write(`\nResults written to ${relative(process.cwd(), file)}\n`);
    if (conservation.some((check) => !check.conserved)) {
      process.stderr.write('bench:transfers: money was NOT conserved (see above)\n');
      process.exitCode = 1;
    }
  } finally {
    await cleanUp();
  }
}

interface RunContext {
  readonly load: LoadProcess;
  readonly admin: Pool;
  readonly ledgerConfig: LedgerConfig;
  /** The ledger's PostgreSQL postmaster: its process tree's CPU is the pg column. */
  readonly pgPid: number;
  /** Whether the baseline's tables exist in this run. */
  readonly withBaseline: boolean;
  /** Where to write a CPU profile of the service over each service cell (BENCH_CPU_PROFILE_DIR). */
  readonly cpuProfileDir: string | undefined;
}

async function runCell(context: RunContext, cell: CellPlan, index: number): Promise<CellResult> {
  const { load, admin, ledgerConfig, pgPid } = context;
  const hotWallet = cell.pattern === 'hot' ? (await load.request<HotWallet>({ kind: 'hot', transport: cell.transport })).walletId : null;
  // Same starting state for every cell: no autovacuum debt from earlier cells, dirty pages flushed.
  await vacuumEventStores(admin, [ledgerConfig.eventStoreSchema]);
  if (context.withBaseline) await vacuumTables(admin, BASELINE_TABLES);
  await checkpoint(admin);

  const wal = await markWal(admin);
  const xidBefore = await markTransactionId(admin);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const loopBefore = performance.eventLoopUtilization();
  const serviceCpuBefore = ownCpuMs();
  const pgCpuBefore = processTreeCpuMs(pgPid);
  const profiler = context.cpuProfileDir && cell.transport !== 'sql' ? await PhaseProfiler.start() : undefined;

  const run = await load.request<CellRun>({ kind: 'cell', cell, index, hotWallet });

  if (profiler && context.cpuProfileDir) {
    mkdirSync(context.cpuProfileDir, { recursive: true });
    printProfile(await profiler.stop(context.cpuProfileDir, `transfers-${cell.pattern}-${cell.loop}-${cell.level}-${cell.transport}`));
  }

  const serviceCpuMs = ownCpuMs() - serviceCpuBefore;
  const pgCpuAfter = processTreeCpuMs(pgPid);
  const loopUse = performance.eventLoopUtilization(loopBefore);
  loopDelay.disable();
  const xidAfter = await markTransactionId(admin);
  const walUsage = await walUsageSince(admin, wal);

  const answered = Math.max(1, run.totalOps);
  const commits = Number(xidAfter - xidBefore);
  const errors = Object.entries(run.outcomes).reduce((sum, [outcome, count]) => (outcome === 'ok' ? sum : sum + count), 0) + run.unfinished;
  return {
    index,
    pattern: cell.pattern,
    loop: cell.loop,
    level: cell.level,
    transport: cell.transport,
    transfersPerSecond: run.transfersPerSecond,
    p99Ms: run.latency?.p99Ms ?? null,
    errors,
    dropped: run.dropped,
    latency: run.latency,
    measured: run.measured,
    outcomes: run.outcomes,
    otherReasons: run.otherReasons,
    totalOps: run.totalOps,
    hitMaxOps: run.hitMaxOps,
    unfinished: run.unfinished,
    maxSendLagMs: run.maxSendLagMs,
    maxInFlightSeen: run.maxInFlightSeen,
    poolSize: run.poolSize,
    walBytesPerTransfer: Number(walUsage.walBytes) / answered,
    transfersPerCommit: commits > 0 ? run.totalOps / commits : null,
    serviceCpuUsPerTransfer: (serviceCpuMs * 1_000) / answered,
    clientCpuUsPerTransfer: (run.clientCpuMs * 1_000) / answered,
    pgCpuUsPerTransfer: pgCpuBefore === null || pgCpuAfter === null ? null : ((pgCpuAfter - pgCpuBefore) * 1_000) / answered,
    serviceLoopUtilisation: loopUse.utilization,
    serviceLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    throughputRatio: null,
    p99Ratio: null,
  };
}

function withRatios(cell: CellResult, cells: readonly CellResult[]): CellResult {
  if (cell.transport === 'sql') return cell;
  const baseline = baselineFor(cells, cell);
  return {
    ...cell,
    throughputRatio: baseline && baseline.transfersPerSecond > 0 ? cell.transfersPerSecond / baseline.transfersPerSecond : null,
    p99Ratio: baseline?.p99Ms && cell.p99Ms !== null ? cell.p99Ms / baseline.p99Ms : null,
  };
}

/** The pid and port of the PostgreSQL server the ledger started, from its postmaster.pid (lines 1 and 4). */
function readPostmaster(dataDir: string): { pid: number; port: number } {
  const lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) throw new Error(`Unreadable postmaster.pid in ${dataDir}`);
  return { pid, port };
}

function printHeader(config: TransfersBenchConfig, ledgerConfig: LedgerConfig, machine: MachineInfo, settings: ServerSettings): void {
  const seconds = `${config.warmupMs / 1_000} s warm-up + ${config.durationMs / 1_000} s measured`;
  const lines = [
    'Transfers benchmark: the ledger service (gRPC, HTTP) against raw PostgreSQL, same server, same run',
    `machine     ${machine.cpuCount} × ${machine.cpuModel}, ${machine.memoryMiB} MiB, ${machine.platform}`,
    `node        ${machine.nodeVersion}; the service runs in the bench's process, every client in one forked load process`,
    `postgres    ${settings.server_version}, fsync=${settings.fsync}, synchronous_commit=${settings.synchronous_commit}, ` +
      `wal_sync_method=${settings.wal_sync_method}, full_page_writes=${settings.full_page_writes}, commit_delay=${settings.commit_delay}, ` +
      `shared_buffers=${settings.shared_buffers}, max_connections=${settings.max_connections}`,
    `service     group commit: at most ${ledgerConfig.commands.maxBatchSize} commands a batch, ${ledgerConfig.commands.maxQueuedCommands} queued, ` +
      `${ledgerConfig.commands.maxConflictRetries} conflict retries; DB pool ${ledgerConfig.dbPoolMax}; gRPC max ${ledgerConfig.grpc.limits.maxConcurrentStreams} streams a connection`,
    `clients     gRPC: ${config.grpcChannels} channels (one HTTP/2 connection each), Transfer calls by the ${config.grpcClient === 'lean' ? 'lean node:http2 client' : '@grpc/grpc-js client'}; HTTP: ${config.httpAgents} keep-alive agents × ${socketsPerAgent(config)} sockets; ` +
      `service token (ledger:service, no PIN); deadline ${config.timeoutMs} ms a request`,
    `baseline    raw SQL '${config.baselineMode}' mode, one transaction per transfer; pool min(C, ${config.baselinePool}) closed loop, ${config.baselinePool} open loop`,
    `wallets     ${config.wallets.toLocaleString('en-US')} funded wallets (USD); each hot cell has its own freshly funded hot source wallet; 1 to 99 cents a transfer`,
    `cells       patterns ${config.patterns.join(', ')}; loops ${config.loops.join(', ')}; C ${config.concurrency.join(', ')}; ` +
      `rates ${config.rates.join(', ')}/s; in-flight cap ${config.maxInFlight}; ${seconds} each (closed loop: at most ${config.maxOps.toLocaleString('en-US')} measured)`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

function writeResults(results: {
  config: TransfersBenchConfig;
  ledgerConfig: LedgerConfig;
  machine: MachineInfo;
  settings: ServerSettings;
  setup: SetupResult;
  cells: readonly CellResult[];
  targets: readonly TargetResult[];
  conservation: readonly ConservationCheck[];
}): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const generatedAt = new Date().toISOString();
  const file = join(RESULTS_DIR, `transfers-${generatedAt.replace(/[:.]/g, '-')}.json`);
  const { ledgerConfig, ...rest } = results;
  // The service's settings without its secrets (the JWT key).
  const service = { commands: ledgerConfig.commands, dbPoolMax: ledgerConfig.dbPoolMax, grpcLimits: ledgerConfig.grpc.limits };
  writeFileSync(file, `${JSON.stringify({ bench: 'transfers', generatedAt, service, ...rest }, null, 2)}\n`);
  return file;
}

/** The profile's summary, on stderr beside the cell's progress line (the sampler's own cost is in the cell's figures). */
function printProfile(profile: CpuProfileSummary): void {
  progress(`  CPU profile of the service (${Math.round(profile.sampledMs)} ms sampled): ${relative(process.cwd(), profile.file)}`);
  for (const line of formatProfileSummary(profile, '    ')) progress(line);
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function once(action: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= action());
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:transfers failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
