import { findFreePort, startEmbeddedPostgres, startKafkaBroker, type RunningKafkaBroker, type RunningPostgres } from '@ledger/infra';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startService, type ServiceProcess, type ServiceSpec } from './service-process';

/**
 * Cluster mode on one machine: PostgreSQL, a Kafka broker, the ledger service, relays (one active,
 * the others standing by for takeover) and the projector, each its own process. PostgreSQL and
 * Kafka are started here unless DATABASE_URL / KAFKA_BROKERS name running ones.
 */

export const CLUSTER_JWT_ISSUER = 'ledger-local-cluster';
export const CLUSTER_JWT_AUDIENCE = 'ledger-api';

export interface LocalClusterOptions {
  /** Folder for PostgreSQL and Kafka data and the generated JWT secret. */
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly kafkaBrokers?: string;
  /** Fixed ports for the ledger (HTTP, gRPC); 0 picks free ones. */
  readonly ledgerHttpPort: number;
  readonly ledgerGrpcPort: number;
  /** Relay processes; the first to take the lock publishes, the others stand by. */
  readonly relays: number;
  readonly logLevel: string;
  readonly output: (line: string) => void;
  /** Added to every service's environment (tests: schema names, consumer group). */
  readonly extraEnv?: Readonly<Record<string, string>>;
}

export interface LocalCluster {
  readonly databaseUrl: string;
  readonly kafkaBrokers: string;
  readonly ledgerHttpUrl: string;
  readonly ledgerGrpcAddress: string;
  readonly jwt: { readonly secret: string; readonly issuer: string; readonly audience: string };
  readonly ledger: ServiceProcess;
  readonly relays: readonly ServiceProcess[];
  readonly projector: ServiceProcess;
  /** Starts another relay (e.g. after killing one). */
  startRelay(name: string): Promise<ServiceProcess>;
  /** Starts the projector again after it was stopped or killed. */
  restartProjector(): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755); // the embedded server runs as the postgres user and must enter it
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => options.output(`[cluster] stopping: ${String(error)}`));
    stops.length = 0;
  };
  try {
    let postgres: RunningPostgres | undefined;
    let kafka: RunningKafkaBroker | undefined;
    const [databaseUrl, kafkaBrokers] = await Promise.all([
      options.databaseUrl ??
        startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), port: 0, log: (line) => options.output(`[postgres] ${line}`) }).then((pg) => {
          postgres = pg;
          stops.push(() => pg.stop());
          return pg.url;
        }),
      options.kafkaBrokers ??
        startKafkaBroker({ dataDir: join(dataDir, 'kafka'), port: 0, log: (line) => options.output(`[kafka] ${line}`) }).then((broker) => {
          kafka = broker;
          stops.push(() => broker.stop());
          return broker.brokers;
        }),
    ]);
    if (postgres) options.output(`[cluster] PostgreSQL ${postgres.url} (pid ${postgres.pid})`);
    if (kafka) options.output(`[cluster] Kafka ${kafka.brokers} (pid ${kafka.pid})`);

    const jwt = { secret: clusterJwtSecret(dataDir), issuer: CLUSTER_JWT_ISSUER, audience: CLUSTER_JWT_AUDIENCE };
    const common = {
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: kafkaBrokers,
      LOG_LEVEL: options.logLevel,
      ...options.extraEnv,
    };
    const httpPort = options.ledgerHttpPort || (await findFreePort());
    const grpcPort = options.ledgerGrpcPort || (await findFreePort());
    const run = async (spec: ServiceSpec): Promise<ServiceProcess> => {
      const service = startService(spec, options.output);
      stops.push(() => service.stop());
      await service.waitUntilReady();
      options.output(`[cluster] ${spec.name} ready (pid ${service.pid})`);
      return service;
    };

    const ledger = await run({
      name: 'ledger',
      entry: 'services/ledger/src/main.ts',
      healthUrl: `http://127.0.0.1:${httpPort}`,
      env: {
        ...common,
        HTTP_PORT: String(httpPort),
        GRPC_PORT: String(grpcPort),
        JWT_SECRET: jwt.secret,
        JWT_ISSUER: jwt.issuer,
        JWT_AUDIENCE: jwt.audience,
        // Cluster mode: the projector process owns the read models.
        PROJECTION_IN_PROCESS: 'false',
      },
    });
    const startRelay = async (name: string): Promise<ServiceProcess> => {
      const port = await findFreePort();
      return run({
        name,
        entry: 'services/relay/src/main.ts',
        healthUrl: `http://127.0.0.1:${port}`,
        env: { ...common, HTTP_PORT: String(port), KAFKA_CLIENT_ID: `ledger-${name}` },
      });
    };
    const relays: ServiceProcess[] = [];
    for (let i = 1; i <= options.relays; i += 1) relays.push(await startRelay(`relay-${i}`));
    const startProjector = async (): Promise<ServiceProcess> => {
      const port = await findFreePort();
      return run({
        name: 'projector',
        entry: 'services/projector/src/main.ts',
        healthUrl: `http://127.0.0.1:${port}`,
        env: { ...common, PROJECTOR_SOURCE: 'kafka', HTTP_PORT: String(port) },
      });
    };
    let projector = await startProjector();

    return {
      databaseUrl,
      kafkaBrokers,
      ledgerHttpUrl: `http://127.0.0.1:${httpPort}`,
      ledgerGrpcAddress: `127.0.0.1:${grpcPort}`,
      jwt,
      ledger,
      relays,
      get projector() {
        return projector;
      },
      startRelay,
      async restartProjector() {
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

/** A random HS256 secret kept with the cluster's data, so tokens survive restarts of the cluster. */
function clusterJwtSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
