import { tmpdir } from 'node:os';
import { loadAuthConfig, type AuthConfig } from '@ledger/auth';
import type { KafkaBusConfig } from '@ledger/bus-kafka';
import { EnvReader, InvalidConfigError, parseLogLevel, readGrpcServerConfig, readHttpBodyLimitBytes, readKafkaBusConfig, type GrpcServerConfig } from '@ledger/nest';
import { MAX_RESERVATION_TTL_MS } from '@ledger/payouts-domain';
import type { LogLevel } from '@nestjs/common';
import type { PayoutCsvLimits } from '@ledger/payouts-csv';
import type { PayoutSagaConfig } from '../saga/payout-saga';

export interface PayoutsConfig {
  readonly http: { readonly host: string; readonly port: number; readonly bodyLimitBytes: number };
  readonly grpc: GrpcServerConfig;
  readonly auth: AuthConfig;
  readonly databaseUrl: string;
  readonly eventStoreSchema: string;
  readonly readModelsSchema: string;
  /** Schema of the payouts service's own tables (the saga's index of active batches). */
  readonly payoutsSchema: string;
  readonly dbPoolMax: number;
  readonly commands: { readonly maxBatchSize: number; readonly maxConflictRetries: number; readonly maxQueuedCommands: number; readonly cacheEntries: number };
  readonly intake: { readonly csv: PayoutCsvLimits; readonly spoolDir: string; readonly summaryInvalidRows: number };
  readonly saga: PayoutSagaConfig & { readonly enabled: boolean; readonly reservationTtlMs: number };
  readonly progress: { readonly intervalMs: number; readonly maxMs: number };
  readonly kafka: KafkaBusConfig | undefined;
  readonly bus: { readonly retryInitialDelayMs: number; readonly retryMaxDelayMs: number; readonly stopTimeoutMs: number };
  readonly readinessTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
}

/**
 * The only place the payouts service reads process.env (services/payouts/README.md lists every
 * variable with its unit and bounds). `embedded`: started by the embedded launcher next to the
 * ledger on its embedded database, which alone allows the published development JWT secret.
 */
export function loadPayoutsConfig(env: Readonly<Record<string, string | undefined>> = process.env, options: { embedded?: boolean } = {}): PayoutsConfig {
  const read = new EnvReader(env);
  const databaseUrl = read.string('DATABASE_URL');
  if (databaseUrl) read.check('DATABASE_URL', /^postgres(ql)?:\/\//.test(databaseUrl), 'must be a postgres:// or postgresql:// URL');
  let auth: AuthConfig | undefined;
  try {
    auth = loadAuthConfig(env, { allowDevSecret: options.embedded === true });
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    read.include(error.problems);
  }
  const schema = (name: string, fallback: string): string => {
    const value = read.string(name, fallback);
    read.check(name, /^[a-z_][a-z0-9_]{0,62}$/.test(value), 'must be lower-case letters, digits and _');
    return value;
  };
  let logLevel: LogLevel = 'log';
  try {
    logLevel = parseLogLevel(read.string('LOG_LEVEL', 'log'));
  } catch (error) {
    read.check('LOG_LEVEL', false, (error as Error).message.replace(/^LOG_LEVEL /, ''));
  }
  const grpc = readGrpcServerConfig(read);
  const retryInitialDelayMs = read.integer('BUS_RETRY_INITIAL_DELAY_MS', 100, 1, 60_000);
  const retryMaxDelayMs = read.integer('BUS_RETRY_MAX_DELAY_MS', 5_000, 1, 600_000);
  read.check('BUS_RETRY_MAX_DELAY_MS', retryMaxDelayMs >= retryInitialDelayMs, `must be at least BUS_RETRY_INITIAL_DELAY_MS (${retryInitialDelayMs})`);
  return read.done<PayoutsConfig>({
    http: {
      host: read.string('PAYOUTS_HTTP_HOST', read.string('HTTP_HOST', '127.0.0.1')),
      port: read.integer('PAYOUTS_HTTP_PORT', 3001, 0, 65_535),
      bodyLimitBytes: readHttpBodyLimitBytes(read),
    },
    grpc: { ...grpc, port: read.integer('PAYOUTS_GRPC_PORT', 50_052, 0, 65_535) },
    auth: auth as AuthConfig,
    databaseUrl,
    eventStoreSchema: schema('EVENT_STORE_SCHEMA', 'event_store'),
    readModelsSchema: schema('READ_MODELS_SCHEMA', 'read_models'),
    payoutsSchema: schema('PAYOUTS_SCHEMA', 'payouts'),
    dbPoolMax: read.integer('PAYOUTS_DB_POOL_MAX', 10, 1, 500),
    commands: {
      maxBatchSize: read.integer('PAYOUTS_BATCH_MAX_COMMANDS', 64, 1, 4_096),
      maxConflictRetries: read.integer('PAYOUTS_CONFLICT_RETRIES', 10, 0, 100),
      maxQueuedCommands: read.integer('PAYOUTS_QUEUE_MAX_COMMANDS', 10_000, 1, 1_000_000),
      cacheEntries: read.integer('PAYOUTS_CACHE_MAX_STREAMS', 10_000, 1, 1_000_000),
    },
    intake: {
      csv: {
        maxFileBytes: read.integer('PAYOUT_CSV_MAX_BYTES', 32 * 1024 * 1024, 1_024, 1_073_741_824),
        maxRows: read.integer('PAYOUT_CSV_MAX_ROWS', 200_000, 1, 2_000_000),
        maxLineBytes: read.integer('PAYOUT_CSV_MAX_LINE_BYTES', 1_024, 64, 65_536),
      },
      spoolDir: read.string('PAYOUT_SPOOL_DIR', tmpdir()),
      summaryInvalidRows: read.integer('PAYOUT_SUMMARY_INVALID_ROWS', 100, 0, 10_000),
    },
    saga: {
      enabled: read.oneOf('PAYOUTS_SAGA_ENABLED', ['true', 'false'] as const, 'true') === 'true',
      maxInFlightChunks: read.integer('PAYOUT_MAX_INFLIGHT_CHUNKS', 4, 1, 1_000),
      resendAfterMs: read.integer('PAYOUT_RESEND_AFTER_MS', 30_000, 100, 3_600_000),
      pollIntervalMs: read.integer('PAYOUT_SAGA_POLL_MS', 1_000, 10, 600_000),
      maxActiveBatches: read.integer('PAYOUT_SAGA_MAX_ACTIVE_BATCHES', 100, 1, 100_000),
      reservationTtlMs: read.integer('PAYOUT_RESERVATION_TTL_MS', 7 * 24 * 60 * 60 * 1000, 1_000, MAX_RESERVATION_TTL_MS),
    },
    progress: {
      intervalMs: read.integer('PAYOUT_PROGRESS_INTERVAL_MS', 500, 10, 60_000),
      maxMs: read.integer('PAYOUT_PROGRESS_MAX_MS', 3_600_000, 1_000, 86_400_000),
    },
    kafka: readKafkaBusConfig(read, 'payouts'),
    bus: { retryInitialDelayMs, retryMaxDelayMs, stopTimeoutMs: read.integer('BUS_STOP_TIMEOUT_MS', 5_000, 1_000, 600_000) },
    readinessTimeoutMs: read.integer('READINESS_TIMEOUT_MS', 2_000, 100, 60_000),
    shutdownTimeoutMs: read.integer('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 120_000),
    logLevel,
  });
}
