import { InvalidConfigError, JsonLogger } from '@ledger/nest';
import { loadRelayConfig } from './config/relay.config';
import { startRelayApp } from './relay.app';

async function main(): Promise<void> {
  const config = loadRelayConfig();
  const logger = new JsonLogger('relay', config.logLevel);
  const app = await startRelayApp(config, logger);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log({ msg: 'shutting down: finishing the batch in flight, then releasing the lock', signal }, 'Bootstrap');
      setTimeout(() => {
        logger.error({ msg: 'shutdown took too long; exiting', timeoutMs: config.shutdownTimeoutMs }, 'Bootstrap');
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ msg: 'shutdown failed', error: String(error) }, 'Bootstrap');
          process.exit(1);
        },
      );
    });
  }
}

main().catch((error: unknown) => {
  const message = error instanceof InvalidConfigError ? error.message : String((error as Error)?.stack ?? error);
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', service: 'relay', msg: message })}\n`);
  process.exit(1);
});
