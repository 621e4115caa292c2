import { ApplicationError } from '@ledger/errors';
import { requestHash, type CommandProcessor, type CommandRequest, type DomainEvent, type StreamView } from '@ledger/event-sourcing';
import type { CheckpointStore, EventStore, JsonObject, LogFilter, RecordedEvent } from '@ledger/event-store';
import { decideWallet, WALLET_CATEGORY, walletStreamId, type WalletEvent, type WalletState } from '@ledger/ledger-domain';
import type { LoggerService } from '@nestjs/common';
import { walletStreamModel } from '../wallets/wallet.stream-model';
import { HoldSchedule, type TrackedHold } from './hold-schedule';
import { abortableDelay } from '@ledger/async';

/** Who the worker acts as: the `principal` of every HoldExpired it appends. */
export const HOLD_EXPIRY_PRINCIPAL = 'service:ledger-hold-expiry';
/** The worker's checkpoint row (CheckpointStore). Shared by every instance: see the class comment. */
export const HOLD_EXPIRY_CONSUMER_ID = 'ledger-hold-expiry';
/**
 * Key space of the worker's idempotency keys. It is the principal id (`service:…`), never a bare
 * token subject, so it does not share the key space of a client whose `sub` is `ledger-hold-expiry`.
 */
export const HOLD_EXPIRY_IDEMPOTENCY_SCOPE = HOLD_EXPIRY_PRINCIPAL;

/** The one idempotency key per hold: a restart or a second instance re-submitting it is answered from the record. */
export function holdExpiryIdempotencyKey(holdId: string): string {
  return `hold-expiry:${holdId}`;
}

const HOLD_EVENT_TYPES = ['HoldPlaced', 'HoldDrawn', 'HoldCaptured', 'HoldReleased', 'HoldExpired'] as const;
const FILTER: LogFilter = { categories: [WALLET_CATEGORY], eventTypes: HOLD_EVENT_TYPES };

/** Refusals that mean "nothing left to expire": the hold was resolved (or never existed here). */
const NOTHING_TO_EXPIRE = new Set(['HOLD_ALREADY_RESOLVED', 'HOLD_NOT_FOUND', 'WALLET_NOT_FOUND', 'WALLET_CLOSED']);

export interface HoldExpiryOptions {
  /** Bound on open holds kept in memory; beyond it the worker re-scans instead (class comment). */
  readonly maxTrackedHolds: number;
  /** Longest the timer sleeps even when the next deadline is further away (clock jumps, checkpoint). */
  readonly maxSleepMs: number;
  /** Real time between checkpoint writes while the position moves (also written on stop). Default 1000. */
  readonly checkpointIntervalMs?: number;
  /** Events per log read. Default 512. */
  readonly readBatchSize?: number;
  /** ExpireHold commands in flight at once. Default 256. */
  readonly maxInFlight?: number;
  /** First retry delay after a failed ExpireHold (doubles per failure, at most retryMaxMs). Default 500. */
  readonly retryBaseMs?: number;
  /** Default 60000. */
  readonly retryMaxMs?: number;
  readonly consumerId?: string;
}

export interface HoldExpiryDependencies {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  readonly processor: CommandProcessor;
  /** Decides when a deadline has passed, and is the `now` of every ExpireHold. */
  readonly clock: () => Date;
  readonly logger?: Pick<LoggerService, 'log' | 'warn' | 'error'>;
}

export interface HoldExpiryStatus {
  readonly state: 'new' | 'running' | 'stopped';
  /** The first read of the log up to its head is done (expiries start then). */
  readonly caughtUp: boolean;
  readonly trackedHolds: number;
  /** HoldPlaced events are being skipped (over maxTrackedHolds) until a re-scan from this position. */
  readonly overflowFrom: bigint | undefined;
  /** Last log position read. */
  readonly position: bigint;
  /** Last checkpoint written. */
  readonly checkpoint: bigint;
  /** Timer turns (each one looks at the clock): lets tests wait for "the worker has seen this time". */
  readonly wakeups: number;
  /** HoldExpired appended by this worker. */
  readonly expired: number;
  /** Holds dropped because they were already resolved or expired (possibly by another instance). */
  readonly alreadyResolved: number;
  readonly failedAttempts: number;
  readonly rescans: number;
}

/**
 * Expires holds at their deadline (issue 3: holds "expire at a deadline").
 *
 * Reading: it tails the global log (category `wallet`, the five hold event types) and keeps every
 * open hold in a HoldSchedule (deadline min-heap + placement-ordered map). It first reads up to the
 * head with readAll (the rebuild), then follows live appends with subscribeToAll.
 *
 * Expiring: one timer sleeps until the next deadline by the injected clock, at most maxSleepMs.
 * Each due hold gets `ExpireHold` through the CommandProcessor (group commit, expected revisions)
 * as HOLD_EXPIRY_PRINCIPAL, with the idempotency key `hold-expiry:<holdId>`, so however many times
 * and from however many instances it is submitted, one HoldExpired is appended; a later submission
 * is answered from the record (`replayed`) or refused HOLD_ALREADY_RESOLVED. That, HOLD_NOT_FOUND
 * and a capture/release (or a draw leaving nothing) seen in the log just drop the hold; a hold
 * drawn in part stays tracked and expires at its deadline, releasing what remains. Any other
 * failure (OVERLOADED, the store down, a conflict storm...) keeps it and retries with capped
 * exponential backoff: a hold is never dropped on an error.
 *
 * Checkpoint (the restart cost): the stored position W is a low-water mark, never past
 * - the last position read,
 * - just before the oldest tracked HoldPlaced (in flight or not),
 * - just before the first HoldPlaced skipped while over the bound.
 * So every hold placed at or below W is resolved, which is a fact about the log, not about this
 * instance: instances may share the checkpoint row (it only moves forward). A restart re-reads
 * the hold events after W, i.e. from the oldest hold still open (at most the longest hold
 * duration, 30 days, plus any expiry backlog), rebuilding exactly the open set.
 *
 * Bound (maxTrackedHolds): when a HoldPlaced arrives with the schedule full, the worker notes
 * its position and skips every later HoldPlaced (it still applies draws, captures, releases and
 * expiries, and expires what it tracks). The checkpoint stays below the first skipped hold. Once
 * expiries and resolutions bring the schedule down to three quarters of the bound, it re-reads the
 * log from that position (a re-scan) and picks the skipped holds up in order. Each re-scan starts
 * with room, so it tracks the hold it started at and the skip point only moves forward. Cost:
 * holds placed while over the bound are expired late (after a re-scan), and a re-scan reads the
 * hold events since the skip point again. Nothing is dropped. Warned in the log; size the bound
 * above the peak of open holds (about 450 bytes of heap each).
 */
export class HoldExpiryWorker {
  private readonly schedule: HoldSchedule;
  private readonly consumerId: string;
  private readonly maxSleepMs: number;
  private readonly checkpointIntervalMs: number;
  private readonly readBatchSize: number;
  private readonly maxInFlight: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly stopController = new AbortController();
  private state: HoldExpiryStatus['state'] = 'new';
  private loops: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  /** Last position read; reset backwards by a re-scan. */
  private cursor = 0n;
  private cursorLoaded = false;
  private caughtUp = false;
  private overflowFrom: bigint | undefined;
  private readController: AbortController | undefined;
  private storedCheckpoint = 0n;
  private lastCheckpointAt = Number.NEGATIVE_INFINITY;
  private wakeTimer: (() => void) | undefined;
  private timerTargetMs = Number.POSITIVE_INFINITY;
  private readonly counters = { wakeups: 0, expired: 0, alreadyResolved: 0, failedAttempts: 0, rescans: 0 };

  constructor(
    private readonly deps: HoldExpiryDependencies,
    options: HoldExpiryOptions,
  ) {
    const positive = (name: string, value: number): number => {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`HoldExpiryWorker: ${name} must be a positive integer; got ${value}`);
      return value;
    };
    this.schedule = new HoldSchedule(positive('maxTrackedHolds', options.maxTrackedHolds));
    this.maxSleepMs = positive('maxSleepMs', options.maxSleepMs);
    this.checkpointIntervalMs = positive('checkpointIntervalMs', options.checkpointIntervalMs ?? 1_000);
    this.readBatchSize = positive('readBatchSize', options.readBatchSize ?? 512);
    this.maxInFlight = positive('maxInFlight', options.maxInFlight ?? 256);
    this.retryBaseMs = positive('retryBaseMs', options.retryBaseMs ?? 500);
    this.retryMaxMs = positive('retryMaxMs', options.retryMaxMs ?? 60_000);
    this.consumerId = options.consumerId ?? HOLD_EXPIRY_CONSUMER_ID;
  }

  /** Starts reading and expiring in the background; store failures are logged and retried. */
  start(): void {
    if (this.state !== 'new') throw new Error(`HoldExpiryWorker: start() called while ${this.state}`);
    this.state = 'running';
    this.loops = this.run();
  }

  /**
   * Stops reading, lets in-flight ExpireHold commands finish (call it before the processor
   * closes), then writes the checkpoint. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopped) return this.stopped;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    this.stopController.abort();
    this.readController?.abort();
    this.wakeTimer?.();
    this.stopped = wasRunning ? this.drain() : Promise.resolve();
    return this.stopped;
  }

  private async drain(): Promise<void> {
    await this.loops;
    await this.writeCheckpoint(true);
  }

  status(): HoldExpiryStatus {
    return {
      state: this.state,
      caughtUp: this.caughtUp,
      trackedHolds: this.schedule.size,
      overflowFrom: this.overflowFrom,
      position: this.cursor,
      checkpoint: this.storedCheckpoint,
      ...this.counters,
    };
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    for (let failures = 1; !this.stopping; failures += 1) {
      try {
        this.cursor = await this.deps.checkpoints.load(this.consumerId);
        this.storedCheckpoint = this.cursor;
        this.cursorLoaded = true;
        break;
      } catch (error) {
        this.deps.logger?.warn({ msg: 'hold expiry: cannot load the checkpoint; retrying', error: message(error) }, 'HoldExpiry');
        await this.pause(backoff(failures, 1_000, 30_000));
      }
    }
    if (this.stopping) return;
    this.deps.logger?.log({ msg: 'hold expiry: rebuilding open holds', fromPosition: this.cursor.toString() }, 'HoldExpiry');
    await Promise.all([this.readLoop(), this.timerLoop()]);
  }

  // ---- reading the log --------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const controller = new AbortController();
      this.readController = controller;
      try {
        await this.follow(controller.signal);
        failures = 0;
      } catch (error) {
        if (this.stopping) return;
        failures += 1;
        this.deps.logger?.warn({ msg: 'hold expiry: reading the log failed; retrying', error: message(error), position: this.cursor.toString() }, 'HoldExpiry');
        await this.pause(backoff(failures, 1_000, 30_000));
      }
    }
  }

  /** Reads from the cursor to the head, then follows live appends, until `signal` aborts (stop or re-scan). */
  private async follow(signal: AbortSignal): Promise<void> {
    for (;;) {
      const page = await this.deps.store.readAll({ fromPosition: this.cursor, maxCount: this.readBatchSize, filter: FILTER });
      if (signal.aborted) return;
      for (const event of page.events) {
        if (signal.aborted) return;
        this.apply(event);
      }
      if (signal.aborted) return;
      if (page.checkpoint > this.cursor) this.cursor = page.checkpoint;
      if (!page.isEndOfBatch) break;
    }
    if (!this.caughtUp) {
      this.caughtUp = true;
      this.deps.logger?.log({ msg: 'hold expiry: open holds rebuilt; expiring', trackedHolds: this.schedule.size, position: this.cursor.toString() }, 'HoldExpiry');
      this.wakeTimer?.();
    }
    for await (const event of this.deps.store.subscribeToAll({ fromPosition: this.cursor, filter: FILTER, batchSize: this.readBatchSize, signal })) {
      if (signal.aborted) return;
      this.apply(event);
    }
  }

  private apply(event: RecordedEvent): void {
    this.cursor = event.position;
    const data = (event as unknown as WalletEvent).data as { holdId: string; walletId: string };
    if (event.type === 'HoldDrawn') {
      // Drawn to zero: resolved, like a capture. Drawn in part: still open, still expires. (Were a
      // resolved hold kept, its ExpireHold would be refused HOLD_ALREADY_RESOLVED and dropped.)
      const drawn = (event as unknown as Extract<WalletEvent, { type: 'HoldDrawn' }>).data;
      if (drawn.remainingMinor === '0' && this.schedule.remove(drawn.holdId)) this.maybeRescan();
      return;
    }
    if (event.type !== 'HoldPlaced') {
      // Captured, released or expired (by anyone): nothing left to do for it.
      if (this.schedule.remove(data.holdId)) this.maybeRescan();
      return;
    }
    // Over the bound: skip, and re-read from the first skipped one later (keeps placement order).
    if (this.overflowFrom !== undefined || this.schedule.has(data.holdId)) return;
    const placed = (event as unknown as Extract<WalletEvent, { type: 'HoldPlaced' }>).data;
    const expiresAtMs = Date.parse(placed.expiresAt);
    if (Number.isNaN(expiresAtMs)) {
      this.deps.logger?.error({ msg: 'hold expiry: HoldPlaced without a valid expiresAt; not tracked', holdId: placed.holdId, position: event.position.toString() }, 'HoldExpiry');
      return;
    }
    const hold: TrackedHold = {
      holdId: placed.holdId,
      walletId: placed.walletId,
      expiresAtMs,
      placedPosition: event.position,
      correlationId: event.metadata.correlationId,
      placedEventId: event.id,
    };
    if (!this.schedule.add(hold)) {
      this.overflowFrom = event.position;
      this.deps.logger?.warn(
        { msg: 'hold expiry: more open holds than HOLD_EXPIRY_MAX_TRACKED_HOLDS; skipping new ones until a re-scan', maxTrackedHolds: this.schedule.capacity, position: event.position.toString() },
        'HoldExpiry',
      );
      return;
    }
    // An earlier deadline than the timer's: wake it to re-aim (not during the rebuild: no expiries yet).
    if (this.caughtUp && expiresAtMs < this.timerTargetMs) this.wakeTimer?.();
  }

  /** Re-reads from the first skipped HoldPlaced once a quarter of the bound is free again. */
  private maybeRescan(): void {
    if (this.overflowFrom === undefined) return;
    const capacity = this.schedule.capacity;
    if (this.schedule.size > capacity - Math.ceil(capacity / 4)) return;
    // Move the cursor back before anything else can read it (the checkpoint, the next read).
    this.cursor = this.overflowFrom - 1n;
    this.overflowFrom = undefined;
    this.counters.rescans += 1;
    this.deps.logger?.log({ msg: 'hold expiry: re-scanning skipped holds', fromPosition: this.cursor.toString(), trackedHolds: this.schedule.size }, 'HoldExpiry');
    this.readController?.abort();
  }

  // ---- expiring -----------------------------------------------------------------------------

  private async timerLoop(): Promise<void> {
    while (!this.stopping) {
      this.counters.wakeups += 1;
      if (this.caughtUp) await this.expireDue();
      await this.writeCheckpoint(false);
      if (this.stopping) return;
      await this.sleep();
    }
  }

  /** Sleeps until the next due hold by the clock, at most maxSleepMs; a new earlier hold or stop wakes it. */
  private sleep(): Promise<void> {
    const nowMs = this.deps.clock().getTime();
    const next = this.caughtUp ? this.schedule.nextDueAtMs() : undefined;
    const delayMs = next === undefined ? this.maxSleepMs : Math.min(Math.max(next - nowMs, 0), this.maxSleepMs);
    this.timerTargetMs = nowMs + delayMs;
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakeTimer = undefined;
        this.timerTargetMs = Number.POSITIVE_INFINITY;
        resolve();
      };
      const timer = setTimeout(wake, delayMs);
      timer.unref();
      this.wakeTimer = wake;
    });
  }

  private async expireDue(): Promise<void> {
    while (!this.stopping) {
      const now = this.deps.clock();
      const due = this.schedule.takeDue(now.getTime(), this.maxInFlight);
      if (due.length === 0) return;
      await Promise.all(due.map((hold) => this.expire(hold, now)));
    }
  }

  /** One ExpireHold. Never throws: the hold is dropped, or given back to retry. */
  private async expire(hold: TrackedHold, now: Date): Promise<void> {
    const { holdId, walletId } = hold;
    const request: CommandRequest<JsonObject> = {
      streams: [{ streamId: walletStreamId(walletId), model: walletStreamModel as never }],
      decide: (views) => {
        const view = views[0] as StreamView<WalletState>;
        const events = decideWallet({ type: 'ExpireHold', walletId, holdId }, view.state, { now });
        return { events: [events as unknown as DomainEvent[]], result: { walletId, holdId, expiredAt: now.toISOString() } };
      },
      idempotency: {
        scope: HOLD_EXPIRY_IDEMPOTENCY_SCOPE,
        key: holdExpiryIdempotencyKey(holdId),
        requestHash: requestHash({ op: 'ExpireHold', walletId, holdId }),
      },
      metadata: { correlationId: hold.correlationId, causationId: hold.placedEventId, principal: HOLD_EXPIRY_PRINCIPAL },
    };
    try {
      const outcome = await this.deps.processor.execute(request);
      this.schedule.remove(holdId);
      if (outcome.replayed) this.counters.alreadyResolved += 1;
      else this.counters.expired += 1;
    } catch (error) {
      const code = error instanceof ApplicationError ? error.code : undefined;
      if (code !== undefined && NOTHING_TO_EXPIRE.has(code)) {
        this.schedule.remove(holdId);
        this.counters.alreadyResolved += 1;
      } else if (code === 'HOLD_NOT_YET_EXPIRED') {
        // Cannot happen with one clock (we decide on the `now` we compared with); be safe anyway.
        this.schedule.giveBack(holdId, Math.max(hold.expiresAtMs, now.getTime() + this.retryBaseMs));
      } else {
        this.counters.failedAttempts += 1;
        const failures = this.schedule.recordFailure(holdId);
        if (failures === undefined) return; // resolved in the log meanwhile
        const delayMs = backoff(failures, this.retryBaseMs, this.retryMaxMs);
        this.schedule.giveBack(holdId, now.getTime() + delayMs);
        const log = code === 'OVERLOADED' || code === 'CONCURRENCY_CONFLICT' || code === 'SHUTTING_DOWN' ? 'warn' : 'error';
        this.deps.logger?.[log]({ msg: 'hold expiry: ExpireHold failed; will retry', holdId, walletId, code: code ?? null, error: message(error), retryInMs: delayMs, failures }, 'HoldExpiry');
      }
    }
    this.maybeRescan();
  }

  // ---- checkpoint ---------------------------------------------------------------------------

  /** The checkpoint may move to here: every hold placed at or below it is resolved. */
  private lowWaterMark(): bigint {
    let mark = this.cursor;
    const oldest = this.schedule.oldestPlacement();
    if (oldest !== undefined && oldest - 1n < mark) mark = oldest - 1n;
    if (this.overflowFrom !== undefined && this.overflowFrom - 1n < mark) mark = this.overflowFrom - 1n;
    return mark;
  }

  private async writeCheckpoint(force: boolean): Promise<void> {
    if (!this.cursorLoaded) return;
    const mark = this.lowWaterMark();
    if (mark <= this.storedCheckpoint) return;
    if (!force && performance.now() - this.lastCheckpointAt < this.checkpointIntervalMs) return;
    try {
      await this.deps.checkpoints.store(this.consumerId, mark);
      this.storedCheckpoint = mark;
      this.lastCheckpointAt = performance.now();
    } catch (error) {
      this.deps.logger?.warn({ msg: 'hold expiry: storing the checkpoint failed; will retry', error: message(error) }, 'HoldExpiry');
    }
  }

  /** Sleeps real time (backoff), cut short by stop. */
  private pause(ms: number): Promise<void> {
    return abortableDelay(ms, this.stopController.signal, { unref: true });
  }

}

function backoff(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 20));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
