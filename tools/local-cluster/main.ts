import { parseArgs } from 'node:util';
import { CLUSTER_JWT_AUDIENCE, CLUSTER_JWT_ISSUER, startLocalCluster, type LocalCluster } from './local-cluster';

/**
 * `npm run cluster`: the platform in cluster mode on this machine, every part its own process
 * (PostgreSQL, Kafka, ledger, two relays, projector, payouts). Ctrl-C stops everything. Data stays in
 * --data-dir (default .data/cluster), so a second run continues where the first stopped.
 */
const USAGE =
  'usage: npm run cluster -- [--data-dir .data/cluster] [--http-port 3000] [--grpc-port 50051] [--payouts-http-port 3001] [--payouts-grpc-port 50052] [--relays 2] [--log-level log]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string', default: '.data/cluster' },
      'http-port': { type: 'string', default: '3000' },
      'grpc-port': { type: 'string', default: '50051' },
      'payouts-http-port': { type: 'string', default: '3001' },
      'payouts-grpc-port': { type: 'string', default: '50052' },
      relays: { type: 'string', default: '2' },
      'log-level': { type: 'string', default: 'log' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const integer = (name: string, text: string, min: number, max: number): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}; got '${text}'\n${USAGE}`);
    return value;
  };
  const output = (line: string): void => void process.stdout.write(`${line}\n`);
  // Set once the cluster runs; a signal before that has nothing to stop.
  const running: { cluster?: LocalCluster } = {};
  let stopping = false;
  const stop = async (signal: string, exitCode = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    output(`[cluster] ${signal}: stopping every process`);
    await running.cluster?.stop();
    process.exit(exitCode);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  const cluster = await startLocalCluster({
    dataDir: values['data-dir'] ?? '.data/cluster',
    ...(process.env['DATABASE_URL'] ? { databaseUrl: process.env['DATABASE_URL'] } : {}),
    ...(process.env['KAFKA_BROKERS'] ? { kafkaBrokers: process.env['KAFKA_BROKERS'] } : {}),
    ledgerHttpPort: integer('http-port', values['http-port'] ?? '3000', 1, 65_535),
    ledgerGrpcPort: integer('grpc-port', values['grpc-port'] ?? '50051', 1, 65_535),
    payoutsHttpPort: integer('payouts-http-port', values['payouts-http-port'] ?? '3001', 1, 65_535),
    payoutsGrpcPort: integer('payouts-grpc-port', values['payouts-grpc-port'] ?? '50052', 1, 65_535),
    relays: integer('relays', values.relays ?? '2', 1, 8),
    logLevel: values['log-level'] ?? 'log',
    output,
  });
  running.cluster = cluster;
  output(
    [
      '',
      '[cluster] ready:',
      `  ledger  REST ${cluster.ledgerHttpUrl}  (OpenAPI at ${cluster.ledgerHttpUrl}/docs)   gRPC ${cluster.ledgerGrpcAddress}`,
      `  payouts REST ${cluster.payoutsHttpUrl}  (OpenAPI at ${cluster.payoutsHttpUrl}/docs)   gRPC ${cluster.payoutsGrpcAddress}`,
      `  Kafka   ${cluster.kafkaBrokers}`,
      `  tokens  JWT_SECRET=$(cat ${values['data-dir']}/jwt-secret) JWT_ISSUER=${CLUSTER_JWT_ISSUER} JWT_AUDIENCE=${CLUSTER_JWT_AUDIENCE} npm run --silent dev-token -- --sub alice`,
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  // A relay may die (kill -9 one to watch the standby take over); the cluster ends when the
  // ledger, the projector or the payouts service ends, or the last relay: a half-running cluster misleads.
  let relaysLeft = cluster.relays.length;
  for (const relay of cluster.relays) {
    void relay.exited.then((code) => {
      relaysLeft -= 1;
      if (!stopping) output(`[cluster] ${relay.spec.name} exited with code ${String(code)}; ${relaysLeft} relay(s) left`);
      if (relaysLeft === 0) void stop('no relay left', 1);
    });
  }
  const ended = await Promise.race([cluster.ledger, cluster.projector, cluster.payouts].map((s) => s.exited.then((code) => ({ name: s.spec.name, code }))));
  if (!stopping) {
    output(`[cluster] ${ended.name} exited with code ${String(ended.code)}; stopping the rest`);
    await stop(`${ended.name} ended`, 1);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[cluster] ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});
