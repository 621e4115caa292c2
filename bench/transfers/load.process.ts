/**
 * The load process of bench/transfers: forked by transfers.bench.ts, it runs every client (gRPC,
 * HTTP, and the raw-SQL baseline) and answers the bench's requests one at a time over IPC
 * (load.protocol.ts). Not meant to be run by hand.
 */
import { formatAmount } from '@ledger/money';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { runOpenLoop } from '../lib/open-loop';
import { ownCpuMs } from '../lib/process-cpu';
import { runFor } from '../lib/run-for';
import { baselineTotals, insertBaselineWallets, migrateBaseline, SqlBaselineClient } from './baseline.sql';
import type { CellRun, ConservationCheck, Envelope, HotWallet, LoadInit, LoadRequest, Reply, SetupResult } from './load.protocol';
import { LeanGrpcTransferClient } from './lean-grpc.client';
import { LedgerGrpcClients, LedgerHttpClients, type TransferClient } from './service.clients';
import { ReasonTally, TRANSFER_OUTCOMES, type TransferOutcome } from './transfer-outcomes';
import { balanceToMinor, hotPicker, idempotencyKey, MAX_TRANSFER_MINOR, spreadPicker, transferAmountMinor, type PairPicker } from './transfer-plan';
import { baselinePoolSize, HOT_WALLET_SEND_BUDGET, maxMeasuredOps, socketsPerAgent, type CellPlan, type Transport } from './transfers.config';

const CURRENCY = 'USD';
const CURRENCY_EXPONENT = 2;
/** Every wallet, spread or hot, starts with 100,000.00 USD: far more than any run can move out of it. */
export const FUNDS_PER_WALLET_MINOR = 10_000_000n;
/** Requests in flight at once while opening and funding wallets, and while reading them back. */
const SETUP_CONCURRENCY = 64;
/** Extra time for in-flight answers after an open-loop schedule ends, on top of their own deadline. */
const DRAIN_SLACK_MS = 2_000;

if (HOT_WALLET_SEND_BUDGET * MAX_TRANSFER_MINOR > Number(FUNDS_PER_WALLET_MINOR)) {
  throw new Error('A hot wallet would not be funded for its whole send budget');
}

/** Amounts in major units by minor units, computed once: "0.01" … "0.99". */
const AMOUNT_TEXT = Array.from({ length: MAX_TRANSFER_MINOR + 1 }, (_, minor) => (minor === 0 ? '' : formatAmount(BigInt(minor), CURRENCY)));

interface State {
  readonly init: LoadInit;
  /** Setup, checks, and the Transfer calls when BENCH_GRPC_CLIENT=grpc-js. */
  readonly grpc: LedgerGrpcClients;
  /** The Transfer calls of gRPC cells when BENCH_GRPC_CLIENT=lean (the default). */
  readonly leanGrpc: LeanGrpcTransferClient;
  readonly http: LedgerHttpClients;
  /** Setup and checks of the baseline; each baseline cell has its own pool. */
  readonly admin: Pool;
  readonly wallets: string[];
  readonly hotWallets: { service: string[]; sql: string[] };
  /** Baseline transfers acknowledged, warm-up included: each must have its journal row. */
  sqlAcknowledged: number;
}

let state: State | undefined;

async function handle(request: LoadRequest): Promise<unknown> {
  switch (request.kind) {
    case 'init':
      return initialise(request.init);
    case 'setup':
      return setUp(ready());
    case 'hot':
      return openHotWallet(ready(), request.transport);
    case 'cell':
      return runCell(ready(), request.cell, request.index, request.hotWallet);
    case 'verify':
      return verify(ready());
    case 'close':
      await close();
      return null;
  }
}

function ready(): State {
  if (!state) throw new Error('The load process was not initialised');
  return state;
}

function initialise(init: LoadInit): null {
  const { config } = init;
  state = {
    init,
    grpc: new LedgerGrpcClients(init.grpcAddress, init.protoFile, config.grpcChannels, init.token, config.timeoutMs),
    leanGrpc: new LeanGrpcTransferClient(init.grpcAddress, config.grpcChannels, init.token, config.timeoutMs),
    http: new LedgerHttpClients(init.httpUrl, config.httpAgents, socketsPerAgent(config), init.token, config.timeoutMs),
    admin: new Pool({ connectionString: init.pgUrl, max: 2, application_name: 'bench-transfers-setup', connectionTimeoutMillis: 10_000 }),
    wallets: [],
    hotWallets: { service: [], sql: [] },
    sqlAcknowledged: 0,
  };
  return null;
}

async function setUp(s: State): Promise<SetupResult> {
  const started = Date.now();
  const { runId, config } = s.init;
  const ids = await mapConcurrent(config.wallets, SETUP_CONCURRENCY, (i) => openFundedWallet(s, `${runId}.w${i}`));
  s.wallets.push(...ids);
  if (config.transports.includes('sql')) {
    await migrateBaseline(s.admin);
    await insertBaselineWallets(s.admin, ids, FUNDS_PER_WALLET_MINOR);
  }
  return { wallets: ids.length, fundsPerWalletMinor: FUNDS_PER_WALLET_MINOR.toString(), seconds: (Date.now() - started) / 1_000 };
}

/** Opens a wallet for a bench owner and deposits its funds, through the service's gRPC API. */
async function openFundedWallet(s: State, tag: string): Promise<string> {
  const opened = await s.grpc.call<{ wallet: { wallet_id: string } }>('OpenWallet', { owner_id: `bench-owner-${tag}`, currency: CURRENCY, idempotency_key: `${tag}.open` });
  const walletId = opened.wallet.wallet_id;
  await s.grpc.call('Deposit', {
    wallet_id: walletId,
    amount: formatAmount(FUNDS_PER_WALLET_MINOR, CURRENCY),
    currency: CURRENCY,
    reference: 'bench funding',
    idempotency_key: `${tag}.fund`,
    transaction_pin: '',
  });
  return walletId;
}

/** A fresh hot source wallet for one hot cell (the ledger loads at most 100,000 events of a stream). */
async function openHotWallet(s: State, transport: Transport): Promise<HotWallet> {
  const tag = `${s.init.runId}.hot${s.hotWallets.service.length + s.hotWallets.sql.length}`;
  if (transport === 'sql') {
    const walletId = randomUUID();
    await insertBaselineWallets(s.admin, [walletId], FUNDS_PER_WALLET_MINOR);
    s.hotWallets.sql.push(walletId);
    return { walletId };
  }
  const walletId = await openFundedWallet(s, tag);
  s.hotWallets.service.push(walletId);
  return { walletId };
}

async function runCell(s: State, cell: CellPlan, index: number, hotWallet: string | null): Promise<CellRun> {
  const { config, runId } = s.init;
  const tally = new ReasonTally();
  let picker: PairPicker;
  if (cell.pattern === 'hot') {
    if (hotWallet === null) throw new Error('A hot cell needs its hot wallet');
    picker = hotPicker(hotWallet, s.wallets);
  } else {
    picker = spreadPicker(s.wallets);
  }
  let poolSize: number | null = null;
  let client: TransferClient;
  if (cell.transport === 'sql') {
    poolSize = baselinePoolSize(config, cell);
    const pool = new Pool({
      connectionString: s.init.pgUrl,
      max: poolSize,
      application_name: `bench-transfers-baseline-c${index}`,
      connectionTimeoutMillis: config.timeoutMs,
      query_timeout: config.timeoutMs,
      idleTimeoutMillis: 0, // keep every connection for the whole cell
    });
    pool.on('error', (error) => process.stderr.write(`baseline: idle connection error: ${error.message}\n`));
    client = new SqlBaselineClient(pool, config.baselineMode);
  } else {
    client = cell.transport === 'http' ? s.http : config.grpcClient === 'lean' ? s.leanGrpc : s.grpc;
  }

  let sequence = 0;
  let okTotal = 0;
  const send = async (): Promise<TransferOutcome> => {
    const n = sequence++;
    if (cell.pattern === 'hot' && n >= HOT_WALLET_SEND_BUDGET) {
      throw new Error(`The hot cell would send more than ${HOT_WALLET_SEND_BUDGET} transfers from one wallet; lower BENCH_SECONDS or BENCH_WARMUP_SECONDS`);
    }
    const { from, to } = picker();
    const amountMinor = transferAmountMinor(n);
    const reason = await client.transfer({ from, to, amount: AMOUNT_TEXT[amountMinor]!, amountMinor, currency: CURRENCY, idempotencyKey: idempotencyKey(runId, index, n) });
    if (reason === null) {
      okTotal += 1;
      return 'ok';
    }
    return tally.outcomeOf(reason);
  };

  const cpuBefore = ownCpuMs();
  try {
    if (cell.loop === 'closed') {
      const run = await runFor({
        workers: cell.level,
        warmupMs: config.warmupMs,
        durationMs: config.durationMs,
        maxOps: maxMeasuredOps(config, cell.pattern),
        outcomes: TRANSFER_OUTCOMES,
        op: send,
      });
      return {
        // runFor's rate counts every measured request; throughput here is successes only.
        transfersPerSecond: run.elapsedMs > 0 ? (run.outcomes.ok * 1_000) / run.elapsedMs : 0,
        measured: run.measuredOps,
        outcomes: run.outcomes,
        otherReasons: tally.snapshot(),
        latency: run.latency,
        totalOps: run.totalOps,
        hitMaxOps: run.hitMaxOps,
        dropped: 0,
        unfinished: 0,
        maxSendLagMs: null,
        maxInFlightSeen: null,
        clientCpuMs: ownCpuMs() - cpuBefore,
        poolSize,
      };
    }
    const run = await runOpenLoop({
      ratePerSecond: cell.level,
      warmupMs: config.warmupMs,
      durationMs: config.durationMs,
      maxInFlight: config.maxInFlight,
      drainTimeoutMs: config.timeoutMs + DRAIN_SLACK_MS,
      outcomes: TRANSFER_OUTCOMES,
      okOutcome: 'ok',
      op: send,
    });
    const measured = Object.values<number>(run.outcomes).reduce((a, b) => a + b, 0);
    return {
      transfersPerSecond: run.opsPerSecond,
      measured,
      outcomes: run.outcomes,
      otherReasons: tally.snapshot(),
      latency: run.latency,
      totalOps: run.totalOps,
      hitMaxOps: false,
      dropped: run.dropped,
      unfinished: run.unfinished,
      maxSendLagMs: run.maxSendLagMs,
      maxInFlightSeen: run.maxInFlightSeen,
      clientCpuMs: ownCpuMs() - cpuBefore,
      poolSize,
    };
  } finally {
    if (cell.transport === 'sql') {
      s.sqlAcknowledged += okTotal;
      await client.close();
    }
  }
}

/** Money is conserved: every wallet read back through the API (HTTP GET) sums to what was deposited. */
async function verify(s: State): Promise<ConservationCheck[]> {
  const checks: ConservationCheck[] = [];
  const serviceWallets = [...s.wallets, ...s.hotWallets.service];
  const balances = await mapConcurrent(serviceWallets.length, SETUP_CONCURRENCY, async (i) => {
    const reply = await s.http.send('GET', `/v1/wallets/${serviceWallets[i]!}`, undefined);
    if (reply.status !== 200) throw new Error(`GET wallet ${serviceWallets[i]!}: HTTP ${reply.status} ${reply.body.slice(0, 300)}`);
    return balanceToMinor((JSON.parse(reply.body) as { balance: string }).balance, CURRENCY_EXPONENT);
  });
  const deposited = FUNDS_PER_WALLET_MINOR * BigInt(serviceWallets.length);
  const sum = balances.reduce((a, b) => a + b, 0n);
  checks.push({ system: 'service', wallets: serviceWallets.length, depositedMinor: deposited.toString(), balancesMinor: sum.toString(), conserved: sum === deposited, journalRows: null, acknowledged: null });
  if (s.init.config.transports.includes('sql')) {
    const totals = await baselineTotals(s.admin);
    const baselineDeposited = FUNDS_PER_WALLET_MINOR * BigInt(totals.wallets);
    checks.push({
      system: 'baseline',
      wallets: totals.wallets,
      depositedMinor: baselineDeposited.toString(),
      balancesMinor: totals.balancesMinor.toString(),
      conserved: totals.balancesMinor === baselineDeposited && totals.journalRows === s.sqlAcknowledged,
      journalRows: totals.journalRows,
      acknowledged: s.sqlAcknowledged,
    });
  }
  return checks;
}

async function close(): Promise<void> {
  if (!state) return;
  await state.grpc.close();
  await state.leanGrpc.close();
  await state.http.close();
  await state.admin.end();
  state = undefined;
}

/** Runs fn(0) … fn(count - 1) with at most `concurrency` at once; results in index order. */
async function mapConcurrent<T>(count: number, concurrency: number, fn: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await fn(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

process.on('message', (message: Envelope) => {
  handle(message.request).then(
    (value) => process.send?.({ id: message.id, ok: true, value } satisfies Reply),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies Reply),
  );
});
process.on('disconnect', () => {
  // The bench went away: stop, whatever is running.
  void close().finally(() => process.exit(0));
});
