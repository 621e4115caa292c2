import { BenchConfigError, readChoiceList, readInteger } from '../lib/bench-env';

/**
 * Settings of `npm run bench:payouts`, read once from the environment; a bad value stops the run
 * before any server starts (bench/README.md lists them).
 */

export const MODES = ['embedded', 'cluster'] as const;
export type Mode = (typeof MODES)[number];

export interface PayoutsBenchConfig {
  /** CSV rows of the measured batch. */
  readonly rows: number;
  /** Recipient wallets; row i pays recipient i mod recipients. */
  readonly recipients: number;
  readonly modes: readonly Mode[];
  /** Rows of the baseline (plain transfers); below `rows`, the baseline is a slice, extrapolated. 0: no baseline. */
  readonly baselineRows: number;
  /** Baseline transfers in flight. */
  readonly baselineConcurrency: number;
  /** Setup requests in flight (opening wallets). */
  readonly setupConcurrency: number;
  /** Interval between two GETs of the batch while it executes, milliseconds. */
  readonly pollMs: number;
  /** Longest the execution may take before the run gives up, seconds. */
  readonly executionTimeoutSeconds: number;
  /** Where to write a CPU profile of this process during the embedded execution; undefined: none. */
  readonly cpuProfileDir: string | undefined;
}

/** Issue 5 targets on a 2-core machine (ADR 0008). */
export const INTAKE_TARGET_SECONDS = 10;
export const EXECUTION_TARGET_SECONDS = 60;
export const TARGET_ROWS = 100_000;

/** The payouts service refuses files above PAYOUT_CSV_MAX_ROWS (default 200,000). */
const MAX_ROWS = 200_000;

export function readPayoutsBenchConfig(env: NodeJS.ProcessEnv = process.env): PayoutsBenchConfig {
  const rows = readInteger(env, 'BENCH_ROWS', TARGET_ROWS, 1, MAX_ROWS);
  const recipients = readInteger(env, 'BENCH_RECIPIENTS', 10_000, 1, 100_000);
  if (recipients > rows) throw new BenchConfigError(`BENCH_RECIPIENTS: ${recipients} is more than BENCH_ROWS (${rows}); every recipient should be paid`);
  const modes = readChoiceList(env, 'BENCH_MODES', MODES);
  // The whole batch by default: a slice extrapolates optimistically (the hot source stream and the
  // tables grow as it runs; measured here: a 20,000-row slice predicted 41 s for a 100,000-row
  // baseline that took 48 s).
  const baselineRows = readInteger(env, 'BENCH_BASELINE_ROWS', rows, 0, rows);
  return {
    rows,
    recipients,
    modes,
    baselineRows,
    baselineConcurrency: readInteger(env, 'BENCH_BASELINE_CONCURRENCY', 256, 1, 4_096),
    setupConcurrency: readInteger(env, 'BENCH_SETUP_CONCURRENCY', 64, 1, 1_024),
    pollMs: readInteger(env, 'BENCH_POLL_MS', 100, 10, 5_000),
    executionTimeoutSeconds: readInteger(env, 'BENCH_EXECUTION_TIMEOUT_S', 900, 10, 7_200),
    cpuProfileDir: env['BENCH_CPU_PROFILE_DIR']?.trim() || undefined,
  };
}

/**
 * Service settings passed through from the bench's environment to the services under test (both
 * modes), so a setting can be tried without editing anything: group commit, pools, the saga.
 */
const PASSED_THROUGH = /^(LEDGER_[A-Z_]+|PAYOUT_[A-Z_]+|PAYOUTS_[A-Z_]+|DB_POOL_MAX|PROJECTION_BATCH_EVENTS|HOLD_EXPIRY_ENABLED|QUERY_[A-Z_]+)$/;
/** Set by the bench itself (ports, schemas, secrets): never taken from the environment. */
const OWNED_BY_THE_BENCH = new Set(['PAYOUTS_HTTP_PORT', 'PAYOUTS_GRPC_PORT', 'PAYOUTS_SCHEMA', 'PAYOUT_SPOOL_DIR']);

export function serviceSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && PASSED_THROUGH.test(name) && !OWNED_BY_THE_BENCH.has(name)) settings[name] = value;
  }
  return settings;
}
