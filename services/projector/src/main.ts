import 'reflect-metadata';
import { InvalidConfigError, JsonLogger } from '@ledger/nest';
import { loadProjectorConfig } from './config/projector.config';
import { startProjector } from './projector.app';

/**
 * The projector process: the wallet read models from the store (embedded) or Kafka (cluster).
 * SIGTERM/SIGINT stop it gracefully: the in-flight transaction commits or rolls back whole, so a
 * stop (or a kill -9) at any moment leaves effect and watermark consistent.
 */
async function main(): Promise<void> {
  const config = loadProjectorConfig();
  const logger = new JsonLogger('projector', config.logLevel);
  const projector = await startProjector(config, logger);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log({ msg: 'shutting down', signal }, 'Bootstrap');
      setTimeout(() => {
        logger.error({ msg: 'shutdown took too long; exiting', timeoutMs: config.shutdownTimeoutMs }, 'Bootstrap');
        process.exit(1);
      }, config.shutdownTimeoutMs).unref();
      projector.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ msg: 'shutdown failed', error: error instanceof Error ? error.message : String(error) }, 'Bootstrap');
          process.exit(1);
        },
      );
    });
  }
  // A poison stop keeps the process up (not ready, metric ledger_projection_stopped = 1) so the
  // alert fires and the operator can read /health/ready; restarting would only hit it again.
  void projector.projection.done;
}

main().catch((error: unknown) => {
  const message = error instanceof InvalidConfigError ? error.message : String((error as Error)?.stack ?? error);
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', service: 'projector', msg: message })}\n`);
  process.exit(1);
});
