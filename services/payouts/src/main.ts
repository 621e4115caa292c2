import 'reflect-metadata';
import { JsonLogger, runServiceMain } from '@ledger/nest';
import { loadPayoutsConfig } from './config/payouts.config';
import { startPayoutsApp } from './payouts.app';

/** The payouts service on its own (cluster mode): DATABASE_URL required; KAFKA_BROKERS for Kafka. */
runServiceMain('payouts', async () => {
  const config = loadPayoutsConfig();
  const logger = new JsonLogger('payouts', config.logLevel);
  return { logger, shutdownTimeoutMs: config.shutdownTimeoutMs, start: () => startPayoutsApp(config, logger) };
});
