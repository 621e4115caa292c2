import { assertTopic, BusError, type BusPublisher, type OutgoingMessage } from '@ledger/bus';
import { CompressionTypes, Partitioners, type ICustomPartitioner, type Kafka, type Message, type Producer } from 'kafkajs';
import { MAX_PARTITIONS } from './kafka-topics.admin';

export interface KafkaBusPublisherOptions {
  /** How long the partition leader waits for in-sync replicas before answering, default 30000. */
  readonly ackTimeoutMs?: number;
  /** Producer-level retries of a failed produce request, default 5 (then PUBLISH_FAILED). */
  readonly retries?: number;
  /** Bound on one publish call, default 10000 messages. */
  readonly maxMessagesPerPublish?: number;
}

/** Keys pick the partition; a key this long is a bug, not an identifier. */
export const MAX_KEY_LENGTH = 1_024;
export const MAX_HEADERS_PER_MESSAGE = 64;

/**
 * BusPublisher on Kafka. The producer is idempotent (acks from all in-sync replicas, one request
 * in flight per broker, broker-side deduplication of retried batches), partitions by key with
 * the Java client's murmur2 partitioner so that services in other languages agree on which
 * partition a key lives in, and never creates topics.
 *
 * After any failed publish the producer is discarded and the next publish starts a new one:
 * a batch whose outcome is unknown may have been written, and kafkajs would otherwise reuse its
 * sequence numbers for the next batch, which the broker could then drop as a duplicate. A new
 * producer id makes the caller's retry safe (at worst a duplicate message, which consumers
 * tolerate by contract).
 */
export class KafkaBusPublisher implements BusPublisher {
  private readonly ackTimeoutMs: number;
  private readonly retries: number;
  private readonly maxMessagesPerPublish: number;
  private producer: Promise<Producer> | undefined;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    options: KafkaBusPublisherOptions = {},
  ) {
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.retries = options.retries ?? 5;
    this.maxMessagesPerPublish = options.maxMessagesPerPublish ?? 10_000;
    assertIntegerIn('ackTimeoutMs', this.ackTimeoutMs, 100, 300_000);
    assertIntegerIn('retries', this.retries, 0, 100);
    assertIntegerIn('maxMessagesPerPublish', this.maxMessagesPerPublish, 1, 1_000_000);
  }

  /**
   * @throws BusError INVALID_TOPIC for a malformed topic name, INVALID_MESSAGE for a malformed
   *   message, including a partition that is not an integer in [0, MAX_PARTITIONS) or that the
   *   topic does not have (nothing of the call is sent); PUBLISH_FAILED when the broker did not
   *   acknowledge (unknown topic, broker down, timeout, publisher closed); then some messages
   *   may have been written.
   */
  async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    assertTopic(topic);
    const records = this.toRecords(messages);
    if (records.length === 0) return;
    if (this.closed) throw new BusError('PUBLISH_FAILED', `Cannot publish to '${topic}': the publisher is closed`);
    const producerPromise = this.connectedProducer();
    let producer: Producer;
    try {
      producer = await producerPromise;
    } catch (error) {
      this.discard(producerPromise);
      throw new BusError('PUBLISH_FAILED', `Cannot publish to '${topic}': producer could not connect: ${messageOf(error)}`, { cause: error });
    }
    try {
      await producer.send({
        topic,
        messages: records,
        acks: -1,
        timeout: this.ackTimeoutMs,
        compression: CompressionTypes.None,
      });
    } catch (error) {
      this.discard(producerPromise);
      const refused = busErrorIn(error); // from checkedPartitioner, maybe wrapped by kafkajs: nothing was sent
      if (refused) throw refused;
      throw new BusError('PUBLISH_FAILED', `Publishing ${records.length} message(s) to '${topic}' was not acknowledged: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await producer.then((p) => p.disconnect()).catch(() => undefined);
  }

  private connectedProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: checkedPartitioner,
        retry: { initialRetryTime: 100, maxRetryTime: 2_000, factor: 0.2, multiplier: 2, retries: this.retries },
      });
      await producer.connect();
      return producer;
    })();
    return this.producer;
  }

  private discard(producer: Promise<Producer>): void {
    if (this.producer === producer) this.producer = undefined;
    producer.then((p) => p.disconnect()).catch(() => undefined);
  }

  private toRecords(messages: readonly OutgoingMessage[]): Message[] {
    if (!Array.isArray(messages)) throw new BusError('INVALID_MESSAGE', 'messages must be an array');
    if (messages.length > this.maxMessagesPerPublish) {
      throw new BusError('INVALID_MESSAGE', `At most ${this.maxMessagesPerPublish} messages per publish; got ${messages.length}`);
    }
    return messages.map((message: OutgoingMessage, index) => {
      const where = `message ${index}`;
      if (typeof message !== 'object' || message === null) throw new BusError('INVALID_MESSAGE', `${where} must be an object`);
      if (typeof message.key !== 'string' || message.key.length === 0 || message.key.length > MAX_KEY_LENGTH) {
        throw new BusError('INVALID_MESSAGE', `${where}: key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`);
      }
      if (typeof message.value !== 'string') throw new BusError('INVALID_MESSAGE', `${where}: value must be a string`);
      const partition = message.partition;
      if (partition !== undefined && (!Number.isInteger(partition) || partition < 0 || partition >= MAX_PARTITIONS)) {
        throw new BusError('INVALID_MESSAGE', `${where}: partition must be an integer from 0 to ${MAX_PARTITIONS - 1}; got ${String(partition).slice(0, 40)}`);
      }
      const headers: Record<string, string> = {};
      if (message.headers !== undefined) {
        if (typeof message.headers !== 'object' || message.headers === null) {
          throw new BusError('INVALID_MESSAGE', `${where}: headers must be an object of strings`);
        }
        const entries = Object.entries(message.headers);
        if (entries.length > MAX_HEADERS_PER_MESSAGE) {
          throw new BusError('INVALID_MESSAGE', `${where}: at most ${MAX_HEADERS_PER_MESSAGE} headers`);
        }
        for (const [name, value] of entries) {
          if (name.length === 0 || typeof value !== 'string') {
            throw new BusError('INVALID_MESSAGE', `${where}: header '${name}' must have a non-empty name and a string value`);
          }
          headers[name] = value;
        }
      }
      return { key: message.key, value: message.value, headers, ...(partition === undefined ? {} : { partition }) };
    });
  }
}

/**
 * The Java-compatible murmur2 partitioner, refusing an explicit partition the topic does not
 * have: kafkajs would otherwise drop such messages silently and still resolve the send. It runs
 * while kafkajs groups the call's messages, before any request, so a refusal sends nothing.
 */
const checkedPartitioner: ICustomPartitioner = () => {
  const partition = Partitioners.DefaultPartitioner();
  return (args) => {
    const chosen = partition(args);
    if (!args.partitionMetadata.some((metadata) => metadata.partitionId === chosen)) {
      const error = new BusError(
        'INVALID_MESSAGE',
        `Topic '${args.topic}' has ${args.partitionMetadata.length} partition(s); a message names partition ${chosen}`,
      );
      // kafkajs's retrier must not retry this: it can never succeed.
      Object.assign(error, { retriable: false });
      throw error;
    }
    return chosen;
  };
};

/** A BusError somewhere in kafkajs's chain of wrapped causes (bounded walk). */
function busErrorIn(error: unknown): BusError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof BusError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function assertIntegerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`KafkaBusPublisher: ${name} must be an integer from ${min} to ${max}; got ${value}`);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
