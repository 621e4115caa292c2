import { createJwtVerifier, migratePinStore, PinService, PostgresPinStore, type JwtVerifier } from '@ledger/auth';
import { CommandProcessor } from '@ledger/event-sourcing';
import type { EventStore } from '@ledger/event-store';
import { migrateEventStore, PostgresCheckpointStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { openServicePool, startEmbeddedPostgres, type RunningPostgres } from '@ledger/infra';
import type { LoggerService } from '@nestjs/common';
import type { Pool } from 'pg';
import { startWalletProjection, type RunningWalletProjection } from '@ledger/read-models';
import type { LedgerConfig } from './config/ledger.config';
import { HoldExpiryWorker } from './hold-expiry/hold-expiry.worker';
import { startPayoutCommandConsumer, type PayoutCommandConsumer } from './payouts/payout-command.consumer';

/** The event store, what it stands on and what writes to it; owned by the process, closed on shutdown. */
export interface EventStoreRuntime {
  readonly store: EventStore;
  readonly processor: CommandProcessor;
  readonly pins: PinService;
  readonly verifier: JwtVerifier;
  readonly checkpoints: PostgresCheckpointStore;
  readonly pool: Pool;
  readonly databaseKind: 'external' | 'embedded';
  /** The PostgreSQL URL in use (the embedded server's, in embedded mode): other in-process services share it. */
  readonly databaseUrl: string;
  /** Expires holds at their deadline (README "Hold expiry"); undefined when HOLD_EXPIRY_ENABLED=false. */
  readonly holdExpiry: HoldExpiryWorker | undefined;
  /** The wallet projection run in this process (embedded mode); undefined when PROJECTION_IN_PROCESS=false. */
  readonly projection: RunningWalletProjection | undefined;
  /** Executes the payout saga's commands (README "Payout commands"); undefined when PAYOUT_COMMANDS_ENABLED=false. */
  readonly payoutCommands: PayoutCommandConsumer | undefined;
  close(): Promise<void>;
}

export async function openEventStoreRuntime(config: LedgerConfig, logger: LoggerService): Promise<EventStoreRuntime> {
  let embedded: RunningPostgres | undefined;
  let url: string;
  if (config.database.kind === 'embedded') {
    embedded = await startEmbeddedPostgres({
      dataDir: config.database.dataDir,
      port: config.database.port,
      log: (msg) => logger.log({ msg }, 'EmbeddedPostgres'),
    });
    url = embedded.url;
  } else {
    url = config.database.url;
  }
  // Once shutdown began, the embedded server may end connections the pool is still closing: expected, not an error.
  const pools = openServicePool({
    url,
    max: config.dbPoolMax,
    applicationName: 'ledger',
    onIdleError: (error) => logger.error({ msg: 'idle PostgreSQL client failed', error: error.message }, 'EventStore'),
  });
  const { pool } = pools;
  try {
    const applied = await migrateEventStore(pool, config.eventStoreSchema);
    logger.log({ msg: 'event store ready', schema: config.eventStoreSchema, migrationsApplied: applied, database: config.database.kind }, 'EventStore');
    await migratePinStore(pool, config.auth.pinStore.schema);
  } catch (error) {
    await pools.close().catch(() => undefined);
    await embedded?.stop();
    throw error;
  }
  const store = new PostgresEventStore({ pool, schema: config.eventStoreSchema });
  const processor = new CommandProcessor(store, config.commands);
  const pins = new PinService(new PostgresPinStore({ pool, ...config.auth.pinStore }), config.auth.pin);
  const checkpoints = new PostgresCheckpointStore(pool, config.eventStoreSchema);
  // Hold expiry: started below once the runtime is built; close() stops it before the processor.
  const holdExpiry = config.holdExpiry.enabled
    ? new HoldExpiryWorker({ store, checkpoints, processor, clock: () => new Date(), logger }, config.holdExpiry)
    : undefined;
  if (config.auth.usedDevSecret) {
    logger.warn({ msg: 'using the published development JWT secret: embedded mode only, never in production' }, 'Auth');
  }
  const runtime: EventStoreRuntime = {
    store,
    processor,
    pins,
    verifier: createJwtVerifier(config.auth.jwt),
    checkpoints,
    pool,
    databaseKind: config.database.kind,
    databaseUrl: url,
    holdExpiry,
    projection: undefined,
    payoutCommands: undefined,
    async close() {
      // Consumers first: each lets its in-flight commands finish before the processor closes.
      await runtime.payoutCommands?.stop();
      await holdExpiry?.stop();
      await runtime.projection?.stop();
      await processor.close();
      await store.close();
      await pools.close();
      await embedded?.stop();
    },
  };
  if (config.projection.inProcess) {
    try {
      const projection = await startWalletProjection({
        pool,
        store,
        source: 'store',
        schema: config.queries.readModelsSchema,
        batchSize: config.projection.batchEvents,
        logger,
      });
      (runtime as { projection: RunningWalletProjection | undefined }).projection = projection;
      logger.log({ msg: 'wallet projection running in process', schema: config.queries.readModelsSchema }, 'Projection');
    } catch (error) {
      await runtime.close();
      throw error;
    }
  }
  if (config.payoutCommands.enabled) {
    try {
      const payoutCommands = await startPayoutCommandConsumer(config.payoutCommands, config.kafka, { store, checkpoints, processor, clock: () => new Date(), logger });
      (runtime as { payoutCommands: PayoutCommandConsumer | undefined }).payoutCommands = payoutCommands;
    } catch (error) {
      await runtime.close();
      throw error;
    }
  }
  holdExpiry?.start(); // last: nothing after it can fail and leave it running
  return runtime;
}
