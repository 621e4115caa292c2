import { issueDevToken, loadAuthConfig, Scopes, type JwtVerifierConfig, type Principal } from '@ledger/auth';
import { startEmbeddedPostgres, type RunningPostgres } from '@ledger/infra';
import { JsonLogger } from '@ledger/nest';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadLedgerConfig } from '../../services/ledger/src/config/ledger.config';
import { startLedgerApp, type LedgerApp } from '../../services/ledger/src/ledger.app';
import { WALLET_COMMANDS } from '../../services/ledger/src/ledger.tokens';
import type { WalletCommandsService } from '../../services/ledger/src/wallets/wallet-commands.service';
import { loadPayoutsConfig } from '../../services/payouts/src/config/payouts.config';
import { startPayoutsApp, type PayoutsApp } from '../../services/payouts/src/payouts.app';
import { startLocalCluster, type LocalCluster } from '../../tools/local-cluster/local-cluster';
import type { Mode } from './payouts.config';
import { forEachBounded, RestClient } from './rest-client';

/**
 * The platform under test, in either mode, as the bench drives it: REST addresses, a service
 * token, setup helpers (opening and funding wallets, not timed), and the processes whose CPU is
 * measured. Embedded: ledger + payouts in this process on one embedded PostgreSQL. Cluster:
 * tools/local-cluster (PostgreSQL, Kafka, ledger, relay, projector, payouts: each a process).
 */
export interface Platform {
  readonly mode: Mode;
  readonly ledgerUrl: string;
  readonly payoutsUrl: string;
  readonly databaseUrl: string;
  readonly rest: RestClient;
  /** Embedded only: the ledger's own command service (setup and the baseline). */
  readonly commands: WalletCommandsService | undefined;
  /** Process trees whose CPU is measured per phase, by name. `self` is this process. */
  readonly processes: ReadonlyArray<{ readonly name: string; readonly pid: number | 'self' }>;
  /** Remarks printed with the results (e.g. how the payouts process was started). */
  readonly notes: readonly string[];
  /** Opens `count` wallets in USD; returns their ids and the highest position written. */
  openWallets(count: number, ownerOf: (index: number) => string, concurrency: number): Promise<{ ids: string[]; lastPosition: bigint }>;
  /** Deposits `amount` (a decimal string) into a wallet; returns the position. */
  deposit(walletId: string, amount: string): Promise<bigint>;
  close(): Promise<void>;
}

export const CURRENCY = 'USD';
/** The principal of every bench call: a service with ledger:service (no PIN) and ledger:admin (deposits). */
export const BENCH_SUBJECT = 'bench-payouts';
const SCOPES = [Scopes.ledgerService, Scopes.ledgerAdmin];
const TOKEN_TTL_SECONDS = 600;
const SERVICE_PRINCIPAL: Principal = { subject: BENCH_SUBJECT, kind: 'service', scopes: SCOPES };

/** A token source that issues a fresh token well before the previous one expires. */
function tokens(jwt: JwtVerifierConfig): () => string {
  let token = '';
  let issuedAt = 0;
  return () => {
    if (Date.now() - issuedAt > (TOKEN_TTL_SECONDS / 2) * 1_000) {
      token = issueDevToken({ subject: BENCH_SUBJECT, kind: 'service', scopes: SCOPES, ttlSeconds: TOKEN_TTL_SECONDS }, jwt);
      issuedAt = Date.now();
    }
    return token;
  };
}

/** A logger for services in this process: warnings and errors only, on stderr, marked. */
function serviceLogger(name: string): JsonLogger {
  return new JsonLogger(name, 'warn', (line) => void process.stderr.write(`[${name}] ${line}\n`));
}

/**
 * Refuses a server that would acknowledge commits before they are on disk: the targets are about
 * a ledger that loses nothing.
 */
export async function assertDurable(databaseUrl: string): Promise<string> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method') ORDER BY name`,
    );
    const settings = Object.fromEntries(rows.map((row) => [row.name, row.setting]));
    if (settings['fsync'] !== 'on' || settings['synchronous_commit'] !== 'on') {
      throw new Error(`PostgreSQL must run with fsync=on and synchronous_commit=on; it runs with ${JSON.stringify(settings)}`);
    }
    return rows.map((row) => `${row.name}=${row.setting}`).join(', ');
  } finally {
    await client.end();
  }
}

/** Ledger + payouts in this process (the test kit's wiring), on a fresh embedded PostgreSQL. */
export async function startEmbeddedPlatform(root: string, settings: Readonly<Record<string, string>>, log: (line: string) => void): Promise<Platform> {
  const postgres: RunningPostgres = await startEmbeddedPostgres({ dataDir: join(root, 'postgres'), port: 0 });
  let ledger: LedgerApp | undefined;
  let payouts: PayoutsApp | undefined;
  try {
    const env: Record<string, string> = {
      ...settings,
      DATABASE_URL: postgres.url,
      JWT_SECRET: randomBytes(32).toString('hex'),
      JWT_ISSUER: 'ledger-bench',
      JWT_AUDIENCE: 'ledger-bench-api',
      HTTP_PORT: '0',
      GRPC_PORT: '0',
      PAYOUTS_HTTP_PORT: '0',
      PAYOUTS_GRPC_PORT: '0',
      // Embedded mode: the wallet projection runs in the ledger's process (the payouts intake reads it).
      PROJECTION_IN_PROCESS: 'true',
      PAYOUT_SPOOL_DIR: root,
      LOG_LEVEL: 'warn',
    };
    const ledgerConfig = loadLedgerConfig(env);
    ledger = await startLedgerApp(ledgerConfig, serviceLogger('ledger'));
    payouts = await startPayoutsApp(loadPayoutsConfig(env), serviceLogger('payouts'));
    log(`[embedded] ledger ${ledger.url}, payouts ${payouts.url}, PostgreSQL ${postgres.url} (pid ${postgres.pid})`);
    const commands = ledger.app.get<WalletCommandsService>(WALLET_COMMANDS);
    const rest = new RestClient(tokens(ledgerConfig.auth.jwt));
    const ledgerApp = ledger;
    const payoutsApp = payouts;
    return {
      mode: 'embedded',
      ledgerUrl: ledger.url,
      payoutsUrl: payouts.url,
      databaseUrl: postgres.url,
      rest,
      commands,
      processes: [
        { name: 'bench process (ledger + payouts + client)', pid: 'self' },
        { name: 'postgres', pid: postgres.pid },
      ],
      notes: [],
      async openWallets(count, ownerOf, concurrency) {
        const ids = new Array<string>(count);
        let lastPosition = 0n;
        await forEachBounded(count, concurrency, async (i) => {
          const opened = await commands.openWallet(SERVICE_PRINCIPAL, { ownerId: ownerOf(i), currency: CURRENCY, idempotencyKey: `bench-open-${randomUUID()}` });
          ids[i] = opened.wallets[0]!.walletId as string;
          const position = BigInt(opened.position);
          if (position > lastPosition) lastPosition = position;
        });
        return { ids, lastPosition };
      },
      async deposit(walletId, amount) {
        const done = await commands.deposit(SERVICE_PRINCIPAL, { walletId, amount, currency: CURRENCY, idempotencyKey: `bench-deposit-${randomUUID()}` });
        return BigInt(done.position);
      },
      async close() {
        rest.close();
        await payoutsApp.close().catch((error: unknown) => log(`[embedded] stopping payouts: ${String(error)}`));
        await ledgerApp.close().catch((error: unknown) => log(`[embedded] stopping ledger: ${String(error)}`));
        await postgres.stop().catch(() => undefined);
      },
    };
  } catch (error) {
    await payouts?.close().catch(() => undefined);
    await ledger?.close().catch(() => undefined);
    await postgres.stop().catch(() => undefined);
    throw error;
  }
}

/** tools/local-cluster: PostgreSQL, Kafka, ledger, one relay, projector and payouts, each its own process. */
export async function startClusterPlatform(root: string, settings: Readonly<Record<string, string>>, log: (line: string) => void): Promise<Platform> {
  const pids = new Map<string, number>();
  const output = (line: string): void => {
    const started = /^\[cluster\] (PostgreSQL|Kafka) \S+ \(pid (\d+)\)/.exec(line);
    if (started) pids.set(started[1] === 'PostgreSQL' ? 'postgres' : 'kafka', Number(started[2]));
    // Services log JSON at warn and above; the cluster's own lines say what starts.
    if (line.startsWith('[cluster]') || /"level":"(warn|error|fatal)"/.test(line)) log(line);
  };
  const cluster: LocalCluster = await startLocalCluster({
    dataDir: join(root, 'cluster'),
    ledgerHttpPort: 0,
    ledgerGrpcPort: 0,
    payoutsHttpPort: 0,
    payoutsGrpcPort: 0,
    relays: 1,
    logLevel: 'warn',
    output,
    extraEnv: { ...settings, PAYOUT_SPOOL_DIR: root },
  });
  try {
    const { jwt } = loadAuthConfig({ JWT_SECRET: cluster.jwt.secret, JWT_ISSUER: cluster.jwt.issuer, JWT_AUDIENCE: cluster.jwt.audience }, { allowDevSecret: false });
    const rest = new RestClient(tokens(jwt));
    const processes: Array<{ name: string; pid: number | 'self' }> = [
      { name: 'ledger', pid: cluster.ledger.pid },
      { name: 'payouts', pid: cluster.payouts.pid },
      ...cluster.relays.map((relay) => ({ name: relay.spec.name, pid: relay.pid })),
      { name: 'projector', pid: cluster.projector.pid },
      ...[...pids].map(([name, pid]) => ({ name, pid })),
      { name: 'bench process (client)', pid: 'self' as const },
    ];
    const ledgerUrl = cluster.ledgerHttpUrl;
    return {
      mode: 'cluster',
      ledgerUrl,
      payoutsUrl: cluster.payoutsHttpUrl,
      databaseUrl: cluster.databaseUrl,
      rest,
      commands: undefined,
      processes,
      notes: [],
      async openWallets(count, ownerOf, concurrency) {
        const ids = new Array<string>(count);
        let lastPosition = 0n;
        await forEachBounded(count, concurrency, async (i) => {
          const body = await rest.expect(201, 'POST', `${ledgerUrl}/v1/wallets`, { currency: CURRENCY, ownerId: ownerOf(i) }, { 'idempotency-key': `bench-open-${randomUUID()}` });
          ids[i] = (body['wallets'] as Array<{ walletId: string }>)[0]!.walletId;
          const position = BigInt(body['position'] as string);
          if (position > lastPosition) lastPosition = position;
        });
        return { ids, lastPosition };
      },
      async deposit(walletId, amount) {
        const body = await rest.expect(201, 'POST', `${ledgerUrl}/v1/wallets/${walletId}/deposits`, { amount, currency: CURRENCY }, { 'idempotency-key': `bench-deposit-${randomUUID()}` });
        return BigInt(body['position'] as string);
      },
      async close() {
        rest.close();
        await cluster.stop();
      },
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
