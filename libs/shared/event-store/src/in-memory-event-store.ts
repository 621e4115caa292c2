import { prepareAppend, prepareBatch, type PreparedWrite } from './append-request';
import { AppendSignal } from './append-signal';
import type { RecordedEvent } from './event-envelope';
import { DuplicateEventIdError, WrongExpectedVersionError } from './event-store.errors';
import { DEFAULT_EVENT_STORE_LIMITS, type EventStoreLimits } from './event-store.limits';
import type {
  AppendBatchOutcome,
  AppendResult,
  CheckpointStore,
  EventStore,
  ReadAllOptions,
  ReadAllResult,
  ReadStreamOptions,
  StreamWrite,
  SubscribeToAllOptions,
} from './event-store.port';
import type { ExpectedState, StreamState } from './expected-state';
import { expectationHolds } from './expected-state';
import { chainHash, GENESIS_HASH } from './hash-chain';
import { eventsOf, pollingBatches } from './polling-subscription';
import { matchesFilter, validateReadAll, validateReadStream } from './read-request';
import { parseStreamName } from './stream-name';

interface StreamRecord {
  readonly events: RecordedEvent[];
}

/**
 * The event store held in memory, for unit tests of handlers. Trusted only because it passes the
 * same contract suite as the PostgreSQL and KurrentDB adapters. Appends are atomic because they
 * run synchronously between awaits.
 */
export class InMemoryEventStore implements EventStore {
  private readonly log: RecordedEvent[] = [];
  private readonly streams = new Map<string, StreamRecord>();
  private readonly eventIds = new Set<string>();
  private readonly appendSignal = new AppendSignal();

  constructor(
    private readonly options: {
      readonly limits?: EventStoreLimits;
      readonly now?: () => Date;
      readonly pollIntervalMs?: number;
    } = {},
  ) {}

  private get limits(): EventStoreLimits {
    return this.options.limits ?? DEFAULT_EVENT_STORE_LIMITS;
  }

  async appendToStream(
    streamId: string,
    events: StreamWrite['events'],
    options: { readonly expectedState: ExpectedState },
  ): Promise<AppendResult> {
    return this.appendToStreams([{ streamId, events, expectedState: options?.expectedState }]);
  }

  async appendToStreams(writes: readonly StreamWrite[]): Promise<AppendResult> {
    const outcome = this.write(prepareAppend(writes, this.limits));
    if (!outcome.ok) throw outcome.error;
    this.appendSignal.notify();
    return outcome.result;
  }

  /** Sequential: each request is decided and written before the next one is looked at. */
  async appendBatch(requests: readonly (readonly StreamWrite[])[]): Promise<readonly AppendBatchOutcome[]> {
    const outcomes = prepareBatch(requests, this.limits).map((prepared) => this.write(prepared));
    if (outcomes.some((outcome) => outcome.ok)) this.appendSignal.notify();
    return outcomes;
  }

  /** One validated request, all or nothing: checks first (expectations, then ids), then writes. */
  private write(prepared: readonly PreparedWrite[]): AppendBatchOutcome {
    const conflict = this.firstConflict(prepared);
    if (conflict) return { ok: false, error: conflict };
    for (const write of prepared) {
      for (const event of write.events) {
        if (this.eventIds.has(event.id)) return { ok: false, error: new DuplicateEventIdError(event.id) };
      }
    }
    const recordedAt = this.options.now?.() ?? new Date();
    const streams = prepared.map((write) => {
      const stream = this.streams.get(write.streamId) ?? { events: [] };
      this.streams.set(write.streamId, stream);
      for (const event of write.events) {
        const previous = stream.events[stream.events.length - 1];
        const revision = BigInt(stream.events.length);
        const recorded: RecordedEvent = {
          id: event.id,
          type: event.type,
          data: JSON.parse(event.dataJson),
          metadata: JSON.parse(event.metadataJson),
          streamId: write.streamId,
          revision,
          position: BigInt(this.log.length + 1),
          recordedAt,
          hash: chainHash(previous?.hash ?? GENESIS_HASH, { ...event, streamId: write.streamId, revision }),
        };
        stream.events.push(recorded);
        this.log.push(recorded);
        this.eventIds.add(event.id);
      }
      const last = stream.events[stream.events.length - 1] as RecordedEvent;
      return { streamId: write.streamId, nextExpectedRevision: last.revision, position: last.position };
    });
    return { ok: true, result: { position: BigInt(this.log.length), streams } };
  }

  private firstConflict(prepared: readonly PreparedWrite[]): WrongExpectedVersionError | undefined {
    for (const write of prepared) {
      const events = this.streams.get(write.streamId)?.events;
      const actual: StreamState = events && events.length > 0 ? BigInt(events.length - 1) : 'no_stream';
      if (!expectationHolds(write.expectedState, actual)) {
        return new WrongExpectedVersionError(write.streamId, write.expectedState, actual);
      }
    }
    return undefined;
  }

  async readStream(streamId: string, options: ReadStreamOptions): Promise<readonly RecordedEvent[]> {
    parseStreamName(streamId);
    validateReadStream(options, this.limits);
    const events = this.streams.get(streamId)?.events ?? [];
    if (options.direction === 'forwards') {
      const from = Number(options.fromRevision ?? 0n);
      return events.slice(from, from + options.maxCount);
    }
    const from = options.fromRevision === undefined ? events.length - 1 : Math.min(Number(options.fromRevision), events.length - 1);
    return events.slice(Math.max(0, from - options.maxCount + 1), from + 1).reverse();
  }

  async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
    validateReadAll(options, this.limits);
    const events: RecordedEvent[] = [];
    let index = Number(options.fromPosition); // positions are index + 1
    while (index < this.log.length && events.length < options.maxCount) {
      const event = this.log[index] as RecordedEvent;
      if (matchesFilter(event, options.filter)) events.push(event);
      index += 1;
    }
    return { events, checkpoint: BigInt(index), isEndOfBatch: events.length === options.maxCount };
  }

  subscribeToAll(options: SubscribeToAllOptions): AsyncIterable<RecordedEvent> {
    return eventsOf(this.subscribeToAllBatches(options), options.signal);
  }

  subscribeToAllBatches(options: SubscribeToAllOptions): AsyncIterable<ReadAllResult> {
    validateReadAll({ fromPosition: options.fromPosition, maxCount: options.batchSize ?? 1, ...(options.filter ? { filter: options.filter } : {}) }, this.limits);
    return pollingBatches((o) => this.readAll(o), this.appendSignal, options, this.options.pollIntervalMs ?? 1_000);
  }

  async close(): Promise<void> {
    this.appendSignal.notify();
  }
}

export class InMemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, bigint>();

  async load(consumerId: string): Promise<bigint> {
    return this.positions.get(consumerId) ?? 0n;
  }

  async store(consumerId: string, position: bigint): Promise<void> {
    if (position > (this.positions.get(consumerId) ?? 0n)) this.positions.set(consumerId, position);
  }
}
