import { InvalidConfigError } from '@ledger/nest';
import { loadProjectorConfig } from './projector.config';

describe('loadProjectorConfig', () => {
  it('needs DATABASE_URL and fills in the defaults', () => {
    expect(() => loadProjectorConfig({})).toThrow(/DATABASE_URL is required/);
    expect(loadProjectorConfig({ DATABASE_URL: 'postgres://x/y' })).toMatchObject({
      source: 'store',
      kafka: undefined,
      readModelsSchema: 'read_models',
      eventStoreSchema: 'event_store',
      batchEvents: 256,
      rebuild: { readBatchEvents: 4_096, eventsPerTransaction: 16_384 },
      http: { port: 3100 },
    });
  });

  it('needs KAFKA_BROKERS for the kafka source and takes the wallet topic by default', () => {
    expect(() => loadProjectorConfig({ DATABASE_URL: 'postgres://x/y', PROJECTOR_SOURCE: 'kafka' })).toThrow(/KAFKA_BROKERS is required/);
    expect(loadProjectorConfig({ DATABASE_URL: 'postgres://x/y', PROJECTOR_SOURCE: 'kafka', KAFKA_BROKERS: 'k:9092' }).kafka).toEqual({
      brokers: 'k:9092',
      groupId: 'ledger-projector-wallets',
      topics: ['ledger.wallet.v1'],
    });
  });

  it('lists every bad variable at once', () => {
    let caught: unknown;
    try {
      loadProjectorConfig({ DATABASE_URL: 'mysql://x', PROJECTOR_SOURCE: 'file', PROJECTOR_BATCH_EVENTS: '5000', READ_MODELS_SCHEMA: 'Bad-Name', LOG_LEVEL: 'loud' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidConfigError);
    expect((caught as InvalidConfigError).problems).toHaveLength(5);
  });
});
