import { BenchConfigError } from '../lib/bench-env';
import { baselinePoolSize, HOT_MAX_MEASURED, maxMeasuredOps, planCells, readTransfersBenchConfig, socketsPerAgent } from './transfers.config';

describe('readTransfersBenchConfig', () => {
  it('has bounded defaults', () => {
    const config = readTransfersBenchConfig({});
    expect(config).toMatchObject({
      wallets: 2_000,
      patterns: ['spread', 'hot'],
      transports: ['sql', 'grpc', 'http'],
      loops: ['closed', 'open'],
      concurrency: [64, 256],
      rates: [2_000, 5_000],
      durationMs: 6_000,
      warmupMs: 1_000,
      maxInFlight: 1_000,
      baselineMode: 'function',
      grpcClient: 'lean',
      baselinePool: 64,
      serviceEnv: {},
      cpuProfileDir: undefined,
    });
  });

  it('reads lists, choices and the service settings it passes through', () => {
    const config = readTransfersBenchConfig({
      BENCH_PATTERNS: 'hot',
      BENCH_TRANSPORTS: 'grpc,sql',
      BENCH_CONCURRENCY: '8, 16',
      BENCH_BASELINE_MODE: 'statements',
      BENCH_GRPC_CLIENT: 'grpc-js',
      LEDGER_BATCH_MAX_COMMANDS: '512',
      DATABASE_URL: 'postgres://elsewhere/db', // never passed on: the bench runs the embedded default
    });
    expect(config.patterns).toEqual(['hot']);
    expect(config.transports).toEqual(['sql', 'grpc']); // in the canonical order: the baseline first
    expect(config.concurrency).toEqual([8, 16]);
    expect(config.baselineMode).toBe('statements');
    expect(config.grpcClient).toBe('grpc-js');
    expect(config.serviceEnv).toEqual({ LEDGER_BATCH_MAX_COMMANDS: '512' });
  });

  it('stops on values it cannot honour', () => {
    expect(() => readTransfersBenchConfig({ BENCH_BASELINE_POOL: '500' })).toThrow(BenchConfigError);
    expect(() => readTransfersBenchConfig({ BENCH_BASELINE_MODE: 'function,statements' })).toThrow(BenchConfigError);
    expect(() => readTransfersBenchConfig({ BENCH_TRANSPORTS: 'grpc,carrier-pigeon' })).toThrow(BenchConfigError);
    expect(() => readTransfersBenchConfig({ BENCH_GRPC_CLIENT: 'curl' })).toThrow(BenchConfigError);
    expect(() => readTransfersBenchConfig({ BENCH_HTTP_AGENTS: '8', BENCH_HTTP_SOCKETS: '4' })).toThrow(BenchConfigError);
  });

  it('refuses an open-loop hot cell that would outgrow what the ledger loads from one stream', () => {
    expect(() => readTransfersBenchConfig({ BENCH_RATES: '20000', BENCH_SECONDS: '6' })).toThrow(/hot/);
    // The same rate is fine without the hot pattern, or with a short enough window.
    expect(readTransfersBenchConfig({ BENCH_RATES: '20000', BENCH_PATTERNS: 'spread' }).rates).toEqual([20_000]);
    expect(readTransfersBenchConfig({ BENCH_RATES: '20000', BENCH_SECONDS: '3' }).rates).toEqual([20_000]);
  });
});

describe('cell plan', () => {
  it('runs the baseline first at every level, pattern by pattern and loop by loop', () => {
    const cells = planCells({ patterns: ['spread', 'hot'], loops: ['closed', 'open'], concurrency: [64], rates: [2_000, 5_000], transports: ['sql', 'grpc'] });
    expect(cells.map((c) => `${c.pattern}/${c.loop}/${c.level}/${c.transport}`)).toEqual([
      'spread/closed/64/sql',
      'spread/closed/64/grpc',
      'spread/open/2000/sql',
      'spread/open/2000/grpc',
      'spread/open/5000/sql',
      'spread/open/5000/grpc',
      'hot/closed/64/sql',
      'hot/closed/64/grpc',
      'hot/open/2000/sql',
      'hot/open/2000/grpc',
      'hot/open/5000/sql',
      'hot/open/5000/grpc',
    ]);
  });

  it('bounds hot cells, sizes the baseline pool and spreads sockets over agents', () => {
    expect(maxMeasuredOps({ maxOps: 200_000 }, 'hot')).toBe(HOT_MAX_MEASURED);
    expect(maxMeasuredOps({ maxOps: 200_000 }, 'spread')).toBe(200_000);
    expect(baselinePoolSize({ baselinePool: 64 }, { loop: 'closed', level: 16 })).toBe(16);
    expect(baselinePoolSize({ baselinePool: 64 }, { loop: 'closed', level: 256 })).toBe(64);
    expect(baselinePoolSize({ baselinePool: 64 }, { loop: 'open', level: 5_000 })).toBe(64);
    expect(socketsPerAgent({ httpSockets: 256, httpAgents: 4 })).toBe(64);
    expect(socketsPerAgent({ httpSockets: 10, httpAgents: 4 })).toBe(3);
  });
});
