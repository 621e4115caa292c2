import { InvalidConfigError } from '@ledger/nest';
import { loadRelayConfig } from './relay.config';

const REQUIRED = { DATABASE_URL: 'postgres://u@127.0.0.1:5432/ledger', KAFKA_BROKERS: '127.0.0.1:9092' };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadRelayConfig(env);
  } catch (error) {
    if (error instanceof InvalidConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('relay configuration', () => {
  it('has defaults for everything but the database and the brokers', () => {
    expect(loadRelayConfig(REQUIRED)).toMatchObject({
      databaseUrl: REQUIRED.DATABASE_URL,
      eventStoreSchema: 'event_store',
      consumerId: 'relay:ledger',
      kafka: { brokers: '127.0.0.1:9092', clientId: 'ledger-relay', ackTimeoutMs: 30_000, publishRetries: 5 },
      categories: ['wallet'],
      topicPartitions: 6,
      topicReplicationFactor: -1,
      batchSize: 512,
      leaderRetryMs: 1_000,
      http: { host: '127.0.0.1', port: 9464 },
      logLevel: 'log',
    });
  });

  it('reads every setting', () => {
    const config = loadRelayConfig({
      ...REQUIRED,
      RELAY_CATEGORIES: 'wallet, payout ,wallet',
      RELAY_BATCH_SIZE: '100',
      RELAY_LEADER_RETRY_MS: '250',
      RELAY_TOPIC_PARTITIONS: '3',
      HTTP_PORT: '0',
      LOG_LEVEL: 'warn',
    });
    expect(config).toMatchObject({ categories: ['wallet', 'payout'], batchSize: 100, leaderRetryMs: 250, topicPartitions: 3, http: { port: 0 }, logLevel: 'warn' });
  });

  it('refuses to boot listing every problem at once', () => {
    const problems = problemsOf({
      KAFKA_BROKERS: 'not a broker',
      RELAY_BATCH_SIZE: '5000',
      RELAY_LEADER_RETRY_MS: 'soon',
      RELAY_TOPIC_PARTITIONS: '0',
      RELAY_CATEGORIES: 'wallet,idempotency,Bad-Name',
      RELAY_TOPIC_REPLICATION_FACTOR: '0',
      EVENT_STORE_SCHEMA: 'Drop Table',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'DATABASE_URL is required',
        "KAFKA_BROKERS must be a comma-separated list of 'host:port'",
        'RELAY_BATCH_SIZE must be from 1 to 4096; got 5000',
        "RELAY_LEADER_RETRY_MS must be an integer; got 'soon'",
        'RELAY_TOPIC_PARTITIONS must be from 1 to 1000; got 0',
        "RELAY_CATEGORIES entry 'idempotency' is internal to the ledger and never published",
        "RELAY_CATEGORIES entry 'Bad-Name' is not a category (camelCase letters and digits)",
        'RELAY_TOPIC_REPLICATION_FACTOR must be -1 (broker default) or 1 to 16',
        'EVENT_STORE_SCHEMA must be lower-case letters, digits and _',
      ]),
    );
    expect(problems.some((p) => p.startsWith('LOG_LEVEL'))).toBe(true);
    expect(problemsOf({ DATABASE_URL: 'mysql://x', KAFKA_BROKERS: '127.0.0.1:9092' })).toEqual(['DATABASE_URL must be a postgres:// or postgresql:// URL']);
    expect(problemsOf({ DATABASE_URL: REQUIRED.DATABASE_URL })).toEqual(['KAFKA_BROKERS is required']);
  });
});
