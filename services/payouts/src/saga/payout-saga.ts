import type { BusPublisher, BusSubscriber, IncomingMessage, RunningConsumer } from '@ledger/bus';
import {
  decodePayoutResult,
  encodePayoutCommand,
  PAYOUT_COMMANDS_TOPIC,
  PAYOUT_RESULTS_TOPIC,
  PAYOUTS_PRINCIPAL,
  PayoutMessageError,
  type PayoutCommand,
  type PayoutResult,
} from '@ledger/payouts-messages';
import {
  decideDispatchChunk,
  decideDispatchReversals,
  decideFailUnreserved,
  decideFinishCompensation,
  decideFinishRefused,
  decideFundsReserved,
  decideReservationRefused,
  decideReservationReleased,
  decideReversalsSettled,
  decideRowsSettled,
  isRestingBatchStatus,
  nextSagaActions,
  rowsAwaitingPayment,
  rowsAwaitingReversal,
  type ExistingBatch,
  type RowState,
  type SagaAction,
} from '@ledger/payouts-domain';
import { revisionOf, type PayoutStreams } from '../application/payout-streams';
import type { ActiveBatches } from './active-batches';

export interface PayoutSagaConfig {
  /** Chunks of one batch waiting on the ledger at once. */
  readonly maxInFlightChunks: number;
  /** A command whose answer has not come back after this long is sent again (same keys: safe), milliseconds. */
  readonly resendAfterMs: number;
  /** How often every active batch is looked at even without news (restarts, lost answers), milliseconds. */
  readonly pollIntervalMs: number;
  /** Active batches visited per poll round. */
  readonly maxActiveBatches: number;
}

export interface SagaLogger {
  log(entry: Record<string, unknown>, context?: string): void;
  warn(entry: Record<string, unknown>, context?: string): void;
  error(entry: Record<string, unknown>, context?: string): void;
}

export interface PayoutSagaDeps {
  readonly streams: PayoutStreams;
  readonly active: ActiveBatches;
  readonly publisher: BusPublisher;
  readonly subscriber: BusSubscriber;
  readonly clock: () => Date;
  readonly logger: SagaLogger;
}

const CONTEXT = 'PayoutSaga';
/** Bound on consecutive steps of one advance() (each appends or sends): a loop guard, not a limit of work. */
const MAX_STEPS_PER_ADVANCE = 10_000;

/**
 * The batch payout saga (ADR 0008): a process manager whose whole state is the batch and chunk
 * streams. It sends commands to the ledger over the bus (`payouts.commands.v1`), records the
 * ledger's answers (`payouts.results.v1`) and decides the next step with `nextSagaActions`.
 *
 * Crash safety: every step is "record, then send" and every send is idempotent on the ledger
 * side (deterministic keys per batch, row and attempt), so after any crash the saga re-reads the
 * batch and sends again what has no recorded answer. Answers are recorded once (duplicates are
 * no-ops in the deciders). Several saga instances stay correct (optimistic concurrency on every
 * stream) but duplicate work; run one per deployment.
 */
export class PayoutSaga {
  private consumer: RunningConsumer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** When each command was last sent by this process: resent after resendAfterMs or after a restart. */
  private readonly sentAt = new Map<string, number>();

  constructor(
    private readonly deps: PayoutSagaDeps,
    private readonly config: PayoutSagaConfig,
  ) {}

  async start(): Promise<void> {
    this.consumer = await this.deps.subscriber.start({
      groupId: 'payouts-saga',
      topics: [PAYOUT_RESULTS_TOPIC],
      fromBeginning: true,
      handle: (message) => this.onResult(message),
    });
    this.schedulePoll(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.consumer?.stop();
    await Promise.allSettled([...this.running.values()]);
  }

  /** Registers a batch the saga must drive, as of `revision`, before the event that starts it is appended. */
  track(batchId: string, revision: bigint): Promise<void> {
    return this.deps.active.add(batchId, revision);
  }

  /** Looks at a batch now (after a command started or resumed it, or an answer came). */
  kick(batchId: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const current = this.running.get(batchId);
    if (current) {
      this.again.add(batchId);
      return current;
    }
    const run = (async () => {
      try {
        do {
          this.again.delete(batchId);
          await this.advance(batchId);
        } while (this.again.has(batchId) && !this.stopped);
      } catch (error) {
        this.deps.logger.error({ msg: 'payout saga step failed; retried on the next poll', batchId, error: (error as Error).message }, CONTEXT);
      } finally {
        this.running.delete(batchId);
      }
    })();
    this.running.set(batchId, run);
    return run;
  }

  private schedulePoll(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedulePoll(this.config.pollIntervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      const batchIds = await this.deps.active.list(this.config.maxActiveBatches);
      await Promise.all(batchIds.map((batchId) => this.kick(batchId)));
    } catch (error) {
      this.deps.logger.warn({ msg: 'payout saga poll failed', error: (error as Error).message }, CONTEXT);
    }
  }

  /** Takes every step the batch allows now; stops when only waiting is left. */
  private async advance(batchId: string): Promise<void> {
    for (let step = 0; step < MAX_STEPS_PER_ADVANCE && !this.stopped; step += 1) {
      const view = await this.deps.streams.loadBatch(batchId);
      const batch = view.state;
      if (batch.status === 'none') return;
      if (isRestingBatchStatus(batch.status)) {
        this.forget(batchId);
        await this.deps.active.removeIfRestingSince(batchId, revisionOf(view));
        return;
      }
      // PENDING / VALIDATED: tracked just before an execute whose event is not (or never) there.
      if (batch.status !== 'PROCESSING' && batch.status !== 'COMPENSATING') return;
      const actions = nextSagaActions(batch, this.config.maxInFlightChunks);
      let progressed = false;
      for (const action of actions) {
        if (await this.perform(batch, action)) progressed = true;
      }
      if (!progressed) return;
    }
  }

  /** Performs one action; true when it recorded something (the batch must be looked at again). */
  private async perform(batch: ExistingBatch, action: SagaAction): Promise<boolean> {
    const { streams } = this.deps;
    const acting = { principal: PAYOUTS_PRINCIPAL, correlationId: batch.batchId };
    const uploadId = batch.upload?.uploadId as string;
    const now = this.deps.clock();
    switch (action.kind) {
      case 'reserve':
        await this.sendOnce(`reserve:${batch.batchId}`, batch.batchId, () => ({
          type: 'ReservePayoutFunds',
          batchId: batch.batchId,
          sourceWalletId: batch.sourceWalletId,
          holdId: batch.holdId as string,
          currency: batch.currency,
          amountMinor: (batch.upload?.validTotalMinor ?? 0n).toString(),
          expiresAt: batch.reservationExpiresAt as string,
        }));
        return false;
      case 'dispatch': {
        const { result } = await streams.onBatchAndChunk(batch.batchId, uploadId, action.chunk, acting, (b, c) => {
          const step = decideDispatchChunk(b, c, now);
          return { ...step, result: { rows: step.rows.length } };
        });
        if (result.rows > 0) await this.sendRows(batch, action.chunk, true);
        return true;
      }
      case 'awaitRows':
        await this.sendRows(batch, action.chunk, false);
        return false;
      case 'failUnreserved':
        await streams.onBatchAndChunk(batch.batchId, uploadId, action.chunk, acting, (b, c) => ({ ...decideFailUnreserved(b, c, now), result: {} }));
        return true;
      case 'release':
        await this.sendOnce(`release:${batch.batchId}`, batch.batchId, () => ({
          type: 'ReleasePayoutReservation',
          batchId: batch.batchId,
          sourceWalletId: batch.sourceWalletId,
          holdId: batch.holdId as string,
        }));
        return false;
      case 'finishRefused':
        await streams.onBatch(batch.batchId, acting, (state) => ({ events: state.status === 'none' ? [] : decideFinishRefused(state, now), result: {} }));
        return true;
      case 'dispatchReversals': {
        const { result } = await streams.onBatchAndChunk(batch.batchId, uploadId, action.chunk, acting, (b, c) => {
          const step = decideDispatchReversals(b, c, now);
          return { ...step, result: { rows: step.rows.length } };
        });
        if (result.rows > 0) await this.sendReversals(batch, action.chunk, true);
        return true;
      }
      case 'awaitReversals':
        await this.sendReversals(batch, action.chunk, false);
        return false;
      case 'finishCompensation':
        await streams.onBatch(batch.batchId, acting, (state) => ({ events: state.status === 'none' ? [] : decideFinishCompensation(state, now), result: {} }));
        return true;
      default:
        return false;
    }
  }

  /** Sends the rows of a chunk still waiting for the ledger (after a dispatch, a restart or a timeout). */
  private async sendRows(batch: ExistingBatch, chunk: number, fresh: boolean): Promise<void> {
    const key = `rows:${batch.batchId}:${chunk}`;
    if (!fresh && !this.due(key)) return;
    const rows = rowsAwaitingPayment(await this.deps.streams.loadChunk(batch.upload?.uploadId as string, chunk));
    if (rows.length === 0) return;
    await this.send(key, batch.batchId, {
      type: 'PayPayoutRows',
      batchId: batch.batchId,
      chunk,
      sourceWalletId: batch.sourceWalletId,
      holdId: batch.holdId as string,
      currency: batch.currency,
      rows: rows.map((row) => ({ row: row.row, recipientWalletId: row.recipientId, amountMinor: amountOf(row), ...(row.reference ? { reference: row.reference } : {}) })),
    });
  }

  private async sendReversals(batch: ExistingBatch, chunk: number, fresh: boolean): Promise<void> {
    const key = `reversals:${batch.batchId}:${chunk}:${batch.compensation?.compensationId ?? ''}`;
    if (!fresh && !this.due(key)) return;
    const rows = rowsAwaitingReversal(await this.deps.streams.loadChunk(batch.upload?.uploadId as string, chunk));
    if (rows.length === 0) return;
    await this.send(key, batch.batchId, {
      type: 'ReversePayoutRows',
      batchId: batch.batchId,
      chunk,
      sourceWalletId: batch.sourceWalletId,
      currency: batch.currency,
      rows: rows.map(({ row, attempt }) => ({ row: row.row, attempt, recipientWalletId: row.recipientId, amountMinor: amountOf(row) })),
    });
  }

  private async sendOnce(key: string, batchId: string, command: () => PayoutCommand): Promise<void> {
    if (!this.due(key)) return;
    await this.send(key, batchId, command());
  }

  private due(key: string): boolean {
    const at = this.sentAt.get(key);
    return at === undefined || this.deps.clock().getTime() - at >= this.config.resendAfterMs;
  }

  private async send(key: string, batchId: string, command: PayoutCommand): Promise<void> {
    await this.deps.publisher.publish(PAYOUT_COMMANDS_TOPIC, [{ key: batchId, value: encodePayoutCommand(command), headers: { 'correlation-id': batchId } }]);
    this.sentAt.set(key, this.deps.clock().getTime());
  }

  private forget(batchId: string): void {
    for (const key of this.sentAt.keys()) if (key.includes(batchId)) this.sentAt.delete(key);
  }

  /** Records one answer from the ledger, then looks at the batch again. */
  private async onResult(message: IncomingMessage): Promise<void> {
    let result: PayoutResult;
    try {
      result = decodePayoutResult(message.value);
    } catch (error) {
      if (!(error instanceof PayoutMessageError)) throw error;
      this.deps.logger.error({ msg: 'undecodable payout result skipped', topic: message.topic, partition: message.partition, offset: message.offset, reason: error.message }, CONTEXT);
      return;
    }
    await this.record(result, `${message.topic}/${message.partition}/${message.offset}`);
    void this.kick(result.batchId);
  }

  private async record(result: PayoutResult, causationId: string): Promise<void> {
    const { streams } = this.deps;
    const acting = { principal: PAYOUTS_PRINCIPAL, correlationId: result.batchId, causationId };
    const now = this.deps.clock();
    switch (result.type) {
      case 'PayoutFundsReserved':
        await streams.onBatch(result.batchId, acting, (state) => ({ events: state.status === 'none' ? [] : decideFundsReserved(state, result.holdId, result.position, now), result: {} }));
        return;
      case 'PayoutReservationRefused':
        await streams.onBatch(result.batchId, acting, (state) => ({
          events: state.status === 'none' ? [] : decideReservationRefused(state, result.holdId, result.reason, result.message, now),
          result: {},
        }));
        return;
      case 'PayoutReservationReleased':
        await streams.onBatch(result.batchId, acting, (state) => ({
          events: state.status === 'none' ? [] : decideReservationReleased(state, result.holdId, result.releasedMinor, result.note ?? null, now),
          result: {},
        }));
        return;
      case 'PayoutRowsProcessed': {
        const batch = await this.uploadOf(result.batchId);
        if (!batch) return;
        const results = result.results.map((r) => ({
          row: r.row,
          outcome: r.outcome,
          reason: r.outcome === 'FAILED' ? r.reason : null,
          transactionId: r.outcome === 'SUCCEEDED' ? r.transactionId : null,
          position: r.position ?? null,
        }));
        await streams.onBatchAndChunk(result.batchId, batch, result.chunk, acting, (b, c) => ({ ...decideRowsSettled(b, c, results, now), result: {} }));
        return;
      }
      case 'PayoutRowsReversed': {
        const uploadId = await this.uploadOf(result.batchId);
        if (!uploadId) return;
        const results = result.results.map((r) => ({
          row: r.row,
          attempt: r.attempt,
          outcome: r.outcome,
          reason: r.outcome === 'REVERSAL_FAILED' ? r.reason : null,
          transactionId: r.outcome === 'REVERSED' ? r.transactionId : null,
          position: r.position ?? null,
        }));
        await streams.onBatchAndChunk(result.batchId, uploadId, result.chunk, acting, (b, c) => ({
          ...(b.compensation ? decideReversalsSettled(b, c, b.compensation.compensationId, results, now) : { batchEvents: [], chunkEvents: [] }),
          result: {},
        }));
        return;
      }
      default:
        return;
    }
  }

  private async uploadOf(batchId: string): Promise<string | undefined> {
    const view = await this.deps.streams.loadBatch(batchId);
    if (view.state.status === 'none' || !view.state.upload) {
      this.deps.logger.warn({ msg: 'payout result for a batch without rows ignored', batchId }, CONTEXT);
      return undefined;
    }
    return view.state.upload.uploadId;
  }
}

function amountOf(row: RowState): string {
  return (row.amountMinor ?? 0n).toString();
}
