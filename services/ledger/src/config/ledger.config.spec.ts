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

  it('runs the payout command consumer on the embedded bus by default, with bounded retries', () => {
    const config = loadLedgerConfig({});
    expect(config.payoutCommands).toEqual({
      enabled: true,
      commandsTopic: 'payouts.commands.v1',
      resultsTopic: 'payouts.results.v1',
      groupId: 'ledger-payout-commands',
      retryAttempts: 3,
      retryInitialDelayMs: 100,
      retryMaxDelayMs: 5_000,
      stopTimeoutMs: 5_000,
    });
    expect(config.kafka).toBeUndefined();
    expect(loadLedgerConfig({ PAYOUT_COMMANDS_ENABLED: 'false' }).payoutCommands.enabled).toBe(false);
    expect(loadLedgerConfig({ PAYOUT_COMMANDS_TOPIC: 'test.payouts.commands.v1', PAYOUT_RESULTS_TOPIC: 'test.payouts.results.v1', PAYOUT_CONSUMER_GROUP: 'g1' }).payoutCommands).toMatchObject({
      commandsTopic: 'test.payouts.commands.v1',
      resultsTopic: 'test.payouts.results.v1',
      groupId: 'g1',
    });
    expect(() => loadLedgerConfig({ PAYOUT_RESULTS_TOPIC: 'payouts.commands.v1' })).toThrow(/PAYOUT_RESULTS_TOPIC must differ/);
  });

  it('uses Kafka for payout commands when KAFKA_BROKERS is set, with its settings and their defaults', () => {
    expect(loadLedgerConfig({ KAFKA_BROKERS: 'k1:9092, k2:9092' }).kafka).toEqual({
      brokers: 'k1:9092, k2:9092',
      clientId: 'ledger',
      ackTimeoutMs: 30_000,
      publishRetries: 5,
      topicPartitions: 6,
      topicReplicationFactor: -1,
      concurrentPartitions: 2,
    });
    expect(
      loadLedgerConfig({
        KAFKA_BROKERS: '127.0.0.1:9092',
        KAFKA_CLIENT_ID: 'ledger-7',
        BUS_TOPIC_PARTITIONS: '12',
        BUS_TOPIC_REPLICATION_FACTOR: '3',
        BUS_CONCURRENT_PARTITIONS: '4',
        BUS_PUBLISH_ACK_TIMEOUT_MS: '5000',
        BUS_PUBLISH_RETRIES: '0',
      }).kafka,
    ).toEqual({ brokers: '127.0.0.1:9092', clientId: 'ledger-7', ackTimeoutMs: 5_000, publishRetries: 0, topicPartitions: 12, topicReplicationFactor: 3, concurrentPartitions: 4 });
  });

  it('refuses bad payout and Kafka settings, all at once', () => {
    let caught: unknown;
    try {
      loadLedgerConfig({
        PAYOUT_COMMANDS_ENABLED: 'yes',
        KAFKA_BROKERS: 'not a broker',
        KAFKA_CLIENT_ID: 'bad id',
        BUS_TOPIC_PARTITIONS: '0',
        BUS_TOPIC_REPLICATION_FACTOR: '0',
        BUS_CONCURRENT_PARTITIONS: '65',
        PAYOUT_RETRY_ATTEMPTS: '-1',
        PAYOUT_RETRY_INITIAL_DELAY_MS: '1000',
        PAYOUT_RETRY_MAX_DELAY_MS: '500',
        PAYOUT_STOP_TIMEOUT_MS: '10',
        PAYOUT_COMMANDS_TOPIC: 'bad topic',
        PAYOUT_RESULTS_TOPIC: 'x'.repeat(61),
        PAYOUT_CONSUMER_GROUP: 'a/b',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidConfigError);
    expect((caught as InvalidConfigError).problems).toEqual(
      expect.arrayContaining([
        "PAYOUT_COMMANDS_ENABLED must be one of true, false; got 'yes'",
        "KAFKA_BROKERS must be a comma-separated list of 'host:port'",
        'KAFKA_CLIENT_ID must be 1 to 128 characters of letters, digits and . _ -',
        'BUS_TOPIC_PARTITIONS must be from 1 to 1000; got 0',
        'BUS_TOPIC_REPLICATION_FACTOR must be -1 (broker default) or 1 to 16',
        'BUS_CONCURRENT_PARTITIONS must be from 1 to 64; got 65',
        'PAYOUT_RETRY_ATTEMPTS must be from 0 to 100; got -1',
        'PAYOUT_RETRY_MAX_DELAY_MS must be at least PAYOUT_RETRY_INITIAL_DELAY_MS (1000)',
        'PAYOUT_STOP_TIMEOUT_MS must be from 1000 to 600000; got 10',
        expect.stringMatching(/^PAYOUT_COMMANDS_TOPIC must be letters/),
        expect.stringMatching(/^PAYOUT_RESULTS_TOPIC must be letters/),
        'PAYOUT_CONSUMER_GROUP must be 1 to 63 characters of letters, digits and . _ : -',
      ]),
    );
  });
});
