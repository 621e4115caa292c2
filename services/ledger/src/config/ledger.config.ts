import { loadAuthConfig, type AuthConfig } from '@ledger/auth';
import type { KafkaBusConfig } from '@ledger/bus-kafka';
import { EnvReader, InvalidConfigError, parseLogLevel, readGrpcServerConfig, readHttpBodyLimitBytes, readKafkaBusConfig, type GrpcServerConfig } from '@ledger/nest';
import type { LogLevel } from '@nestjs/common';
import { MAX_ENCODED_TOPIC_LENGTH, topicToCategory } from '@ledger/bus';
import { PAYOUT_COMMANDS_TOPIC, PAYOUT_RESULTS_TOPIC } from '@ledger/payouts-messages';

/** Where the event store lives: an external PostgreSQL, or one this process starts itself. */
export type DatabaseConfig =
  | { readonly kind: 'external'; readonly url: string }
  | { readonly kind: 'embedded'; readonly dataDir: string; readonly port: number };

/** Group commit (ADR 0005): each bound is named with its unit. */
export interface CommandProcessingConfig {
  readonly maxBatchSize: number;
  readonly maxConflictRetries: number;
  readonly maxQueuedCommands: number;
  readonly cacheEntries: number;
  /** Group-commit batches appended at once, on disjoint streams (LEDGER_BATCHES_IN_FLIGHT). */
  readonly maxBatchesInFlight: number;
}

/** The hold-expiry worker (services/ledger/README.md "Hold expiry"). */
export interface HoldExpiryConfig {
  readonly enabled: boolean;
  /** Open holds kept in memory; beyond it the worker skips new ones and re-scans the log later. */
  readonly maxTrackedHolds: number;
  /** Longest the expiry timer sleeps when the next deadline is further away, milliseconds. */
  readonly maxSleepMs: number;
}

/** Read-model queries (services/ledger/README.md "Queries"). */
export interface QueryConfig {
  /** PostgreSQL schema of the read models (ADR 0007), shared with the projector. */
  readonly readModelsSchema: string;
  /** Longest a query waits for `minPosition` before READ_MODEL_NOT_CAUGHT_UP, milliseconds. */
  readonly maxWaitMs: number;
  /** Longest pause between two watermark polls while someone waits, milliseconds. */
  readonly pollMaxIntervalMs: number;
  /** Bound on every read-model statement (SET LOCAL statement_timeout), milliseconds. */
  readonly statementTimeoutMs: number;
}

/** The wallet projection in this process (ADR 0007). */
export interface InProcessProjectionConfig {
  /**
   * Run the wallet projection inside this process, tailing the store (embedded mode). Default:
   * on with the embedded database, off with DATABASE_URL, where the projector service owns the
   * read models (cluster mode). Turn it on for a single-process deployment on an external
   * database. Two projections on one read-model schema stay correct (revision checks) but waste work.
   */
  readonly inProcess: boolean;
  /** Events per read and per transaction. */
  readonly batchEvents: number;
}

/** Kafka, for the payout command consumer in cluster mode (set KAFKA_BROKERS to use it; @ledger/nest readKafkaBusConfig). */
export type LedgerKafkaConfig = KafkaBusConfig;

/** The payout command consumer (services/ledger/README.md "Payout commands"). */
export interface PayoutCommandsConfig {
  readonly enabled: boolean;
  /** Where the saga's commands arrive; the contract's `payouts.commands.v1` unless an environment prefixes it. */
  readonly commandsTopic: string;
  /** Where results go; the contract's `payouts.results.v1` by default. */
  readonly resultsTopic: string;
  /** Consumer group on the commands topic. */
  readonly groupId: string;
  /** In-handler retries of steps that failed for an infrastructure reason, before redelivery. */
  readonly retryAttempts: number;
  /** First pause before such a retry (and before a redelivery on the embedded bus), milliseconds. */
  readonly retryInitialDelayMs: number;
  /** Cap on those pauses, milliseconds. */
  readonly retryMaxDelayMs: number;
  /** Bound on stopping the consumer (waiting for the message in hand), milliseconds. */
  readonly stopTimeoutMs: number;
}

export const PAYOUT_COMMANDS_GROUP_ID = 'ledger-payout-commands';

export interface LedgerConfig {
  readonly http: { readonly host: string; readonly port: number; readonly bodyLimitBytes: number };
  readonly grpc: GrpcServerConfig;
  readonly auth: AuthConfig;
  readonly commands: CommandProcessingConfig;
  readonly holdExpiry: HoldExpiryConfig;
  readonly queries: QueryConfig;
  readonly projection: InProcessProjectionConfig;
  readonly payoutCommands: PayoutCommandsConfig;
  /** Undefined: the embedded bus on this service's own event store. */
  readonly kafka: LedgerKafkaConfig | undefined;
  readonly database: DatabaseConfig;
  readonly eventStoreSchema: string;
  readonly dbPoolMax: number;
  readonly readinessTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
}

/**
 * The only place the ledger service reads process.env. Every variable, its unit and its bounds
 * are listed in services/ledger/README.md; a bad value stops the boot with all problems listed.
 */
export function loadLedgerConfig(env: Readonly<Record<string, string | undefined>> = process.env): LedgerConfig {
  const read = new EnvReader(env);
  const url = read.optionalString('DATABASE_URL');
  if (url !== undefined) read.check('DATABASE_URL', /^postgres(ql)?:\/\//.test(url), "must be a postgres:// or postgresql:// URL");
  const schema = read.string('EVENT_STORE_SCHEMA', 'event_store');
  read.check('EVENT_STORE_SCHEMA', /^[a-z_][a-z0-9_]{0,62}$/.test(schema), 'must be lower-case letters, digits and _');
  // The published development secret is accepted only with the embedded database (a local run).
  let auth: AuthConfig | undefined;
  try {
    auth = loadAuthConfig(env, { allowDevSecret: url === undefined });
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    read.include(error.problems);
  }
  const readModelsSchema = read.string('READ_MODELS_SCHEMA', 'read_models');
  read.check('READ_MODELS_SCHEMA', /^[a-z_][a-z0-9_]{0,62}$/.test(readModelsSchema), 'must be lower-case letters, digits and _');
  let logLevel: LogLevel = 'log';
  try {
    logLevel = parseLogLevel(read.string('LOG_LEVEL', 'log'));
  } catch (error) {
    read.check('LOG_LEVEL', false, (error as Error).message.replace(/^LOG_LEVEL /, ''));
  }
  const kafka = readKafkaBusConfig(read, 'ledger');
  const commandsTopic = read.string('PAYOUT_COMMANDS_TOPIC', PAYOUT_COMMANDS_TOPIC);
  const resultsTopic = read.string('PAYOUT_RESULTS_TOPIC', PAYOUT_RESULTS_TOPIC);
  for (const [name, topic] of [['PAYOUT_COMMANDS_TOPIC', commandsTopic], ['PAYOUT_RESULTS_TOPIC', resultsTopic]] as const) {
    read.check(name, isEmbeddableTopic(topic), `must be letters, digits and . _ - that fit an event-store category once escaped (at most ${MAX_ENCODED_TOPIC_LENGTH} characters)`);
  }
  read.check('PAYOUT_RESULTS_TOPIC', commandsTopic !== resultsTopic, 'must differ from PAYOUT_COMMANDS_TOPIC');
  const groupId = read.string('PAYOUT_CONSUMER_GROUP', PAYOUT_COMMANDS_GROUP_ID);
  read.check('PAYOUT_CONSUMER_GROUP', /^[A-Za-z0-9._:-]{1,63}$/.test(groupId), 'must be 1 to 63 characters of letters, digits and . _ : -');
  const retryInitialDelayMs = read.integer('PAYOUT_RETRY_INITIAL_DELAY_MS', 100, 1, 60_000);
  const retryMaxDelayMs = read.integer('PAYOUT_RETRY_MAX_DELAY_MS', 5_000, 1, 600_000);
  read.check('PAYOUT_RETRY_MAX_DELAY_MS', retryMaxDelayMs >= retryInitialDelayMs, `must be at least PAYOUT_RETRY_INITIAL_DELAY_MS (${retryInitialDelayMs})`);
  return read.done<LedgerConfig>({
    http: {
      host: read.string('HTTP_HOST', '127.0.0.1'),
      port: read.integer('HTTP_PORT', 3000, 0, 65_535),
      bodyLimitBytes: readHttpBodyLimitBytes(read),
    },
    grpc: readGrpcServerConfig(read),
    auth: auth as AuthConfig,
    commands: {
      maxBatchSize: read.integer('LEDGER_BATCH_MAX_COMMANDS', 256, 1, 4_096),
      maxConflictRetries: read.integer('LEDGER_CONFLICT_RETRIES', 5, 0, 100),
      maxQueuedCommands: read.integer('LEDGER_QUEUE_MAX_COMMANDS', 20_000, 1, 1_000_000),
      cacheEntries: read.integer('LEDGER_CACHE_MAX_WALLETS', 100_000, 1, 10_000_000),
      maxBatchesInFlight: read.integer('LEDGER_BATCHES_IN_FLIGHT', 2, 1, 8),
    },
    holdExpiry: {
      enabled: read.oneOf('HOLD_EXPIRY_ENABLED', ['true', 'false'] as const, 'true') === 'true',
      maxTrackedHolds: read.integer('HOLD_EXPIRY_MAX_TRACKED_HOLDS', 100_000, 1, 10_000_000),
      maxSleepMs: read.integer('HOLD_EXPIRY_MAX_SLEEP_MS', 5_000, 10, 600_000),
    },
    queries: {
      readModelsSchema,
      maxWaitMs: read.integer('QUERY_MAX_WAIT_MS', 5_000, 0, 60_000),
      pollMaxIntervalMs: read.integer('QUERY_POLL_MAX_INTERVAL_MS', 100, 5, 5_000),
      statementTimeoutMs: read.integer('QUERY_STATEMENT_TIMEOUT_MS', 5_000, 100, 60_000),
    },
    projection: {
      inProcess: read.oneOf('PROJECTION_IN_PROCESS', ['true', 'false'] as const, url ? 'false' : 'true') === 'true',
      batchEvents: read.integer('PROJECTION_BATCH_EVENTS', 256, 1, 10_000),
    },
    payoutCommands: {
      enabled: read.oneOf('PAYOUT_COMMANDS_ENABLED', ['true', 'false'] as const, 'true') === 'true',
      commandsTopic,
      resultsTopic,
      groupId,
      retryAttempts: read.integer('PAYOUT_RETRY_ATTEMPTS', 3, 0, 100),
      retryInitialDelayMs,
      retryMaxDelayMs,
      stopTimeoutMs: read.integer('PAYOUT_STOP_TIMEOUT_MS', 5_000, 1_000, 600_000),
    },
    kafka,
    database: url
      ? { kind: 'external', url }
      : {
          kind: 'embedded',
          dataDir: read.string('EMBEDDED_PG_DATA_DIR', '.data/postgres'),
          port: read.integer('EMBEDDED_PG_PORT', 54329, 0, 65_535),
        },
    eventStoreSchema: schema,
    dbPoolMax: read.integer('DB_POOL_MAX', 20, 1, 500),
    readinessTimeoutMs: read.integer('READINESS_TIMEOUT_MS', 2_000, 100, 60_000),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 120_000),
    logLevel,
  });
}

/** A topic both buses accept: Kafka's pattern, and short enough for an embedded-bus category. */
function isEmbeddableTopic(topic: string): boolean {
  try {
    topicToCategory(topic);
    return true;
  } catch {
    return false;
  }
}
