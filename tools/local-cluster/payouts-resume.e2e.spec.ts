import { Scopes } from '@ledger/auth';
import { foldWallet, walletStreamId, type ExistingWallet, type WalletEvent } from '@ledger/ledger-domain';
import { formatAmount } from '@ledger/money';
import { PAYOUT_ROWS_PER_CHUNK } from '@ledger/payouts-domain';
import { payoutRowKey } from '@ledger/payouts-messages';
import { waitFor } from '@ledger/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { clusterServiceToken } from './cluster-token';
import { startLocalCluster, type LocalCluster } from './local-cluster';

/**
 * A batch payout survives kill -9 of every process it runs through (ADR 0008), in cluster mode:
 * the ledger, two relays, the projector and the payouts service as separate processes on the
 * suite's PostgreSQL and Kafka. A batch of ROWS rows (several chunks) is uploaded and executed
 * over REST, and while it runs the payouts process (the saga) is killed after the first chunk
 * settled, the ledger in the middle of a chunk (some of its rows paid, some not), then the active
 * relay and the projector; each is started again. The batch must still complete, and the event
 * store must show every row paid exactly once: one HoldDrawn per row key, balances that add up,
 * nothing left held. The read models (relay → Kafka → projector) must agree with the log.
 */

const RECIPIENTS = 50;
const ROWS = 3_000;
const CURRENCY = 'USD';
const INITIAL_MINOR = 10_000_000n; // 100,000.00
const suffix = randomBytes(4).toString('hex');
const EVENT_STORE_SCHEMA = `es_payres_${suffix}`;
const READ_MODELS_SCHEMA = `rm_payres_${suffix}`;
/** Bound on the batch reaching COMPLETED after the last kill. */
const COMPLETION_TIMEOUT_MS = 120_000;
/** Bound on each kill point's condition (the batch reaching the moment). */
const MOMENT_TIMEOUT_MS = 60_000;
/** Bound on everything from execute to the last check, whatever the single bounds above allow. */
const SCENARIO_BUDGET_MS = 140_000;
/** The ledger is killed about halfway through a chunk: this many of its rows paid at least... */
const MID_CHUNK_MIN_PAID = 200;
/** ...and at least this many not. */
const MID_CHUNK_MIN_UNPAID = 25;

// Debugging: PAYOUTS_RESUME_LOG=<file> appends every service log line to that file;
// PAYOUTS_RESUME_LOG_LEVEL=log (default warn) makes the services say more.
let cluster: LocalCluster;
let dataDir: string;
let pool: Pool;
/** The last service log lines (warnings and errors), shown when the test fails. */
const lines: string[] = [];
const timeline: string[] = [];
/** Times a consumer group member lost its membership mid-message (kafkajs: 'not aware of this member'), by group. */
const rejoins = new Map<string, number>();
/** What a failure report looks at: the source wallet and batch of the scenario, once known. */
const scenario: { sourceWalletId?: string; batchId?: string } = {};
const started = Date.now();
const note = (line: string): void => void timeline.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ledger-payouts-resume-'));
  cluster = await startLocalCluster({
    dataDir,
    databaseUrl: process.env['DATABASE_URL'] as string,
    kafkaBrokers: process.env['KAFKA_BROKERS'] as string,
    ledgerHttpPort: 0,
    ledgerGrpcPort: 0,
    payoutsHttpPort: 0,
    payoutsGrpcPort: 0,
    relays: 2,
    logLevel: process.env['PAYOUTS_RESUME_LOG_LEVEL'] ?? 'warn',
    output: (line) => {
      if (line.includes('The coordinator is not aware of this member, re-joining the group')) {
        const group = /"groupId":"([^"]+)"/.exec(line)?.[1] ?? 'unknown';
        rejoins.set(group, (rejoins.get(group) ?? 0) + 1);
      }
      if (process.env['PAYOUTS_RESUME_LOG']) appendFileSync(process.env['PAYOUTS_RESUME_LOG'], `${line}\n`);
      lines.push(line);
      if (lines.length > 400) lines.shift();
    },
    extraEnv: {
      EVENT_STORE_SCHEMA,
      READ_MODELS_SCHEMA,
      AUTH_SCHEMA: `auth_payres_${suffix}`,
      PAYOUTS_SCHEMA: `po_payres_${suffix}`,
      KAFKA_GROUP_ID: `projector-payres-${suffix}`,
      RELAY_CONSUMER_ID: `relay-payres-${suffix}`,
      PAYOUT_CONSUMER_GROUP: `ledger-payout-commands-${suffix}`,
      HOLD_EXPIRY_ENABLED: 'false',
      // Slow enough to be interrupted: one chunk at a time waits on the ledger.
      PAYOUT_MAX_INFLIGHT_CHUNKS: '1',
      PAYOUT_SAGA_POLL_MS: '200',
    },
  });
  pool = new Pool({ connectionString: cluster.databaseUrl, max: 4 });
}, 180_000);

afterAll(async () => {
  await pool?.end();
  await cluster?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 90_000);

function token(): string {
  return clusterServiceToken(cluster, { subject: 'payouts-resume-e2e', scopes: [Scopes.ledgerService, Scopes.ledgerAdmin, Scopes.payoutsExecute], ttlSeconds: 900 });
}

type Answer = { status: number; body: Record<string, unknown> };

async function call(base: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const csv = typeof body === 'string';
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token()}`,
      'content-type': csv ? 'text/csv' : 'application/json',
      ...(method === 'POST' ? { 'idempotency-key': randomUUID() } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: csv ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
const ledger = (method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> => call(cluster.ledgerHttpUrl, method, path, body);
const payouts = (method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> =>
  call(cluster.payoutsHttpUrl, method, path, body, headers);

interface BatchView {
  status: string;
  counts: Record<'PENDING' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED' | 'REVERSED' | 'REVERSAL_FAILED', number>;
  paidTotal: string;
  validRows: number;
  holdId: string | null;
  reservation: string;
}

async function openWallet(ownerId: string, deposit?: bigint): Promise<{ walletId: string; position: bigint }> {
  const opened = await ledger('POST', '/v1/wallets', { currency: CURRENCY, ownerId });
  if (opened.status !== 201) throw new Error(`open wallet: ${opened.status} ${JSON.stringify(opened.body)}`);
  const walletId = (opened.body['wallets'] as Array<{ walletId: string }>)[0]!.walletId;
  let position = BigInt(opened.body['position'] as string);
  if (deposit !== undefined) {
    const deposited = await ledger('POST', `/v1/wallets/${walletId}/deposits`, { amount: formatAmount(deposit, CURRENCY), currency: CURRENCY });
    if (deposited.status !== 201) throw new Error(`deposit: ${deposited.status} ${JSON.stringify(deposited.body)}`);
    position = BigInt(deposited.body['position'] as string);
  }
  return { walletId, position };
}

/** The source wallet's HoldDrawn events so far: rows the ledger has paid (straight from the store). */
async function drawnRows(sourceWalletId: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${EVENT_STORE_SCHEMA}.events WHERE stream_id = $1 AND type = 'HoldDrawn'`, [
    walletStreamId(sourceWalletId),
  ]);
  return Number(rows[0]!.n);
}

/** A wallet stream as stored (type, data, metadata as written), in revision order. */
async function walletEvents(walletId: string): Promise<Array<{ type: string; data: Record<string, unknown>; metadata: Record<string, unknown>; position: bigint }>> {
  const { rows } = await pool.query<{ type: string; data: Record<string, unknown>; metadata: Record<string, unknown>; position: string }>(
    `SELECT type, data, metadata, position::text FROM ${EVENT_STORE_SCHEMA}.events WHERE stream_id = $1 ORDER BY revision`,
    [walletStreamId(walletId)],
  );
  return rows.map((row) => ({ ...row, position: BigInt(row.position) }));
}

it('pays every row of a multi-chunk batch exactly once across kill -9 of the saga, the ledger mid-chunk, the active relay and the projector', async () => {
  try {
    await runScenario();
  } catch (error) {
    const state = await Promise.all([
      scenario.sourceWalletId ? drawnRows(scenario.sourceWalletId).then((n) => `${n} rows drawn`) : 'no source wallet yet',
      scenario.batchId ? payouts('GET', `/v1/payouts/batches/${scenario.batchId}`).then((a) => `batch ${String(a.body['status'])} ${JSON.stringify(a.body['counts'])}`) : 'no batch yet',
    ]).catch((e: unknown) => [`state unavailable: ${String(e)}`]);
    note(`failed: ${state.join('; ')}; consumer group members expelled mid-message: ${JSON.stringify(Object.fromEntries(rejoins))}`);
    (error as Error).message += `\n--- timeline\n${timeline.join('\n')}\n--- last service log lines\n${lines.slice(-60).join('\n')}`;
    throw error;
  }
}, 300_000);

async function runScenario(): Promise<void> {
  // ---- wallets: one funded source, RECIPIENTS recipients, visible to the payouts intake -------
  const source = await openWallet('payroll-owner', INITIAL_MINOR);
  scenario.sourceWalletId = source.walletId;
  const recipients: string[] = [];
  let highest = source.position;
  for (let i = 0; i < RECIPIENTS; i += 10) {
    const opened = await Promise.all(Array.from({ length: Math.min(10, RECIPIENTS - i) }, (_, k) => openWallet(`recipient-${i + k}`)));
    for (const { walletId, position } of opened) {
      recipients.push(walletId);
      if (position > highest) highest = position;
    }
  }
  // The intake looks recipients up in the wallet read model (relay → Kafka → projector).
  await waitFor(
    async () => (await ledger('GET', `/v1/queries/balances?walletIds=${[source.walletId, ...recipients].join(',')}&minPosition=${highest}`)).status === 200,
    MOMENT_TIMEOUT_MS,
    'the read models to show every wallet',
  );
  note('wallets open and projected');

  // ---- the batch: ROWS rows, unique references, several chunks ---------------------------------
  const rows = Array.from({ length: ROWS }, (_, i) => ({ row: i + 1, recipient: recipients[i % RECIPIENTS]!, amountMinor: BigInt(100 + ((i * 37) % 900)) }));
  const total = rows.reduce((sum, r) => sum + r.amountMinor, 0n);
  const csv = ['recipient_id,amount,reference', ...rows.map((r) => `${r.recipient},${formatAmount(r.amountMinor, CURRENCY)},row ${r.row}`)].join('\n');
  const created = await payouts('POST', '/v1/payouts/batches', { sourceWalletId: source.walletId, currency: CURRENCY, description: 'kill -9 resume test' });
  expect(created.status).toBe(201);
  const batchId = (created.body['batch'] as { batchId: string }).batchId;
  scenario.batchId = batchId;
  const uploaded = await payouts('PUT', `/v1/payouts/batches/${batchId}/rows`, csv);
  expect(uploaded.status).toBe(200);
  expect(uploaded.body).toMatchObject({ rows: ROWS, validRows: ROWS, invalidRows: 0, validTotal: formatAmount(total, CURRENCY) });
  const batch = async (): Promise<BatchView> => {
    const answer = await payouts('GET', `/v1/payouts/batches/${batchId}`);
    if (answer.status !== 200) throw new Error(`GET batch: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body as unknown as BatchView;
  };
  expect((await payouts('POST', `/v1/payouts/batches/${batchId}/execute`, {})).status).toBe(200);
  const deadline = Date.now() + SCENARIO_BUDGET_MS;
  const bounded = (ms: number): number => Math.max(1, Math.min(ms, deadline - Date.now()));
  note(`batch ${batchId} executing: ${ROWS} rows in ${Math.ceil(ROWS / PAYOUT_ROWS_PER_CHUNK)} chunks, total ${formatAmount(total, CURRENCY)}`);

  // ---- kill 1: the payouts process (the saga), once the first chunk has settled ---------------
  let view: BatchView | undefined;
  await waitFor(async () => {
    view = await batch();
    return view.counts.SUCCEEDED >= PAYOUT_ROWS_PER_CHUNK && view.counts.PROCESSING > 0;
  }, bounded(MOMENT_TIMEOUT_MS), 'the first chunk to settle and the next to be dispatched');
  await cluster.payouts.kill();
  const paidAtSagaKill = await drawnRows(source.walletId);
  note(`kill -9 payouts: batch ${view?.status}, ${JSON.stringify(view?.counts)}; ${paidAtSagaKill} rows drawn`);
  expect(paidAtSagaKill).toBeLessThan(ROWS);
  await cluster.restartPayouts();
  note('payouts restarted');
  // The restarted saga re-sends the chunk it had in flight (the ledger may have paid it meanwhile)
  // and records the answer.
  await waitFor(async () => {
    view = await batch();
    return view.counts.SUCCEEDED >= 2 * PAYOUT_ROWS_PER_CHUNK;
  }, bounded(MOMENT_TIMEOUT_MS), 'the restarted saga to record the chunk that was in flight when it was killed');
  note(`chunk in flight at the saga kill recorded: ${JSON.stringify(view?.counts)}`);

  // ---- kill 2: the ledger in the middle of a chunk (some of its rows paid, not all) -----------
  // About halfway, so the command redelivered to the restarted ledger has many rows to replay and
  // some to pay. The count read after the kill is final (nothing else appends to the source wallet).
  let paidAtLedgerKill = await drawnRows(source.walletId);
  for (let attempt = 1; ; attempt += 1) {
    const after = Math.ceil(paidAtLedgerKill / PAYOUT_ROWS_PER_CHUNK) * PAYOUT_ROWS_PER_CHUNK;
    await waitFor(async () => {
      const drawn = await drawnRows(source.walletId);
      const inChunk = drawn % PAYOUT_ROWS_PER_CHUNK;
      return drawn > after && inChunk >= MID_CHUNK_MIN_PAID && inChunk <= PAYOUT_ROWS_PER_CHUNK - MID_CHUNK_MIN_UNPAID;
    }, bounded(MOMENT_TIMEOUT_MS), `the ledger to be part way through a chunk after row ${after}`);
    await cluster.ledger.kill();
    paidAtLedgerKill = await drawnRows(source.walletId);
    note(`kill -9 ledger (attempt ${attempt}): ${paidAtLedgerKill} rows drawn (${paidAtLedgerKill % PAYOUT_ROWS_PER_CHUNK} into a chunk)`);
    await cluster.restartLedger();
    note('ledger restarted');
    if (paidAtLedgerKill % PAYOUT_ROWS_PER_CHUNK !== 0) break;
    // The chunk's last rows landed between the check and the kill: try the next chunk.
    if (attempt === 2 || paidAtLedgerKill + PAYOUT_ROWS_PER_CHUNK >= ROWS) throw new Error(`no ledger kill landed mid-chunk (${paidAtLedgerKill} rows drawn)`);
  }
  expect(paidAtLedgerKill).toBeLessThan(ROWS);

  // ---- kills 3 and 4: the active relay, then the projector, while the ledger pays again -------
  await waitFor(async () => (await drawnRows(source.walletId)) > paidAtLedgerKill, bounded(MOMENT_TIMEOUT_MS), 'the restarted ledger to pay rows');
  const active = await cluster.activeRelay();
  await active.kill();
  note(`kill -9 ${active.spec.name} (active relay): ${await drawnRows(source.walletId)} rows drawn`);
  await cluster.projector.kill();
  const paidAtProjectorKill = await drawnRows(source.walletId);
  note(`kill -9 projector: ${paidAtProjectorKill} rows drawn`);
  expect(paidAtProjectorKill).toBeLessThan(ROWS);
  await Promise.all([cluster.restartRelay(active), cluster.restartProjector()]);
  note(`relay ${(await cluster.activeRelay()).spec.name} active; projector restarted`);

  // ---- the batch completes ---------------------------------------------------------------------
  await waitFor(async () => {
    view = await batch();
    return !['PENDING', 'VALIDATED', 'PROCESSING'].includes(view.status);
  }, bounded(COMPLETION_TIMEOUT_MS), 'the batch to finish');
  note(`batch ${view?.status}: ${JSON.stringify(view?.counts)}`);
  const done = view as BatchView;
  expect(done).toMatchObject({ status: 'COMPLETED', validRows: ROWS, paidTotal: formatAmount(total, CURRENCY) });
  expect(done.counts).toEqual({ PENDING: 0, PROCESSING: 0, SUCCEEDED: ROWS, FAILED: 0, REVERSED: 0, REVERSAL_FAILED: 0 });
  const holdId = done.holdId as string;
  expect(holdId).toEqual(expect.any(String));

  // ---- the event store: every row paid exactly once ---------------------------------------------
  const sourceEvents = await walletEvents(source.walletId);
  const draws = sourceEvents.filter((e) => e.type === 'HoldDrawn');
  const drawsByKey = new Map<string, typeof draws>();
  for (const draw of draws) {
    const key = String(draw.metadata['idempotencyKey']);
    drawsByKey.set(key, [...(drawsByKey.get(key) ?? []), draw]);
  }
  const twice = [...drawsByKey].filter(([, list]) => list.length > 1).map(([key, list]) => `${key} ×${list.length}`);
  expect(twice).toEqual([]);
  const expectedKeys = rows.map((r) => payoutRowKey(batchId, r.row));
  expect([...drawsByKey.keys()].sort()).toEqual([...expectedKeys].sort());
  const mismatched = rows.filter((r) => {
    const draw = drawsByKey.get(payoutRowKey(batchId, r.row))![0]!;
    const to = draw.data['to'] as { walletId?: string };
    return draw.data['drawnMinor'] !== r.amountMinor.toString() || to.walletId !== r.recipient || draw.data['holdId'] !== holdId;
  });
  expect(mismatched.map((r) => r.row)).toEqual([]);

  // Each recipient: one credit per row paid to it, balance = the sum of its rows, nothing held.
  const folded = new Map<string, ExistingWallet>();
  let lastPosition = sourceEvents.at(-1)!.position;
  for (const recipient of recipients) {
    const events = await walletEvents(recipient);
    if (events.at(-1)!.position > lastPosition) lastPosition = events.at(-1)!.position;
    const own = rows.filter((r) => r.recipient === recipient);
    const credits = events.filter((e) => e.type === 'TransferCredited');
    expect(credits.map((e) => String(e.metadata['idempotencyKey'])).sort()).toEqual(own.map((r) => payoutRowKey(batchId, r.row)).sort());
    const wallet = foldWallet(events as unknown as WalletEvent[]) as ExistingWallet;
    expect({ recipient, balance: wallet.balanceMinor, held: wallet.heldMinor }).toEqual({ recipient, balance: own.reduce((s, r) => s + r.amountMinor, 0n), held: 0n });
    folded.set(recipient, wallet);
  }
  // The source: initial − total, nothing held (the hold was drawn in full).
  const sourceWallet = foldWallet(sourceEvents as unknown as WalletEvent[]) as ExistingWallet;
  expect({ balance: sourceWallet.balanceMinor, held: sourceWallet.heldMinor }).toEqual({ balance: INITIAL_MINOR - total, held: 0n });
  folded.set(source.walletId, sourceWallet);

  note('event store checked');
  // ---- the read models (relay → Kafka → projector, across their kills) agree with the log -----
  let balances: Array<{ walletId: string; balance: string; held: string }> = [];
  await waitFor(
    async () => {
      const answer = await ledger('GET', `/v1/queries/balances?walletIds=${[source.walletId, ...recipients].join(',')}&minPosition=${lastPosition}`);
      if (answer.status === 200) balances = answer.body['balances'] as typeof balances;
      return answer.status === 200;
    },
    bounded(MOMENT_TIMEOUT_MS),
    'the read models to reach the last payout',
  );
  expect(balances.map((b) => ({ walletId: b.walletId, balance: b.balance, held: b.held }))).toEqual(
    [source.walletId, ...recipients].map((walletId) => ({
      walletId,
      balance: formatAmount(folded.get(walletId)!.balanceMinor, CURRENCY),
      held: formatAmount(folded.get(walletId)!.heldMinor, CURRENCY),
    })),
  );
  note('read models checked');
}
