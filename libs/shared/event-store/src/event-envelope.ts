import type { JsonObject, JsonValue } from './json';

/** Who did what on whose behalf. Every event carries it; none of it is optional except the key. */
export interface EventMetadata {
  /** The id shared by every message caused by one external request. */
  readonly correlationId: string;
  /** The id of the message (command or event) that caused this event. */
  readonly causationId: string;
  /** The acting principal, e.g. `user:…` or `service:payouts`. */
  readonly principal: string;
  /** The client's idempotency key for the command that produced the event, when there was one. */
  readonly idempotencyKey?: string;
  /** Version of the event's data schema; upcasters key on (type, schemaVersion). */
  readonly schemaVersion: number;
}

/** An event as a writer proposes it. */
export interface NewEvent<Type extends string = string, Data extends JsonValue = JsonObject> {
  /** A UUID. Generated when absent; a client-supplied id is unique across the whole log. */
  readonly id?: string;
  readonly type: Type;
  readonly data: Data;
  readonly metadata: EventMetadata;
}

/** An event as the store recorded it. */
export interface RecordedEvent<Type extends string = string, Data extends JsonValue = JsonObject> {
  readonly id: string;
  readonly type: Type;
  readonly data: Data;
  readonly metadata: EventMetadata;
  readonly streamId: string;
  /** 0 for the first event of a stream, then +1 per event. */
  readonly revision: bigint;
  /**
   * Position in the global log: strictly increasing in the order subscribers receive events, not
   * necessarily contiguous. Always greater than 0n, so 0n means "before the first event".
   */
  readonly position: bigint;
  readonly recordedAt: Date;
  /** Hex SHA-256 chaining this event to the previous event of its stream (see hash-chain.ts). */
  readonly hash: string;
}
