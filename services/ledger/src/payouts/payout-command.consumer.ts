import type { BusPublisher, BusSubscriber, RunningConsumer } from '@ledger/bus';
import { openBus } from '@ledger/bus-kafka';
import type { CommandProcessor } from '@ledger/event-sourcing';
import type { CheckpointStore, EventStore } from '@ledger/event-store';
import { PAYOUT_COMMANDS_TOPIC } from '@ledger/payouts-messages';
import type { LoggerService } from '@nestjs/common';
import type { LedgerKafkaConfig, PayoutCommandsConfig } from '../config/ledger.config';
import { PayoutCommandHandler, type PayoutCommandHandlerStatus } from './payout-command.handler';

/** The principal recorded on result messages the embedded bus stores (events of the bus topic). */
export const PAYOUT_RESULTS_PUBLISHER_PRINCIPAL = 'service:ledger';

type Logger = Pick<LoggerService, 'log' | 'warn' | 'error'>;

export interface PayoutCommandConsumerStatus extends PayoutCommandHandlerStatus {
  readonly state: 'new' | 'running' | 'stopped';
  readonly transport: 'kafka' | 'embedded';
}

/**
 * The ledger's member of consumer group `ledger-payout-commands` on `payouts.commands.v1`: one
 * PayoutCommandHandler behind a BusSubscriber (Kafka or embedded), from the beginning of the topic
 * for a new group (every command must be answered; replays are cheap and idempotent).
 */
export class PayoutCommandConsumer {
  private state: PayoutCommandConsumerStatus['state'] = 'new';
  private running: RunningConsumer | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly parts: {
      readonly subscriber: BusSubscriber;
      readonly publisher: BusPublisher;
      readonly handler: PayoutCommandHandler;
      readonly groupId: string;
      /** Default the contract's `payouts.commands.v1`. */
      readonly commandsTopic?: string;
      readonly transport: PayoutCommandConsumerStatus['transport'];
      readonly logger?: Logger;
      /** Releases what the consumer was built on (e.g. Kafka connections), after it stopped. */
      readonly dispose?: () => Promise<void>;
    },
  ) {}

  /** Joins the group and starts handling. @throws BusError CONSUMER_FAILED and the like. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`PayoutCommandConsumer: start() called while ${this.state}`);
    const { subscriber, handler, groupId } = this.parts;
    const topic = this.parts.commandsTopic ?? PAYOUT_COMMANDS_TOPIC;
    this.running = await subscriber.start({ groupId, topics: [topic], fromBeginning: true, handle: (message) => handler.handle(message) });
    this.state = 'running';
    this.parts.logger?.log({ msg: 'payout commands: consuming', topic, groupId, transport: this.parts.transport }, 'PayoutCommands');
  }

  /**
   * Ends retry pauses, waits (bounded) for the message in hand (not committed unless its result
   * was published), then closes the publisher. Call before the CommandProcessor closes. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.parts.handler.abort();
      const wasRunning = this.state === 'running';
      this.state = 'stopped';
      try {
        await this.running?.stop();
      } finally {
        await this.parts.publisher.close().catch(() => undefined);
        await this.parts.dispose?.().catch(() => undefined);
      }
      if (wasRunning) this.parts.logger?.log({ msg: 'payout commands: stopped', ...this.parts.handler.status() }, 'PayoutCommands');
    })();
    return this.stopping;
  }

  status(): PayoutCommandConsumerStatus {
    return { state: this.state, transport: this.parts.transport, ...this.parts.handler.status() };
  }
}

export interface PayoutCommandsDependencies {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  readonly processor: CommandProcessor;
  readonly clock: () => Date;
  readonly logger?: Logger;
}

/**
 * Builds the consumer on the configured bus and starts it: Kafka when `kafka` is given (both
 * topics are created first if missing, with the configured partitions), else the embedded bus on
 * this service's own event store and checkpoint table.
 * @throws when Kafka cannot be reached (bounded by the client's retries) or a topic exists with
 *   another partition count; nothing is left running then.
 */
export async function startPayoutCommandConsumer(
  config: PayoutCommandsConfig,
  kafka: LedgerKafkaConfig | undefined,
  deps: PayoutCommandsDependencies,
): Promise<PayoutCommandConsumer> {
  const { logger } = deps;
  const retry = { retryAttempts: config.retryAttempts, retryInitialDelayMs: config.retryInitialDelayMs, retryMaxDelayMs: config.retryMaxDelayMs };
  const bus = await openBus({
    kafka,
    topics: [config.commandsTopic, config.resultsTopic],
    store: deps.store,
    checkpoints: deps.checkpoints,
    embeddedPrincipal: PAYOUT_RESULTS_PUBLISHER_PRINCIPAL,
    retryInitialDelayMs: config.retryInitialDelayMs,
    retryMaxDelayMs: config.retryMaxDelayMs,
    stopTimeoutMs: config.stopTimeoutMs,
    log: ({ level, ...fields }) => logger?.[level]?.(fields, bus_context(kafka)),
  });
  const consumer = new PayoutCommandConsumer({
    subscriber: bus.subscriber,
    publisher: bus.publisher,
    handler: new PayoutCommandHandler({ ...deps, publisher: bus.publisher }, { ...retry, resultsTopic: config.resultsTopic }),
    groupId: config.groupId,
    commandsTopic: config.commandsTopic,
    transport: bus.transport,
    ...(logger ? { logger } : {}),
  });
  try {
    await consumer.start();
  } catch (error) {
    await consumer.stop();
    throw error;
  }
  return consumer;
}

function bus_context(kafka: LedgerKafkaConfig | undefined): string {
  return kafka ? 'Kafka' : 'PayoutCommands';
}
