import { readChoiceList, readInteger, readIntegerList } from '../lib/bench-env';

/** Writer counts measured by default: from one writer (pure commit latency) to many (grouping). */
export const DEFAULT_CONCURRENCY: readonly number[] = [1, 4, 16, 64];
/** Each writer holds at most one pooled connection at a time; PostgreSQL runs a process for each. */
export const MAX_WRITERS = 128;
export const DEFAULT_SECONDS = 5;
export const DEFAULT_WARMUP_SECONDS = 1;
/** A cell also ends after this many measured appends, whatever the clock says. */
export const DEFAULT_MAX_OPS_PER_CELL = 500_000;

/** Transfers group-committed per appendBatch call in the batch scenario, by default. */
export const DEFAULT_BATCH_SIZES: readonly number[] = [1, 16, 64, 256];
/** DEFAULT_EVENT_STORE_LIMITS.maxRequestsPerBatch; 2 events a transfer stay within maxEventsPerBatch. */
export const MAX_BATCH_SIZE = 1_024;

export const SCENARIO_NAMES = ['single', 'transfer', 'hot', 'batch'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface AppendBenchConfig {
  readonly concurrency: readonly number[];
  readonly scenarios: readonly ScenarioName[];
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly maxOpsPerCell: number;
  /** Transfers per appendBatch call, one adapter cell each, in the batch scenario. */
  readonly batchSizes: readonly number[];
  /** Connections in each cell's pool: the largest writer count, so no writer waits for a connection. */
  readonly poolSize: number;
}

/** The only place the append bench reads the environment; invalid values stop it before anything starts. */
export function readAppendBenchConfig(env: NodeJS.ProcessEnv = process.env): AppendBenchConfig {
  const concurrency = readIntegerList(env, 'BENCH_CONCURRENCY', DEFAULT_CONCURRENCY, 1, MAX_WRITERS);
  return {
    concurrency,
    scenarios: readChoiceList(env, 'BENCH_SCENARIOS', SCENARIO_NAMES),
    durationMs: readInteger(env, 'BENCH_SECONDS', DEFAULT_SECONDS, 1, 600) * 1_000,
    warmupMs: readInteger(env, 'BENCH_WARMUP_SECONDS', DEFAULT_WARMUP_SECONDS, 0, 60) * 1_000,
    maxOpsPerCell: readInteger(env, 'BENCH_MAX_OPS', DEFAULT_MAX_OPS_PER_CELL, 1, 10_000_000),
    batchSizes: readIntegerList(env, 'BENCH_BATCH_SIZES', DEFAULT_BATCH_SIZES, 1, MAX_BATCH_SIZE),
    poolSize: Math.max(...concurrency),
  };
}
