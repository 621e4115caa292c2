import {
  ApplicationError,
  IdempotencyConflictError,
  InvariantViolationError,
  UnavailableError,
  VersionConflictError,
} from '@ledger/errors';
import {
  EventStoreValidationError,
  newEventId,
  WrongExpectedVersionError,
  type AppendBatchOutcome,
  type EventMetadata,
  type EventStore,
  type JsonObject,
  type NewEvent,
  type RecordedEvent,
  type StreamWrite,
} from '@ledger/event-store';
import { IDEMPOTENCY_EVENT_TYPE, idempotencyStreamId, type IdempotencyKey, type IdempotencyRecordData } from './idempotency';
import { StreamViewCache } from './stream-view-cache';
import { crossesSnapshotBoundary, loadStreamView, writeSnapshot, type DomainEvent, type StreamModel, type StreamView } from './stream-view';

export interface CommandRequest<Result extends JsonObject> {
  /** The streams the decision reads and may append to, with how to fold each. */
  readonly streams: ReadonlyArray<{ readonly streamId: string; readonly model: StreamModel<unknown> }>;
  /**
   * Pure decision over the streams' current views (same order as `streams`): the events to append
   * to each stream (empty to leave one untouched) and the result the caller gets. Throws an
   * ApplicationError to refuse; nothing is appended then.
   */
  decide(views: readonly StreamView[]): { readonly events: ReadonlyArray<readonly DomainEvent[]>; readonly result: Result };
  readonly idempotency?: IdempotencyKey;
  readonly metadata: Omit<EventMetadata, 'idempotencyKey' | 'schemaVersion'>;
}

/** The position of an outcome whose decision appended nothing (no idempotency key, no events). */
export const NOTHING_APPENDED = -1n;

export interface CommandOutcome<Result extends JsonObject> {
  readonly result: Result;
  /** Global position of the append; read-your-writes waits for it. NOTHING_APPENDED when the decision appended nothing. */
  readonly position: bigint;
  /** True when the idempotency key had already executed this request: the original result. */
  readonly replayed: boolean;
}

export interface CommandProcessorOptions {
  /** Commands decided and appended in one store call (group commit). */
  readonly maxBatchSize: number;
  /** A command is retried this many times after optimistic-concurrency conflicts, then refused. */
  readonly maxConflictRetries: number;
  /** Commands waiting beyond this are refused with OVERLOADED (back-pressure, not unbounded memory). */
  readonly maxQueuedCommands: number;
  /** Stream views kept in memory. */
  readonly cacheEntries: number;
  /**
   * Batches appended at the same time, at most (default 1). Batches in flight never share a
   * stream (nor an idempotency key), so each decides on views no other batch of this processor
   * is changing; a command whose stream is busy waits for the next batch. With 2, PostgreSQL
   * runs one batch while the next is being decided and sent, on another connection and core.
   */
  readonly maxBatchesInFlight?: number;
  readonly schemaVersion?: number;
}

interface Pending {
  readonly request: CommandRequest<JsonObject>;
  /** The key's idempotency stream (one SHA-256, computed once when the command is queued). */
  readonly idempotencyStream: string | undefined;
  /** Every stream the command holds while its batch is in flight: its own and its idempotency stream. */
  readonly streams: readonly string[];
  readonly resolve: (outcome: CommandOutcome<JsonObject>) => void;
  readonly reject: (error: unknown) => void;
  attempts: number;
  /**
   * Set when the command is retried after a conflict: before it is decided again, its key's
   * record is looked up, so a batch of commands whose keys already executed (a redelivered
   * chunk of payout rows on one hot wallet) is answered in one round instead of one command per
   * round (each round the first command hits its record and knocks on every later one).
   */
  checkRecordFirst?: boolean;
}

interface Planned {
  readonly pending: Pending;
  readonly writes: StreamWrite[];
  readonly views: StreamView[];
  readonly result: JsonObject;
}

/**
 * Group commit (ADR 0005). Commands queue up while the previous batch is being appended; the next
 * batch is decided one command at a time, each against the views left by the ones before it,
 * then appended with one appendBatch call in which every stream write states the exact revision
 * its decision was made on. A conflict fails only its command, which is retried on fresh views
 * (bounded); a refusal fails only its command. Idempotency records ride in the same append, so a
 * key executes at most once even across processes.
 */
export class CommandProcessor {
  private readonly queue: Pending[] = [];
  private readonly cache: StreamViewCache;
  /** Batches being decided or appended, and the streams (and idempotency streams) they hold. */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly busyStreams = new Set<string>();
  private readonly maxBatchesInFlight: number;
  /** Set when no queued command could start (all wait for streams in flight): no rescan until a batch ends. */
  private blocked = false;
  private closed = false;

  constructor(
    private readonly store: EventStore,
    private readonly options: CommandProcessorOptions,
  ) {
    for (const [name, value] of Object.entries(options)) {
      if (value !== undefined && (!Number.isInteger(value) || (value as number) < (name === 'maxConflictRetries' ? 0 : 1))) {
        throw new RangeError(`CommandProcessor: ${name} must be a positive integer; got ${String(value)}`);
      }
    }
    this.cache = new StreamViewCache(options.cacheEntries);
    this.maxBatchesInFlight = options.maxBatchesInFlight ?? 1;
  }

  execute<Result extends JsonObject>(request: CommandRequest<Result>): Promise<CommandOutcome<Result>> {
    if (this.closed) return Promise.reject(new UnavailableError('SHUTTING_DOWN', 'The command processor is shutting down'));
    if (this.queue.length >= this.options.maxQueuedCommands) {
      return Promise.reject(new UnavailableError('OVERLOADED', `More than ${this.options.maxQueuedCommands} commands are waiting; retry later`));
    }
    const idempotencyStream = request.idempotency ? idempotencyStreamId(request.idempotency.scope, request.idempotency.key) : undefined;
    const streams = request.streams.map(({ streamId }) => streamId);
    if (idempotencyStream) streams.push(idempotencyStream);
    return new Promise<CommandOutcome<Result>>((resolve, reject) => {
      this.queue.push({ request, idempotencyStream, streams, resolve: resolve as Pending['resolve'], reject, attempts: 0 });
      this.pump();
    });
  }

  /** Refuses new commands and waits for queued ones to finish. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Forgets cached views (e.g. after a test rewrote the store). */
  invalidate(streamId: string): void {
    this.cache.delete(streamId);
  }

  /** Starts batches while there is room in flight and queued commands whose streams are free. */
  private pump(): void {
    while (!this.blocked && this.inFlight.size < this.maxBatchesInFlight && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (batch.length === 0) {
        this.blocked = true; // every queued command waits for a stream in flight
        return;
      }
      const held = batch.flatMap((pending) => pending.streams);
      for (const streamId of held) this.busyStreams.add(streamId);
      const running: Promise<void> = this.processBatch(batch)
        .catch((error: unknown) => {
          // processBatch settles every command itself; this is a bug, not an outcome: fail loudly.
          for (const pending of batch) pending.reject(error);
        })
        .finally(() => {
          for (const streamId of held) this.busyStreams.delete(streamId);
          this.inFlight.delete(running);
          this.blocked = false;
          this.pump();
        });
      this.inFlight.add(running);
    }
  }

  /**
   * Up to maxBatchSize queued commands, in queue order, none touching a stream of a batch in
   * flight. A command left waiting reserves its streams for this pass, so no later command on one
   * of them overtakes it: per stream, commands are decided in the order they arrived.
   */
  private takeBatch(): Pending[] {
    if (this.inFlight.size === 0) return this.queue.splice(0, this.options.maxBatchSize);
    const batch: Pending[] = [];
    const waiting: Pending[] = [];
    const reserved = new Set<string>();
    let index = 0;
    for (; index < this.queue.length && batch.length < this.options.maxBatchSize; index += 1) {
      const pending = this.queue[index] as Pending;
      if (pending.streams.some((streamId) => this.busyStreams.has(streamId) || reserved.has(streamId))) {
        for (const streamId of pending.streams) reserved.add(streamId);
        waiting.push(pending);
      } else {
        batch.push(pending);
      }
    }
    this.queue.splice(0, index, ...waiting);
    return batch;
  }

  private async processBatch(incoming: Pending[]): Promise<void> {
    const batch = await this.answerFromRecords(incoming);
    if (batch.length === 0) return;
    const working = await this.loadViews(batch);
    const planned: Planned[] = [];
    const refusals: Array<[Pending, ApplicationError]> = [];
    const sameKeyLater: Pending[] = [];
    const claimedKeys = new Set<string>();
    for (const pending of batch) {
      if (!working.ok.has(pending)) continue; // its load failed and it was rejected
      const key = pending.request.idempotency;
      if (key) {
        // A second request with a key already in this batch waits for the first one's record.
        const claim = pending.idempotencyStream as string;
        if (claimedKeys.has(claim)) {
          sameKeyLater.push(pending);
          continue;
        }
        claimedKeys.add(claim);
      }
      try {
        const plan = this.plan(pending, working.views);
        // A decision that appends nothing (an idempotent no-op) has nothing to commit: answer now.
        if (plan.writes.length === 0) pending.resolve({ result: plan.result, position: NOTHING_APPENDED, replayed: false });
        else planned.push(plan);
      } catch (error) {
        if (error instanceof ApplicationError) refusals.push([pending, error]);
        else pending.reject(error);
      }
    }
    const outcomes = planned.length > 0 ? await this.append(planned) : [];
    const retry: Pending[] = [];
    const stale = new Set<string>();
    planned.forEach((plan, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) return;
      // A conflict on a stream that an earlier, failed command of this batch advanced only
      // speculatively is that command's doing, not a real race: it does not use up a retry.
      const knockOn = !(outcome instanceof Error) && !outcome.ok && outcome.error instanceof WrongExpectedVersionError && stale.has(outcome.error.streamId);
      // A command that did not land leaves speculative views behind: never cache them.
      if (outcome instanceof Error || !outcome.ok) plan.views.forEach((view) => stale.add(view.streamId));
      if (outcome instanceof Error) {
        plan.pending.reject(outcome);
      } else if (outcome.ok) {
        plan.pending.resolve({ result: plan.result, position: outcome.result.position, replayed: false });
      } else if (outcome.error instanceof WrongExpectedVersionError && outcome.error.streamId === plan.pending.idempotencyStream) {
        void this.replay(plan.pending, undefined);
      } else if (outcome.error instanceof WrongExpectedVersionError) {
        plan.pending.checkRecordFirst = true;
        if (knockOn) {
          retry.push(plan.pending);
        } else if (plan.pending.attempts < this.options.maxConflictRetries) {
          plan.pending.attempts += 1;
          retry.push(plan.pending);
        } else {
          plan.pending.reject(new VersionConflictError('CONCURRENCY_CONFLICT', `Stream ${outcome.error.streamId} kept changing; retry the request`, { streamId: outcome.error.streamId }));
        }
      } else {
        plan.pending.reject(new InvariantViolationError('DUPLICATE_EVENT_ID', outcome.error.message));
      }
    });
    // Keep what the batch proved (views of streams only successful commands touched); drop the rest.
    for (const view of working.views.values()) {
      if (stale.has(view.streamId) || view.revision === 'no_stream') {
        this.cache.delete(view.streamId);
        continue;
      }
      this.cache.set(view);
      const codec = working.models.get(view.streamId)?.snapshots;
      if (codec && crossesSnapshotBoundary(codec, working.startRevisions.get(view.streamId) ?? 'no_stream', view.revision)) {
        // Proven by this batch's successful append; a failed snapshot only makes the next load longer.
        void writeSnapshot(this.store, codec, view).catch(() => undefined);
      }
    }
    for (const [pending, refusal] of refusals) void this.replay(pending, refusal);
    for (const pending of sameKeyLater) void this.replay(pending, undefined);
    this.queue.unshift(...retry);
  }

  /** Retried keyed commands whose key has a record are answered from it; the rest are returned. */
  private async answerFromRecords(batch: Pending[]): Promise<Pending[]> {
    const checks = batch.filter((pending) => pending.checkRecordFirst && pending.request.idempotency);
    if (checks.length === 0) return batch;
    const answered = new Set<Pending>();
    await Promise.all(
      checks.map(async (pending) => {
        pending.checkRecordFirst = false;
        const key = pending.request.idempotency as IdempotencyKey;
        try {
          const [record] = await this.store.readStream(pending.idempotencyStream as string, { direction: 'forwards', maxCount: 1 });
          if (!record) return;
          answered.add(pending);
          answerFromRecord(pending, key, record);
        } catch {
          // Unknown: decide it as usual; the append's own record check stays authoritative.
        }
      }),
    );
    return batch.filter((pending) => !answered.has(pending));
  }

  /** Views for every stream of the batch: from the cache, else read (distinct streams in parallel). */
  private async loadViews(batch: Pending[]): Promise<{ views: Map<string, StreamView>; ok: Set<Pending>; models: Map<string, StreamModel<unknown>>; startRevisions: Map<string, StreamView['revision']> }> {
    const views = new Map<string, StreamView>();
    const toLoad = new Map<string, StreamModel<unknown>>();
    const models = new Map<string, StreamModel<unknown>>();
    for (const pending of batch) {
      for (const { streamId, model } of pending.request.streams) {
        models.set(streamId, model);
        const cached = this.cache.get(streamId);
        if (cached) views.set(streamId, cached);
        else toLoad.set(streamId, model);
      }
    }
    const failures = new Map<string, unknown>();
    await Promise.all(
      [...toLoad].map(async ([streamId, model]) => {
        try {
          views.set(streamId, await loadStreamView(this.store, model, streamId));
        } catch (error) {
          failures.set(streamId, error);
        }
      }),
    );
    const ok = new Set<Pending>();
    for (const pending of batch) {
      const failed = pending.request.streams.find(({ streamId }) => failures.has(streamId));
      if (failed) pending.reject(failures.get(failed.streamId));
      else ok.add(pending);
    }
    const startRevisions = new Map([...views].map(([streamId, view]) => [streamId, view.revision]));
    return { views, ok, models, startRevisions };
  }

  /** Decides one command on the working views and advances them as if its append succeeded. */
  private plan(pending: Pending, working: Map<string, StreamView>): Planned {
    const { request } = pending;
    const views = request.streams.map(({ streamId }) => working.get(streamId) as StreamView);
    const decision = request.decide(views);
    if (decision.events.length !== views.length) {
      throw new InvariantViolationError('DECISION_SHAPE', `decide returned events for ${decision.events.length} streams, expected ${views.length}`);
    }
    const metadata: EventMetadata = {
      ...request.metadata,
      ...(request.idempotency ? { idempotencyKey: request.idempotency.key } : {}),
      schemaVersion: this.options.schemaVersion ?? 1,
    };
    const writes: StreamWrite[] = [];
    views.forEach((view, index) => {
      const events = decision.events[index] as readonly DomainEvent[];
      const { model } = request.streams[index] as (typeof request.streams)[number];
      if (events.length === 0) return;
      writes.push({ streamId: view.streamId, expectedState: view.revision, events: events.map((e): NewEvent => ({ id: newEventId(), type: e.type, data: e.data, metadata })) });
      const base = view.revision === 'no_stream' ? -1n : view.revision;
      working.set(view.streamId, {
        streamId: view.streamId,
        revision: base + BigInt(events.length),
        state: events.reduce((state, event) => model.evolve(state, event), view.state),
      });
    });
    if (request.idempotency) {
      const record: IdempotencyRecordData = { ...request.idempotency, result: decision.result };
      // Last, so the record's position is the append's position (what a replay returns).
      writes.push({ streamId: pending.idempotencyStream as string, expectedState: 'no_stream', events: [{ id: newEventId(), type: IDEMPOTENCY_EVENT_TYPE, data: record, metadata }] });
    }
    return { pending, writes, views, result: decision.result };
  }

  /**
   * One appendBatch for the batch. A validation error means one request is malformed: append
   * them one by one so only that command fails. A store failure fails every command of the batch
   * (its outcome is unknown; the idempotency key makes the client's retry safe).
   */
  private async append(planned: Planned[]): Promise<Array<AppendBatchOutcome | Error>> {
    const requests = planned.map((plan) => plan.writes);
    try {
      return [...(await this.store.appendBatch(requests))];
    } catch (error) {
      if (!(error instanceof EventStoreValidationError) || planned.length === 1) return planned.map(() => asError(error));
      const outcomes: Array<AppendBatchOutcome | Error> = [];
      for (const request of requests) {
        try {
          outcomes.push(...(await this.store.appendBatch([request])));
        } catch (single) {
          outcomes.push(asError(single));
        }
      }
      return outcomes;
    }
  }

  /**
   * The key may have executed before: answer with the original result, or refuse a different
   * request under the same key. Without a record, a refusal stands (and a lost race retries).
   */
  private async replay(pending: Pending, refusal: ApplicationError | undefined): Promise<void> {
    const key = pending.request.idempotency;
    if (!key) {
      pending.reject(refusal);
      return;
    }
    try {
      const [record] = await this.store.readStream(pending.idempotencyStream as string, { direction: 'forwards', maxCount: 1 });
      if (!record) {
        if (refusal) pending.reject(refusal);
        else this.requeue(pending);
        return;
      }
      answerFromRecord(pending, key, record);
    } catch (error) {
      pending.reject(error);
    }
  }

  private requeue(pending: Pending): void {
    if (pending.attempts >= this.options.maxConflictRetries) {
      pending.reject(new VersionConflictError('CONCURRENCY_CONFLICT', 'The request kept conflicting; retry it'));
      return;
    }
    pending.attempts += 1;
    this.queue.push(pending);
    this.pump();
  }
}

/** The original result for the same request under a key; a different request is a named conflict. */
function answerFromRecord(pending: Pending, key: IdempotencyKey, record: RecordedEvent): void {
  const data = record.data as IdempotencyRecordData;
  if (data.requestHash !== key.requestHash) {
    pending.reject(new IdempotencyConflictError('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different request', { idempotencyKey: key.key }));
    return;
  }
  pending.resolve({ result: data.result, position: record.position, replayed: true });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
