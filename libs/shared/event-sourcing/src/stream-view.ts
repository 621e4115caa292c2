import { InvariantViolationError } from '@ledger/errors';
import type { EventStore, JsonObject, RecordedEvent, StreamState } from '@ledger/event-store';

/** A domain event as deciders produce and evolve functions consume it: type and plain data. */
export interface DomainEvent<Type extends string = string, Data extends JsonObject = JsonObject> {
  readonly type: Type;
  readonly data: Data;
}

/**
 * Snapshots bound how much of a long stream is read to rebuild its state (ADR 0006). A snapshot
 * is an event in a stream of its own category (`<category>-<id of the snapshotted stream>`)
 * holding the encoded state and the revision it reflects; loading starts from the latest one and
 * folds only the events after it. A snapshot is an optimisation: a missing, foreign or outdated
 * one is ignored and the stream is read from the start.
 */
export interface SnapshotCodec<State> {
  readonly category: string;
  /** A snapshot is written each time a stream's revision crosses a multiple of this. */
  readonly every: number;
  /** Bump when the encoding changes: older snapshots are then ignored. */
  readonly schemaVersion: number;
  encode(state: State): JsonObject;
  decode(data: JsonObject): State;
}

/** How to rebuild the state of one category's streams from their events. */
export interface StreamModel<State> {
  readonly category: string;
  readonly initialState: State;
  /** Must be pure: the processor evolves speculatively and may discard the result. */
  evolve(state: State, event: DomainEvent): State;
  /** Events of other types in the stream are refused as corruption unless listed here. */
  readonly eventTypes: readonly string[];
  readonly snapshots?: SnapshotCodec<State>;
}

export const SNAPSHOT_EVENT_TYPE = 'StreamSnapshotted';

interface SnapshotData extends JsonObject {
  readonly streamId: string;
  readonly revision: string;
  readonly codecVersion: number;
  readonly state: JsonObject;
}

export function snapshotStreamId(codec: SnapshotCodec<unknown>, streamId: string): string {
  return `${codec.category}-${streamId.slice(streamId.indexOf('-') + 1)}`;
}

/** Appends a snapshot of `view` (its state as of its revision). Callers treat failure as harmless. */
export async function writeSnapshot<State>(store: EventStore, codec: SnapshotCodec<State>, view: StreamView<State>): Promise<void> {
  if (view.revision === 'no_stream') return;
  const data: SnapshotData = { streamId: view.streamId, revision: view.revision.toString(), codecVersion: codec.schemaVersion, state: codec.encode(view.state) };
  await store.appendToStream(snapshotStreamId(codec, view.streamId), [
    { type: SNAPSHOT_EVENT_TYPE, data, metadata: { correlationId: 'snapshot', causationId: `${view.streamId}@${view.revision}`, principal: 'service:snapshots', schemaVersion: 1 } },
  ], { expectedState: 'any' });
}

/** Whether going from revision `before` to `after` crosses a snapshot boundary. */
export function crossesSnapshotBoundary(codec: SnapshotCodec<unknown>, before: StreamState, after: StreamState): boolean {
  if (after === 'no_stream') return false;
  const every = BigInt(codec.every);
  const start = before === 'no_stream' ? 0n : (before + 1n) / every;
  return (after + 1n) / every > start;
}

async function latestSnapshot<State>(store: EventStore, codec: SnapshotCodec<State>, streamId: string): Promise<{ state: State; revision: bigint } | undefined> {
  const [event] = await store.readStream(snapshotStreamId(codec, streamId), { direction: 'backwards', maxCount: 1 });
  const data = event?.data as Partial<SnapshotData> | undefined;
  if (!event || event.type !== SNAPSHOT_EVENT_TYPE || !data || data.streamId !== streamId || data.codecVersion !== codec.schemaVersion) return undefined;
  if (typeof data.revision !== 'string' || !/^(0|[1-9][0-9]*)$/.test(data.revision) || typeof data.state !== 'object') return undefined;
  return { state: codec.decode(data.state as JsonObject), revision: BigInt(data.revision) };
}

/** A stream's state as of a revision: what a decision is made on, and what the append expects. */
export interface StreamView<State = unknown> {
  readonly streamId: string;
  readonly revision: StreamState;
  readonly state: State;
}

/** Events folded in one load (after the latest snapshot, if the model has snapshots): beyond, refused. */
export const MAX_EVENTS_PER_STREAM_LOAD = 100_000;
const PAGE = 1_000;

/**
 * Reads a whole stream and folds it; with `since` (a view of the same stream read earlier), reads
 * and folds only the events after it. Throws InvariantViolationError for foreign event types.
 */
export async function loadStreamView<State>(store: EventStore, model: StreamModel<State>, streamId: string, since?: StreamView<State>): Promise<StreamView<State>> {
  let state = model.initialState;
  let revision: StreamState = 'no_stream';
  let from = 0n;
  if (since && since.streamId !== streamId) throw new InvariantViolationError('STREAM_VIEW_MISMATCH', `A view of ${since.streamId} cannot continue ${streamId}`);
  const snapshot = since ? undefined : model.snapshots ? await latestSnapshot(store, model.snapshots, streamId) : undefined;
  if (since && since.revision !== 'no_stream') {
    // Catch up from a view read earlier: only the events after it are read.
    state = since.state;
    revision = since.revision;
    from = since.revision + 1n;
  } else if (snapshot) {
    state = snapshot.state;
    revision = snapshot.revision;
    from = snapshot.revision + 1n;
  }
  const start = from;
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
    if (from - start >= BigInt(MAX_EVENTS_PER_STREAM_LOAD)) {
      throw new InvariantViolationError('STREAM_TOO_LONG', `Stream ${streamId} has more than ${MAX_EVENTS_PER_STREAM_LOAD} events`, { streamId });
    }
  }
}
