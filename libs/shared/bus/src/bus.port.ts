/**
 * The message bus port. Two adapters: Kafka (cluster mode, kafkajs) and embedded (consumers tail
 * the event store's global log from their own checkpoints). Both pass the bus contract suite
 * (libs/shared/testing) where the capability applies.
 *
 * Delivery is at-least-once: a message's offset is committed only after its handler resolved.
 * A handler that throws, or a consumer that dies, gets the message again. Handlers must therefore
 * be idempotent (projections commit their checkpoint with their effect).
 */

/** A message as a publisher hands it over. `key` decides the partition: one key, one order. */
export interface OutgoingMessage {
  readonly key: string;
  /** UTF-8 text, normally JSON of a versioned integration-event contract. */
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Sends the message to this partition instead of the key's. For messages every partition must
   * see (the relay's watermarks); ordinary messages leave it out so the key keeps their order.
   * An integer from 0 to the topic's partition count - 1; the embedded bus has only partition 0.
   */
  readonly partition?: number;
}

/** A message as a consumer receives it. */
export interface IncomingMessage {
  readonly topic: string;
  readonly partition: number;
  /** Decimal string: Kafka offsets or event-store positions, both beyond 2^53 in principle. */
  readonly offset: string;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface BusPublisher {
  /**
   * Publishes messages to one topic and resolves once the broker acknowledged all of them
   * (acks from all in-sync replicas, idempotent producer). Per key, order is kept.
   * @throws BusError (code PUBLISH_FAILED) when the broker did not acknowledge.
   */
  publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  /** Members with the same group id share the topics' partitions; each group gets every message. */
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group with no committed offset starts. */
  readonly fromBeginning: boolean;
  /** Called one message at a time per partition; resolve = handled, commit may follow. */
  readonly handle: (message: IncomingMessage) => Promise<void>;
}

export interface RunningConsumer {
  /** Stops fetching, waits for the in-flight handler, commits what was handled, leaves the group. */
  stop(): Promise<void>;
}

export interface BusSubscriber {
  /** Joins the group and starts handling. Resolves once the consumer runs. */
  start(options: ConsumerOptions): Promise<RunningConsumer>;
}

export type BusErrorCode = 'PUBLISH_FAILED' | 'INVALID_TOPIC' | 'INVALID_MESSAGE' | 'INVALID_OPTIONS' | 'CONSUMER_FAILED';

export class BusError extends Error {
  constructor(
    readonly code: BusErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BusError';
  }
}

/** Topic names: letters, digits, dots, dashes, underscores; Kafka's own bound of 249 characters. */
export const TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;

export function assertTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || !TOPIC_PATTERN.test(topic)) {
    throw new BusError('INVALID_TOPIC', `Topic '${String(topic).slice(0, 80)}' must match ${TOPIC_PATTERN}`);
  }
}
