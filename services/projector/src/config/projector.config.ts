import { EnvReader, parseLogLevel } from '@ledger/nest';
import type { LogLevel } from '@nestjs/common';

export type ProjectorSource = 'store' | 'kafka';

export interface ProjectorConfig {
  readonly databaseUrl: string;
  readonly eventStoreSchema: string;
  readonly readModelsSchema: string;
  readonly source: ProjectorSource;
  readonly kafka: { readonly brokers: string; readonly groupId: string; readonly topics: readonly string[] } | undefined;
  /** Embedded source: events per read and per transaction. */
  readonly batchEvents: number;
  readonly retryDelayMs: number;
  readonly storePollIntervalMs: number;
  readonly rebuild: { readonly readBatchEvents: number; readonly eventsPerTransaction: number; readonly switchLockTimeoutMs: number };
  readonly http: { readonly host: string; readonly port: number };
  readonly dbPoolMax: number;
  readonly readinessTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
}

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
/** The event store's maxReadCount: one read returns at most this many events. */
const MAX_READ_EVENTS = 4_096;

/**
 * The only place the projector reads process.env; every variable, unit and bound is in
 * services/projector/README.md. A bad value stops the boot with every problem listed.
 */
export function loadProjectorConfig(env: Readonly<Record<string, string | undefined>> = process.env): ProjectorConfig {
  const read = new EnvReader(env);
  const databaseUrl = read.string('DATABASE_URL');
  if (databaseUrl !== '') read.check('DATABASE_URL', /^postgres(ql)?:\/\//.test(databaseUrl), 'must be a postgres:// or postgresql:// URL');
  const eventStoreSchema = read.string('EVENT_STORE_SCHEMA', 'event_store');
  read.check('EVENT_STORE_SCHEMA', SCHEMA.test(eventStoreSchema), 'must be lower-case letters, digits and _');
  const readModelsSchema = read.string('READ_MODELS_SCHEMA', 'read_models');
  read.check('READ_MODELS_SCHEMA', SCHEMA.test(readModelsSchema), 'must be lower-case letters, digits and _');
  const source = read.oneOf<ProjectorSource>('PROJECTOR_SOURCE', ['store', 'kafka'], 'store');
  let kafka: ProjectorConfig['kafka'];
  if (source === 'kafka') {
    const topics = read.string('PROJECTOR_TOPICS', 'ledger.wallet.v1').split(',').map((t) => t.trim());
    read.check('PROJECTOR_TOPICS', topics.length <= 100 && topics.every((t) => TOPIC.test(t)), 'must be a comma-separated list of 1 to 100 Kafka topic names');
    const groupId = read.string('KAFKA_GROUP_ID', 'ledger-projector-wallets');
    read.check('KAFKA_GROUP_ID', /^[A-Za-z0-9._:-]{1,249}$/.test(groupId), 'must be letters, digits and . _ : -');
    kafka = { brokers: read.string('KAFKA_BROKERS'), groupId, topics };
  }
  let logLevel: LogLevel = 'log';
  try {
    logLevel = parseLogLevel(read.string('LOG_LEVEL', 'log'));
  } catch (error) {
    read.check('LOG_LEVEL', false, (error as Error).message.replace(/^LOG_LEVEL /, ''));
  }
  return read.done<ProjectorConfig>({
    databaseUrl,
    eventStoreSchema,
    readModelsSchema,
    source,
    kafka,
    batchEvents: read.integer('PROJECTOR_BATCH_EVENTS', 256, 1, MAX_READ_EVENTS),
    retryDelayMs: read.integer('PROJECTOR_RETRY_DELAY_MS', 1_000, 10, 60_000),
    storePollIntervalMs: read.integer('EVENT_STORE_POLL_INTERVAL_MS', 50, 5, 10_000),
    rebuild: {
      readBatchEvents: read.integer('REBUILD_READ_BATCH_EVENTS', MAX_READ_EVENTS, 1, MAX_READ_EVENTS),
      eventsPerTransaction: read.integer('REBUILD_EVENTS_PER_TRANSACTION', 16_384, 1, 65_536),
      switchLockTimeoutMs: read.integer('REBUILD_SWITCH_LOCK_TIMEOUT_MS', 5_000, 100, 120_000),
    },
    http: { host: read.string('HTTP_HOST', '127.0.0.1'), port: read.integer('HTTP_PORT', 3100, 0, 65_535) },
    dbPoolMax: read.integer('DB_POOL_MAX', 8, 2, 200),
    readinessTimeoutMs: read.integer('READINESS_TIMEOUT_MS', 2_000, 100, 60_000),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 120_000),
    logLevel,
  });
}
