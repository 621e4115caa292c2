import type { BusPublisher, IncomingMessage } from '@ledger/bus';
import { ApplicationError, IdempotencyConflictError, IllegalStateError, InvariantViolationError, UnavailableError, ValidationError } from '@ledger/errors';
import {
  idempotencyStreamId,
  requestHash,
  type CommandOutcome,
  type CommandProcessor,
  type CommandRequest,
  type DomainEvent,
  type IdempotencyRecordData,
  type StreamView,
} from '@ledger/event-sourcing';
import type { EventStore, JsonObject } from '@ledger/event-store';
import {
  decideDrawFromHold,
  decideTransfer,
  decideWallet,
  walletStreamId,
  type CommandContext,
  type WalletEvent,
  type WalletState,
} from '@ledger/ledger-domain';
import { MAX_AMOUNT_MINOR, type CurrencyCode, type Money } from '@ledger/money';
import {
  decodePayoutCommand,
  encodePayoutResult,
  MAX_PAYOUT_REASON_MESSAGE_CHARS,
  PAYOUT_RELEASE_NOTES,
  PAYOUT_RESULTS_TOPIC,
  payoutHoldKey,
  PayoutMessageError,
  payoutReleaseKey,
  payoutReversalKey,
  payoutRowKey,
  PAYOUTS_IDEMPOTENCY_SCOPE,
  PAYOUTS_PRINCIPAL,
  type PayoutCommand,
  type PayoutResult,
  type PayoutReversalInstruction,
  type PayoutReversalResult,
  type PayoutRowInstruction,
  type PayoutRowResult,
  type PayPayoutRows,
  type ReleasePayoutReservation,
  type ReservePayoutFunds,
  type ReversePayoutRows,
} from '@ledger/payouts-messages';
import type { LoggerService } from '@nestjs/common';
import { walletStreamModel } from '../wallets/wallet.stream-model';
import { payoutTransactionId } from './payout-transaction-id';
import { abortableDelay } from '@ledger/async';

/** Wallet events of the source wallet looked at (newest first) to say how a hold was resolved. */
export const RELEASE_NOTE_SCAN_EVENTS = 1_000;

export interface PayoutCommandHandlerOptions {
  /** Where results are published; default the contract's `payouts.results.v1`. */
  readonly resultsTopic?: string;
  /**
   * Times the handler itself retries the steps of a message that failed for an infrastructure
   * reason (store down, CONCURRENCY_CONFLICT, OVERLOADED) before it gives the message back to the
   * bus, which delivers it again with its own back-off. 0: give it back at once.
   */
  readonly retryAttempts: number;
  /** First pause before such a retry, milliseconds; doubles per attempt. */
  readonly retryInitialDelayMs: number;
  /** Cap on that pause, milliseconds. */
  readonly retryMaxDelayMs: number;
}

export interface PayoutCommandHandlerDependencies {
  readonly processor: CommandProcessor;
  /** Reads idempotency records (reversal checks) and the source wallet's recent events (release notes). */
  readonly store: EventStore;
  /** Where results go (`payouts.results.v1`). */
  readonly publisher: BusPublisher;
  /** The `now` of every decision (hold deadlines). */
  readonly clock: () => Date;
  readonly logger?: Pick<LoggerService, 'log' | 'warn' | 'error'>;
}

export interface PayoutCommandHandlerStatus {
  /** Messages whose result was published (replays included). */
  readonly messagesHandled: number;
  /** Messages skipped because they broke the contract (logged as errors). */
  readonly poisonMessages: number;
  /** Attempts that failed for an infrastructure reason (each retried, or the message redelivered). */
  readonly failedAttempts: number;
  readonly rowsSucceeded: number;
  readonly rowsFailed: number;
  readonly rowsReversed: number;
  readonly reversalsFailed: number;
}

/** A row's (or reversal's) recorded outcome: the idempotency record's result. */
type RowRecord =
  | { outcome: 'SUCCEEDED'; transactionId: string; recipientWalletId: string; amountMinor: string }
  | { outcome: 'FAILED'; reason: string };
type ReversalRecord = { outcome: 'REVERSED'; transactionId: string } | { outcome: 'REVERSAL_FAILED'; reason: string };
type ReserveRecord = { outcome: 'RESERVED' } | { outcome: 'REFUSED'; reason: string; message: string };
type ReleaseRecord = { releasedMinor: string; note?: string };

/** Where the message came from: the causation id of every event it causes, and log context. */
interface Delivery {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly causationId: string;
}

/**
 * Handles one message of `payouts.commands.v1` (services/ledger/README.md, "Payout commands"):
 * decodes it, executes each step through the group-committing CommandProcessor under the step's
 * deterministic idempotency key (scope `service:payouts`), then publishes ONE result message to
 * `payouts.results.v1` and resolves, so the bus commits the command only after its result is out.
 *
 * - A business refusal (any validation / not-found / illegal-state error of a decider) is final:
 *   the decision returns no wallet events and a FAILED result, so only the idempotency record is
 *   appended and a redelivered command gets the same answer (a refused row is never paid later).
 * - An infrastructure failure is not recorded: the steps that failed are retried here (bounded,
 *   with back-off), then the handler throws and the bus delivers the message again; steps already
 *   done replay from their records.
 * - A message that does not decode is poison: one error log line, counted, skipped.
 */
export class PayoutCommandHandler {
  private readonly stopController = new AbortController();
  private readonly counters = { messagesHandled: 0, poisonMessages: 0, failedAttempts: 0, rowsSucceeded: 0, rowsFailed: 0, rowsReversed: 0, reversalsFailed: 0 };

  constructor(
    private readonly deps: PayoutCommandHandlerDependencies,
    private readonly options: PayoutCommandHandlerOptions,
  ) {
    const { retryAttempts, retryInitialDelayMs, retryMaxDelayMs } = options;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 100) throw new RangeError(`PayoutCommandHandler: retryAttempts must be an integer from 0 to 100; got ${retryAttempts}`);
    if (!Number.isInteger(retryInitialDelayMs) || retryInitialDelayMs < 1) throw new RangeError(`PayoutCommandHandler: retryInitialDelayMs must be a positive integer; got ${retryInitialDelayMs}`);
    if (!Number.isInteger(retryMaxDelayMs) || retryMaxDelayMs < retryInitialDelayMs) throw new RangeError(`PayoutCommandHandler: retryMaxDelayMs must be an integer ≥ retryInitialDelayMs; got ${retryMaxDelayMs}`);
  }

  status(): PayoutCommandHandlerStatus {
    return { ...this.counters };
  }

  /** Ends retry pauses at once: the message in hand is given back to the bus (not committed). */
  abort(): void {
    this.stopController.abort();
  }

  /** The bus handler: resolves once the result is published (or a poison message was skipped). */
  async handle(message: IncomingMessage): Promise<void> {
    const delivery: Delivery = {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      causationId: `${message.topic}:${message.partition}:${message.offset}`.slice(0, 256),
    };
    let command: PayoutCommand;
    try {
      command = decodePayoutCommand(message.value);
      if (message.key !== command.batchId) throw new PayoutMessageError(`the message key must be the batchId (${command.batchId})`, '$key');
    } catch (error) {
      if (!(error instanceof PayoutMessageError)) throw error;
      this.counters.poisonMessages += 1;
      this.deps.logger?.error(
        { msg: 'payout command: poison message skipped', topic: message.topic, partition: message.partition, offset: message.offset, key: message.key.slice(0, 80), reason: error.reason, path: error.path },
        'PayoutCommands',
      );
      return;
    }
    const result = await this.execute(command, delivery);
    await this.deps.publisher.publish(this.options.resultsTopic ?? PAYOUT_RESULTS_TOPIC, [
      { key: command.batchId, value: encodePayoutResult(result), headers: { 'correlation-id': command.batchId, 'causation-id': delivery.causationId } },
    ]);
    this.counters.messagesHandled += 1;
    if (result.type === 'PayoutRowsProcessed') for (const r of result.results) this.counters[r.outcome === 'SUCCEEDED' ? 'rowsSucceeded' : 'rowsFailed'] += 1;
    if (result.type === 'PayoutRowsReversed') for (const r of result.results) this.counters[r.outcome === 'REVERSED' ? 'rowsReversed' : 'reversalsFailed'] += 1;
  }

  private execute(command: PayoutCommand, delivery: Delivery): Promise<PayoutResult> {
    switch (command.type) {
      case 'ReservePayoutFunds':
        return this.withRetries(command, delivery, [command], (c) => this.reserve(c, delivery)).then(([result]) => result as PayoutResult);
      case 'ReleasePayoutReservation':
        return this.withRetries(command, delivery, [command], (c) => this.release(c, delivery)).then(([result]) => result as PayoutResult);
      case 'PayPayoutRows':
        return this.withRetries(command, delivery, command.rows, (row) => this.payRow(command, row, delivery)).then((results) => {
          return { type: 'PayoutRowsProcessed', batchId: command.batchId, chunk: command.chunk, results };
        });
      case 'ReversePayoutRows':
        return this.withRetries(command, delivery, command.rows, (row) => this.reverseRow(command, row, delivery)).then((results) => {
          return { type: 'PayoutRowsReversed', batchId: command.batchId, chunk: command.chunk, results };
        });
      default: {
        const unknown: never = command;
        throw new InvariantViolationError('UNKNOWN_PAYOUT_COMMAND', `Unhandled payout command ${(unknown as { type: string }).type}`);
      }
    }
  }

  /**
   * Runs every step concurrently (group commit batches them), keeps what settled, and retries only
   * the steps that failed, at most retryAttempts times with doubling pauses. Then throws the first
   * failure: the bus delivers the message again and the settled steps replay from their records.
   */
  private async withRetries<Step, Result>(command: PayoutCommand, delivery: Delivery, steps: readonly Step[], run: (step: Step) => Promise<Result>): Promise<Result[]> {
    const results = new Array<Result | undefined>(steps.length);
    let pending = steps.map((_, index) => index);
    for (let attempt = 1; ; attempt += 1) {
      const settled = await Promise.allSettled(pending.map((index) => run(steps[index] as Step)));
      const failed: number[] = [];
      let firstError: unknown;
      settled.forEach((outcome, k) => {
        const index = pending[k] as number;
        if (outcome.status === 'fulfilled') results[index] = outcome.value;
        else {
          failed.push(index);
          firstError ??= outcome.reason;
        }
      });
      if (failed.length === 0) return results as Result[];
      this.counters.failedAttempts += 1;
      const retrying = attempt <= this.options.retryAttempts && !this.stopController.signal.aborted;
      const retryInMs = Math.min(this.options.retryInitialDelayMs * 2 ** (attempt - 1), this.options.retryMaxDelayMs);
      const log = {
        msg: retrying ? 'payout command: steps failed; retrying them' : 'payout command: steps failed; the message will be delivered again',
        type: command.type,
        batchId: command.batchId,
        topic: delivery.topic,
        partition: delivery.partition,
        offset: delivery.offset,
        failedSteps: failed.length,
        steps: steps.length,
        attempt,
        ...(retrying ? { retryInMs } : {}),
        error: describe(firstError),
      };
      if (!retrying) {
        this.deps.logger?.error(log, 'PayoutCommands');
        throw this.stopController.signal.aborted ? new UnavailableError('SHUTTING_DOWN', 'The payout command consumer is stopping', {}, { cause: firstError }) : firstError;
      }
      this.deps.logger?.warn(log, 'PayoutCommands');
      await this.pause(retryInMs);
      if (this.stopController.signal.aborted) throw new UnavailableError('SHUTTING_DOWN', 'The payout command consumer is stopping', {}, { cause: firstError });
      pending = failed;
    }
  }

  private pause(ms: number): Promise<void> {
    return abortableDelay(ms, this.stopController.signal);
  }


  // ---- the steps ------------------------------------------------------------------------------

  private async reserve(command: ReservePayoutFunds, delivery: Delivery): Promise<PayoutResult> {
    const { batchId, holdId, sourceWalletId } = command;
    const request = { op: 'ReservePayoutFunds', batchId, sourceWalletId, holdId, currency: command.currency, amountMinor: command.amountMinor, expiresAt: command.expiresAt };
    const context = this.context();
    let outcome: CommandOutcome<ReserveRecord>;
    try {
      outcome = await this.submit<ReserveRecord>(command, delivery, payoutHoldKey(batchId), request, [sourceWalletId], (views) =>
        recordingRefusals<ReserveRecord>(
          () => {
            const amount = money(command.amountMinor, command.currency);
            const events = decideWallet({ type: 'PlaceHold', walletId: sourceWalletId, holdId, amount, expiresAt: new Date(command.expiresAt) }, stateOf(views[0]), context);
            return { events: [events], result: { outcome: 'RESERVED' } };
          },
          (refusal) => ({ events: [[]], result: { outcome: 'REFUSED', reason: reasonCode(refusal.code), message: printable(refusal.message) } }),
        ),
      );
    } catch (error) {
      if (!(error instanceof IdempotencyConflictError)) throw error;
      this.logKeyReuse(command, delivery, payoutHoldKey(batchId));
      return { type: 'PayoutReservationRefused', batchId, holdId, reason: error.code, message: printable(error.message) };
    }
    const record = checkRecord<ReserveRecord>(outcome.result, ['RESERVED', 'REFUSED']);
    if (record.outcome === 'RESERVED') return { type: 'PayoutFundsReserved', batchId, holdId, amountMinor: command.amountMinor, position: outcome.position.toString() };
    return { type: 'PayoutReservationRefused', batchId, holdId, reason: record.reason, message: record.message };
  }

  private async release(command: ReleasePayoutReservation, delivery: Delivery): Promise<PayoutResult> {
    const { batchId, holdId, sourceWalletId } = command;
    const request = { op: 'ReleasePayoutReservation', batchId, sourceWalletId, holdId };
    const context = this.context();
    // Read before deciding, so the note is part of the recorded result and replays identically.
    const resolution = await this.howResolved(sourceWalletId, holdId);
    let outcome: CommandOutcome<ReleaseRecord>;
    try {
      outcome = await this.submit<ReleaseRecord>(command, delivery, payoutReleaseKey(batchId), request, [sourceWalletId], (views) =>
        recordingRefusals<ReleaseRecord>(
          () => {
            const events = decideWallet({ type: 'ReleaseHold', walletId: sourceWalletId, holdId }, stateOf(views[0]), context);
            const released = events.find((e): e is Extract<WalletEvent, { type: 'HoldReleased' }> => e.type === 'HoldReleased');
            if (!released) throw new InvariantViolationError('RELEASE_WITHOUT_EVENT', `ReleaseHold of ${holdId} decided no HoldReleased`);
            return { events: [events], result: { releasedMinor: released.data.releasedMinor } };
          },
          (refusal) => ({
            events: [[]],
            result: { releasedMinor: '0', note: refusal.code === 'HOLD_ALREADY_RESOLVED' ? (resolution ?? PAYOUT_RELEASE_NOTES.alreadyResolved) : reasonCode(refusal.code) },
          }),
        ),
      );
    } catch (error) {
      if (!(error instanceof IdempotencyConflictError)) throw error;
      this.logKeyReuse(command, delivery, payoutReleaseKey(batchId));
      return { type: 'PayoutReservationReleased', batchId, holdId, releasedMinor: '0', note: error.code };
    }
    const record = outcome.result;
    if (typeof record.releasedMinor !== 'string') throw corruptRecord(record);
    return {
      type: 'PayoutReservationReleased',
      batchId,
      holdId,
      releasedMinor: record.releasedMinor,
      position: outcome.position.toString(),
      ...(typeof record.note === 'string' ? { note: record.note } : {}),
    };
  }

  private async payRow(command: PayPayoutRows, row: PayoutRowInstruction, delivery: Delivery): Promise<PayoutRowResult> {
    const { batchId, holdId, sourceWalletId, currency } = command;
    const { recipientWalletId, amountMinor, reference } = row;
    const key = payoutRowKey(batchId, row.row);
    const transactionId = payoutTransactionId(PAYOUTS_IDEMPOTENCY_SCOPE, key);
    const request = { op: 'PayPayoutRow', batchId, row: row.row, sourceWalletId, holdId, recipientWalletId, currency, amountMinor, reference: reference ?? null };
    const walletIds = recipientWalletId === sourceWalletId ? [sourceWalletId] : [sourceWalletId, recipientWalletId];
    const context = this.context();
    let outcome: CommandOutcome<RowRecord>;
    try {
      outcome = await this.submit<RowRecord>(command, delivery, key, request, walletIds, (views) =>
        recordingRefusals<RowRecord>(
          () => {
            if (views.length === 1) throw new IllegalStateError('SAME_WALLET', 'A payout row cannot pay the source wallet itself', { walletId: sourceWalletId });
            const decided = decideDrawFromHold(
              { type: 'DrawFromHold', walletId: sourceWalletId, holdId, transactionId, toWalletId: recipientWalletId, amount: money(amountMinor, currency), ...(reference === undefined ? {} : { reference }) },
              stateOf(views[0]),
              stateOf(views[1]),
              context,
            );
            return { events: [decided.fromEvents, decided.toEvents], result: { outcome: 'SUCCEEDED', transactionId, recipientWalletId, amountMinor } };
          },
          (refusal) => ({ events: views.map(() => []), result: { outcome: 'FAILED', reason: reasonCode(refusal.code) } }),
        ),
      );
    } catch (error) {
      if (!(error instanceof IdempotencyConflictError)) throw error;
      this.logKeyReuse(command, delivery, key);
      return { row: row.row, outcome: 'FAILED', reason: error.code };
    }
    const record = checkRecord<RowRecord>(outcome.result, ['SUCCEEDED', 'FAILED']);
    const position = outcome.position.toString();
    return record.outcome === 'SUCCEEDED'
      ? { row: row.row, outcome: 'SUCCEEDED', transactionId: record.transactionId, position }
      : { row: row.row, outcome: 'FAILED', reason: record.reason, position };
  }

  private async reverseRow(command: ReversePayoutRows, row: PayoutReversalInstruction, delivery: Delivery): Promise<PayoutReversalResult> {
    const { batchId, sourceWalletId, currency } = command;
    const { recipientWalletId, amountMinor, attempt } = row;
    const key = payoutReversalKey(batchId, row.row, attempt);
    const transactionId = payoutTransactionId(PAYOUTS_IDEMPOTENCY_SCOPE, key);
    const request = { op: 'ReversePayoutRow', batchId, row: row.row, attempt, sourceWalletId, recipientWalletId, currency, amountMinor };
    const walletIds = recipientWalletId === sourceWalletId ? [sourceWalletId] : [recipientWalletId, sourceWalletId];
    // Only a row this batch paid, to this recipient and for this amount, can be reversed.
    const paid = await this.paidRow(batchId, row.row);
    const context = this.context();
    let outcome: CommandOutcome<ReversalRecord>;
    try {
      outcome = await this.submit<ReversalRecord>(command, delivery, key, request, walletIds, (views) =>
        recordingRefusals<ReversalRecord>(
          () => {
            if (views.length === 1) throw new IllegalStateError('SAME_WALLET', 'A payout reversal cannot move money within the source wallet', { walletId: sourceWalletId });
            if (!paid) throw new IllegalStateError('PAYOUT_ROW_NOT_PAID', `Row ${row.row} of batch ${batchId} was not paid; there is nothing to reverse`, { batchId, row: row.row });
            if (paid.recipientWalletId !== recipientWalletId || paid.amountMinor !== amountMinor) {
              throw new IllegalStateError('REVERSAL_DOES_NOT_MATCH_PAYOUT', `Row ${row.row} of batch ${batchId} paid ${paid.amountMinor} to ${paid.recipientWalletId}`, { batchId, row: row.row });
            }
            const decided = decideTransfer(
              { type: 'Transfer', transactionId, fromWalletId: recipientWalletId, toWalletId: sourceWalletId, amount: money(amountMinor, currency), reference: `reversal of payout ${batchId} row ${row.row}` },
              stateOf(views[0]),
              stateOf(views[1]),
              context,
            );
            return { events: [decided.fromEvents, decided.toEvents], result: { outcome: 'REVERSED', transactionId } };
          },
          (refusal) => ({ events: views.map(() => []), result: { outcome: 'REVERSAL_FAILED', reason: reasonCode(refusal.code) } }),
        ),
      );
    } catch (error) {
      if (!(error instanceof IdempotencyConflictError)) throw error;
      this.logKeyReuse(command, delivery, key);
      return { row: row.row, attempt, outcome: 'REVERSAL_FAILED', reason: error.code };
    }
    const record = checkRecord<ReversalRecord>(outcome.result, ['REVERSED', 'REVERSAL_FAILED']);
    const position = outcome.position.toString();
    return record.outcome === 'REVERSED'
      ? { row: row.row, attempt, outcome: 'REVERSED', transactionId: record.transactionId, position }
      : { row: row.row, attempt, outcome: 'REVERSAL_FAILED', reason: record.reason, position };
  }

  // ---- helpers --------------------------------------------------------------------------------

  private context(): CommandContext {
    return { now: this.deps.clock() };
  }

  /** One command on the given wallets under `service:payouts`, keyed, correlated to the batch. */
  private submit<Result extends JsonObject>(
    command: PayoutCommand,
    delivery: Delivery,
    key: string,
    request: JsonObject,
    walletIds: readonly string[],
    decide: CommandRequest<Result>['decide'],
  ): Promise<CommandOutcome<Result>> {
    return this.deps.processor.execute<Result>({
      streams: walletIds.map((walletId) => ({ streamId: walletStreamId(walletId), model: walletStreamModel as never })),
      decide,
      idempotency: { scope: PAYOUTS_IDEMPOTENCY_SCOPE, key, requestHash: requestHash(request) },
      metadata: { correlationId: command.batchId, causationId: delivery.causationId, principal: PAYOUTS_PRINCIPAL },
    });
  }

  /** The recorded payment of a row, when it succeeded. */
  private async paidRow(batchId: string, row: number): Promise<{ recipientWalletId: string; amountMinor: string } | undefined> {
    const [event] = await this.deps.store.readStream(idempotencyStreamId(PAYOUTS_IDEMPOTENCY_SCOPE, payoutRowKey(batchId, row)), { direction: 'forwards', maxCount: 1 });
    const result = (event?.data as IdempotencyRecordData | undefined)?.result as Partial<Record<string, unknown>> | undefined;
    if (result?.['outcome'] !== 'SUCCEEDED' || typeof result['recipientWalletId'] !== 'string' || typeof result['amountMinor'] !== 'string') return undefined;
    return { recipientWalletId: result['recipientWalletId'], amountMinor: result['amountMinor'] };
  }

  /** How a resolved hold was resolved, from the source wallet's latest events (bounded look-back). */
  private async howResolved(walletId: string, holdId: string): Promise<string | undefined> {
    const recent = await this.deps.store.readStream(walletStreamId(walletId), { direction: 'backwards', maxCount: RELEASE_NOTE_SCAN_EVENTS });
    for (const event of recent) {
      const data = event.data as { holdId?: unknown; remainingMinor?: unknown };
      if (data.holdId !== holdId) continue;
      switch (event.type) {
        case 'HoldDrawn':
          if (data.remainingMinor === '0') return PAYOUT_RELEASE_NOTES.drawnInFull;
          break;
        case 'HoldExpired':
          return PAYOUT_RELEASE_NOTES.expired;
        case 'HoldReleased':
          return PAYOUT_RELEASE_NOTES.released;
        case 'HoldCaptured':
          return PAYOUT_RELEASE_NOTES.captured;
        default:
          break;
      }
    }
    return undefined;
  }

  private logKeyReuse(command: PayoutCommand, delivery: Delivery, key: string): void {
    this.deps.logger?.error(
      {
        msg: 'payout command: idempotency key already used for a different request; answered as refused (the earlier request stands)',
        type: command.type,
        batchId: command.batchId,
        idempotencyKey: key,
        topic: delivery.topic,
        partition: delivery.partition,
        offset: delivery.offset,
      },
      'PayoutCommands',
    );
  }
}

/**
 * Business refusals become a recorded result (`refused`), so they are final; anything else (a
 * bug, corrupted history) propagates and nothing is recorded.
 */
function recordingRefusals<Result extends JsonObject>(
  decide: () => { events: ReadonlyArray<readonly WalletEvent[]>; result: Result },
  refused: (refusal: ApplicationError) => { events: ReadonlyArray<readonly WalletEvent[]>; result: Result },
): { events: ReadonlyArray<readonly DomainEvent[]>; result: Result } {
  let decision: { events: ReadonlyArray<readonly WalletEvent[]>; result: Result };
  try {
    decision = decide();
  } catch (error) {
    if (!isBusinessRefusal(error)) throw error;
    decision = refused(error);
  }
  return { events: decision.events as unknown as ReadonlyArray<readonly DomainEvent[]>, result: decision.result };
}

/** What a decider throws to refuse a well-formed command in the current state. */
export function isBusinessRefusal(error: unknown): error is ApplicationError {
  return error instanceof ApplicationError && (error.kind === 'validation' || error.kind === 'not_found' || error.kind === 'illegal_state' || error.kind === 'forbidden');
}

function stateOf(view: StreamView | undefined): WalletState {
  if (!view) throw new InvariantViolationError('MISSING_VIEW', 'The processor returned fewer views than streams');
  return view.state as WalletState;
}

/** Minor units from a decoded message; above the ledger's bound is a (recorded) refusal. */
function money(amountMinor: string, currency: CurrencyCode): Money {
  const value = BigInt(amountMinor);
  if (value > MAX_AMOUNT_MINOR) throw new ValidationError('AMOUNT_TOO_LARGE', `Amount of ${amountMinor} minor units exceeds the maximum of ${MAX_AMOUNT_MINOR}`, { amountMinor: amountMinor.slice(0, 40) });
  return { amountMinor: value, currency };
}

/** Error codes are SCREAMING_SNAKE_CASE; anything else would make the answer unencodable (and the message stuck). */
function reasonCode(code: string): string {
  return /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'REFUSED';
}

function printable(message: string): string {
  // Cut first: a cut may split a surrogate pair, and a lone surrogate is not valid text either.
  // eslint-disable-next-line no-control-regex
  return message.slice(0, MAX_PAYOUT_REASON_MESSAGE_CHARS).replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\p{Cs}/gu, '\ufffd');
}

/** A record read back on replay is our own; a shape we did not write is corruption. */
function checkRecord<R extends { outcome: string }>(record: JsonObject, outcomes: ReadonlyArray<R['outcome']>): R {
  const outcome = record['outcome'];
  if (typeof outcome !== 'string' || !outcomes.includes(outcome)) throw corruptRecord(record);
  const needs = outcome === 'SUCCEEDED' || outcome === 'REVERSED' ? 'transactionId' : outcome === 'RESERVED' ? undefined : 'reason';
  if (needs !== undefined && typeof record[needs] !== 'string') throw corruptRecord(record);
  return record as unknown as R;
}

function corruptRecord(record: JsonObject): InvariantViolationError {
  return new InvariantViolationError('CORRUPT_PAYOUT_RECORD', `Unexpected payout idempotency record result ${JSON.stringify(record).slice(0, 200)}`);
}

function describe(error: unknown): string {
  if (error instanceof ApplicationError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
