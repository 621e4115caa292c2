import { EmbeddedBusPublisher, EmbeddedBusSubscriber, type BusPublisher, type RunningConsumer } from '@ledger/bus';
import { createKafka, KafkaBusPublisher, KafkaBusSubscriber } from '@ledger/bus-kafka';
import { CommandProcessor } from '@ledger/event-sourcing';
import { migrateEventStore, PostgresCheckpointStore, PostgresEventStore } from '@ledger/event-store-postgres';
import {
  decodePayoutResult,
  encodePayoutCommand,
  PAYOUT_COMMANDS_TOPIC,
  PAYOUT_RESULTS_TOPIC,
  type PayoutCommand,
  type PayoutResult,
  type PayoutRowsProcessed,
} from '@ledger/payouts-messages';
import { waitFor } from '@ledger/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { PayoutCommandsConfig } from '../config/ledger.config';
import { startPayoutCommandConsumer, type PayoutCommandConsumer } from './payout-command.consumer';
import { PayoutWallets } from './payout-test-kit';

const WAIT_MS = 30_000;
const HOUR = 3_600_000;

const CONFIG: PayoutCommandsConfig = {
  enabled: true,
  commandsTopic: PAYOUT_COMMANDS_TOPIC,
  resultsTopic: PAYOUT_RESULTS_TOPIC,
  groupId: 'ledger-payout-commands',
  retryAttempts: 2,
  retryInitialDelayMs: 20,
  retryMaxDelayMs: 200,
  stopTimeoutMs: 20_000,
};

function env(name: 'DATABASE_URL' | 'KAFKA_BROKERS'): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through jest (the integration global setup starts PostgreSQL and Kafka)`);
  return value;
}

interface LogLine {
  readonly level: string;
  readonly entry: Record<string, unknown>;
}

/**
 * The ledger's payout command consumer on real infrastructure: the embedded bus on the PostgreSQL
 * event store (its own schema), and once on Kafka (its own topics and groups). The saga's side is
 * played by a publisher of commands and a consumer of results.
 */
describe('payout commands on PostgreSQL', () => {
  let pool: Pool;
  let store: PostgresEventStore;
  let processor: CommandProcessor;
  let wallets: PayoutWallets;
  let schemaName: string;
  const logs: LogLine[] = [];
  const logger = {
    log: (entry: Record<string, unknown>) => logs.push({ level: 'log', entry }),
    warn: (entry: Record<string, unknown>) => logs.push({ level: 'warn', entry }),
    error: (entry: Record<string, unknown>) => logs.push({ level: 'error', entry }),
  };
  const clock = (): Date => new Date();

  beforeAll(async () => {
    schemaName = `es_${randomBytes(5).toString('hex')}`;
    pool = new Pool({ connectionString: env('DATABASE_URL'), max: 10 });
    await migrateEventStore(pool, schemaName);
    store = new PostgresEventStore({ pool, schema: schemaName, pollIntervalMs: 20 });
    processor = new CommandProcessor(store, { maxBatchSize: 256, maxConflictRetries: 5, maxQueuedCommands: 10_000, cacheEntries: 10_000 });
    wallets = new PayoutWallets(store, processor, clock);
  });
  afterAll(async () => {
    await processor?.close();
    await store?.close();
    await pool?.end();
  });

  function reserve(batchId: string, sourceWalletId: string, holdId: string, amountMinor: bigint): PayoutCommand {
    return { type: 'ReservePayoutFunds', batchId, sourceWalletId, holdId, currency: 'USD', amountMinor: amountMinor.toString(), expiresAt: new Date(Date.now() + HOUR).toISOString() };
  }

  async function send(publisher: BusPublisher, topic: string, command: PayoutCommand): Promise<void> {
    await publisher.publish(topic, [{ key: command.batchId, value: encodePayoutCommand(command) }]);
  }

  describe('over the embedded bus', () => {
    let consumer: PayoutCommandConsumer | undefined;
    let saga: RunningConsumer;
    let commands: EmbeddedBusPublisher;
    const results: PayoutResult[] = [];

    const start = async (): Promise<PayoutCommandConsumer> => {
      consumer = await startPayoutCommandConsumer(CONFIG, undefined, { store, checkpoints: new PostgresCheckpointStore(pool, schemaName), processor, clock, logger });
      return consumer;
    };
    const resultsOf = (batchId: string): PayoutResult[] => results.filter((r) => r.batchId === batchId);
    const waitForResults = (batchId: string, count: number): Promise<void> =>
      waitFor(() => resultsOf(batchId).length >= count, WAIT_MS, `${count} result(s) for batch ${batchId} (have ${resultsOf(batchId).length})`);

    beforeAll(async () => {
      commands = new EmbeddedBusPublisher(store, { principal: 'service:payouts' });
      saga = await new EmbeddedBusSubscriber(store, new PostgresCheckpointStore(pool, schemaName), { retryInitialDelayMs: 10 }).start({
        groupId: 'test-payout-saga',
        topics: [PAYOUT_RESULTS_TOPIC],
        fromBeginning: true,
        handle: async (message) => {
          results.push(decodePayoutResult(message.value));
        },
      });
      await start();
    });
    afterAll(async () => {
      await consumer?.stop();
      await saga?.stop();
    });

    it('reserves, pays a chunk (one row refused), answers a duplicate identically, and releases exactly the rest', async () => {
      const source = await wallets.open('USD', 100_000n);
      const [paid, frozen] = [await wallets.open(), await wallets.open()];
      await wallets.freeze(frozen);
      const batchId = randomUUID();
      const holdId = randomUUID();
      await send(commands, PAYOUT_COMMANDS_TOPIC, reserve(batchId, source, holdId, 20_000n));
      await waitForResults(batchId, 1);
      expect(resultsOf(batchId)[0]).toMatchObject({ type: 'PayoutFundsReserved', holdId, amountMinor: '20000' });

      const pay: PayoutCommand = {
        type: 'PayPayoutRows',
        batchId,
        chunk: 0,
        sourceWalletId: source,
        holdId,
        currency: 'USD',
        rows: [
          { row: 1, recipientWalletId: paid, amountMinor: '12000', reference: 'salary' },
          { row: 2, recipientWalletId: frozen, amountMinor: '5000' },
        ],
      };
      await send(commands, PAYOUT_COMMANDS_TOPIC, pay);
      await send(commands, PAYOUT_COMMANDS_TOPIC, pay); // a duplicate, as a resuming saga may send
      await waitForResults(batchId, 3);
      const [first, second] = resultsOf(batchId).slice(1) as PayoutRowsProcessed[];
      expect(first?.results).toEqual([
        { row: 1, outcome: 'SUCCEEDED', transactionId: expect.any(String), position: expect.any(String) },
        { row: 2, outcome: 'FAILED', reason: 'WALLET_FROZEN', position: expect.any(String) },
      ]);
      expect(second).toEqual(first);

      await send(commands, PAYOUT_COMMANDS_TOPIC, { type: 'ReleasePayoutReservation', batchId, sourceWalletId: source, holdId });
      await waitForResults(batchId, 4);
      expect(resultsOf(batchId)[3]).toMatchObject({ type: 'PayoutReservationReleased', releasedMinor: '8000' });
      expect(await wallets.balance(paid)).toBe(12_000n);
      expect(await wallets.balance(frozen)).toBe(0n);
      const sourceState = await wallets.state(source);
      expect([sourceState.balanceMinor, sourceState.heldMinor]).toEqual([88_000n, 0n]);
    });

    it('skips a poison message without blocking the partition', async () => {
      const batchId = randomUUID();
      await commands.publish(PAYOUT_COMMANDS_TOPIC, [{ key: batchId, value: '{"schema":"payouts.command.v1","type":"ReleasePayoutReservation"}' }]);
      await send(commands, PAYOUT_COMMANDS_TOPIC, { type: 'ReleasePayoutReservation', batchId, sourceWalletId: await wallets.open(), holdId: randomUUID() });
      await waitForResults(batchId, 1);
      expect(resultsOf(batchId)).toEqual([expect.objectContaining({ type: 'PayoutReservationReleased', releasedMinor: '0', note: 'HOLD_NOT_FOUND' })]);
      expect(logs.some((l) => l.level === 'error' && l.entry['msg'] === 'payout command: poison message skipped' && l.entry['path'] === '$.batchId')).toBe(true);
    });

    it('answers a command published while it was stopped once it runs again, and not again after another restart', async () => {
      await consumer?.stop();
      const source = await wallets.open('USD', 5_000n);
      const batchId = randomUUID();
      await send(commands, PAYOUT_COMMANDS_TOPIC, reserve(batchId, source, randomUUID(), 5_000n));
      await start();
      await waitForResults(batchId, 1);
      expect(resultsOf(batchId)[0]).toMatchObject({ type: 'PayoutFundsReserved' });

      // Restart again; a later command's answer proves the consumer passed the first one without redoing it.
      await consumer?.stop();
      await start();
      const marker = randomUUID();
      await send(commands, PAYOUT_COMMANDS_TOPIC, { type: 'ReleasePayoutReservation', batchId: marker, sourceWalletId: source, holdId: randomUUID() });
      await waitForResults(marker, 1);
      expect(resultsOf(batchId)).toHaveLength(1);
      expect(await wallets.held(source)).toBe(5_000n);
    });
  });

  describe('over Kafka', () => {
    const suffix = randomBytes(4).toString('hex');
    const config: PayoutCommandsConfig = {
      ...CONFIG,
      commandsTopic: `test-${suffix}.payouts.commands.v1`,
      resultsTopic: `test-${suffix}.payouts.results.v1`,
      groupId: `ledger-payout-commands-${suffix}`,
    };
    const kafkaLog = (): undefined => undefined;
    let consumer: PayoutCommandConsumer | undefined;
    let saga: RunningConsumer | undefined;
    let commands: KafkaBusPublisher | undefined;
    const results: PayoutResult[] = [];

    afterAll(async () => {
      await consumer?.stop();
      await saga?.stop();
      await commands?.close();
      const admin = createKafka({ brokers: env('KAFKA_BROKERS'), clientId: `payout-it-${suffix}`, log: kafkaLog }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [config.commandsTopic, config.resultsTopic], timeout: 30_000 }).catch(() => undefined);
      await admin.disconnect();
    });

    it('creates its topics, consumes commands and publishes results keyed by batch', async () => {
      consumer = await startPayoutCommandConsumer(
        config,
        { brokers: env('KAFKA_BROKERS'), clientId: `ledger-it-${suffix}`, ackTimeoutMs: 30_000, publishRetries: 5, topicPartitions: 3, topicReplicationFactor: 1, concurrentPartitions: 2 },
        { store, checkpoints: new PostgresCheckpointStore(pool, schemaName), processor, clock, logger },
      );
      const kafka = createKafka({ brokers: env('KAFKA_BROKERS'), clientId: `payout-saga-${suffix}`, log: kafkaLog });
      commands = new KafkaBusPublisher(kafka);
      saga = await new KafkaBusSubscriber(kafka).start({
        groupId: `test-payout-saga-${suffix}`,
        topics: [config.resultsTopic],
        fromBeginning: true,
        handle: async (message) => {
          const result = decodePayoutResult(message.value);
          expect(message.key).toBe(result.batchId);
          results.push(result);
        },
      });
      const source = await wallets.open('USD', 50_000n);
      const recipient = await wallets.open();
      const batchId = randomUUID();
      const holdId = randomUUID();
      await send(commands, config.commandsTopic, reserve(batchId, source, holdId, 30_000n));
      await send(commands, config.commandsTopic, {
        type: 'PayPayoutRows',
        batchId,
        chunk: 0,
        sourceWalletId: source,
        holdId,
        currency: 'USD',
        rows: [{ row: 1, recipientWalletId: recipient, amountMinor: '30000' }],
      });
      await waitFor(() => results.length >= 2, 60_000, `two results on ${config.resultsTopic} (have ${results.length})`);
      expect(results.map((r) => r.type)).toEqual(['PayoutFundsReserved', 'PayoutRowsProcessed']);
      expect((results[1] as PayoutRowsProcessed).results[0]).toMatchObject({ row: 1, outcome: 'SUCCEEDED' });
      expect(await wallets.balance(recipient)).toBe(30_000n);
      expect(consumer.status()).toMatchObject({ transport: 'kafka', state: 'running', messagesHandled: 2 });
    });
  });
});
