import 'reflect-metadata';
import { PostgresEventStore } from '@ledger/event-store-postgres';
import { InvalidConfigError } from '@ledger/nest';
import { rebuildWalletProjection, type RebuildProgress } from '@ledger/read-models';
import { Pool } from 'pg';
import { loadProjectorConfig } from '../config/projector.config';

/**
 * `npm run projector:rebuild`: builds version n+1 of the wallet read models from the store's
 * global log beside the live version n, printing progress, and switches queries (and the running
 * projector, at its next transaction) to it once caught up. Same environment as the projector;
 * the projector keeps running meanwhile. Exit code 0 after the switch, 1 on failure (the live
 * version is untouched; run it again to start over).
 */
async function main(): Promise<void> {
  const config = loadProjectorConfig();
  const pool = new Pool({ connectionString: config.databaseUrl, max: 4, application_name: 'ledger-projector-rebuild', idle_in_transaction_session_timeout: 60_000 });
  const store = new PostgresEventStore({ pool, schema: config.eventStoreSchema });
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  process.once('SIGTERM', () => abort.abort());
  let lastPrintMs = 0;
  try {
    const result = await rebuildWalletProjection({
      pool,
      store,
      schema: config.readModelsSchema,
      readBatchSize: config.rebuild.readBatchEvents,
      eventsPerTransaction: config.rebuild.eventsPerTransaction,
      switchLockTimeoutMs: config.rebuild.switchLockTimeoutMs,
      signal: abort.signal,
      onProgress: (progress) => {
        if (progress.phase === 'replaying' && Date.now() - lastPrintMs < 1_000) return;
        lastPrintMs = Date.now();
        print(progress);
      },
    });
    process.stdout.write(
      `${JSON.stringify({ msg: 'switched', from: result.previousVersion, to: result.version, events: result.events, elapsedMs: result.elapsedMs, eventsPerSecond: result.eventsPerSecond, droppedVersions: result.droppedVersions })}\n`,
    );
  } finally {
    await pool.end();
  }
}

function print(p: RebuildProgress): void {
  process.stdout.write(
    `${JSON.stringify({ msg: 'rebuild', phase: p.phase, version: p.version, position: p.position.toString(), target: p.target.toString(), events: p.events, elapsedMs: p.elapsedMs, eventsPerSecond: p.eventsPerSecond })}\n`,
  );
}

main().catch((error: unknown) => {
  const message = error instanceof InvalidConfigError ? error.message : String((error as Error)?.stack ?? error);
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'fatal', service: 'projector-rebuild', msg: message })}\n`);
  process.exit(1);
});
