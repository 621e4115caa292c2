import { Client } from 'pg';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { ownCpuMs, processTreeCpuMs } from '../lib/process-cpu';
import type { PayoutsBenchConfig } from './payouts.config';
import { formatMinor, type PayoutPlan } from './payout-plan';
import { BENCH_SUBJECT, CURRENCY, type Platform } from './platforms';
import { PhaseProfiler, type CpuProfileSummary } from '../lib/cpu-profile';
import { databaseUsageSince, markDatabase, type DatabaseUsage } from './database-probe';
import { forEachBounded } from './rest-client';
import { readBatchTimeline, type BatchTimeline } from './saga-timeline';
import { isRestingBatchStatus } from '@ledger/payouts-domain';

/**
 * One mode's measurement over REST, and the in-process baseline. Setup (wallets, funding, the
 * read model catching up, VACUUM + CHECKPOINT) is never timed.
 */

const EVENT_STORE_SCHEMA = 'event_store';
/** The source wallet gets this much more than the rows need (minor units). */
const FUNDING_MARGIN_MINOR = 100_000n;
const READ_MODEL_TIMEOUT_MS = 600_000;

export type CpuByProcess = Record<string, number>;

/** CPU milliseconds of each measured process tree since `before` (null where /proc gives none). */
export function cpuSnapshot(platform: Platform): CpuByProcess {
  const snapshot: CpuByProcess = {};
  for (const { name, pid } of platform.processes) snapshot[name] = pid === 'self' ? ownCpuMs() : (processTreeCpuMs(pid) ?? Number.NaN);
  return snapshot;
}

function cpuSince(before: CpuByProcess, after: CpuByProcess): CpuByProcess {
  return Object.fromEntries(Object.keys(after).map((name) => [name, (after[name] as number) - (before[name] as number)]));
}

/**
 * The whole machine's CPU over a phase, from /proc/stat (USER_HZ = 100 ticks/s on Linux): busy
 * time (user, nice, system, irq, softirq, steal), the part no measured process used (other work
 * on the machine: a figure measured while something else ran understates the system), and
 * iowait (idle with disk I/O outstanding).
 */
export interface MachineUsage {
  readonly wallMs: number;
  readonly cores: number;
  readonly busyMs: number;
  readonly otherMs: number;
  readonly iowaitMs: number;
}

interface MachineMark {
  readonly at: number;
  readonly cores: number;
  readonly busyMs: number;
  readonly iowaitMs: number;
}

function machineSnapshot(): MachineMark | undefined {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const fields = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const cores = lines.filter((line) => /^cpu\d+ /.test(line)).length;
    return { at: performance.now(), cores, busyMs: (user + nice + system + irq + softirq + steal) * 10, iowaitMs: iowait * 10 };
  } catch {
    return undefined; // not Linux
  }
}

function machineUsageSince(before: MachineMark | undefined, measured: CpuByProcess): MachineUsage | undefined {
  const now = machineSnapshot();
  if (!before || !now) return undefined;
  const measuredMs = Object.values(measured).reduce((sum, ms) => sum + (Number.isFinite(ms) ? ms : 0), 0);
  const busyMs = now.busyMs - before.busyMs;
  return { wallMs: now.at - before.at, cores: now.cores, busyMs, otherMs: Math.max(0, busyMs - measuredMs), iowaitMs: now.iowaitMs - before.iowaitMs };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the wallet read model (what the intake validates against) covers `position`. */
export async function waitForReadModel(platform: Platform, walletId: string, position: bigint): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + READ_MODEL_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const response = await platform.rest.call('GET', `${platform.ledgerUrl}/v1/queries/wallets/${walletId}/balance?minPosition=${position}`);
    if (response.status === 200) return performance.now() - started;
    last = `HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`;
    await sleep(200);
  }
  throw new Error(`the read model did not reach position ${position} within ${READ_MODEL_TIMEOUT_MS / 1000} s (${last})`);
}

/** VACUUM (ANALYZE) and CHECKPOINT, so each measured phase starts from the same state (not timed). */
export async function settleDatabase(databaseUrl: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'bench-payouts-prepare' });
  await client.connect();
  try {
    await client.query('VACUUM (ANALYZE)');
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

export interface Recipients {
  readonly ids: string[];
  readonly lastPosition: bigint;
  readonly seconds: number;
}

export async function openRecipients(platform: Platform, plan: PayoutPlan, config: PayoutsBenchConfig): Promise<Recipients> {
  const started = performance.now();
  const opened = await platform.openWallets(plan.recipients, (i) => `bench-recipient-${i % 1_000}`, config.setupConcurrency);
  return { ...opened, seconds: (performance.now() - started) / 1_000 };
}

/** Opens and funds a source wallet with `needMinor` + a margin; returns its id, the funding and the position. */
async function fundedSource(platform: Platform, ownerId: string, needMinor: bigint): Promise<{ walletId: string; fundedMinor: bigint; position: bigint }> {
  const { ids } = await platform.openWallets(1, () => ownerId, 1);
  const walletId = ids[0]!;
  const fundedMinor = needMinor + FUNDING_MARGIN_MINOR;
  const position = await platform.deposit(walletId, formatMinor(fundedMinor));
  return { walletId, fundedMinor, position };
}

async function balanceOf(platform: Platform, walletId: string): Promise<{ balance: string; available: string; held: string }> {
  const body = await platform.rest.expect(200, 'GET', `${platform.ledgerUrl}/v1/wallets/${walletId}`);
  return body as unknown as { balance: string; available: string; held: string };
}

// ---- the baseline -----------------------------------------------------------------------------

export interface BaselineResult {
  readonly rows: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly rowsPerSecond: number;
  readonly cpuMs: CpuByProcess;
  readonly lastPosition: bigint;
  /** PostgreSQL transactions (group commits) that carried the transfers. */
  readonly transactions: number;
  readonly database: DatabaseUsage | undefined;
  readonly machine: MachineUsage | undefined;
  readonly checks: readonly Check[];
}

export interface Check {
  readonly ok: boolean;
  readonly text: string;
}

/**
 * The same payments (the first `rows` of the plan) as plain single-row transfers from one funded
 * source wallet through the ledger's WalletCommandsService in this process, `concurrency` in
 * flight: what a client gets calling transfer once per row, without the saga, the bus, the hold
 * or the intake. Embedded platform only.
 */
export async function runBaseline(platform: Platform, plan: PayoutPlan, recipients: readonly string[], rows: number, concurrency: number, log: (line: string) => void): Promise<BaselineResult> {
  const commands = platform.commands;
  if (!commands) throw new Error('the baseline runs in-process: it needs the embedded platform');
  const needMinor = plan.sliceTotalMinor(rows);
  const source = await fundedSource(platform, 'bench-baseline-payroll', needMinor);
  await settleDatabase(platform.databaseUrl);
  const principal = { subject: BENCH_SUBJECT, kind: 'service' as const, scopes: ['ledger:service'] };
  const run = randomUUID().slice(0, 8);
  log(`baseline: ${rows.toLocaleString('en-US')} plain transfers from one wallet, ${concurrency} in flight …`);
  let lastPosition = source.position;
  // A position is the writing transaction's id × 2^16 + the event's index in it (ADR 0002).
  const transactions = new Set<bigint>();
  const dbBefore = await markDatabase(platform.databaseUrl);
  const machineBefore = machineSnapshot();
  const cpuBefore = cpuSnapshot(platform);
  const started = performance.now();
  await forEachBounded(rows, concurrency, async (i) => {
    const p = plan.payment(i);
    const done = await commands.transfer(principal, {
      fromWalletId: source.walletId,
      toWalletId: recipients[p.recipient],
      amount: formatMinor(p.amountMinor),
      currency: CURRENCY,
      idempotencyKey: `bench-base-${run}-${i}`,
      ...(p.reference === undefined ? {} : { reference: p.reference }),
    });
    const position = BigInt(done.position);
    transactions.add(position / 65_536n);
    if (position > lastPosition) lastPosition = position;
  });
  const seconds = (performance.now() - started) / 1_000;
  const cpuMs = cpuSince(cpuBefore, cpuSnapshot(platform));
  const machine = machineUsageSince(machineBefore, cpuMs);
  const database = await databaseUsageSince(platform.databaseUrl, dbBefore);
  const balance = await balanceOf(platform, source.walletId);
  const expected = formatMinor(source.fundedMinor - needMinor);
  return {
    rows,
    concurrency,
    seconds,
    rowsPerSecond: rows / seconds,
    cpuMs,
    lastPosition,
    transactions: transactions.size,
    database,
    machine,
    checks: [{ ok: balance.balance === expected, text: `baseline source balance ${balance.balance}, expected ${expected} (funded ${formatMinor(source.fundedMinor)} − ${formatMinor(needMinor)} transferred)` }],
  };
}

// ---- the payout batch -------------------------------------------------------------------------

export interface PayoutRunResult {
  readonly mode: Platform['mode'];
  readonly rows: number;
  readonly fileBytes: number;
  readonly intakeSeconds: number;
  readonly executionSeconds: number;
  /** The COMPLETED moment lies within this many ms before the measured end (last non-terminal GET sent → terminal answer). */
  readonly executionResolutionMs: number;
  readonly polls: number;
  readonly cpuIntakeMs: CpuByProcess;
  readonly cpuExecutionMs: CpuByProcess;
  readonly databaseIntake: DatabaseUsage | undefined;
  readonly databaseExecution: DatabaseUsage | undefined;
  readonly machineIntake: MachineUsage | undefined;
  readonly machineExecution: MachineUsage | undefined;
  /** BENCH_CPU_PROFILE_DIR, embedded mode: this process during the execution. */
  readonly cpuProfile: CpuProfileSummary | undefined;
  readonly batchId: string;
  readonly finalView: Record<string, unknown>;
  readonly checks: readonly Check[];
  readonly timeline: BatchTimeline | undefined;
  readonly timelineError: string | undefined;
  readonly progress: ReadonlyArray<{ readonly atMs: number; readonly succeeded: number }>;
}

export async function runPayoutBatch(platform: Platform, plan: PayoutPlan, recipients: readonly string[], config: PayoutsBenchConfig, log: (line: string) => void): Promise<PayoutRunResult> {
  const { rest, payoutsUrl } = platform;
  const totalMinor = plan.totalMinor();
  const source = await fundedSource(platform, 'bench-payroll', totalMinor);
  // The batch's source must be visible to the directory (the read model) too.
  await waitForReadModel(platform, source.walletId, source.position);
  const created = await rest.expect(201, 'POST', `${payoutsUrl}/v1/payouts/batches`, { sourceWalletId: source.walletId, currency: CURRENCY, description: `bench ${plan.rows} rows` }, { 'idempotency-key': `bench-batch-${randomUUID()}` });
  const batchId = (created['batch'] as { batchId: string }).batchId;
  await settleDatabase(platform.databaseUrl);

  log(`[${platform.mode}] intake: PUT ${plan.rows.toLocaleString('en-US')} rows (streamed) …`);
  const dbBeforeIntake = await markDatabase(platform.databaseUrl);
  const machineBeforeIntake = machineSnapshot();
  const cpuBeforeIntake = cpuSnapshot(platform);
  const uploadStartedMs = Date.now();
  const upload = await rest.upload(`${payoutsUrl}/v1/payouts/batches/${batchId}/rows`, plan.csvPieces(recipients));
  const cpuIntakeMs = cpuSince(cpuBeforeIntake, cpuSnapshot(platform));
  const machineIntake = machineUsageSince(machineBeforeIntake, cpuIntakeMs);
  const databaseIntake = await databaseUsageSince(platform.databaseUrl, dbBeforeIntake);
  if (upload.status !== 200) throw new Error(`upload: HTTP ${upload.status} ${JSON.stringify(upload.body).slice(0, 1_000)}`);
  const summary = upload.body;
  const checks: Check[] = [];
  const expectedTotal = formatMinor(totalMinor);
  checks.push({
    ok: summary['rows'] === plan.rows && summary['validRows'] === plan.rows && summary['invalidRows'] === 0 && summary['validTotal'] === expectedTotal,
    text: `upload summary: ${String(summary['rows'])} rows, ${String(summary['validRows'])} valid, ${String(summary['invalidRows'])} invalid, total ${String(summary['validTotal'])} (expected ${plan.rows} valid, ${expectedTotal})`,
  });
  if (summary['invalidRows'] !== 0) log(`invalid rows (sample): ${JSON.stringify(summary['invalidSample']).slice(0, 1_000)}`);
  log(`[${platform.mode}] intake took ${(upload.ms / 1_000).toFixed(2)} s; executing …`);

  const dbBeforeExecution = await markDatabase(platform.databaseUrl);
  const profiler = config.cpuProfileDir && platform.mode === 'embedded' ? await PhaseProfiler.start() : undefined;
  const machineBeforeExecution = machineSnapshot();
  const cpuBeforeExecution = cpuSnapshot(platform);
  const executeRequestedMs = Date.now();
  const started = performance.now();
  await rest.expect(200, 'POST', `${payoutsUrl}/v1/payouts/batches/${batchId}/execute`, {});
  const deadline = started + config.executionTimeoutSeconds * 1_000;
  const progress: Array<{ atMs: number; succeeded: number }> = [];
  let view: Record<string, unknown> = {};
  let previousSentAt = started;
  let endedAt = started;
  let polls = 0;
  let lastReport = started;
  for (;;) {
    const sentAt = performance.now();
    view = await rest.expect(200, 'GET', `${payoutsUrl}/v1/payouts/batches/${batchId}`);
    polls += 1;
    const now = performance.now();
    const succeeded = Number((view['counts'] as Record<string, number> | undefined)?.['SUCCEEDED'] ?? 0);
    progress.push({ atMs: now - started, succeeded });
    if (isRestingBatchStatus(String(view['status']))) {
      endedAt = now;
      break;
    }
    previousSentAt = sentAt;
    if (now > deadline) throw new Error(`the batch did not finish within ${config.executionTimeoutSeconds} s: ${JSON.stringify(view).slice(0, 1_000)}`);
    if (now - lastReport >= 10_000) {
      log(`[${platform.mode}]   ${((now - started) / 1_000).toFixed(0)} s: ${String(view['status'])}, ${succeeded.toLocaleString('en-US')} rows paid`);
      lastReport = now;
    }
    await sleep(Math.max(0, config.pollMs - (now - sentAt)));
  }
  const cpuExecutionMs = cpuSince(cpuBeforeExecution, cpuSnapshot(platform));
  const machineExecution = machineUsageSince(machineBeforeExecution, cpuExecutionMs);
  let cpuProfile: CpuProfileSummary | undefined;
  if (profiler && config.cpuProfileDir) {
    mkdirSync(config.cpuProfileDir, { recursive: true });
    cpuProfile = await profiler.stop(config.cpuProfileDir, `payouts-${platform.mode}-execution`);
  }
  const databaseExecution = await databaseUsageSince(platform.databaseUrl, dbBeforeExecution);
  const executionSeconds = (endedAt - started) / 1_000;
  const completedSeenMs = executeRequestedMs + (endedAt - started);

  const counts = (view['counts'] ?? {}) as Record<string, number>;
  checks.push({ ok: view['status'] === 'COMPLETED', text: `batch status ${String(view['status'])} (expected COMPLETED)` });
  checks.push({
    ok: counts['SUCCEEDED'] === plan.rows && counts['FAILED'] === 0 && counts['PENDING'] === 0 && counts['PROCESSING'] === 0,
    text: `row counts ${JSON.stringify(counts)} (expected SUCCEEDED = ${plan.rows})`,
  });
  checks.push({ ok: view['paidTotal'] === expectedTotal, text: `paidTotal ${String(view['paidTotal'])} (expected ${expectedTotal}, the sum of the rows)` });
  checks.push({ ok: view['reservation'] === 'released' && view['releasedTotal'] === '0.00', text: `reservation ${String(view['reservation'])}, releasedTotal ${String(view['releasedTotal'])} (expected released, 0.00: every row paid)` });
  const balance = await balanceOf(platform, source.walletId);
  const expectedBalance = formatMinor(source.fundedMinor - totalMinor);
  checks.push({
    ok: balance.balance === expectedBalance && balance.held === '0.00' && balance.available === expectedBalance,
    text: `source wallet balance ${balance.balance}, available ${balance.available}, held ${balance.held} (expected ${expectedBalance} = funded ${formatMinor(source.fundedMinor)} − ${expectedTotal}, nothing held)`,
  });

  let timeline: BatchTimeline | undefined;
  let timelineError: string | undefined;
  try {
    timeline = await readBatchTimeline(platform.databaseUrl, EVENT_STORE_SCHEMA, batchId, { uploadStartedMs, executeRequestedMs, completedSeenMs });
  } catch (error) {
    timelineError = (error as Error).message;
  }
  return {
    mode: platform.mode,
    rows: plan.rows,
    fileBytes: upload.bytes,
    intakeSeconds: upload.ms / 1_000,
    executionSeconds,
    executionResolutionMs: endedAt - previousSentAt,
    polls,
    cpuIntakeMs,
    cpuExecutionMs,
    databaseIntake,
    databaseExecution,
    machineIntake,
    machineExecution,
    cpuProfile,
    batchId,
    finalView: view,
    checks,
    timeline,
    timelineError,
    progress,
  };
}
