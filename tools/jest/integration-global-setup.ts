import { mkdtempSync } from 'node:fs';
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
  const stops: Array<() => Promise<void>> = [];
  const [pg, kafka] = await Promise.all([
    process.env['DATABASE_URL']
      ? undefined
      : startEmbeddedPostgres({ dataDir: join(root, 'postgres'), port: 0, fsync: false, log }),
    process.env['KAFKA_BROKERS'] ? undefined : startKafkaBroker({ dataDir: join(root, 'kafka'), port: 0, log }),
  ]);
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
