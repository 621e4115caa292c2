import { InvalidConfigError } from '@ledger/nest';
import { loadLedgerConfig } from './ledger.config';
import { testJwtEnv } from '../testing/ledger-test-env';

describe('loadLedgerConfig', () => {
  it('defaults to an embedded PostgreSQL and loopback HTTP', () => {
    expect(loadLedgerConfig({})).toMatchObject({
      http: { host: '127.0.0.1', port: 3000 },
      database: { kind: 'embedded', dataDir: '.data/postgres', port: 54329 },
      eventStoreSchema: 'event_store',
    });
  });

  it('uses an external database when DATABASE_URL is given', () => {
    expect(loadLedgerConfig({ DATABASE_URL: 'postgres://u@db:5432/ledger', ...testJwtEnv() }).database).toEqual({
      kind: 'external',
      url: 'postgres://u@db:5432/ledger',
    });
  });

  it('reports every bad variable at once', () => {
    let caught: unknown;
    try {
      loadLedgerConfig({ HTTP_PORT: 'eighty', DB_POOL_MAX: '0', DATABASE_URL: 'mysql://x', EVENT_STORE_SCHEMA: 'Bad-Name', LOG_LEVEL: 'chatty' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidConfigError);
    const problems = (caught as InvalidConfigError).problems.join('\n');
    expect(problems).toMatch(/HTTP_PORT must be an integer/);
    expect(problems).toMatch(/DB_POOL_MAX must be from 1 to 500/);
    expect(problems).toMatch(/DATABASE_URL must be a postgres/);
    expect(problems).toMatch(/EVENT_STORE_SCHEMA must be/);
    expect(problems).toMatch(/LOG_LEVEL/);
  });

  it('reads the hold-expiry settings with their defaults and bounds', () => {
    expect(loadLedgerConfig({}).holdExpiry).toEqual({ enabled: true, maxTrackedHolds: 100_000, maxSleepMs: 5_000 });
    expect(loadLedgerConfig({ HOLD_EXPIRY_ENABLED: 'false', HOLD_EXPIRY_MAX_TRACKED_HOLDS: '10', HOLD_EXPIRY_MAX_SLEEP_MS: '250' }).holdExpiry).toEqual({
      enabled: false,
      maxTrackedHolds: 10,
      maxSleepMs: 250,
    });
    expect(() => loadLedgerConfig({ HOLD_EXPIRY_ENABLED: 'yes', HOLD_EXPIRY_MAX_TRACKED_HOLDS: '0', HOLD_EXPIRY_MAX_SLEEP_MS: '5' })).toThrow(
      /HOLD_EXPIRY_ENABLED must be one of true, false[\s\S]*HOLD_EXPIRY_MAX_TRACKED_HOLDS must be from 1[\s\S]*HOLD_EXPIRY_MAX_SLEEP_MS must be from 10/,
    );
  });

  it('requires real JWT settings with an external database, and refuses the published dev secret there', () => {
    expect(() => loadLedgerConfig({ DATABASE_URL: 'postgres://u@db:5432/ledger' })).toThrow(/JWT_SECRET is required/);
    expect(loadLedgerConfig({}).auth.usedDevSecret).toBe(true);
  });
});
