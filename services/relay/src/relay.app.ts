import { createKafka, ensureTopics, KafkaBusPublisher, topicPartitionCount } from '@ledger/bus-kafka';
import { migrateEventStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { topicForCategory } from '@ledger/integration-events';
import { createMetricsRegistry, JsonLogger } from '@ledger/nest';
import type { LoggerService } from '@nestjs/common';
import type { Admin } from 'kafkajs';
import { Pool } from 'pg';
import type { RelayConfig } from './config/relay.config';
import { LeaderLock } from './leadership/leader-lock';
import { RelayRunner, type RelayRole } from './leadership/relay.runner';
import { startRelayHttpServer, type RelayHttpServer } from './observability/relay-http.server';
import { RelayMetrics } from './observability/relay.metrics';
import { runRelayLoop } from './publishing/relay.loop';

export interface RelayApp {
  /** Metrics and health, e.g. http://127.0.0.1:9464 */
  readonly url: string;
  readonly role: () => RelayRole;
  /** Finishes the batch in flight, releases the lock, closes Kafka, PostgreSQL and HTTP. */
  close(): Promise<void>;
}

/**
 * Wires the relay: a read pool and event store (migrated, so the relay may boot first), a Kafka
 * publisher (idempotent, as KafkaBusPublisher always is) and admin, the leader runner, and HTTP.
 * Standbys touch Kafka only once they lead: each term first ensures the topics and reads their
 * partition counts, so a new leader sees partitions as they are now.
 */
export async function startRelayApp(config: RelayConfig, logger: LoggerService = new JsonLogger('relay', config.logLevel)): Promise<RelayApp> {
  const pool = new Pool({
    connectionString: config.databaseUrl,
    max: 2,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'ledger-relay-reader',
  });
  pool.on('error', (error) => logger.error({ msg: 'idle PostgreSQL client failed', error: error.message }, 'Relay'));
  let admin: Admin | undefined;
  let publisher: KafkaBusPublisher | undefined;
  let http: RelayHttpServer | undefined;
  try {
    await migrateEventStore(pool, config.eventStoreSchema);
    const store = new PostgresEventStore({ pool, schema: config.eventStoreSchema });
    const kafka = createKafka({
      brokers: config.kafka.brokers,
      clientId: config.kafka.clientId,
      log: (entry) => {
        const fields = { msg: entry.message, namespace: entry.namespace, ...entry.fields };
        if (entry.level === 'error') logger.error(fields, 'Kafka');
        else if (entry.level === 'warn') logger.warn(fields, 'Kafka');
      },
    });
    const kafkaAdmin = kafka.admin();
    admin = kafkaAdmin;
    const kafkaPublisher = new KafkaBusPublisher(kafka, { ackTimeoutMs: config.kafka.ackTimeoutMs, retries: config.kafka.publishRetries });
    publisher = kafkaPublisher;
    const registry = createMetricsRegistry({ prefix: 'ledger_relay_', defaultLabels: { service: 'relay' } });
    const metrics = new RelayMetrics(registry);
    const topics = config.categories.map(topicForCategory);
    let adminConnected = false;

    const runner = new RelayRunner({
      openSession: () =>
        LeaderLock.connect({
          databaseUrl: config.databaseUrl,
          schema: config.eventStoreSchema,
          consumerId: config.consumerId,
          statementTimeoutMs: config.lockStatementTimeoutMs,
        }),
      lead: async (lease, stop) => {
        if (!adminConnected) {
          await kafkaAdmin.connect();
          adminConnected = true;
        }
        await ensureTopics(kafkaAdmin, topics, config.topicPartitions, { replicationFactor: config.topicReplicationFactor });
        const partitionsByTopic = new Map<string, number>();
        for (const topic of topics) partitionsByTopic.set(topic, await topicPartitionCount(kafkaAdmin, topic));
        await runRelayLoop({
          store,
          publisher: kafkaPublisher,
          lease,
          categories: config.categories,
          partitionsByTopic,
          batchSize: config.batchSize,
          pollIntervalMs: config.pollIntervalMs,
          idleWatermarkMs: config.idleWatermarkMs,
          metrics,
          logger,
          stop,
        });
      },
      leaderRetryMs: config.leaderRetryMs,
      errorBackoffMs: config.errorBackoffMs,
      metrics,
      logger,
    });
    http = await startRelayHttpServer({ host: config.http.host, port: config.http.port, registry, health: () => ({ role: runner.role, failure: runner.failure }) });
    runner.start();
    logger.log({ msg: 'relay started', url: http.url, topics, consumerId: config.consumerId, schema: config.eventStoreSchema }, 'Relay');
    const httpServer = http;
    let closing: Promise<void> | undefined;
    return {
      url: httpServer.url,
      role: () => runner.role,
      close: () =>
        (closing ??= (async () => {
          await runner.stop();
          await kafkaPublisher.close();
          await kafkaAdmin.disconnect().catch(() => undefined);
          await httpServer.close();
          await pool.end().catch(() => undefined);
          logger.log({ msg: 'relay stopped' }, 'Relay');
        })()),
    };
  } catch (error) {
    await http?.close();
    await publisher?.close();
    await admin?.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }
}
