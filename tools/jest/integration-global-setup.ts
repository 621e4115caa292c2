import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../libs/shared/infra/src/embedded-postgres';
import { startKafkaBroker } from '../../libs/shared/infra/src/kafka-broker';

/**
 * Starts the real servers integration suites need, once per run: an embedded PostgreSQL and a
 * single-node Kafka broker, each on a free 127.0.0.1 port in a fresh temp folder. An external
 * DATABASE_URL or KAFKA_BROKERS is used instead when set. Test files read the URLs from env.
 */
export default async function integrationGlobalSetup(): Promise<void> {
  const log = (line: string): void => {
    if (process.env['TEST_INFRA_VERBOSE']) process.stderr.write(`[infra] ${line}\n`);
  };
  const root = mkdtempSync(join(tmpdir(), 'ledger-it-'));
  chmodSync(root, 0o755); // PostgreSQL runs as the postgres user and must enter this folder
  const stops: Array<() => Promise<void>> = [];
  const [pgResult, kafkaResult] = await Promise.allSettled([
    process.env['DATABASE_URL']
      ? undefined
      : startEmbeddedPostgres({ dataDir: join(root, 'postgres'), port: 0, fsync: false, log }),
    process.env['KAFKA_BROKERS'] ? undefined : startKafkaBroker({ dataDir: join(root, 'kafka'), port: 0, log }),
  ]);
  const pg = pgResult.status === 'fulfilled' ? pgResult.value : undefined;
  const kafka = kafkaResult.status === 'fulfilled' ? kafkaResult.value : undefined;
  if (pgResult.status === 'rejected' || kafkaResult.status === 'rejected') {
    // Stop whatever did start, then fail the run with every reason.
    await Promise.allSettled([pg?.stop(), kafka?.stop()]);
    const reasons = [pgResult, kafkaResult].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    throw new AggregateError(reasons.map((r) => r.reason), `Test infrastructure failed to start: ${reasons.map((r) => String(r.reason?.message ?? r.reason)).join('; ')}`);
  }
  if (pg) {
    process.env['DATABASE_URL'] = pg.url;
    stops.push(() => pg.stop());
  }
  if (kafka) {
    process.env['KAFKA_BROKERS'] = kafka.brokers;
    stops.push(() => kafka.stop());
  }
  (globalThis as { __ledgerInfraStops?: typeof stops }).__ledgerInfraStops = stops;
}
