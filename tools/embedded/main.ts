import 'reflect-metadata';
import { JsonLogger, runServiceMain } from '@ledger/nest';
import { loadLedgerConfig } from '../../services/ledger/src/config/ledger.config';
import { startLedgerApp } from '../../services/ledger/src/ledger.app';
import { loadPayoutsConfig } from '../../services/payouts/src/config/payouts.config';
import { startPayoutsApp } from '../../services/payouts/src/payouts.app';

/**
 * `npm start`: the platform in embedded mode, one process. The ledger starts first (with its
 * embedded PostgreSQL unless DATABASE_URL is set, its wallet projection and its payout command
 * consumer on the embedded bus); the payouts service (REST :3001, gRPC :50052, the saga) then
 * runs beside it on the same database and bus. Each service reads its own variables
 * (services/ledger/README.md, services/payouts/README.md).
 */
runServiceMain('platform', async () => {
  const ledgerConfig = loadLedgerConfig();
  const logger = new JsonLogger('ledger', ledgerConfig.logLevel);
  const start = async (): Promise<void> => {
    const ledger = await startLedgerApp(ledgerConfig, logger);
    const embedded = process.env['DATABASE_URL'] === undefined || process.env['DATABASE_URL'] === '';
    try {
      const payoutsConfig = loadPayoutsConfig({ ...process.env, DATABASE_URL: ledger.databaseUrl }, { embedded });
      await startPayoutsApp(payoutsConfig, new JsonLogger('payouts', payoutsConfig.logLevel));
    } catch (error) {
      await ledger.close();
      throw error;
    }
  };
  return { logger, shutdownTimeoutMs: ledgerConfig.shutdownTimeoutMs, start };
});
