import { InvalidConfigError } from './env-config';
import type { JsonLogger } from './json-logger';

/**
 * The shared shape of a Nest service's `main.ts`: a shutdown bound on SIGTERM/SIGINT (Nest's own
 * shutdown hooks close the app; this only makes sure a stuck close cannot keep the process
 * alive), then start. A start failure prints one fatal JSON line and exits 1, listing every bad
 * variable for an invalid configuration.
 */
export function runServiceMain(service: string, main: () => Promise<{ logger: JsonLogger; shutdownTimeoutMs: number; start: () => Promise<unknown> }>): void {
  const run = async (): Promise<void> => {
    const { logger, shutdownTimeoutMs, start } = await main();
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        logger.log({ msg: 'shutting down', signal }, 'Bootstrap');
        setTimeout(() => {
          logger.error({ msg: 'shutdown took too long; exiting', timeoutMs: shutdownTimeoutMs }, 'Bootstrap');
          process.exit(1);
        }, shutdownTimeoutMs).unref();
      });
    }
    await start();
  };
  run().catch((error: unknown) => {
    const message = error instanceof InvalidConfigError ? error.message : String((error as Error)?.stack ?? error);
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', service, msg: message })}\n`);
    process.exit(1);
  });
}
