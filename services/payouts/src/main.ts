import 'reflect-metadata';
import { InvalidConfigError, JsonLogger } from '@ledger/nest';
import { loadPayoutsConfig } from './config/payouts.config';
import { startPayoutsApp } from './payouts.app';

/** The payouts service on its own (cluster mode): DATABASE_URL required; KAFKA_BROKERS for Kafka. */
async function main(): Promise<void> {
  const config = loadPayoutsConfig();
  const logger = new JsonLogger('payouts', config.logLevel);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log({ msg: 'shutting down', signal }, 'Bootstrap');
      setTimeout(() => {
        logger.error({ msg: 'shutdown took too long; exiting', timeoutMs: config.shutdownTimeoutMs }, 'Bootstrap');
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
    });
  }
  await startPayoutsApp(config, logger);
}

main().catch((error: unknown) => {
  const message = error instanceof InvalidConfigError ? error.message : String((error as Error)?.stack ?? error);
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', service: 'payouts', msg: message })}\n`);
  process.exit(1);
});
