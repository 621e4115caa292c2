import { findFreePort, startEmbeddedPostgres, startKafkaBroker, type RunningKafkaBroker, type RunningPostgres } from '@ledger/infra';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startService, type ServiceProcess, type ServiceSpec } from './service-process';

/**
 * Cluster mode on one machine: PostgreSQL, a Kafka broker, the ledger service, relays (one active,
 * the others standing by for takeover), the projector and the payouts service (batch payout
 * saga), each its own process. PostgreSQL and Kafka are started here unless DATABASE_URL /
 * KAFKA_BROKERS name running ones. Fault tests kill any service (SIGKILL) and start it again with
 * the restart helpers; the ledger and payouts keep their ports across restarts.
 */

export const CLUSTER_JWT_ISSUER = 'ledger-local-cluster';
export const CLUSTER_JWT_AUDIENCE = 'ledger-api';
/** Bound on waiting for a relay to hold the publishing lock (a standby retries it every RELAY_LEADER_RETRY_MS). */
export const RELAY_LEADER_TIMEOUT_MS = 30_000;

export interface LocalClusterOptions {
  /** Folder for PostgreSQL and Kafka data and the generated JWT secret. */
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly kafkaBrokers?: string;
  /** Fixed ports for the ledger (HTTP, gRPC); 0 picks free ones. */
  readonly ledgerHttpPort: number;
  readonly ledgerGrpcPort: number;
  /** Fixed ports for the payouts service (HTTP, gRPC); 0 picks free ones. */
  readonly payoutsHttpPort: number;
  readonly payoutsGrpcPort: number;
  /** Relay processes; the first to take the lock publishes, the others stand by. */
  readonly relays: number;
  readonly logLevel: string;
  readonly output: (line: string) => void;
  /** Added to every service's environment (tests: schema names, consumer groups, limits). */
  readonly extraEnv?: Readonly<Record<string, string>>;
}

/** How a restart helper ends the process it replaces (if it is still running). */
export interface RestartOptions {
  /** true: SIGKILL (a crash); false (default): SIGTERM, graceful shutdown. */
  readonly kill?: boolean;
}

export interface LocalCluster {
  readonly databaseUrl: string;
  readonly kafkaBrokers: string;
  readonly ledgerHttpUrl: string;
  readonly ledgerGrpcAddress: string;
  readonly payoutsHttpUrl: string;
  readonly payoutsGrpcAddress: string;
  readonly jwt: { readonly secret: string; readonly issuer: string; readonly audience: string };
  /** The current process of each service (a restart replaces it). */
  readonly ledger: ServiceProcess;
  readonly payouts: ServiceProcess;
  readonly projector: ServiceProcess;
  /** The relays, in start order; restartActiveRelay() replaces its entry. */
  readonly relays: readonly ServiceProcess[];
  /** Starts another relay (e.g. after killing one). */
  startRelay(name: string): Promise<ServiceProcess>;
  /** The relay whose /health/ready says it holds the publishing lock (waits for one, bounded). */
  activeRelay(timeoutMs?: number): Promise<ServiceProcess>;
  /**
   * Ends `relay` (if running), starts a relay under the same name in its place, and waits
   * (bounded) until some relay publishes. Returns the replacement.
   */
  restartRelay(relay: ServiceProcess, options?: RestartOptions): Promise<ServiceProcess>;
  /** restartRelay of the relay that publishes now. */
  restartActiveRelay(options?: RestartOptions): Promise<ServiceProcess>;
  /** Ends the ledger (if running) and starts it again on the same ports. */
  restartLedger(options?: RestartOptions): Promise<ServiceProcess>;
  /** Ends the payouts service (if running) and starts it again on the same ports. */
  restartPayouts(options?: RestartOptions): Promise<ServiceProcess>;
  /** Ends the projector (if running) and starts it again. */
  restartProjector(options?: RestartOptions): Promise<ServiceProcess>;
  /** Stops every service (payouts, projector, relays, ledger), then Kafka and PostgreSQL if started here. */
  stop(): Promise<void>;
}

/** Services stop in this order: what sends work first, the ledger last. */
const STOP_ORDER = ['payouts', 'projector', 'relay', 'ledger'] as const;

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755); // the embedded server runs as the postgres user and must enter it
  const infraStops: Array<() => Promise<void>> = [];
  // Every service process started and not yet seen to exit, by kind (restarts included).
  const services = new Map<ServiceProcess, (typeof STOP_ORDER)[number]>();
  const report = (error: unknown): void => options.output(`[cluster] stopping: ${String(error)}`);
  const stopAll = async (): Promise<void> => {
    for (const kind of STOP_ORDER) {
      const group = [...services].filter(([, k]) => k === kind).map(([service]) => service);
      await Promise.all(group.map((service) => service.stop().catch(report)));
    }
    for (const stop of infraStops.reverse()) await stop().catch(report);
    infraStops.length = 0;
  };
  try {
    let postgres: RunningPostgres | undefined;
    let kafka: RunningKafkaBroker | undefined;
    const [databaseUrl, kafkaBrokers] = await Promise.all([
      options.databaseUrl ??
        startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), port: 0, log: (line) => options.output(`[postgres] ${line}`) }).then((pg) => {
          postgres = pg;
          infraStops.push(() => pg.stop());
          return pg.url;
        }),
      options.kafkaBrokers ??
        startKafkaBroker({ dataDir: join(dataDir, 'kafka'), port: 0, log: (line) => options.output(`[kafka] ${line}`) }).then((broker) => {
          kafka = broker;
          infraStops.push(() => broker.stop());
          return broker.brokers;
        }),
    ]);
    if (postgres) options.output(`[cluster] PostgreSQL ${postgres.url} (pid ${postgres.pid})`);
    if (kafka) options.output(`[cluster] Kafka ${kafka.brokers} (pid ${kafka.pid})`);

    const jwt = { secret: clusterJwtSecret(dataDir), issuer: CLUSTER_JWT_ISSUER, audience: CLUSTER_JWT_AUDIENCE };
    const jwtEnv = { JWT_SECRET: jwt.secret, JWT_ISSUER: jwt.issuer, JWT_AUDIENCE: jwt.audience };
    const common = {
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: kafkaBrokers,
      LOG_LEVEL: options.logLevel,
      ...options.extraEnv,
    };
    const httpPort = options.ledgerHttpPort || (await findFreePort());
    const grpcPort = options.ledgerGrpcPort || (await findFreePort());
    const payoutsHttpPort = options.payoutsHttpPort || (await findFreePort());
    const payoutsGrpcPort = options.payoutsGrpcPort || (await findFreePort());
    const run = async (kind: (typeof STOP_ORDER)[number], spec: ServiceSpec): Promise<ServiceProcess> => {
      const service = startService(spec, options.output);
      services.set(service, kind);
      void service.exited.then(() => services.delete(service));
      await service.waitUntilReady();
      options.output(`[cluster] ${spec.name} ready (pid ${service.pid})`);
      return service;
    };
    /** Ends a service being replaced: SIGKILL or SIGTERM; nothing if it has already exited. */
    const end = (service: ServiceProcess, restart: RestartOptions = {}): Promise<void> => (restart.kill ? service.kill() : service.stop());

    const startLedger = (): Promise<ServiceProcess> =>
      run('ledger', {
        name: 'ledger',
        entry: 'services/ledger/src/main.ts',
        healthUrl: `http://127.0.0.1:${httpPort}`,
        env: {
          ...common,
          ...jwtEnv,
          HTTP_PORT: String(httpPort),
          GRPC_PORT: String(grpcPort),
          // Cluster mode: the projector process owns the read models.
          PROJECTION_IN_PROCESS: 'false',
        },
      });
    let ledger = await startLedger();

    const relays: ServiceProcess[] = [];
    const startRelay = async (name: string): Promise<ServiceProcess> => {
      const port = await findFreePort();
      const relay = await run('relay', {
        name,
        entry: 'services/relay/src/main.ts',
        healthUrl: `http://127.0.0.1:${port}`,
        env: { ...common, HTTP_PORT: String(port), KAFKA_CLIENT_ID: `ledger-${name}` },
      });
      relays.push(relay);
      return relay;
    };
    for (let i = 1; i <= options.relays; i += 1) await startRelay(`relay-${i}`);
    const activeRelay = async (timeoutMs = RELAY_LEADER_TIMEOUT_MS): Promise<ServiceProcess> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const relay of relays.filter((r) => r.running)) {
          if ((await relayRole(relay)) === 'leader') return relay;
        }
        if (Date.now() >= deadline) throw new Error(`no relay held the publishing lock within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    const restartRelay = async (relay: ServiceProcess, restart?: RestartOptions): Promise<ServiceProcess> => {
      await end(relay, restart);
      const replacement = await startRelay(relay.spec.name);
      // startRelay appended it; it takes the place of the relay it replaces.
      relays.pop();
      const index = relays.indexOf(relay);
      if (index >= 0) relays.splice(index, 1, replacement);
      else relays.push(replacement);
      await activeRelay();
      return replacement;
    };

    const startProjector = async (): Promise<ServiceProcess> => {
      const port = await findFreePort();
      return run('projector', {
        name: 'projector',
        entry: 'services/projector/src/main.ts',
        healthUrl: `http://127.0.0.1:${port}`,
        env: { ...common, PROJECTOR_SOURCE: 'kafka', HTTP_PORT: String(port) },
      });
    };
    let projector = await startProjector();

    // Last: it migrates the read-model schema too, and its intake reads the wallet directory.
    const startPayouts = (): Promise<ServiceProcess> =>
      run('payouts', {
        name: 'payouts',
        entry: 'services/payouts/src/main.ts',
        healthUrl: `http://127.0.0.1:${payoutsHttpPort}`,
        env: { ...common, ...jwtEnv, PAYOUTS_HTTP_PORT: String(payoutsHttpPort), PAYOUTS_GRPC_PORT: String(payoutsGrpcPort) },
      });
    let payouts = await startPayouts();

    return {
      databaseUrl,
      kafkaBrokers,
      ledgerHttpUrl: `http://127.0.0.1:${httpPort}`,
      ledgerGrpcAddress: `127.0.0.1:${grpcPort}`,
      payoutsHttpUrl: `http://127.0.0.1:${payoutsHttpPort}`,
      payoutsGrpcAddress: `127.0.0.1:${payoutsGrpcPort}`,
      jwt,
      get ledger() {
        return ledger;
      },
      get payouts() {
        return payouts;
      },
      get projector() {
        return projector;
      },
      relays,
      startRelay,
      activeRelay,
      restartRelay,
      async restartActiveRelay(restart) {
        return restartRelay(await activeRelay(), restart);
      },
      async restartLedger(restart) {
        await end(ledger, restart);
        ledger = await startLedger();
        return ledger;
      },
      async restartPayouts(restart) {
        await end(payouts, restart);
        payouts = await startPayouts();
        return payouts;
      },
      async restartProjector(restart) {
        await end(projector, restart);
        projector = await startProjector();
        return projector;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** What a relay's /health/ready says about it: 'leader', 'standby', ... or 'unknown' without an answer. */
async function relayRole(relay: ServiceProcess): Promise<string> {
  try {
    const response = await fetch(`${relay.spec.healthUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
    const body = (await response.json()) as { role?: unknown };
    return typeof body.role === 'string' ? body.role : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A random HS256 secret kept with the cluster's data, so tokens survive restarts of the cluster. */
function clusterJwtSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
