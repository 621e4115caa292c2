import { createKafka, KafkaBusSubscriber, topicPartitionCount } from '@ledger/bus-kafka';
import { PostgresEventStore } from '@ledger/event-store-postgres';
import { createMetricsRegistry, type JsonLogger } from '@ledger/nest';
import { registerProjectionMetrics, startWalletProjection, type RunningWalletProjection } from '@ledger/read-models';
import type { Pool } from 'pg';
import { openServicePool } from '@ledger/infra';
import type { ProjectorConfig } from './config/projector.config';
import { startProbeServer, type ProbeServer } from './http/probe.http.server';

export interface RunningProjector {
  readonly projection: RunningWalletProjection;
  readonly httpPort: number;
  /** Stops the projection (the in-flight transaction finishes or rolls back), then HTTP and the pool. */
  close(): Promise<void>;
}

/** Opens the database pool, starts the wallet projection from the configured source and the probe server. */
export async function startProjector(config: ProjectorConfig, logger: JsonLogger): Promise<RunningProjector> {
  const pools = openServicePool({
    url: config.databaseUrl,
    max: config.dbPoolMax,
    applicationName: 'ledger-projector',
    onIdleError: (error) => logger.error({ msg: 'idle PostgreSQL client failed', error: error.message }, 'Projector'),
  });
  const { pool } = pools;
  const cleanups: Array<() => Promise<void>> = [() => pools.close()];
  try {
    const projection = await startProjection(config, pool, logger, cleanups);
    const registry = createMetricsRegistry({ prefix: 'ledger_projector_', defaultLabels: { service: 'projector' } });
    registerProjectionMetrics(registry, () => projection.status());
    const http: ProbeServer = await startProbeServer({
      host: config.http.host,
      port: config.http.port,
      registry,
      ready: async () => {
        const status = projection.status();
        const database = await checkDatabase(pool, config.readinessTimeoutMs);
        const projectionCheck = status.stoppedReason !== undefined ? { status: 'stopped', reason: status.stoppedReason } : status.running ? { status: 'running' } : { status: 'ended' };
        return { ready: database.status === 'up' && projectionCheck.status === 'running', checks: { database, projection: { ...projectionCheck, watermark: status.watermarkPosition.toString(), version: status.liveVersion } } };
      },
    });
    logger.log({ msg: 'projector started', source: config.source, httpPort: http.port, schema: config.readModelsSchema }, 'Projector');
    return {
      projection,
      httpPort: http.port,
      close: async () => {
        pools.shuttingDown();
        await projection.stop();
        await http.close();
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      },
    };
  } catch (error) {
    pools.shuttingDown();
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw error;
  }
}

async function startProjection(config: ProjectorConfig, pool: Pool, logger: JsonLogger, cleanups: Array<() => Promise<void>>): Promise<RunningWalletProjection> {
  const common = { pool, schema: config.readModelsSchema, logger };
  if (config.source === 'store' || !config.kafka) {
    const store = new PostgresEventStore({ pool, schema: config.eventStoreSchema, pollIntervalMs: config.storePollIntervalMs });
    cleanups.push(() => store.close());
    return startWalletProjection({ ...common, source: 'store', store, batchSize: config.batchEvents, retryDelayMs: config.retryDelayMs });
  }
  const kafka = createKafka({
    brokers: config.kafka.brokers,
    clientId: 'ledger-projector',
    log: (entry) => (entry.level === 'error' ? logger.error(entry, 'Kafka') : logger.warn(entry, 'Kafka')),
  });
  const admin = kafka.admin();
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  const partitionsOf = (topic: string): Promise<number> => topicPartitionCount(admin, topic);
  return startWalletProjection({
    ...common,
    source: 'kafka',
    subscriber: new KafkaBusSubscriber(kafka),
    groupId: config.kafka.groupId,
    topics: config.kafka.topics,
    partitionsOf,
  });
}

async function checkDatabase(pool: Pool, timeoutMs: number): Promise<{ status: 'up' } | { status: 'down'; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ status: 'down'; reason: string }>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'down', reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const probe = pool
    .query('SELECT 1')
    .then(() => ({ status: 'up' }) as const)
    .catch((error: unknown) => ({ status: 'down', reason: error instanceof Error ? error.message : String(error) }) as const);
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
