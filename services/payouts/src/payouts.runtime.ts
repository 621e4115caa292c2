import { createJwtVerifier, migratePinStore, PinService, PostgresPinStore, type JwtVerifier } from '@ledger/auth';
import { openBus, type OpenedBus } from '@ledger/bus-kafka';
import { CommandProcessor } from '@ledger/event-sourcing';
import { migrateEventStore, PostgresCheckpointStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { PAYOUT_COMMANDS_TOPIC, PAYOUT_RESULTS_TOPIC, PAYOUTS_PRINCIPAL } from '@ledger/payouts-messages';
import { migrateReadModels } from '@ledger/read-models';
import type { LoggerService } from '@nestjs/common';
import type { Pool } from 'pg';
import { openServicePool } from '@ledger/infra';
import { PayoutStreams } from './application/payout-streams';
import { PayoutsService } from './application/payouts.service';
import type { PayoutsConfig } from './config/payouts.config';
import { DEFAULT_INTAKE_CONFIG, PayoutIntake } from './intake/payout-intake';
import { ReadModelWalletDirectory } from './intake/recipient-directory';
import { ActiveBatches, migratePayoutsSchema } from './saga/active-batches';
import { PayoutSaga } from './saga/payout-saga';

/** What the payouts process owns and closes on shutdown. */
export interface PayoutsRuntime {
  readonly pool: Pool;
  readonly store: PostgresEventStore;
  readonly application: PayoutsService;
  readonly saga: PayoutSaga;
  readonly verifier: JwtVerifier;
  readonly bus: OpenedBus;
  close(): Promise<void>;
}

/** Opens the database (migrating what this service relies on), the bus and the saga. */
export async function openPayoutsRuntime(config: PayoutsConfig, logger: LoggerService): Promise<PayoutsRuntime> {
  const pools = openServicePool({
    url: config.databaseUrl,
    max: config.dbPoolMax,
    applicationName: 'payouts',
    onIdleError: (error) => logger.error({ msg: 'idle PostgreSQL client failed', error: error.message }, 'Payouts'),
  });
  const { pool } = pools;
  const cleanups: Array<() => Promise<unknown>> = [() => pools.close()];
  const cleanup = async (): Promise<void> => {
    pools.shuttingDown();
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    await migrateEventStore(pool, config.eventStoreSchema);
    await migratePinStore(pool, config.auth.pinStore.schema);
    await migrateReadModels(pool, config.readModelsSchema);
    await migratePayoutsSchema(pool, config.payoutsSchema);
    const store = new PostgresEventStore({ pool, schema: config.eventStoreSchema });
    cleanups.push(() => store.close());
    const checkpoints = new PostgresCheckpointStore(pool, config.eventStoreSchema);
    const processor = new CommandProcessor(store, config.commands);
    cleanups.push(() => processor.close());
    const bus = await openBus({
      kafka: config.kafka,
      topics: [PAYOUT_COMMANDS_TOPIC, PAYOUT_RESULTS_TOPIC],
      store,
      checkpoints,
      embeddedPrincipal: PAYOUTS_PRINCIPAL,
      ...config.bus,
      log: ({ level, ...fields }) => (level === 'error' ? logger.error(fields, 'Bus') : logger.warn?.(fields, 'Bus')),
    });
    cleanups.push(() => bus.publisher.close());
    const streams = new PayoutStreams(store, processor);
    const directory = new ReadModelWalletDirectory(pool, config.readModelsSchema);
    const saga = new PayoutSaga(
      { streams, active: new ActiveBatches(pool, config.payoutsSchema), publisher: bus.publisher, subscriber: bus.subscriber, clock: () => new Date(), logger: sagaLogger(logger) },
      config.saga,
    );
    const application = new PayoutsService(
      {
        streams,
        intake: new PayoutIntake(store, directory, { ...DEFAULT_INTAKE_CONFIG, csv: config.intake.csv, spoolDir: config.intake.spoolDir }),
        directory,
        saga,
        pins: new PinService(new PostgresPinStore({ pool, ...config.auth.pinStore }), config.auth.pin),
        clock: () => new Date(),
      },
      { reservationTtlMs: config.saga.reservationTtlMs, summaryInvalidRows: config.intake.summaryInvalidRows, progressIntervalMs: config.progress.intervalMs, progressMaxMs: config.progress.maxMs },
    );
    if (config.saga.enabled) {
      await saga.start();
      cleanups.push(() => saga.stop());
    }
    logger.log({ msg: 'payouts runtime ready', bus: bus.transport, saga: config.saga.enabled }, 'Payouts');
    return { pool, store, application, saga, verifier: createJwtVerifier(config.auth.jwt), bus, close: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function sagaLogger(logger: LoggerService) {
  return {
    log: (entry: Record<string, unknown>, context?: string) => logger.log(entry, context),
    warn: (entry: Record<string, unknown>, context?: string) => logger.warn(entry, context),
    error: (entry: Record<string, unknown>, context?: string) => logger.error(entry, context),
  };
}
