import { InvariantViolationError } from '@ledger/errors';
import type { EventStore, JsonObject, RecordedEvent, StreamState } from '@ledger/event-store';

/** A domain event as deciders produce and evolve functions consume it: type and plain data. */
export interface DomainEvent<Type extends string = string, Data extends JsonObject = JsonObject> {
  readonly type: Type;
  readonly data: Data;
}

/** How to rebuild the state of one category's streams from their events. */
export interface StreamModel<State> {
  readonly category: string;
  readonly initialState: State;
  /** Must be pure: the processor evolves speculatively and may discard the result. */
  evolve(state: State, event: DomainEvent): State;
  /** Events of other types in the stream are refused as corruption unless listed here. */
  readonly eventTypes: readonly string[];
}

/** A stream's state as of a revision: what a decision is made on, and what the append expects. */
export interface StreamView<State = unknown> {
  readonly streamId: string;
  readonly revision: StreamState;
  readonly state: State;
}

/** Streams longer than this are refused when loading (snapshots are a later step; ADR 0004). */
export const MAX_EVENTS_PER_STREAM_LOAD = 100_000;
const PAGE = 1_000;

/** Reads a whole stream and folds it. Throws InvariantViolationError for foreign event types. */
export async function loadStreamView<State>(store: EventStore, model: StreamModel<State>, streamId: string): Promise<StreamView<State>> {
  let state = model.initialState;
  let revision: StreamState = 'no_stream';
  let from = 0n;
  for (;;) {
    const page: readonly RecordedEvent[] = await store.readStream(streamId, { direction: 'forwards', fromRevision: from, maxCount: PAGE });
    for (const event of page) {
      if (!model.eventTypes.includes(event.type)) {
        throw new InvariantViolationError('UNKNOWN_EVENT_TYPE', `Stream ${streamId} holds an event of unknown type ${event.type}`, { streamId, type: event.type });
      }
      state = model.evolve(state, { type: event.type, data: event.data });
      revision = event.revision;
    }
    if (page.length < PAGE) return { streamId, revision, state };
    from += BigInt(PAGE);
    if (from >= BigInt(MAX_EVENTS_PER_STREAM_LOAD)) {
      throw new InvariantViolationError('STREAM_TOO_LONG', `Stream ${streamId} has more than ${MAX_EVENTS_PER_STREAM_LOAD} events`, { streamId });
    }
  }
}
