import {
  DEFAULT_EVENT_STORE_LIMITS,
  EventStoreValidationError,
  prepareAppend,
  type EventMetadata,
  type EventStore,
  type EventStoreLimits,
  type NewEvent,
  type StreamWrite,
} from '@ledger/event-store';
import { randomUUID } from 'node:crypto';
import { BusError, type BusPublisher, type OutgoingMessage } from './bus.port';
import {
  BUS_MESSAGE_EVENT_TYPE,
  BUS_MESSAGE_SCHEMA_VERSION,
  busMessageData,
  streamIdFor,
  topicToCategory,
  validateOutgoingMessages,
  type OutgoingMessageNormalised,
} from './embedded-bus.mapping';

export interface EmbeddedBusPublisherOptions {
  /**
   * The event store's limits (the same object the store was built with). A publish call is cut
   * into appends that fit them; default DEFAULT_EVENT_STORE_LIMITS, which is also every adapter's
   * default.
   */
  readonly limits?: EventStoreLimits;
  /** Bound on one publish call, default 10000 messages (as the Kafka adapter). */
  readonly maxMessagesPerPublish?: number;
  /** The acting principal recorded in every message event's metadata, default 'service:embedded-bus'. */
  readonly principal?: string;
}

/** Headers that, when a publisher sets them, become the event's correlation and causation ids. */
export const CORRELATION_ID_HEADER = 'correlation-id';
export const CAUSATION_ID_HEADER = 'causation-id';
const MAX_METADATA_TEXT_LENGTH = 256;

/**
 * BusPublisher on the event store (embedded mode): each message becomes one `BusMessagePublished`
 * event in the stream of its topic and key (see embedded-bus.mapping.ts), appended with
 * expectedState 'any'.
 *
 * Atomicity: a call whose messages fit the store's limits (maxEventsPerAppend events,
 * maxStreamsPerAppend distinct keys) is one atomic appendToStreams. A larger call is cut, in
 * message order, into consecutive appends that each fit; every append of the call is validated
 * (prepareAppend, with the same limits) before the first is written, so bad input writes nothing.
 * Within one append messages are grouped by key (per-key order kept, cross-key order not, as with
 * Kafka partitions).
 */
export class EmbeddedBusPublisher implements BusPublisher {
  private readonly limits: EventStoreLimits;
  private readonly maxMessagesPerPublish: number;
  private readonly principal: string;
  private closed = false;

  constructor(
    private readonly store: EventStore,
    options: EmbeddedBusPublisherOptions = {},
  ) {
    this.limits = options.limits ?? DEFAULT_EVENT_STORE_LIMITS;
    this.maxMessagesPerPublish = options.maxMessagesPerPublish ?? 10_000;
    this.principal = options.principal ?? 'service:embedded-bus';
    if (!Number.isInteger(this.maxMessagesPerPublish) || this.maxMessagesPerPublish < 1 || this.maxMessagesPerPublish > 1_000_000) {
      throw new RangeError(`EmbeddedBusPublisher: maxMessagesPerPublish must be an integer from 1 to 1000000; got ${this.maxMessagesPerPublish}`);
    }
    if (this.principal.length === 0 || this.principal.length > MAX_METADATA_TEXT_LENGTH) {
      throw new RangeError(`EmbeddedBusPublisher: principal must have 1 to ${MAX_METADATA_TEXT_LENGTH} characters`);
    }
  }

  /**
   * @throws BusError INVALID_TOPIC for a malformed topic or one too long for a category;
   *   INVALID_MESSAGE for a malformed message or one the store would refuse (e.g. larger than
   *   maxEventBytes): nothing of the call is written. PUBLISH_FAILED when the publisher is closed
   *   or the store failed; when the call was cut into several appends, the earlier ones are
   *   written (at-least-once: a retry may duplicate them, which consumers tolerate).
   */
  async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const category = topicToCategory(topic);
    const normalised = validateOutgoingMessages(messages, this.maxMessagesPerPublish);
    if (normalised.length === 0) return;
    if (this.closed) throw new BusError('PUBLISH_FAILED', `Cannot publish to '${topic}': the publisher is closed`);

    const appends = this.planAppends(topic, category, normalised);
    for (const writes of appends) {
      try {
        prepareAppend(writes, this.limits);
      } catch (error) {
        if (error instanceof EventStoreValidationError) {
          throw new BusError('INVALID_MESSAGE', `A message to '${topic}' cannot be stored: ${error.message}`, { cause: error });
        }
        throw error;
      }
    }
    for (let index = 0; index < appends.length; index++) {
      try {
        await this.store.appendToStreams(appends[index] as StreamWrite[]);
      } catch (error) {
        // Validated above with the same limits; a validation error here means the store's limits are lower.
        const nothingWritten = index === 0;
        const code = nothingWritten && error instanceof EventStoreValidationError ? 'INVALID_MESSAGE' : 'PUBLISH_FAILED';
        const partial = nothingWritten ? 'nothing was written' : `${index} of ${appends.length} appends were written`;
        throw new BusError(code, `Publishing ${normalised.length} message(s) to '${topic}' failed (${partial}): ${messageOf(error)}`, {
          cause: error,
        });
      }
    }
  }

  /** The store belongs to the caller and stays open; only this publisher stops accepting calls. */
  async close(): Promise<void> {
    this.closed = true;
  }

  /** Cuts the messages, in order, into appends within the limits; each append groups its messages by stream. */
  private planAppends(topic: string, category: string, messages: readonly OutgoingMessageNormalised[]): StreamWrite[][] {
    const correlationId = randomUUID();
    const appends: StreamWrite[][] = [];
    let current = new Map<string, NewEvent[]>();
    let eventsInCurrent = 0;
    const flush = (): void => {
      if (eventsInCurrent === 0) return;
      appends.push([...current].map(([streamId, events]) => ({ streamId, expectedState: 'any' as const, events })));
      current = new Map();
      eventsInCurrent = 0;
    };
    for (const message of messages) {
      const streamId = streamIdFor(category, message.key);
      const newStream = !current.has(streamId);
      if (eventsInCurrent + 1 > this.limits.maxEventsPerAppend || (newStream && current.size + 1 > this.limits.maxStreamsPerAppend)) flush();
      const events = current.get(streamId) ?? [];
      current.set(streamId, events);
      events.push({
        type: BUS_MESSAGE_EVENT_TYPE,
        data: busMessageData(topic, message),
        metadata: this.metadataFor(message, correlationId),
      });
      eventsInCurrent += 1;
    }
    flush();
    return appends;
  }

  /** No event id is given: the store generates it (a caller-supplied id costs a guard on KurrentDB). */
  private metadataFor(message: OutgoingMessageNormalised, callCorrelationId: string): EventMetadata {
    const header = (name: string): string | undefined => {
      const value = message.headers[name];
      return value !== undefined && value.length > 0 && value.length <= MAX_METADATA_TEXT_LENGTH ? value : undefined;
    };
    const correlationId = header(CORRELATION_ID_HEADER) ?? callCorrelationId;
    return {
      correlationId,
      causationId: header(CAUSATION_ID_HEADER) ?? correlationId,
      principal: this.principal,
      schemaVersion: BUS_MESSAGE_SCHEMA_VERSION,
    };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
