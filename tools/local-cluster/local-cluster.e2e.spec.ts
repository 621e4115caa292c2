import { Scopes } from '@ledger/auth';
import { PostgresEventStore } from '@ledger/event-store-postgres';
import { foldWallet, type ExistingWallet, type WalletEvent } from '@ledger/ledger-domain';
import { formatAmount } from '@ledger/money';
import { waitFor } from '@ledger/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { clusterServiceToken } from './cluster-token';
import { startLocalCluster, type LocalCluster } from './local-cluster';

/**
 * Cluster mode for real (issue 4, section 4): the ledger, two relays and the projector as
 * separate processes on the suite's PostgreSQL and Kafka. Transfers go in over REST while the
 * active relay and then the projector are killed with SIGKILL (and the projector restarted);
 * afterwards the read models must equal the balances recomputed from the event log, with one
 * history row per event (nothing skipped, nothing applied twice).
 */

const WALLETS = 12;
const TRANSFERS = 240;
const FUNDS = '1000.00';
const CURRENCY = 'USD';
const suffix = randomBytes(4).toString('hex');
const EVENT_STORE_SCHEMA = `es_cluster_${suffix}`;
const READ_MODELS_SCHEMA = `rm_cluster_${suffix}`;

let cluster: LocalCluster;
let dataDir: string;
let pool: Pool;
const lines: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ledger-cluster-e2e-'));
  cluster = await startLocalCluster({
    dataDir,
    databaseUrl: process.env['DATABASE_URL'] as string,
    kafkaBrokers: process.env['KAFKA_BROKERS'] as string,
    ledgerHttpPort: 0,
    ledgerGrpcPort: 0,
    payoutsHttpPort: 0,
    payoutsGrpcPort: 0,
    relays: 2,
    logLevel: 'warn',
    output: (line) => void (lines.length < 2_000 && lines.push(line)),
    extraEnv: {
      EVENT_STORE_SCHEMA,
      READ_MODELS_SCHEMA,
      AUTH_SCHEMA: `auth_cluster_${suffix}`,
      KAFKA_GROUP_ID: `projector-${suffix}`,
      RELAY_CONSUMER_ID: `relay-${suffix}`,
      HOLD_EXPIRY_ENABLED: 'false',
      // The payout topics and the saga's consumer group are fixed names shared by every cluster on
      // this Kafka (payouts-resume.e2e.spec.ts runs one alongside): this test leaves them alone.
      PAYOUTS_SCHEMA: `po_cluster_${suffix}`,
      PAYOUTS_SAGA_ENABLED: 'false',
      PAYOUT_COMMANDS_ENABLED: 'false',
    },
  });
  pool = new Pool({ connectionString: cluster.databaseUrl, max: 4 });
}, 180_000);

afterAll(async () => {
  await pool?.end();
  await cluster?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

function token(): string {
  return clusterServiceToken(cluster, { subject: 'cluster-e2e', scopes: [Scopes.ledgerService, Scopes.ledgerAdmin], ttlSeconds: 600 });
}

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${cluster.ledgerHttpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json', ...(method === 'POST' ? { 'idempotency-key': randomUUID() } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

it('read models built through relay, Kafka and projector equal the balances folded from the log, across kill -9 of the relay and the projector', async () => {
  const wallets: string[] = [];
  for (let i = 0; i < WALLETS; i += 1) {
    const opened = await call('POST', '/v1/wallets', { currency: CURRENCY, ownerId: `owner-${i}` });
    expect(opened.status).toBe(201);
    const walletId = (opened.body['wallets'] as Array<{ walletId: string }>)[0]!.walletId;
    expect((await call('POST', `/v1/wallets/${walletId}/deposits`, { amount: FUNDS, currency: CURRENCY })).status).toBe(201);
    wallets.push(walletId);
  }

  let highest = 0n;
  let accepted = 0;
  const transfer = async (i: number): Promise<void> => {
    const from = wallets[i % WALLETS]!;
    const to = wallets[(i * 7 + 1) % WALLETS]!;
    if (from === to) return;
    const result = await call('POST', '/v1/transfers', { fromWalletId: from, toWalletId: to, amount: formatAmount(BigInt(1 + (i % 250)), CURRENCY), currency: CURRENCY });
    expect([201, 422]).toContain(result.status); // 422: INSUFFICIENT_FUNDS is a fine outcome
    if (result.status === 201) {
      accepted += 1;
      const position = BigInt(result.body['position'] as string);
      if (position > highest) highest = position;
    }
  };
  // Three waves; between them a SIGKILL of the active relay, then of the projector (restarted).
  const wave = async (start: number, count: number): Promise<void> => {
    for (let i = start; i < start + count; i += 8) await Promise.all(Array.from({ length: Math.min(8, start + count - i) }, (_, k) => transfer(i + k)));
  };
  await wave(0, TRANSFERS / 3);
  await cluster.relays[0]!.kill(); // the first relay to start holds the lock
  await wave(TRANSFERS / 3, TRANSFERS / 3);
  await cluster.projector.kill();
  await wave((2 * TRANSFERS) / 3, TRANSFERS / 3);
  await cluster.restartProjector();
  expect(accepted).toBeGreaterThan(TRANSFERS / 2);

  // Read-your-writes: the multi-wallet read waits (bounded) until it reflects the last transfer.
  let balances: Record<string, unknown> = {};
  await waitFor(
    async () => {
      const answer = await call('GET', `/v1/queries/balances?walletIds=${wallets.join(',')}&minPosition=${highest}`);
      if (answer.status === 200) balances = answer.body;
      return answer.status === 200;
    },
    60_000,
    'the read models to reach the last transfer',
  );
  expect(BigInt(balances['watermark'] as string)).toBeGreaterThanOrEqual(highest);

  // The log, folded with the domain's own evolve, is the truth.
  const store = new PostgresEventStore({ pool, schema: EVENT_STORE_SCHEMA });
  const byWallet = new Map<string, WalletEvent[]>();
  for (let from = 0n; ; ) {
    const page = await store.readAll({ fromPosition: from, maxCount: 1_000, filter: { categories: ['wallet'] } });
    for (const event of page.events) {
      const walletId = event.streamId.slice('wallet-'.length);
      byWallet.set(walletId, [...(byWallet.get(walletId) ?? []), { type: event.type, data: event.data } as WalletEvent]);
    }
    from = page.checkpoint;
    if (!page.isEndOfBatch) break;
  }
  const answered = balances['balances'] as Array<{ walletId: string; balance: string; held: string; revision: string }>;
  expect(answered.map((b) => b.walletId)).toEqual(wallets);
  let total = 0n;
  for (const row of answered) {
    const events = byWallet.get(row.walletId) ?? [];
    const folded = foldWallet(events) as ExistingWallet;
    expect({ walletId: row.walletId, balance: row.balance, held: row.held, revision: row.revision }).toEqual({
      walletId: row.walletId,
      balance: formatAmount(folded.balanceMinor, CURRENCY),
      held: formatAmount(folded.heldMinor, CURRENCY),
      revision: String(events.length - 1),
    });
    total += folded.balanceMinor;
  }
  expect(total).toBe(BigInt(WALLETS) * 100_000n);

  // One history row per event of every wallet stream: nothing skipped, nothing applied twice.
  // (Only this test's wallets: another cluster test on the same Kafka publishes to the same topic.)
  const { rows } = await pool.query<{ live_version: number }>(`SELECT live_version FROM ${READ_MODELS_SCHEMA}.projection_state WHERE projection = 'wallets'`);
  const { rows: counts } = await pool.query<{ wallet_id: string; n: string }>(
    `SELECT wallet_id, count(*)::text AS n FROM ${READ_MODELS_SCHEMA}.wallet_history_v${rows[0]!.live_version} WHERE wallet_id = ANY($1::text[]) GROUP BY wallet_id`,
    [wallets],
  );
  expect(Object.fromEntries(counts.map((c) => [c.wallet_id, Number(c.n)]))).toEqual(Object.fromEntries(wallets.map((w) => [w, byWallet.get(w)!.length])));
}, 300_000);
