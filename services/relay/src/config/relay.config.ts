import { isInternalCategory, PUBLISHED_CATEGORIES_DEFAULT } from '@ledger/integration-events';
import { EnvReader, parseLogLevel } from '@ledger/nest';
import type { LogLevel } from '@nestjs/common';

/** Everything the relay reads from the environment; every bound is named with its unit. */
export interface RelayConfig {
  readonly databaseUrl: string;
  readonly eventStoreSchema: string;
  /** Checkpoint row id (PostgresCheckpointStore table) and part of the advisory-lock key. */
  readonly consumerId: string;
  readonly kafka: {
    readonly brokers: string;
    readonly clientId: string;
    readonly ackTimeoutMs: number;
    readonly publishRetries: number;
  };
  /** Event-store categories published, each to `ledger.<category>.v1`. */
  readonly categories: readonly string[];
  readonly topicPartitions: number;
  /** -1: the broker's default.replication.factor. */
  readonly topicReplicationFactor: number;
  /** Events read and published per batch. */
  readonly batchSize: number;
  /** Pause of a caught-up relay before it reads the log again. */
  readonly pollIntervalMs: number;
  /** A caught-up relay still sends a watermark (and stores its checkpoint) this often when the log's horizon moved. */
  readonly idleWatermarkMs: number;
  /** How often a standby tries the lock. */
  readonly leaderRetryMs: number;
  /** Pause after a failed batch (Kafka or store error) before the leader reads again from its checkpoint. */
  readonly errorBackoffMs: number;
  /** Bound on one statement on the lock connection; past it the relay gives up leadership. */
  readonly lockStatementTimeoutMs: number;
  readonly http: { readonly host: string; readonly port: number };
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
}

/** Bound on published categories: each costs a topic and a watermark per partition per batch. */
export const MAX_RELAY_CATEGORIES = 64;
const CATEGORY = /^[a-z][a-zA-Z0-9]{0,62}$/;
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
const CONSUMER_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The only place the relay reads process.env (services/relay/README.md lists every variable).
 * A bad value stops the boot with every problem listed.
 */
export function loadRelayConfig(env: Readonly<Record<string, string | undefined>> = process.env): RelayConfig {
  const read = new EnvReader(env);
  const databaseUrl = read.string('DATABASE_URL');
  if (databaseUrl) read.check('DATABASE_URL', /^postgres(ql)?:\/\//.test(databaseUrl), 'must be a postgres:// or postgresql:// URL');
  const brokers = read.string('KAFKA_BROKERS');
  if (brokers) {
    read.check('KAFKA_BROKERS', brokers.split(',').every((b) => /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/.test(b.trim())), "must be a comma-separated list of 'host:port'");
  }
  const schema = read.string('EVENT_STORE_SCHEMA', 'event_store');
  read.check('EVENT_STORE_SCHEMA', SCHEMA.test(schema), 'must be lower-case letters, digits and _');
  const consumerId = read.string('RELAY_CONSUMER_ID', 'relay:ledger');
  read.check('RELAY_CONSUMER_ID', CONSUMER_ID.test(consumerId), 'must be 1 to 128 characters of letters, digits and . _ : -');
  const clientId = read.string('KAFKA_CLIENT_ID', 'ledger-relay');
  read.check('KAFKA_CLIENT_ID', /^[A-Za-z0-9._-]{1,128}$/.test(clientId), 'must be 1 to 128 characters of letters, digits and . _ -');
  const categories = parseCategories(read, env['RELAY_CATEGORIES']);
  let logLevel: LogLevel = 'log';
  try {
    logLevel = parseLogLevel(read.string('LOG_LEVEL', 'log'));
  } catch (error) {
    read.check('LOG_LEVEL', false, (error as Error).message.replace(/^LOG_LEVEL /, ''));
  }
  const replicationFactor = read.integer('RELAY_TOPIC_REPLICATION_FACTOR', -1, -1, 16);
  read.check('RELAY_TOPIC_REPLICATION_FACTOR', replicationFactor !== 0, 'must be -1 (broker default) or 1 to 16');
  return read.done<RelayConfig>({
    databaseUrl,
    eventStoreSchema: schema,
    consumerId,
    kafka: {
      brokers,
      clientId,
      ackTimeoutMs: read.integer('RELAY_PUBLISH_ACK_TIMEOUT_MS', 30_000, 100, 300_000),
      publishRetries: read.integer('RELAY_PUBLISH_RETRIES', 5, 0, 100),
    },
    categories,
    topicPartitions: read.integer('RELAY_TOPIC_PARTITIONS', 6, 1, 1_000),
    topicReplicationFactor: replicationFactor,
    batchSize: read.integer('RELAY_BATCH_SIZE', 512, 1, 4_096),
    pollIntervalMs: read.integer('RELAY_POLL_INTERVAL_MS', 100, 5, 60_000),
    idleWatermarkMs: read.integer('RELAY_IDLE_WATERMARK_MS', 1_000, 10, 600_000),
    leaderRetryMs: read.integer('RELAY_LEADER_RETRY_MS', 1_000, 10, 600_000),
    errorBackoffMs: read.integer('RELAY_ERROR_BACKOFF_MS', 1_000, 10, 600_000),
    lockStatementTimeoutMs: read.integer('RELAY_LOCK_STATEMENT_TIMEOUT_MS', 10_000, 100, 120_000),
    http: { host: read.string('HTTP_HOST', '127.0.0.1'), port: read.integer('HTTP_PORT', 9464, 0, 65_535) },
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 30_000, 100, 300_000),
    logLevel,
  });
}

function parseCategories(read: EnvReader, text: string | undefined): readonly string[] {
  if (text === undefined || text.trim() === '') return PUBLISHED_CATEGORIES_DEFAULT;
  const categories = [...new Set(text.split(',').map((c) => c.trim()))];
  read.check('RELAY_CATEGORIES', categories.length <= MAX_RELAY_CATEGORIES, `may list at most ${MAX_RELAY_CATEGORIES} categories`);
  for (const category of categories) {
    if (!CATEGORY.test(category)) read.check('RELAY_CATEGORIES', false, `entry '${category.slice(0, 40)}' is not a category (camelCase letters and digits)`);
    else if (isInternalCategory(category)) read.check('RELAY_CATEGORIES', false, `entry '${category}' is internal to the ledger and never published`);
  }
  return categories;
}
