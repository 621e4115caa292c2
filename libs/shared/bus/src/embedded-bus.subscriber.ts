import { categoryOf, MAX_FILTER_ENTRIES, type CheckpointStore, type EventStore, type LogFilter, type RecordedEvent } from '@ledger/event-store';
import { BusError, type BusSubscriber, type ConsumerOptions, type IncomingMessage, type RunningConsumer } from './bus.port';
import { BUS_MESSAGE_EVENT_TYPE, EMBEDDED_GROUP_ID_PATTERN, embeddedConsumerId, toIncomingMessage, topicToCategory } from './embedded-bus.mapping';
import { abortableDelay } from '@ledger/async';

export interface EmbeddedBusSubscriberOptions {
  /** Events fetched per read of the global log, default 256; at most the store's maxReadCount. */
  readonly batchSize?: number;
  /** First pause before a failed handler (or a failed store call) is retried, default 100 ms; it doubles per attempt. */
  readonly retryInitialDelayMs?: number;
  /** Cap on that pause, default 5000 ms. A failing message is retried for ever at this pace, never skipped. */
  readonly retryMaxDelayMs?: number;
  /** Bound on RunningConsumer.stop() waiting for the in-flight handler, default 60000 ms. */
  readonly stopTimeoutMs?: number;
  /** Where failures are reported; default one JSON line per entry on stderr. */
  readonly log?: (entry: EmbeddedBusLogEntry) => void;
}

export interface EmbeddedBusLogEntry {
  readonly level: 'error' | 'warn';
  readonly message: string;
  readonly groupId: string;
  readonly topic?: string;
  readonly offset?: string;
  readonly attempt?: number;
  readonly retryInMs?: number;
  readonly error?: string;
}

/** The store's bound on category filter entries: one category per topic. */
export const MAX_TOPICS_PER_EMBEDDED_CONSUMER = MAX_FILTER_ENTRIES;
/**
 * A group with several topics stores each topic's checkpoint when it handles one of its messages.
 * Every this many handled messages (and when the consumer ends), the other topics' checkpoints are
 * moved up too, so a quiet topic does not make a restart re-read the busy ones from far back.
 */
export const QUIET_TOPIC_CHECKPOINT_EVERY_MESSAGES = 100;

/**
 * Groups with a running member, per checkpoint store object: one active member per group, since
 * the embedded bus has no broker to split partitions or fence members. Only this process is seen:
 * two processes sharing a checkpoint table are not detected (embedded mode is one process).
 */
const activeGroups = new WeakMap<CheckpointStore, Set<string>>();

/**
 * BusSubscriber on the event store (embedded mode): a consumer tails the store's global log,
 * filtered to its topics' categories and to `BusMessagePublished` events, from its group's
 * checkpoints. See README.md for the full rules; in short:
 *
 * - Checkpoints: one per (group, topic), id `bus:<groupId>:<topic>`, as Kafka commits per topic
 *   partition; a group that later adds a topic reads that topic from the start (or its end when
 *   fromBeginning is false) without re-reading the others.
 * - One message at a time in log order; its topic's checkpoint (the event's position) is stored
 *   only after the handler resolved. A handler that throws gets the same message again after a
 *   doubling pause (capped at retryMaxDelayMs), for ever, logged each time.
 * - fromBeginning false and no checkpoint: starts at the current end of the log (readAll with the
 *   consumer's filter until it is not at end of batch) and stores that end as the checkpoint, so a
 *   restart does not skip what was published while it was down.
 * - One active member per group per CheckpointStore object; a second start() is refused.
 */
export class EmbeddedBusSubscriber implements BusSubscriber {
  private readonly batchSize: number;
  private readonly retryInitialDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly stopTimeoutMs: number;
  private readonly log: (entry: EmbeddedBusLogEntry) => void;

  constructor(
    private readonly store: EventStore,
    private readonly checkpoints: CheckpointStore,
    options: EmbeddedBusSubscriberOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 256;
    this.retryInitialDelayMs = options.retryInitialDelayMs ?? 100;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 5_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 60_000;
    this.log = options.log ?? writeJsonLine;
    assertIntegerIn('batchSize', this.batchSize, 1, 4_096);
    assertIntegerIn('retryInitialDelayMs', this.retryInitialDelayMs, 1, 60_000);
    assertIntegerIn('retryMaxDelayMs', this.retryMaxDelayMs, this.retryInitialDelayMs, 600_000);
    assertIntegerIn('stopTimeoutMs', this.stopTimeoutMs, 1, 600_000);
  }

  /**
   * Loads the group's checkpoints and starts handling in the background.
   * @throws BusError INVALID_TOPIC for a malformed topic (or one too long for a category);
   *   INVALID_OPTIONS for a malformed group id, topic list or handler, and when the group already
   *   has a running member on this checkpoint store; CONSUMER_FAILED when the checkpoints or the
   *   log cannot be read.
   */
  async start(options: ConsumerOptions): Promise<RunningConsumer> {
    const topics = assertConsumerOptions(options);
    const { groupId } = options;
    const running = activeGroups.get(this.checkpoints) ?? new Set<string>();
    activeGroups.set(this.checkpoints, running);
    if (running.has(groupId)) {
      throw new BusError(
        'INVALID_OPTIONS',
        `Consumer group '${groupId}' already has a running member in this process; the embedded bus runs one member per group (stop it first)`,
      );
    }
    running.add(groupId); // before any await: a concurrent start() sees it
    const release = (): void => {
      running.delete(groupId);
    };
    const filter: LogFilter = { categories: topics.map(topicToCategory), eventTypes: [BUS_MESSAGE_EVENT_TYPE] };
    const abort = new AbortController();
    let handledUpTo: Map<string, bigint>;
    let firstSubscription: AsyncIterable<RecordedEvent>;
    try {
      handledUpTo = await this.startPositions(groupId, topics, options.fromBeginning, filter);
      // Created here so that a request the store refuses (e.g. batchSize above its maxReadCount) fails start().
      firstSubscription = this.store.subscribeToAll({ fromPosition: minimum(handledUpTo.values()), filter, batchSize: this.batchSize, signal: abort.signal });
    } catch (error) {
      release();
      throw new BusError('CONSUMER_FAILED', `Consumer group '${groupId}' could not start on ${topics.join(', ')}: ${messageOf(error)}`, { cause: error });
    }
    return new EmbeddedRunningConsumer({
      abort,
      firstSubscription,
      store: this.store,
      checkpoints: this.checkpoints,
      groupId,
      topics,
      filter,
      handle: options.handle,
      handledUpTo,
      batchSize: this.batchSize,
      retryInitialDelayMs: this.retryInitialDelayMs,
      retryMaxDelayMs: this.retryMaxDelayMs,
      stopTimeoutMs: this.stopTimeoutMs,
      log: this.log,
      release,
    });
  }

  /** Per topic, the position up to which the group has handled (or chose to skip) its messages. */
  private async startPositions(groupId: string, topics: readonly string[], fromBeginning: boolean, filter: LogFilter): Promise<Map<string, bigint>> {
    const positions = new Map<string, bigint>();
    const withoutCheckpoint: string[] = [];
    for (const topic of topics) {
      // 0n is "never stored": CheckpointStore cannot tell it from a stored 0n, which means the same.
      const stored = await this.checkpoints.load(embeddedConsumerId(groupId, topic));
      if (stored > 0n || fromBeginning) positions.set(topic, stored);
      else withoutCheckpoint.push(topic);
    }
    if (withoutCheckpoint.length > 0) {
      // Stored checkpoints are positions of handled events, so the end is at or after each of them.
      let scanFrom = 0n;
      for (const position of positions.values()) if (position > scanFrom) scanFrom = position;
      const end = await this.currentEnd(filter, scanFrom);
      for (const topic of withoutCheckpoint) {
        positions.set(topic, end);
        if (end > 0n) await this.checkpoints.store(embeddedConsumerId(groupId, topic), end);
      }
    }
    return positions;
  }

  /**
   * The current end of the log for this filter: readAll's checkpoint once a read is no longer cut
   * at maxCount. Nothing at or below it can appear later (readAll's promise), so starting there
   * skips only what was published before start().
   */
  private async currentEnd(filter: LogFilter, from: bigint): Promise<bigint> {
    let position = from;
    for (;;) {
      const page = await this.store.readAll({ fromPosition: position, maxCount: this.batchSize, filter });
      if (page.checkpoint > position) position = page.checkpoint;
      if (!page.isEndOfBatch) return position;
    }
  }
}

interface RunningConsumerParams {
  readonly abort: AbortController;
  readonly firstSubscription: AsyncIterable<RecordedEvent>;
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly filter: LogFilter;
  readonly handle: (message: IncomingMessage) => Promise<void>;
  /** Mutated as messages are handled. */
  readonly handledUpTo: Map<string, bigint>;
  readonly batchSize: number;
  readonly retryInitialDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly stopTimeoutMs: number;
  readonly log: (entry: EmbeddedBusLogEntry) => void;
  /** Frees the group for a new member; called once the loop has ended (handler included). */
  readonly release: () => void;
}

class EmbeddedRunningConsumer implements RunningConsumer {
  private readonly abort: AbortController;
  private readonly topicByCategory: Map<string, string>;
  /** Per topic, the checkpoint this consumer knows to be stored. */
  private readonly storedUpTo: Map<string, bigint>;
  private readonly finished: Promise<void>;
  private stopping: Promise<void> | undefined;
  private lastHandled: bigint | undefined;
  private handledSinceSweep = 0;

  constructor(private readonly p: RunningConsumerParams) {
    this.abort = p.abort;
    this.topicByCategory = new Map(p.topics.map((topic) => [topicToCategory(topic), topic]));
    this.storedUpTo = new Map(p.handledUpTo);
    this.finished = this.run()
      .catch((error: unknown) => this.report('error', 'consumer loop failed unexpectedly; it has stopped', { error }))
      .finally(() => p.release());
  }

  /**
   * Stops reading, waits for the in-flight handler and stores its checkpoint if it resolved, then
   * frees the group. A handler that rejects during stop() is not committed (its message comes
   * again to the next member).
   * @throws BusError CONSUMER_FAILED when the in-flight handler runs longer than stopTimeoutMs; the
   *   group stays taken until that handler settles, so no second member can overlap with it.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopBounded();
    return this.stopping;
  }

  private async stopBounded(): Promise<void> {
    this.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.p.stopTimeoutMs);
    });
    try {
      if (await Promise.race([this.finished.then(() => false), timedOut])) {
        throw new BusError('CONSUMER_FAILED', `Consumer group '${this.p.groupId}' did not stop within ${this.p.stopTimeoutMs} ms (handler still running?)`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let from = minimum(this.p.handledUpTo.values());
    let failures = 0;
    let events: AsyncIterable<RecordedEvent> | undefined = this.p.firstSubscription;
    try {
      while (!signal.aborted) {
        try {
          events ??= this.p.store.subscribeToAll({ fromPosition: from, filter: this.p.filter, batchSize: this.p.batchSize, signal });
          for await (const event of events) {
            if (!(await this.deliver(event))) return;
            from = event.position;
            failures = 0;
          }
          if (!signal.aborted) this.report('error', 'the event store ended the subscription (closed?); the consumer has stopped', {});
          return;
        } catch (error) {
          events = undefined;
          failures += 1;
          const retryInMs = this.backoffMs(failures);
          this.report('error', 'reading the event store failed; resubscribing from the last handled position', { error, attempt: failures, retryInMs });
          await abortableDelay(retryInMs, signal);
        }
      }
    } finally {
      if (this.lastHandled !== undefined) await this.checkpointQuietTopics(this.lastHandled);
    }
  }

  /** Handles one event and stores its checkpoint. False when stopped before that was done. */
  private async deliver(event: RecordedEvent): Promise<boolean> {
    const topic = this.topicByCategory.get(categoryOf(event.streamId));
    if (topic === undefined) return true; // outside the filter: cannot happen, nothing to do
    // The subscription starts at the lowest topic checkpoint; the others' older messages were handled.
    if (event.position <= (this.p.handledUpTo.get(topic) ?? 0n)) return true;
    if (!(await this.handleUntilResolved(event, topic))) return false;
    if (!(await this.storeCheckpoint(topic, event.position))) return false;
    this.p.handledUpTo.set(topic, event.position);
    this.lastHandled = event.position;
    this.handledSinceSweep += 1;
    if (this.handledSinceSweep >= QUIET_TOPIC_CHECKPOINT_EVERY_MESSAGES) await this.checkpointQuietTopics(event.position);
    return true;
  }

  private async handleUntilResolved(event: RecordedEvent, topic: string): Promise<boolean> {
    const signal = this.abort.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return false; // never start a handler after stop()
      try {
        await this.p.handle(toIncomingMessage(event, topic));
        return true;
      } catch (error) {
        const offset = event.position.toString();
        if (signal.aborted) {
          this.report('warn', 'handler failed while stopping; not committed, the message will be delivered again', { error, topic, offset, attempt });
          return false;
        }
        const retryInMs = this.backoffMs(attempt);
        this.report('error', 'handler failed; the same message will be delivered again', { error, topic, offset, attempt, retryInMs });
        await abortableDelay(retryInMs, signal);
      }
    }
  }

  private async storeCheckpoint(topic: string, position: bigint): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.p.checkpoints.store(embeddedConsumerId(this.p.groupId, topic), position);
        this.storedUpTo.set(topic, position);
        return true;
      } catch (error) {
        const offset = position.toString();
        if (this.abort.signal.aborted) {
          this.report('warn', 'storing the checkpoint failed while stopping; the message will be delivered again', { error, topic, offset, attempt });
          return false;
        }
        const retryInMs = this.backoffMs(attempt);
        this.report('error', 'storing the checkpoint failed; retrying before the next message', { error, topic, offset, attempt, retryInMs });
        await abortableDelay(retryInMs, this.abort.signal);
      }
    }
  }

  /**
   * Every message of every topic of the group at or below `position` has been handled, so the
   * other topics' checkpoints may move up to it. An optimisation only: a failure is logged.
   */
  private async checkpointQuietTopics(position: bigint): Promise<void> {
    this.handledSinceSweep = 0;
    for (const topic of this.p.topics) {
      if ((this.storedUpTo.get(topic) ?? 0n) >= position) continue;
      try {
        await this.p.checkpoints.store(embeddedConsumerId(this.p.groupId, topic), position);
        this.storedUpTo.set(topic, position);
      } catch (error) {
        this.report('warn', 'moving a quiet topic’s checkpoint up failed; a restart re-reads more of the log', { error, topic });
      }
    }
  }

  private backoffMs(attempt: number): number {
    return Math.min(this.p.retryMaxDelayMs, this.p.retryInitialDelayMs * 2 ** Math.min(attempt - 1, 30));
  }

  private report(
    level: EmbeddedBusLogEntry['level'],
    message: string,
    details: { error?: unknown; topic?: string; offset?: string; attempt?: number; retryInMs?: number },
  ): void {
    const { error, ...rest } = details;
    try {
      this.p.log({ level, message, groupId: this.p.groupId, ...rest, ...(error === undefined ? {} : { error: messageOf(error) }) });
    } catch {
      // A failing logger must not stop the consumer.
    }
  }
}

/** Validates the options; returns the topics without duplicates, in the given order. */
function assertConsumerOptions(options: ConsumerOptions): string[] {
  if (typeof options !== 'object' || options === null) throw new BusError('INVALID_OPTIONS', 'Consumer options are required');
  if (typeof options.groupId !== 'string' || !EMBEDDED_GROUP_ID_PATTERN.test(options.groupId)) {
    throw new BusError('INVALID_OPTIONS', `groupId '${String(options.groupId).slice(0, 80)}' must match ${EMBEDDED_GROUP_ID_PATTERN}`);
  }
  if (!Array.isArray(options.topics) || options.topics.length === 0 || options.topics.length > MAX_TOPICS_PER_EMBEDDED_CONSUMER) {
    throw new BusError('INVALID_OPTIONS', `topics must list 1 to ${MAX_TOPICS_PER_EMBEDDED_CONSUMER} topics`);
  }
  for (const topic of options.topics) topicToCategory(topic);
  if (typeof options.fromBeginning !== 'boolean') throw new BusError('INVALID_OPTIONS', 'fromBeginning must be a boolean');
  if (typeof options.handle !== 'function') throw new BusError('INVALID_OPTIONS', 'handle must be a function');
  return [...new Set(options.topics)];
}

function minimum(values: Iterable<bigint>): bigint {
  let result: bigint | undefined;
  for (const value of values) if (result === undefined || value < result) result = value;
  return result ?? 0n;
}

function writeJsonLine(entry: EmbeddedBusLogEntry): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'embedded-bus', ...entry })}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function assertIntegerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`EmbeddedBusSubscriber: ${name} must be an integer from ${min} to ${max}; got ${value}`);
  }
}
