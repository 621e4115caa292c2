import 'reflect-metadata';
import { InvalidConfigError, JsonLogger } from '@ledger/nest';
import { loadLedgerConfig } from './config/ledger.config';
import { startLedgerApp } from './ledger.app';

async function main(): Promise<void> {
  const config = loadLedgerConfig();
  const logger = new JsonLogger('ledger', config.logLevel);
  // Nest closes the app on SIGTERM/SIGINT (enableShutdownHooks); this bounds how long that may take.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log({ msg: 'shutting down', signal }, 'Bootstrap');
      setTimeout(() => {
        logger.error({ msg: 'shutdown took too long; exiting', timeoutMs: config.shutdownTimeoutMs }, 'Bootstrap');
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
    });
  }
  await startLedgerApp(config, logger);
}

main().catch((error: unknown) => {
  const message = error instanceof InvalidConfigError ? error.message : String((error as Error)?.stack ?? error);
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', service: 'ledger', msg: message })}\n`);
  process.exit(1);
});
