import { BenchConfigError, readChoiceList, readInteger, readIntegerList } from '../lib/bench-env';

/** spread: random distinct source and destination among many wallets; hot: one source pays many. */
export const PATTERNS = ['spread', 'hot'] as const;
export type Pattern = (typeof PATTERNS)[number];

/** sql is the same-run baseline (raw PostgreSQL, one fsync'd transaction per transfer); grpc and http reach the ledger service. */
export const TRANSPORTS = ['sql', 'grpc', 'http'] as const;
export type Transport = (typeof TRANSPORTS)[number];
export type ServiceTransport = Exclude<Transport, 'sql'>;

/** closed: C callers, each waits for its answer; open: a fixed arrival rate, answered or not. */
export const LOOPS = ['closed', 'open'] as const;
export type LoopKind = (typeof LOOPS)[number];

/**
 * lean: Transfer calls spoken directly over node:http2 with a hand-written codec (lean-grpc.client.ts),
 * as wire-level load tools do; grpc-js: through @grpc/grpc-js, as the service's own callers would.
 */
export const GRPC_CLIENTS = ['lean', 'grpc-js'] as const;
export type GrpcClientKind = (typeof GRPC_CLIENTS)[number];

/** function: one round trip (a PL/pgSQL function); statements: BEGIN, lock, check, 2 updates, insert, COMMIT from the client. */
export const BASELINE_MODES = ['function', 'statements'] as const;
export type BaselineMode = (typeof BASELINE_MODES)[number];

/**
 * The ledger refuses to load a stream longer than 100,000 events (MAX_EVENTS_PER_STREAM_LOAD;
 * snapshots are a later step), and every transfer adds one event to its source. Each hot cell
 * therefore gets its own hot wallet, and may send at most this many transfers from it.
 */
export const HOT_WALLET_SEND_BUDGET = 98_000;
/** Measured transfers in a hot closed-loop cell, at most (the warm-up comes on top). */
export const HOT_MAX_MEASURED = 80_000;

export const DEFAULT_WALLETS = 2_000;
export const DEFAULT_CONCURRENCY: readonly number[] = [64, 256];
export const DEFAULT_RATES: readonly number[] = [2_000, 5_000];
export const DEFAULT_SECONDS = 6;
export const DEFAULT_WARMUP_SECONDS = 1;
export const DEFAULT_MAX_OPS = 200_000;
export const DEFAULT_MAX_IN_FLIGHT = 1_000;
export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_GRPC_CHANNELS = 4;
export const DEFAULT_HTTP_AGENTS = 4;
export const DEFAULT_HTTP_SOCKETS = 256;
export const DEFAULT_BASELINE_POOL = 64;
/** The ledger's embedded PostgreSQL allows 200 connections; the service's pool and the probes need some. */
export const MAX_BASELINE_POOL = 150;

/** Service settings passed through to loadLedgerConfig when set (validated there). */
export const SERVICE_ENV_PASSTHROUGH = [
  'LEDGER_BATCH_MAX_COMMANDS',
  'LEDGER_CONFLICT_RETRIES',
  'LEDGER_QUEUE_MAX_COMMANDS',
  'LEDGER_CACHE_MAX_WALLETS',
  'LEDGER_BATCHES_IN_FLIGHT',
  'DB_POOL_MAX',
  'GRPC_MAX_CONCURRENT_STREAMS',
  'PROJECTION_IN_PROCESS',
] as const;

export interface TransfersBenchConfig {
  readonly wallets: number;
  readonly patterns: readonly Pattern[];
  readonly transports: readonly Transport[];
  readonly loops: readonly LoopKind[];
  /** Closed-loop caller counts. */
  readonly concurrency: readonly number[];
  /** Open-loop arrival rates, transfers per second. */
  readonly rates: readonly number[];
  readonly durationMs: number;
  readonly warmupMs: number;
  /** Measured transfers per closed-loop cell, at most (HOT_MAX_MEASURED for hot cells). */
  readonly maxOps: number;
  /** Open loop: requests outstanding at once, at most; sends due beyond it are dropped and counted. */
  readonly maxInFlight: number;
  /** Every request's own deadline. */
  readonly timeoutMs: number;
  readonly grpcChannels: number;
  /** Which client sends the Transfer calls of gRPC cells (setup always uses grpc-js). */
  readonly grpcClient: GrpcClientKind;
  readonly httpAgents: number;
  /** Keep-alive sockets in total, spread evenly over the agents. */
  readonly httpSockets: number;
  readonly baselineMode: BaselineMode;
  /** Connections of the baseline's pool, at most (min(C, this) in a closed-loop cell). */
  readonly baselinePool: number;
  /** Service settings set in the environment, passed to loadLedgerConfig. */
  readonly serviceEnv: Readonly<Record<string, string>>;
  /** BENCH_CPU_PROFILE_DIR: a V8 CPU profile of the service's process over each service cell, written there. */
  readonly cpuProfileDir: string | undefined;
}

/** The only place the transfers bench reads the environment; invalid values stop it before anything starts. */
export function readTransfersBenchConfig(env: NodeJS.ProcessEnv = process.env): TransfersBenchConfig {
  const config: TransfersBenchConfig = {
    wallets: readInteger(env, 'BENCH_WALLETS', DEFAULT_WALLETS, 2, 50_000),
    patterns: readChoiceList(env, 'BENCH_PATTERNS', PATTERNS),
    transports: readChoiceList(env, 'BENCH_TRANSPORTS', TRANSPORTS),
    loops: readChoiceList(env, 'BENCH_LOOPS', LOOPS),
    concurrency: readIntegerList(env, 'BENCH_CONCURRENCY', DEFAULT_CONCURRENCY, 1, 1_024),
    rates: readIntegerList(env, 'BENCH_RATES', DEFAULT_RATES, 1, 50_000),
    durationMs: readInteger(env, 'BENCH_SECONDS', DEFAULT_SECONDS, 1, 600) * 1_000,
    warmupMs: readInteger(env, 'BENCH_WARMUP_SECONDS', DEFAULT_WARMUP_SECONDS, 0, 60) * 1_000,
    maxOps: readInteger(env, 'BENCH_MAX_OPS', DEFAULT_MAX_OPS, 1, 5_000_000),
    maxInFlight: readInteger(env, 'BENCH_MAX_IN_FLIGHT', DEFAULT_MAX_IN_FLIGHT, 1, 20_000),
    timeoutMs: readInteger(env, 'BENCH_TIMEOUT_MS', DEFAULT_TIMEOUT_MS, 100, 60_000),
    grpcChannels: readInteger(env, 'BENCH_GRPC_CHANNELS', DEFAULT_GRPC_CHANNELS, 1, 64),
    grpcClient: readChoice(env, 'BENCH_GRPC_CLIENT', GRPC_CLIENTS),
    httpAgents: readInteger(env, 'BENCH_HTTP_AGENTS', DEFAULT_HTTP_AGENTS, 1, 64),
    httpSockets: readInteger(env, 'BENCH_HTTP_SOCKETS', DEFAULT_HTTP_SOCKETS, 1, 4_096),
    baselineMode: readChoice(env, 'BENCH_BASELINE_MODE', BASELINE_MODES),
    baselinePool: readInteger(env, 'BENCH_BASELINE_POOL', DEFAULT_BASELINE_POOL, 1, MAX_BASELINE_POOL),
    serviceEnv: Object.fromEntries(
      SERVICE_ENV_PASSTHROUGH.flatMap((name) => {
        const value = env[name]?.trim();
        return value === undefined || value === '' ? [] : [[name, value]];
      }),
    ),
    cpuProfileDir: env['BENCH_CPU_PROFILE_DIR']?.trim() || undefined,
  };
  if (config.httpSockets < config.httpAgents) {
    throw new BenchConfigError(`BENCH_HTTP_SOCKETS (${config.httpSockets}) must be at least BENCH_HTTP_AGENTS (${config.httpAgents})`);
  }
  if (config.patterns.includes('hot') && config.loops.includes('open')) {
    const seconds = (config.warmupMs + config.durationMs) / 1_000;
    const tooFast = config.rates.find((rate) => rate * seconds > HOT_WALLET_SEND_BUDGET);
    if (tooFast !== undefined) {
      throw new BenchConfigError(
        `BENCH_RATES ${tooFast}/s × ${seconds} s would send more than ${HOT_WALLET_SEND_BUDGET.toLocaleString('en-US')} transfers from one hot ` +
          'wallet, beyond what the ledger loads from one stream (100,000 events); lower the rate or BENCH_SECONDS, or leave out BENCH_PATTERNS=hot',
      );
    }
  }
  return config;
}

/** One measured cell: a pattern, a loop kind at one level (callers or transfers/s), one transport. */
export interface CellPlan {
  readonly pattern: Pattern;
  readonly loop: LoopKind;
  /** Closed loop: concurrent callers. Open loop: offered transfers per second. */
  readonly level: number;
  readonly transport: Transport;
}

/** Cells in run order: per pattern and loop kind, per level, the baseline first, then each transport. */
export function planCells(config: Pick<TransfersBenchConfig, 'patterns' | 'loops' | 'concurrency' | 'rates' | 'transports'>): CellPlan[] {
  return config.patterns.flatMap((pattern) =>
    config.loops.flatMap((loop) =>
      (loop === 'closed' ? config.concurrency : config.rates).flatMap((level) =>
        config.transports.map((transport) => ({ pattern, loop, level, transport })),
      ),
    ),
  );
}

/** Measured transfers a closed-loop cell may run, at most. */
export function maxMeasuredOps(config: Pick<TransfersBenchConfig, 'maxOps'>, pattern: Pattern): number {
  return pattern === 'hot' ? Math.min(config.maxOps, HOT_MAX_MEASURED) : config.maxOps;
}

/** Connections of the baseline pool in a cell: one per caller up to the cap (open loop: the cap). */
export function baselinePoolSize(config: Pick<TransfersBenchConfig, 'baselinePool'>, cell: Pick<CellPlan, 'loop' | 'level'>): number {
  return cell.loop === 'closed' ? Math.min(cell.level, config.baselinePool) : config.baselinePool;
}

/** Keep-alive sockets per HTTP agent. */
export function socketsPerAgent(config: Pick<TransfersBenchConfig, 'httpSockets' | 'httpAgents'>): number {
  return Math.ceil(config.httpSockets / config.httpAgents);
}

/** One of `allowed`; the first when unset. */
function readChoice<Choice extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly Choice[]): Choice {
  if ((env[name]?.trim() ?? '') === '') return allowed[0]!;
  const chosen = readChoiceList(env, name, allowed);
  if (chosen.length !== 1) throw new BenchConfigError(`${name}: choose exactly one of ${allowed.join(', ')}`);
  return chosen[0]!;
}
