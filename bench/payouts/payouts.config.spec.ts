import { BenchConfigError } from '../lib/bench-env';
import { readPayoutsBenchConfig, serviceSettings } from './payouts.config';

describe('readPayoutsBenchConfig', () => {
  it('defaults to the issue-5 batch in both modes, the baseline paying every row', () => {
    expect(readPayoutsBenchConfig({})).toEqual({
      rows: 100_000,
      recipients: 10_000,
      modes: ['embedded', 'cluster'],
      baselineRows: 100_000,
      baselineConcurrency: 256,
      setupConcurrency: 64,
      pollMs: 100,
      executionTimeoutSeconds: 900,
      cpuProfileDir: undefined,
    });
  });

  it('takes a small run, and never a baseline longer than the batch', () => {
    const config = readPayoutsBenchConfig({ BENCH_ROWS: '2000', BENCH_RECIPIENTS: '200', BENCH_MODES: 'cluster' });
    expect(config).toMatchObject({ rows: 2_000, recipients: 200, modes: ['cluster'], baselineRows: 2_000 });
    expect(() => readPayoutsBenchConfig({ BENCH_ROWS: '2000', BENCH_BASELINE_ROWS: '2001' })).toThrow(BenchConfigError);
    expect(readPayoutsBenchConfig({ BENCH_BASELINE_ROWS: '0' }).baselineRows).toBe(0);
  });

  it('refuses bad values before anything starts', () => {
    expect(() => readPayoutsBenchConfig({ BENCH_ROWS: '200001' })).toThrow(/BENCH_ROWS/);
    expect(() => readPayoutsBenchConfig({ BENCH_ROWS: '100', BENCH_RECIPIENTS: '101' })).toThrow(/BENCH_RECIPIENTS/);
    expect(() => readPayoutsBenchConfig({ BENCH_MODES: 'embedded,grid' })).toThrow(/BENCH_MODES/);
    expect(() => readPayoutsBenchConfig({ BENCH_POLL_MS: '1' })).toThrow(/BENCH_POLL_MS/);
  });
});

describe('serviceSettings', () => {
  it('passes service settings through, never what the bench owns or anything else', () => {
    expect(
      serviceSettings({
        PAYOUT_MAX_INFLIGHT_CHUNKS: '8',
        LEDGER_BATCH_MAX_COMMANDS: '512',
        DB_POOL_MAX: '30',
        PAYOUTS_HTTP_PORT: '1',
        PAYOUT_SPOOL_DIR: '/x',
        DATABASE_URL: 'postgres://elsewhere',
        JWT_SECRET: 'nope',
        PATH: '/bin',
      }),
    ).toEqual({ PAYOUT_MAX_INFLIGHT_CHUNKS: '8', LEDGER_BATCH_MAX_COMMANDS: '512', DB_POOL_MAX: '30' });
  });
});
