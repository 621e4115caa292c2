/**
 * Projection lag at a steady transfer rate, and rebuild throughput (issue 4, section 6), each
 * beside a baseline measured in the same run on the same server:
 *
 * - lag: from a transfer's acknowledgement (its append committed) to the wallet projection's
 *   watermark covering its position, for every transfer of an open-loop window; baseline: the
 *   same transfers seen by a bare `subscribeToAll` consumer that applies nothing (the floor the
 *   store's read horizon and polling set).
 * - rebuild: `rebuildWalletProjection` over the whole log, in events/s; baseline: reading the
 *   same log with `readAll` and the same batch size, applying nothing.
 *
 * Run with `npm run bench:projections`; see bench/README.md.
 */
import { type Principal, Scopes } from '@ledger/auth';
import { CommandProcessor } from '@ledger/event-sourcing';
import type { EventStore } from '@ledger/event-store';
import { migrateEventStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { startEmbeddedPostgres, type RunningPostgres } from '@ledger/infra';
import { rebuildWalletProjection, startWalletProjection, walletTables, liveVersion, DEFAULT_READ_MODELS_SCHEMA, type ProjectionLogger, type RunningWalletProjection } from '@ledger/read-models';
import { waitFor } from '@ledger/testing';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool } from 'pg';
import { WalletCommandsService } from '../../services/ledger/src/wallets/wallet-commands.service';
import { readInteger } from '../lib/bench-env';
import { LatencyRecorder, type LatencySummary } from '../lib/latency-recorder';
import { machineInfo } from '../lib/machine-info';
import { runOpenLoop } from '../lib/open-loop';
import { runFor } from '../lib/run-for';
import { formatMs, formatRate, formatRatio, formatTable, ratio } from '../lib/report';

const RESULTS_DIR = resolve(__dirname, '..', 'results');
const SCHEMA = 'event_store';
const CURRENCY = 'USD';
/** Issue 4 targets on a 2-core machine. */
const LAG_TARGET_RATE = 1_000;
const LAG_TARGET_P99_MS = 250;
const REBUILD_TARGET_EVENTS_PER_S = 20_000;
/** How often the lag probe looks at both watermarks; bounds the measurement's resolution. */
const PROBE_INTERVAL_MS = 1;

interface BenchConfig {
  readonly wallets: number;
  readonly ratePerSecond: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** The log is filled (closed loop) to at least this many wallet events before the rebuild. */
  readonly rebuildEvents: number;
  readonly rebuildReadBatch: number;
  readonly rebuildEventsPerTransaction: number;
}

function readConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  return {
    wallets: readInteger(env, 'BENCH_WALLETS', 1_000, 2, 100_000),
    ratePerSecond: readInteger(env, 'BENCH_RATE', LAG_TARGET_RATE, 1, 20_000),
    warmupSeconds: readInteger(env, 'BENCH_WARMUP_SECONDS', 2, 0, 60),
    seconds: readInteger(env, 'BENCH_SECONDS', 10, 1, 600),
    rebuildEvents: readInteger(env, 'BENCH_REBUILD_EVENTS', 100_000, 1_000, 10_000_000),
    rebuildReadBatch: readInteger(env, 'BENCH_REBUILD_READ_BATCH', 1_000, 1, 10_000),
    rebuildEventsPerTransaction: readInteger(env, 'BENCH_REBUILD_TX_EVENTS', 5_000, 1, 65_536),
  };
}

const SERVICE: Principal = { subject: 'bench-projections', kind: 'service', scopes: [Scopes.ledgerService, Scopes.ledgerAdmin] };
const quietLogger: ProjectionLogger = {
  log: () => undefined,
  warn: (message) => progress(`projection warning: ${JSON.stringify(message)}`),
  error: (message) => progress(`projection error: ${JSON.stringify(message)}`),
};

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Acknowledged positions waiting to be covered by two watermarks (projection, bare tail). Each
 * probe tick records, for every pending position a watermark now covers, ack → tick.
 */
class LagProbe {
  private readonly pending: Array<{ position: bigint; ackNs: bigint; projectionDone: boolean; tailDone: boolean }> = [];
  readonly projection: LatencyRecorder;
  readonly tail: LatencyRecorder;
  private measuring = false;

  constructor(capacity: number) {
    this.projection = new LatencyRecorder(capacity);
    this.tail = new LatencyRecorder(capacity);
  }

  startMeasuring(): void {
    this.measuring = true;
  }

  acknowledged(position: bigint): void {
    if (this.measuring) this.pending.push({ position, ackNs: process.hrtime.bigint(), projectionDone: false, tailDone: false });
  }

  get outstanding(): number {
    return this.pending.length;
  }

  tick(projectionWatermark: bigint, tailPosition: bigint): void {
    if (this.pending.length === 0) return;
    const now = process.hrtime.bigint();
    let kept = 0;
    for (const entry of this.pending) {
      if (!entry.projectionDone && projectionWatermark >= entry.position) {
        entry.projectionDone = true;
        this.projection.record(now - entry.ackNs);
      }
      if (!entry.tailDone && tailPosition >= entry.position) {
        entry.tailDone = true;
        this.tail.record(now - entry.ackNs);
      }
      if (!entry.projectionDone || !entry.tailDone) this.pending[kept++] = entry;
    }
    this.pending.length = kept;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const machine = machineInfo();
  const root = mkdtempSync(join(tmpdir(), 'ledger-bench-projections-'));
  chmodSync(root, 0o755);
  let postgres: RunningPostgres | undefined;
  let pool: Pool | undefined;
  let store: EventStore | undefined;
  let projection: RunningWalletProjection | undefined;
  const tailAbort = new AbortController();
  let tail: Promise<void> | undefined;
  try {
    progress(`starting PostgreSQL (fsync on) in ${root} …`);
    postgres = await startEmbeddedPostgres({ dataDir: join(root, 'postgres'), port: 0 });
    pool = new Pool({ connectionString: postgres.url, max: 24, application_name: 'bench-projections' });
    // pool.end() resolves before its sockets close; stopping PostgreSQL then ends them: not an error.
    pool.on('error', () => undefined);
    await migrateEventStore(pool, SCHEMA);
    store = new PostgresEventStore({ pool, schema: SCHEMA });
    const processor = new CommandProcessor(store, { maxBatchSize: 256, maxConflictRetries: 5, maxQueuedCommands: 20_000, cacheEntries: 100_000 });
    const commands = new WalletCommandsService(processor, {
      confirm: () => Promise.reject(new Error('the bench acts as a service and never needs a PIN')),
    });

    progress(`opening and funding ${config.wallets} wallets …`);
    const wallets: string[] = [];
    for (let i = 0; i < config.wallets; i += 1) {
      const opened = await commands.openWallet(SERVICE, { ownerId: `owner-${i % 100}`, currency: CURRENCY, idempotencyKey: randomUUID() });
      const walletId = opened.wallets[0]!.walletId as string;
      await commands.deposit(SERVICE, { walletId, amount: '100000.00', currency: CURRENCY, idempotencyKey: randomUUID() });
      wallets.push(walletId);
    }
    const transfer = async (): Promise<bigint> => {
      const from = Math.floor(Math.random() * wallets.length);
      const to = (from + 1 + Math.floor(Math.random() * (wallets.length - 1))) % wallets.length;
      const result = await commands.transfer(SERVICE, {
        fromWalletId: wallets[from],
        toWalletId: wallets[to],
        amount: `0.${String(1 + Math.floor(Math.random() * 99)).padStart(2, '0')}`,
        currency: CURRENCY,
        idempotencyKey: randomUUID(),
      });
      return BigInt(result.position);
    };

    progress('starting the wallet projection (source: store) and a bare tail of the log …');
    projection = await startWalletProjection({ pool, store, source: 'store', logger: quietLogger });
    let tailPosition = 0n;
    tail = (async () => {
      for await (const event of store.subscribeToAll({ fromPosition: 0n, signal: tailAbort.signal, filter: { categories: ['wallet'] } })) {
        tailPosition = event.position;
      }
    })().catch((error: unknown) => {
      if (!tailAbort.signal.aborted) throw error;
    });

    // Lag at a steady rate.
    const probe = new LagProbe(Math.max(1_000, config.ratePerSecond * (config.seconds + config.warmupSeconds + 5)));
    const timer = setInterval(() => probe.tick(projection!.status().watermarkPosition, tailPosition), PROBE_INTERVAL_MS);
    progress(`lag: ${config.ratePerSecond} transfers/s offered for ${config.warmupSeconds} s warm-up + ${config.seconds} s …`);
    setTimeout(() => probe.startMeasuring(), config.warmupSeconds * 1_000).unref();
    const load = await runOpenLoop({
      ratePerSecond: config.ratePerSecond,
      warmupMs: config.warmupSeconds * 1_000,
      durationMs: config.seconds * 1_000,
      maxInFlight: 4_096,
      drainTimeoutMs: 30_000,
      outcomes: ['ok', 'error'] as const,
      okOutcome: 'ok',
      op: async () => {
        try {
          probe.acknowledged(await transfer());
          return 'ok';
        } catch (error) {
          progress(`transfer failed: ${(error as Error).message}`);
          return 'error';
        }
      },
    });
    const drainDeadline = Date.now() + 30_000;
    while (probe.outstanding > 0 && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 10));
    clearInterval(timer);
    if (probe.outstanding > 0) progress(`${probe.outstanding} acknowledged transfers were never covered within 30 s`);
    const projectionLag = probe.projection.summary();
    const tailLag = probe.tail.summary();

    // Fill the log, then rebuild.
    const headEvents = async (): Promise<number> => {
      const { rows } = await pool!.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${SCHEMA}.events WHERE category = 'wallet'`);
      return Number(rows[0]!.n);
    };
    let events = await headEvents();
    if (events < config.rebuildEvents) {
      progress(`filling the log to ${config.rebuildEvents} wallet events (now ${events}) …`);
      const transfersNeeded = Math.ceil((config.rebuildEvents - events) / 2);
      await runFor({ workers: 256, warmupMs: 0, durationMs: 600_000, maxOps: transfersNeeded, outcomes: ['ok'] as const, op: async () => (await transfer(), 'ok' as const) });
      events = await headEvents();
    }
    await waitFor(async () => projection!.status().watermarkPosition >= (await headPosition(pool!)), 120_000, 'the live projection to catch up before the rebuild');

    progress(`baseline: reading ${events} wallet events with readAll (batch ${config.rebuildReadBatch}) …`);
    const readStarted = process.hrtime.bigint();
    let read = 0;
    for (let from = 0n; ; ) {
      const page = await store.readAll({ fromPosition: from, maxCount: config.rebuildReadBatch, filter: { categories: ['wallet'] } });
      read += page.events.length;
      from = page.checkpoint;
      if (!page.isEndOfBatch) break;
    }
    const readSeconds = Number(process.hrtime.bigint() - readStarted) / 1e9;

    progress(`rebuilding the wallet projection from position 0 (${events} events) …`);
    const rebuild = await rebuildWalletProjection({
      pool,
      store,
      schema: DEFAULT_READ_MODELS_SCHEMA,
      readBatchSize: config.rebuildReadBatch,
      eventsPerTransaction: config.rebuildEventsPerTransaction,
      switchLockTimeoutMs: 10_000,
    });

    // The rebuilt version must equal what was deposited (money conserved) and hold every event.
    const version = await liveVersion(pool, DEFAULT_READ_MODELS_SCHEMA);
    const tables = walletTables(DEFAULT_READ_MODELS_SCHEMA, version!);
    const { rows: check } = await pool.query<{ wallets: string; total: string; history: string }>(
      `SELECT (SELECT count(*) FROM ${tables.balances})::text AS wallets, (SELECT sum(balance_minor) FROM ${tables.balances})::text AS total,
              (SELECT count(*) FROM ${tables.history})::text AS history`,
    );
    const expectedTotal = BigInt(config.wallets) * 10_000_000n;

    const rows = [
      ['projection lag', ...lagCells(projectionLag), formatRatio(ratio(projectionLag?.p99Ms, tailLag?.p99Ms))],
      ['bare tail (baseline)', ...lagCells(tailLag), '-'],
    ];
    const rebuildRate = rebuild.eventsPerSecond;
    const readRate = read / readSeconds;
    const report = [
      '',
      `machine     ${machine.cpuCount} × ${machine.cpuModel}, ${machine.memoryMiB} MiB; node ${machine.nodeVersion}; PostgreSQL fsync on`,
      `load        ${config.ratePerSecond} transfers/s offered, open loop, ${config.seconds} s measured; delivered ${formatRate(load.opsPerSecond)}/s, ${load.dropped} dropped, ${load.outcomes.error} errors`,
      '',
      'lag: transfer acknowledged → covered by the watermark (probe every 1 ms)',
      formatTable(
        [{ header: 'consumer', align: 'left' }, { header: 'samples', align: 'right' }, { header: 'p50 ms', align: 'right' }, { header: 'p99 ms', align: 'right' }, { header: 'p99.9 ms', align: 'right' }, { header: 'max ms', align: 'right' }, { header: 'p99 ratio', align: 'right' }],
        rows,
      ),
      '',
      'rebuild: whole log from position 0 into a new version, then switched',
      formatTable(
        [{ header: 'run', align: 'left' }, { header: 'events', align: 'right' }, { header: 'seconds', align: 'right' }, { header: 'events/s', align: 'right' }, { header: 'ratio', align: 'right' }],
        [
          ['rebuild', String(rebuild.events), (rebuild.elapsedMs / 1000).toFixed(2), formatRate(rebuildRate), formatRatio(ratio(rebuildRate, readRate))],
          ['readAll only (baseline)', String(read), readSeconds.toFixed(2), formatRate(readRate), '-'],
        ],
      ),
      '',
      'Targets (issue 4, section 6)',
      `  ${projectionLag && load.ratePerSecond >= LAG_TARGET_RATE && load.achievedRatio >= 0.99 && projectionLag.p99Ms < LAG_TARGET_P99_MS ? 'MET    ' : 'NOT MET'}  lag p99 < ${LAG_TARGET_P99_MS} ms at ${LAG_TARGET_RATE} transfers/s: p99 ${formatMs(projectionLag?.p99Ms)} ms at ${formatRate(load.opsPerSecond)}/s delivered of ${config.ratePerSecond}/s offered`,
      `  ${rebuildRate >= REBUILD_TARGET_EVENTS_PER_S ? 'MET    ' : 'NOT MET'}  rebuild >= ${formatRate(REBUILD_TARGET_EVENTS_PER_S)} events/s: ${formatRate(rebuildRate)} events/s`,
      '',
      'Read model after the rebuild',
      `  ${BigInt(check[0]!.total ?? '0') === expectedTotal && Number(check[0]!.wallets) === config.wallets ? 'OK    ' : 'FAILED'}  ${check[0]!.wallets} wallets, balances sum to ${check[0]!.total} minor units, deposited ${expectedTotal}`,
      `  ${Number(check[0]!.history) === events ? 'OK    ' : 'FAILED'}  ${check[0]!.history} history rows for ${events} wallet events`,
    ].join('\n');
    process.stdout.write(`${report}\n`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = join(RESULTS_DIR, `projections-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({ machine, config, load: { ...load, latency: load.latency }, projectionLag, tailLag, rebuild, read: { events: read, seconds: readSeconds } }, null, 2));
    progress(`\nResults written to ${file}`);
  } finally {
    tailAbort.abort();
    await tail?.catch(() => undefined);
    await projection?.stop().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

function lagCells(summary: LatencySummary | null): string[] {
  if (!summary) return ['0', '-', '-', '-', '-'];
  return [String(summary.count), formatMs(summary.p50Ms), formatMs(summary.p99Ms), formatMs(summary.p999Ms), formatMs(summary.maxMs)];
}

async function headPosition(pool: Pool): Promise<bigint> {
  const { rows } = await pool.query<{ p: string | null }>(`SELECT max(position)::text AS p FROM ${SCHEMA}.events WHERE category = 'wallet'`);
  return BigInt(rows[0]!.p ?? '0');
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
