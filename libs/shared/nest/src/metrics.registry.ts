import { collectDefaultMetrics, Registry } from 'prom-client';

export interface MetricsRegistryOptions {
  /** Prefix of the default process/runtime metrics, e.g. `ledger_` → `ledger_process_cpu_seconds_total`. */
  readonly prefix: string;
  /** Added to every series, e.g. `{ service: 'ledger' }`. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
  /** Default process metrics (CPU, memory, event loop lag, GC); on unless a test turns them off. */
  readonly collectDefaultMetrics?: boolean;
}

/**
 * One registry per process (never prom-client's global one), so tests and several apps in one
 * process do not share series. HTTP and gRPC metrics are registered on it by createHttpMetrics
 * and createGrpcMetrics.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(options.prefix)) throw new Error(`metrics prefix '${options.prefix}' is not a valid Prometheus name prefix`);
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels({ ...options.defaultLabels });
  if (options.collectDefaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: options.prefix });
  return registry;
}

/**
 * Latency buckets in seconds, dense below 25 ms (the gRPC p99 target) and up to the longest
 * bounded wait a request may make.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
