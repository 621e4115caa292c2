import { assertTopic, BusError, type BusSubscriber, type ConsumerOptions, type IncomingMessage, type RunningConsumer } from '@ledger/bus';
import { PartitionAssigners, type Consumer, type EachBatchPayload, type IHeaders, type Kafka, type KafkaMessage } from 'kafkajs';

export interface KafkaBusSubscriberOptions {
  /** A member silent this long is dropped from its group, default 10000 (broker allows 6000 to 1800000). */
  readonly sessionTimeoutMs?: number;
  /** How long a rebalance waits for members to rejoin, so also a bound on one handler call that should not be cut off; default 30000. */
  readonly rebalanceTimeoutMs?: number;
  /** Default 3000; at most a third of sessionTimeoutMs. */
  readonly heartbeatIntervalMs?: number;
  /** Broker long-poll bound per fetch; also how long stop() may wait for an idle fetch. Default 500. */
  readonly maxWaitTimeMs?: number;
  /** Default 1048576. */
  readonly maxBytesPerPartition?: number;
  /** Partitions handled in parallel by one member (still one message at a time per partition); default 1. */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * In-place redeliveries of a message whose handler threw, with backoff from 100 ms up to
   * 5 s, before the member restarts (leaves and rejoins the group) and starts over; default 5.
   */
  readonly handlerRetries?: number;
  /** Bound on RunningConsumer.stop(), default 60000. */
  readonly stopTimeoutMs?: number;
}

const GROUP_ID_PATTERN = /^[A-Za-z0-9._:-]{1,249}$/;
const MAX_TOPICS_PER_CONSUMER = 100;

/**
 * Thrown from eachBatch when the handler failed. kafkajs retries only errors that are not marked
 * `retriable: false` and are not TypeError/RangeError/...; wrapping makes every handler failure
 * retriable, so a bug that throws a TypeError blocks its partition (and is logged) instead of
 * killing the consumer for good.
 */
class HandlerFailedError extends Error {
  readonly retriable = true;
  constructor(message: IncomingMessage, cause: unknown) {
    super(
      `Handler failed for ${message.topic}[${message.partition}]@${message.offset}; it will be delivered again: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'BusHandlerError';
  }
}

/**
 * BusSubscriber on Kafka consumer groups (kafkajs, classic group protocol, round-robin
 * assignment). At-least-once:
 *
 * - Messages of one partition are handled one at a time, in offset order, through eachBatch with
 *   auto-resolve and auto-commit off. After the handler resolved, the member commits offset+1
 *   for that partition (to the group coordinator, before it touches the next message).
 * - A handler that throws: the batch is abandoned at that message, nothing after it on that
 *   partition is handled, and the offset is neither resolved nor committed. kafkajs's fetch
 *   position is the last resolved offset, so its retry (backoff 100 ms, doubling, capped at 5 s)
 *   fetches from the failed message and hands it to the handler again. After `handlerRetries`
 *   failed attempts the member crashes and restarts (rejoins the group, restarting from the
 *   committed offset, which is the failed message) and the cycle continues. A message is never
 *   skipped: a poison message blocks its partition and shows up as repeated error logs.
 * - A member that dies between handling and committing leaves the offset uncommitted, so
 *   whichever member owns the partition next gets the message again.
 * - stop(): stops fetching, lets the in-flight handler finish and commits it, then leaves the
 *   group so the partitions move to the remaining members at once.
 */
export class KafkaBusSubscriber implements BusSubscriber {
  private readonly sessionTimeoutMs: number;
  private readonly rebalanceTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly maxWaitTimeMs: number;
  private readonly maxBytesPerPartition: number;
  private readonly partitionsConsumedConcurrently: number;
  private readonly handlerRetries: number;
  private readonly stopTimeoutMs: number;

  constructor(
    private readonly kafka: Kafka,
    options: KafkaBusSubscriberOptions = {},
  ) {
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 30_000;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 3_000;
    this.maxWaitTimeMs = options.maxWaitTimeMs ?? 500;
    this.maxBytesPerPartition = options.maxBytesPerPartition ?? 1_048_576;
    this.partitionsConsumedConcurrently = options.partitionsConsumedConcurrently ?? 1;
    this.handlerRetries = options.handlerRetries ?? 5;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
    assertIntegerIn('sessionTimeoutMs', this.sessionTimeoutMs, 6_000, 1_800_000);
    assertIntegerIn('rebalanceTimeoutMs', this.rebalanceTimeoutMs, 1_000, 1_800_000);
    assertIntegerIn('heartbeatIntervalMs', this.heartbeatIntervalMs, 100, Math.floor(this.sessionTimeoutMs / 3));
    assertIntegerIn('maxWaitTimeMs', this.maxWaitTimeMs, 10, 30_000);
    assertIntegerIn('maxBytesPerPartition', this.maxBytesPerPartition, 1_024, 64 * 1_048_576);
    assertIntegerIn('partitionsConsumedConcurrently', this.partitionsConsumedConcurrently, 1, 64);
    assertIntegerIn('handlerRetries', this.handlerRetries, 0, 1_000);
    assertIntegerIn('stopTimeoutMs', this.stopTimeoutMs, 1_000, 600_000);
  }

  /**
   * @throws BusError INVALID_TOPIC for a malformed topic name; INVALID_OPTIONS for a malformed
   *   group id, topic list or handler; CONSUMER_FAILED when the member cannot connect, subscribe
   *   (e.g. the topic does not exist) or join its group.
   */
  async start(options: ConsumerOptions): Promise<RunningConsumer> {
    assertConsumerOptions(options);
    const topics = [...options.topics];
    const handle = options.handle;
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      partitionAssigners: [PartitionAssigners.roundRobin],
      sessionTimeout: this.sessionTimeoutMs,
      rebalanceTimeout: this.rebalanceTimeoutMs,
      heartbeatInterval: this.heartbeatIntervalMs,
      maxWaitTimeInMs: this.maxWaitTimeMs,
      minBytes: 1,
      maxBytes: 10 * this.maxBytesPerPartition,
      maxBytesPerPartition: this.maxBytesPerPartition,
      allowAutoTopicCreation: false,
      readUncommitted: false,
      retry: {
        initialRetryTime: 100,
        maxRetryTime: 5_000,
        factor: 0.2,
        multiplier: 2,
        retries: this.handlerRetries,
        // Restart after every retriable crash: giving up would silently stop a projection.
        restartOnFailure: async () => true,
      },
    });

    const eachBatch = async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> => {
      for (const record of batch.messages) {
        // Stopping or rebalanced away: leave the rest uncommitted for the partition's next owner.
        if (!isRunning() || isStale()) return;
        const message = toIncomingMessage(batch.topic, batch.partition, record);
        try {
          await handle(message);
        } catch (error) {
          throw new HandlerFailedError(message, error);
        }
        resolveOffset(record.offset);
        // Goes to the coordinator directly (unlike consumer.commitOffsets, which kafkajs skips
        // once stop() began), so the message a stop() waited for is committed too.
        await commitOffsetsIfNecessary({
          topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(record.offset) + 1n).toString() }] }],
        });
        await heartbeat();
      }
    };

    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: options.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.partitionsConsumedConcurrently,
        eachBatch,
      });
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw new BusError(
        'CONSUMER_FAILED',
        `Consumer group '${options.groupId}' could not start on ${topics.join(', ')}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return new KafkaRunningConsumer(consumer, options.groupId, this.stopTimeoutMs);
  }
}

class KafkaRunningConsumer implements RunningConsumer {
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly consumer: Consumer,
    private readonly groupId: string,
    private readonly stopTimeoutMs: number,
  ) {}

  /** @throws BusError CONSUMER_FAILED when the in-flight handler or the group leave exceeds stopTimeoutMs. */
  stop(): Promise<void> {
    this.stopping ??= this.stopBounded();
    return this.stopping;
  }

  private async stopBounded(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new BusError('CONSUMER_FAILED', `Consumer group '${this.groupId}' did not stop within ${this.stopTimeoutMs} ms (handler still running?)`)),
        this.stopTimeoutMs,
      );
    });
    try {
      // disconnect = stop fetching, wait for the in-flight batch (its commits included), leave the group, close sockets.
      await Promise.race([this.consumer.disconnect(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function assertConsumerOptions(options: ConsumerOptions): void {
  if (typeof options !== 'object' || options === null) throw new BusError('INVALID_OPTIONS', 'Consumer options are required');
  if (typeof options.groupId !== 'string' || !GROUP_ID_PATTERN.test(options.groupId)) {
    throw new BusError('INVALID_OPTIONS', `groupId '${String(options.groupId).slice(0, 80)}' must match ${GROUP_ID_PATTERN}`);
  }
  if (!Array.isArray(options.topics) || options.topics.length === 0 || options.topics.length > MAX_TOPICS_PER_CONSUMER) {
    throw new BusError('INVALID_OPTIONS', `topics must list 1 to ${MAX_TOPICS_PER_CONSUMER} topics`);
  }
  for (const topic of options.topics) assertTopic(topic);
  if (typeof options.fromBeginning !== 'boolean') throw new BusError('INVALID_OPTIONS', 'fromBeginning must be a boolean');
  if (typeof options.handle !== 'function') throw new BusError('INVALID_OPTIONS', 'handle must be a function');
}

function toIncomingMessage(topic: string, partition: number, record: KafkaMessage): IncomingMessage {
  return {
    topic,
    partition,
    offset: record.offset,
    // Our publishers always set key and value; other producers may not (null key, tombstone).
    key: record.key?.toString('utf8') ?? '',
    value: record.value?.toString('utf8') ?? '',
    headers: toHeaders(record.headers),
  };
}

function toHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, raw] of Object.entries(headers)) {
    // A repeated header arrives as a list; like Kafka's lastHeader(), the last one wins.
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value !== undefined) out[name] = typeof value === 'string' ? value : value.toString('utf8');
  }
  return out;
}

function assertIntegerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`KafkaBusSubscriber: ${name} must be an integer from ${min} to ${max}; got ${value}`);
  }
}
