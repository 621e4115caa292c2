import 'reflect-metadata';
import { JsonLogger, runServiceMain } from '@ledger/nest';
import { loadLedgerConfig } from './config/ledger.config';
import { startLedgerApp } from './ledger.app';

// Nest closes the app on SIGTERM/SIGINT (enableShutdownHooks); runServiceMain bounds how long that may take.
runServiceMain('ledger', async () => {
  const config = loadLedgerConfig();
  const logger = new JsonLogger('ledger', config.logLevel);
  return { logger, shutdownTimeoutMs: config.shutdownTimeoutMs, start: () => startLedgerApp(config, logger) };
});
