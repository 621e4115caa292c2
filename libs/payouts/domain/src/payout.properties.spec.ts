import fc from 'fast-check';
import { PAYOUT_ROW_STATUSES, type PayoutBatchEvent, type PayoutChunkEvent, type PayoutRowStatus, type RecordedRow, type RowPaymentResult, type RowReversalResult } from './payout.events';
import { PayoutRejection } from './payout.rejections';
import { decideCancel, decideCreateBatch, decidePause, decideRecordUpload, decideRequestCompensation, decideResume, decideStartExecution } from './payout-batch.decider';
import { evolvePayoutBatch, NO_BATCH, NO_ROWS, type ExistingBatch, type PayoutBatchState, type RowCounts } from './payout-batch.state';
import { evolvePayoutChunk, NO_CHUNK, type ExistingChunk, type PayoutChunkState, type RowState } from './payout-chunk.state';
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
  nextSagaActions,
  rowsAwaitingPayment,
  rowsAwaitingReversal,
  type SagaAction,
} from './payout-saga.decider';
import { BATCH_ID, HOLD_ID, OWNER_ID, recipient, SOURCE_WALLET_ID, T0, UPLOAD_ID } from './testing/payout-fixtures';

/**
 * Whole batches, simulated through the deciders and `nextSagaActions` only: a tiny runner performs
 * the saga's actions against a model ledger (which decides each row once, by its idempotency key,
 * and replays that answer), over a network that reorders, duplicates, splits and (at a crash)
 * loses messages. Users pause, resume and compensate at random; at a random point the runner
 * crashes and continues from the folded stream states alone. After every step the batch's counts
 * and money agree with its chunks, no row is paid or reversed twice, the in-flight bound holds,
 * and every finished batch carries the status its rows call for.
 */

// ---------------------------------------------------------------- scenario

interface RowPlan {
  readonly valid: boolean;
  readonly amountMinor: bigint;
  /** The ledger's answer to paying the row: null = paid, else the failure reason. */
  readonly failure: string | null;
}

interface CompensationPlan {
  /** Row indexes (mapped into 1..rows) for SELECTED; null for ALL_SUCCEEDED. */
  readonly selected: number[] | null;
  /** Chance that the ledger refuses one reversal attempt. */
  readonly reversalFailPercent: number;
}

interface Scenario {
  readonly rows: RowPlan[];
  readonly rowsPerChunk: number;
  readonly maxInFlight: number;
  readonly refuseReservation: boolean;
  readonly compensations: CompensationPlan[];
  readonly crashAt: number | null;
  readonly pauses: number;
  readonly seed: number;
}

const rowPlan: fc.Arbitrary<RowPlan> = fc.record({
  valid: fc.integer({ min: 0, max: 99 }).map((n) => n < 85),
  amountMinor: fc.bigInt({ min: 1n, max: 10_000n }),
  failure: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('RECIPIENT_FROZEN', 'RECIPIENT_CLOSED', 'LIMIT_EXCEEDED') }),
});

const scenario: fc.Arbitrary<Scenario> = fc.record({
  rows: fc.array(rowPlan, { minLength: 1, maxLength: 14 }),
  rowsPerChunk: fc.integer({ min: 1, max: 3 }),
  maxInFlight: fc.integer({ min: 1, max: 3 }),
  refuseReservation: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  compensations: fc.array(
    fc.record({
      selected: fc.option(fc.uniqueArray(fc.nat(40), { minLength: 1, maxLength: 6 }), { nil: null, freq: 2 }),
      reversalFailPercent: fc.constantFrom(0, 30, 60, 100),
    }),
    { maxLength: 3 },
  ),
  crashAt: fc.option(fc.integer({ min: 1, max: 90 }), { nil: null, freq: 5 }),
  pauses: fc.nat(3),
  seed: fc.integer(),
});

// ---------------------------------------------------------------- the deciders under test

/** The saga steps the runner calls; a test swaps one for a mutant to show the property catches it. */
interface Deciders {
  readonly nextSagaActions: typeof nextSagaActions;
  readonly decideDispatchChunk: typeof decideDispatchChunk;
  readonly decideRowsSettled: typeof decideRowsSettled;
  readonly decideDispatchReversals: typeof decideDispatchReversals;
  readonly decideReversalsSettled: typeof decideReversalsSettled;
}

const REAL: Deciders = { nextSagaActions, decideDispatchChunk, decideRowsSettled, decideDispatchReversals, decideReversalsSettled };

// ---------------------------------------------------------------- infrastructure models

/** Deterministic randomness for scheduling (mulberry32). */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed | 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(bound: number): number {
    return Math.floor(this.next() * bound);
  }
  chance(percent: number): boolean {
    return this.next() * 100 < percent;
  }
}

/** The event store: both streams' events, and their folds (what a restarted runner reads). */
class Store {
  readonly batchEvents: PayoutBatchEvent[] = [];
  readonly chunkEvents: PayoutChunkEvent[][] = [];
  batch: PayoutBatchState = NO_BATCH;
  chunks: PayoutChunkState[] = [];

  appendBatch(events: readonly PayoutBatchEvent[]): void {
    for (const event of events) {
      this.batchEvents.push(event);
      this.batch = evolvePayoutBatch(this.batch, event);
    }
  }

  appendChunk(chunk: number, events: readonly PayoutChunkEvent[]): void {
    const stream = (this.chunkEvents[chunk] ??= []);
    for (const event of events) {
      stream.push(event);
      this.chunks[chunk] = evolvePayoutChunk(this.chunks[chunk] ?? NO_CHUNK, event);
    }
  }

  existing(): ExistingBatch {
    if (this.batch.status === 'none') throw new Error('no batch');
    return this.batch;
  }

  chunk(chunk: number): ExistingChunk {
    const state = this.chunks[chunk];
    if (!state || state.status === 'none') throw new Error(`chunk ${chunk} was never recorded`);
    return state;
  }

  /** A restart: every state folded again from the stored events alone. */
  refold(): void {
    const batch = this.batchEvents.reduce<PayoutBatchState>(evolvePayoutBatch, NO_BATCH);
    const chunks = this.chunkEvents.map((events) => events.reduce<PayoutChunkState>(evolvePayoutChunk, NO_CHUNK));
    expect(batch).toEqual(this.batch);
    expect(chunks).toEqual(this.chunks);
    this.batch = batch;
    this.chunks = chunks;
  }
}

type LedgerCommand =
  | { type: 'reserve'; holdId: string; amountMinor: bigint; resend: boolean }
  | { type: 'pay'; chunk: number; rows: Array<{ row: number; amountMinor: bigint }>; resend: boolean }
  | { type: 'release'; holdId: string; resend: boolean }
  | { type: 'reverse'; chunk: number; compensationId: string; rows: Array<{ row: number; attempt: number; amountMinor: bigint }>; resend: boolean };

type LedgerResult =
  | { type: 'reserved'; holdId: string }
  | { type: 'refused'; holdId: string; reason: string }
  | { type: 'paid'; chunk: number; results: RowPaymentResult[] }
  | { type: 'released'; holdId: string; releasedMinor: bigint; note: string | null }
  | { type: 'reversed'; chunk: number; compensationId: string; results: RowReversalResult[] };

/**
 * The ledger as the saga sees it: every effect decided once under its idempotency key and the
 * same answer replayed on a re-send. It fails the run when the saga asks for an effect it must
 * never ask for: a fresh payment of a row already paid (the "paid set"), a reused reversal
 * attempt key, a reversal of a row never paid or already reversed, a payment outside the hold.
 */
class Ledger {
  hold: { outcome: 'reserved' | 'refused'; remaining: bigint } | undefined;
  release: bigint | undefined;
  readonly payments = new Map<number, RowPaymentResult>();
  /** Rows and reversal keys the saga sent by a fresh dispatch (a re-send may overtake it). */
  readonly freshPayments = new Set<number>();
  readonly freshReversals = new Set<string>();
  /** Rows paid, with their amount: never paid a second time. */
  readonly paidRows = new Map<number, bigint>();
  readonly reversals = new Map<string, RowReversalResult>();
  readonly reversedRows = new Set<number>();
  readonly lastAttempt = new Map<number, number>();
  reversalFailPercent = 0;

  constructor(
    private readonly plans: readonly RowPlan[],
    private readonly refuseReservation: boolean,
    private readonly random: Random,
  ) {}

  handle(command: LedgerCommand): LedgerResult[] {
    switch (command.type) {
      case 'reserve': {
        this.hold ??= this.refuseReservation ? { outcome: 'refused', remaining: 0n } : { outcome: 'reserved', remaining: command.amountMinor };
        return [this.hold.outcome === 'reserved' ? { type: 'reserved', holdId: command.holdId } : { type: 'refused', holdId: command.holdId, reason: 'INSUFFICIENT_FUNDS' }];
      }
      case 'pay': {
        const results = command.rows.map(({ row, amountMinor }) => {
          if (!command.resend) {
            if (this.freshPayments.has(row)) throw new Error(`row ${row} dispatched for payment a second time`);
            this.freshPayments.add(row);
          }
          const known = this.payments.get(row);
          if (known) return known;
          const plan = this.plans[row - 1];
          if (!plan || !plan.valid) throw new Error(`row ${row} is not a valid row and must never be paid`);
          if (amountMinor !== plan.amountMinor) throw new Error(`row ${row} paid ${amountMinor} instead of ${plan.amountMinor}`);
          if (this.hold?.outcome !== 'reserved' || this.release !== undefined) throw new Error(`row ${row} paid outside an open reservation`);
          let result: RowPaymentResult;
          if (plan.failure === null) {
            this.hold.remaining -= amountMinor;
            if (this.hold.remaining < 0n) throw new Error('rows paid beyond the reservation');
            this.paidRows.set(row, amountMinor);
            result = { row, outcome: 'SUCCEEDED', reason: null, transactionId: `pay-${row}`, position: `${row}` };
          } else {
            result = { row, outcome: 'FAILED', reason: plan.failure, transactionId: null, position: null };
          }
          this.payments.set(row, result);
          return result;
        });
        return [{ type: 'paid', chunk: command.chunk, results }];
      }
      case 'release': {
        if (this.hold?.outcome !== 'reserved') throw new Error('release of a reservation that was never made');
        if (this.release === undefined) {
          this.release = this.hold.remaining;
          this.hold.remaining = 0n;
        }
        return [{ type: 'released', holdId: command.holdId, releasedMinor: this.release, note: this.release === 0n ? 'HOLD_DRAWN_TO_ZERO' : null }];
      }
      case 'reverse': {
        const results = command.rows.map(({ row, attempt, amountMinor }) => {
          const key = `${row}:${attempt}`;
          if (!command.resend) {
            if (this.freshReversals.has(key)) throw new Error(`reversal key ${key} used for a second attempt`);
            this.freshReversals.add(key);
          }
          const known = this.reversals.get(key);
          if (known) return known;
          if (this.paidRows.get(row) !== amountMinor) throw new Error(`row ${row} reversed without having been paid ${amountMinor}`);
          if (this.reversedRows.has(row)) throw new Error(`row ${row} reversed twice`);
          if (attempt !== (this.lastAttempt.get(row) ?? 0) + 1) throw new Error(`row ${row}: reversal attempt ${attempt} after ${this.lastAttempt.get(row) ?? 0}`);
          this.lastAttempt.set(row, attempt);
          let result: RowReversalResult;
          if (this.random.chance(this.reversalFailPercent)) {
            result = { row, attempt, outcome: 'REVERSAL_FAILED', reason: 'RECIPIENT_FROZEN', transactionId: null, position: null };
          } else {
            this.reversedRows.add(row);
            result = { row, attempt, outcome: 'REVERSED', reason: null, transactionId: `rev-${row}-${attempt}`, position: `${row}` };
          }
          this.reversals.set(key, result);
          return result;
        });
        return [{ type: 'reversed', chunk: command.chunk, compensationId: command.compensationId, results }];
      }
    }
  }
}

// ---------------------------------------------------------------- the simulation

const PAID_STATUSES: readonly PayoutRowStatus[] = ['SUCCEEDED', 'REVERSED', 'REVERSAL_FAILED'];
const FINISHED = new Set(['COMPLETED', 'PARTIALLY_FAILED', 'FAILED', 'COMPENSATED', 'PARTIALLY_COMPENSATED']);
const COMPENSABLE = new Set(['COMPLETED', 'PARTIALLY_FAILED', 'PARTIALLY_COMPENSATED']);
const RANDOM_TICKS = 400;
const MAX_TICKS = 3000;

class Simulation {
  readonly store = new Store();
  readonly random: Random;
  readonly ledger: Ledger;
  toLedger: LedgerCommand[] = [];
  toSaga: LedgerResult[] = [];
  /** The runner's memory: what it sent since it (re)started. Lost at a crash. */
  sent = new Set<string>();
  tick = 0;
  pausesLeft: number;
  readonly compensations: CompensationPlan[];
  /** Rows sent for payment by a fresh dispatch (never a second time). */
  readonly dispatchedRows = new Set<number>();
  /** Reversal attempts per row when the current compensation was requested, and its targets. */
  compensationStart: { attempts: Map<number, number>; targets: Set<number> } | undefined;
  readonly validRows: number[];

  constructor(
    readonly scenario: Scenario,
    private readonly deciders: Deciders,
  ) {
    this.random = new Random(scenario.seed);
    this.ledger = new Ledger(scenario.rows, scenario.refuseReservation, this.random);
    this.pausesLeft = scenario.pauses;
    this.compensations = [...scenario.compensations];
    this.validRows = scenario.rows.flatMap((plan, index) => (plan.valid ? [index + 1] : []));
  }

  storeSize(): number {
    return this.store.batchEvents.length + this.store.chunkEvents.reduce((total, events) => total + events.length, 0);
  }

  now(): Date {
    return new Date(T0.getTime() + this.tick * 1000);
  }

  /** Creates the batch, records its rows (chunk streams) and the upload summary, and starts it. */
  start(): boolean {
    const { rows, rowsPerChunk } = this.scenario;
    this.store.appendBatch(decideCreateBatch({ batchId: BATCH_ID, ownerId: OWNER_ID, sourceWalletId: SOURCE_WALLET_ID, currency: 'USD', description: null, by: OWNER_ID }, this.store.batch, this.now()));
    const recorded: RecordedRow[] = rows.map((plan, index) => {
      const row = index + 1;
      return plan.valid
        ? { row, recipientId: recipient(row), amount: plan.amountMinor.toString(), amountMinor: plan.amountMinor.toString(), reference: `ref-${row}`, reason: null }
        : { row, recipientId: recipient(row), amount: 'x', amountMinor: null, reference: null, reason: 'AMOUNT_INVALID' };
    });
    const chunks = Math.ceil(rows.length / rowsPerChunk);
    for (let chunk = 0; chunk < chunks; chunk++) {
      this.store.appendChunk(chunk, [{ type: 'PayoutRowsRecorded', data: { batchId: BATCH_ID, uploadId: UPLOAD_ID, chunk, rows: recorded.slice(chunk * rowsPerChunk, (chunk + 1) * rowsPerChunk) } }]);
    }
    const validTotalMinor = rows.reduce((sum, plan) => (plan.valid ? sum + plan.amountMinor : sum), 0n);
    const upload = { uploadId: UPLOAD_ID, fileSha256: 'f'.repeat(64), fileBytes: 100, rows: rows.length, validRows: this.validRows.length, invalidRows: rows.length - this.validRows.length, validTotalMinor, chunks, rowsPerChunk };
    this.store.appendBatch(decideRecordUpload(this.store.batch, BATCH_ID, upload, OWNER_ID, this.now()));
    // The same file again is a replay.
    expect(decideRecordUpload(this.store.batch, BATCH_ID, upload, OWNER_ID, this.now())).toEqual([]);
    try {
      this.store.appendBatch(decideStartExecution(this.store.batch, BATCH_ID, { holdId: HOLD_ID, by: OWNER_ID, reservationTtlMs: 3_600_000 }, this.now()));
    } catch (error) {
      if (!(error instanceof PayoutRejection)) throw error;
      expect(error.code).toBe('BATCH_NO_VALID_ROWS');
      expect(this.validRows).toHaveLength(0);
      return false;
    }
    expect(this.validRows.length).toBeGreaterThan(0);
    // A running batch is not cancellable.
    expect(() => decideCancel(this.store.batch, BATCH_ID, OWNER_ID, null, this.now())).toThrow(PayoutRejection);
    return true;
  }

  run(): void {
    if (!this.start()) {
      expect(this.store.existing().status).toBe('VALIDATED');
      return;
    }
    this.checkInvariants();
    let checkedAt = this.storeSize();
    for (this.tick = 1; ; this.tick++) {
      if (this.tick > MAX_TICKS) throw new Error(`no terminal status after ${MAX_TICKS} steps: ${this.store.existing().status}`);
      if (this.tick === this.scenario.crashAt) this.crash();
      const done = FINISHED.has(this.store.existing().status) && this.compensations.length === 0 && this.toLedger.length === 0 && this.toSaga.length === 0;
      if (this.tick <= RANDOM_TICKS && !done) {
        this.randomStep();
      } else if (!this.drainStep()) {
        break;
      }
      // The invariants are about the streams: check them whenever something was appended.
      if (this.storeSize() !== checkedAt) {
        this.checkInvariants();
        checkedAt = this.storeSize();
      }
    }
    this.checkEnd();
  }

  private randomStep(): void {
    const batch = this.store.existing();
    const options: Array<[number, () => void]> = [[4, () => this.sagaStep(false)]];
    if (this.toLedger.length > 0) options.push([3, () => this.ledgerStep(this.random.int(this.toLedger.length))]);
    if (this.toSaga.length > 0) options.push([4, () => this.deliverStep(this.random.int(this.toSaga.length))]);
    if (this.pausesLeft > 0) options.push([1, () => this.pause()]);
    if (batch.paused) options.push([1, () => this.resume()]);
    if (this.compensations.length > 0 && FINISHED.has(batch.status)) options.push([2, () => this.compensate()]);
    const total = options.reduce((sum, [weight]) => sum + weight, 0);
    let pick = this.random.int(total);
    for (const [weight, action] of options) {
      if (pick < weight) return action();
      pick -= weight;
    }
  }

  /** Towards the end: no more pauses; every message flows; the remaining compensations run. */
  private drainStep(): boolean {
    const batch = this.store.existing();
    if (batch.paused) return this.resume(), true;
    if (this.toLedger.length > 0) return this.ledgerStep(0), true;
    if (this.toSaga.length > 0) return this.deliverStep(0), true;
    if (FINISHED.has(batch.status)) {
      if (this.compensations.length === 0) return false;
      this.compensate();
      return true;
    }
    this.sagaStep(true);
    return true;
  }

  private crash(): void {
    this.sent = new Set();
    this.toLedger = this.toLedger.filter(() => this.random.chance(50));
    this.toSaga = this.toSaga.filter(() => this.random.chance(50));
    this.store.refold();
  }

  // ---------------------------------------------------------------- the runner

  private sagaStep(all: boolean): void {
    const batch = this.store.existing();
    const actions = this.deciders.nextSagaActions(batch, this.scenario.maxInFlight);
    if (actions.length === 0) return;
    const count = all ? actions.length : 1 + this.random.int(actions.length);
    for (const action of actions.slice(0, count)) this.perform(action);
  }

  private perform(action: SagaAction): void {
    const batch = this.store.existing();
    const now = this.now();
    const overdue = this.random.chance(10);
    switch (action.kind) {
      case 'reserve':
        if (!this.sent.has('reserve') || overdue) this.send({ type: 'reserve', holdId: batch.holdId as string, amountMinor: batch.upload?.validTotalMinor ?? 0n, resend: this.sent.has('reserve') });
        this.sent.add('reserve');
        return;
      case 'dispatch': {
        const step = this.deciders.decideDispatchChunk(batch, this.store.chunk(action.chunk), now);
        this.append(step.batchEvents, action.chunk, step.chunkEvents);
        if (step.rows.length === 0) return;
        for (const row of step.rows) {
          expect(row.status).toBe('PENDING');
          expect(this.dispatchedRows.has(row.row)).toBe(false);
          this.dispatchedRows.add(row.row);
        }
        this.send({ type: 'pay', chunk: action.chunk, rows: step.rows.map((row) => ({ row: row.row, amountMinor: row.amountMinor as bigint })), resend: false });
        this.sent.add(`pay:${action.chunk}`);
        return;
      }
      case 'awaitRows': {
        if (this.sent.has(`pay:${action.chunk}`) && !overdue) return;
        const rows = rowsAwaitingPayment(this.store.chunk(action.chunk));
        expect(rows.length).toBeGreaterThan(0);
        this.send({ type: 'pay', chunk: action.chunk, rows: rows.map((row) => ({ row: row.row, amountMinor: row.amountMinor as bigint })), resend: true });
        this.sent.add(`pay:${action.chunk}`);
        return;
      }
      case 'failUnreserved': {
        const step = decideFailUnreserved(batch, this.store.chunk(action.chunk), now);
        this.append(step.batchEvents, action.chunk, step.chunkEvents);
        return;
      }
      case 'release':
        if (!this.sent.has('release') || overdue) this.send({ type: 'release', holdId: batch.holdId as string, resend: this.sent.has('release') });
        this.sent.add('release');
        return;
      case 'finishRefused':
        this.append(decideFinishRefused(batch, now));
        return;
      case 'dispatchReversals': {
        const compensation = batch.compensation;
        if (!compensation) throw new Error('dispatchReversals without a compensation');
        const step = this.deciders.decideDispatchReversals(batch, this.store.chunk(action.chunk), now);
        this.append(step.batchEvents, action.chunk, step.chunkEvents);
        if (step.rows.length === 0) return;
        for (const { row } of step.rows) expect(['SUCCEEDED', 'REVERSAL_FAILED']).toContain(row.status);
        this.send({
          type: 'reverse',
          chunk: action.chunk,
          compensationId: compensation.compensationId,
          rows: step.rows.map(({ row, attempt }) => ({ row: row.row, attempt, amountMinor: row.amountMinor as bigint })),
          resend: false,
        });
        this.sent.add(`reverse:${compensation.compensationId}:${action.chunk}`);
        return;
      }
      case 'awaitReversals': {
        const compensation = batch.compensation;
        if (!compensation) throw new Error('awaitReversals without a compensation');
        const key = `reverse:${compensation.compensationId}:${action.chunk}`;
        if (this.sent.has(key) && !overdue) return;
        const rows = rowsAwaitingReversal(this.store.chunk(action.chunk));
        expect(rows.length).toBeGreaterThan(0);
        this.send({ type: 'reverse', chunk: action.chunk, compensationId: compensation.compensationId, rows: rows.map(({ row, attempt }) => ({ row: row.row, attempt, amountMinor: row.amountMinor as bigint })), resend: true });
        this.sent.add(key);
        return;
      }
      case 'finishCompensation':
        this.append(decideFinishCompensation(batch, now));
        return;
    }
  }

  private send(command: LedgerCommand): void {
    this.toLedger.push(command);
  }

  /** The ledger handles one command; its answer may arrive in pieces, and twice. */
  private ledgerStep(index: number): void {
    const [command] = this.toLedger.splice(index, 1);
    if (!command) return;
    for (const result of this.ledger.handle(command)) {
      for (const piece of this.split(result)) {
        this.toSaga.push(piece);
        if (this.random.chance(20)) this.toSaga.push(piece);
      }
    }
  }

  private split(result: LedgerResult): LedgerResult[] {
    if ((result.type !== 'paid' && result.type !== 'reversed') || result.results.length < 2 || !this.random.chance(35)) return [result];
    const cut = 1 + this.random.int(result.results.length - 1);
    if (result.type === 'paid') return [{ ...result, results: result.results.slice(0, cut) }, { ...result, results: result.results.slice(cut) }];
    return [{ ...result, results: result.results.slice(0, cut) }, { ...result, results: result.results.slice(cut) }];
  }

  /** One result reaches the saga and is decided on the batch (and chunk) as they are now. */
  private deliverStep(index: number): void {
    const [result] = this.toSaga.splice(index, 1);
    if (!result) return;
    const batch = this.store.existing();
    const now = this.now();
    const before = this.storeSize();
    switch (result.type) {
      case 'reserved':
        this.append(decideFundsReserved(batch, result.holdId, '42', now));
        break;
      case 'refused':
        this.append(decideReservationRefused(batch, result.holdId, result.reason, 'refused', now));
        break;
      case 'paid': {
        const step = this.deciders.decideRowsSettled(batch, this.store.chunk(result.chunk), result.results, now);
        this.append(step.batchEvents, result.chunk, step.chunkEvents);
        break;
      }
      case 'released':
        this.append(decideReservationReleased(batch, result.holdId, result.releasedMinor.toString(), result.note, now));
        break;
      case 'reversed': {
        // The result names no compensation: a runner passes the current one (as the service does) or
        // the one it sent the rows for. Stale results are no-ops either way.
        const compensationId = this.random.chance(50) ? result.compensationId : batch.compensation?.compensationId;
        if (compensationId === undefined) break;
        const step = this.deciders.decideReversalsSettled(batch, this.store.chunk(result.chunk), compensationId, result.results, now);
        this.append(step.batchEvents, result.chunk, step.chunkEvents);
        break;
      }
    }
    // A finished batch hears only replays and stale answers: they change nothing.
    if (FINISHED.has(batch.status)) expect(this.storeSize()).toBe(before);
  }

  /** Appends one decision (batch events, and a chunk's), checking what it may never do. */
  private append(batchEvents: readonly PayoutBatchEvent[], chunk?: number, chunkEvents: readonly PayoutChunkEvent[] = []): void {
    const batch = this.store.existing();
    if (batch.paused) {
      // A paused batch sends nothing new.
      expect(batchEvents.filter((event) => event.type === 'PayoutChunkDispatched' || event.type === 'PayoutChunkReversalDispatched')).toEqual([]);
      expect(chunkEvents.filter((event) => event.type === 'PayoutRowsDispatched' || event.type === 'PayoutReversalsDispatched')).toEqual([]);
    }
    if (chunk !== undefined) this.store.appendChunk(chunk, chunkEvents);
    else expect(chunkEvents).toEqual([]);
    this.store.appendBatch(batchEvents);
    for (const event of batchEvents) {
      if (event.type === 'PayoutBatchFinished') this.checkExecutionFinished();
      if (event.type === 'PayoutCompensationFinished') this.checkCompensationFinished();
    }
  }

  // ---------------------------------------------------------------- users

  private pause(): void {
    const batch = this.store.existing();
    this.pausesLeft -= 1;
    try {
      this.append(decidePause(batch, BATCH_ID, OWNER_ID, this.now()));
      expect(['PROCESSING', 'COMPENSATING']).toContain(batch.status);
    } catch (error) {
      if (!(error instanceof PayoutRejection)) throw error;
      if (error.code === 'BATCH_ALREADY_PAUSED') expect(batch.paused).toBe(true);
      else expect([error.code, batch.status]).toEqual(['BATCH_NOT_RUNNING', expect.not.stringMatching(/^(PROCESSING|COMPENSATING)$/)]);
    }
  }

  private resume(): void {
    const batch = this.store.existing();
    try {
      this.append(decideResume(batch, BATCH_ID, OWNER_ID, this.now()));
      expect(batch.paused).toBe(true);
    } catch (error) {
      if (!(error instanceof PayoutRejection)) throw error;
      expect([error.code, batch.paused]).toEqual(['BATCH_NOT_PAUSED', false]);
    }
  }

  private compensate(): void {
    const plan = this.compensations.shift() as CompensationPlan;
    const batch = this.store.existing();
    const rowCount = this.scenario.rows.length;
    const rows = plan.selected === null ? [] : [...new Set(plan.selected.map((index) => (index % rowCount) + 1))].sort((a, b) => a - b);
    const compensationId = `comp-${this.scenario.compensations.length - this.compensations.length}`;
    try {
      this.store.appendBatch(decideRequestCompensation(batch, BATCH_ID, { compensationId, scope: plan.selected === null ? 'ALL_SUCCEEDED' : 'SELECTED', rows, by: OWNER_ID }, this.now()));
    } catch (error) {
      if (!(error instanceof PayoutRejection)) throw error;
      if (error.code === 'BATCH_NOT_COMPENSABLE') expect(COMPENSABLE.has(batch.status)).toBe(false);
      else expect([error.code, batch.counts.SUCCEEDED + batch.counts.REVERSAL_FAILED]).toEqual(['NOTHING_TO_COMPENSATE', 0]);
      // Nothing can make the batch compensable again.
      this.compensations.length = 0;
      return;
    }
    expect(COMPENSABLE.has(batch.status)).toBe(true);
    this.ledger.reversalFailPercent = plan.reversalFailPercent;
    // Users may pause a compensation too.
    this.pausesLeft = this.scenario.pauses;
    const attempts = new Map<number, number>();
    const targets = new Set<number>();
    for (const chunk of this.store.chunks) {
      if (chunk.status === 'none') continue;
      for (const row of chunk.rows.values()) {
        attempts.set(row.row, row.reversalAttempts);
        if ((row.status === 'SUCCEEDED' || row.status === 'REVERSAL_FAILED') && (plan.selected === null || rows.includes(row.row))) targets.add(row.row);
      }
    }
    this.compensationStart = { attempts, targets };
  }

  // ---------------------------------------------------------------- invariants

  private rowsOf(): Array<{ chunk: number; row: RowState }> {
    return this.store.chunks.flatMap((chunk, index) => (chunk.status === 'none' ? [] : [...chunk.rows.values()].map((row) => ({ chunk: index, row }))));
  }

  /** Every valid row was sent once, and settled; no row left pending. */
  private checkExecutionFinished(): void {
    const batch = this.store.existing();
    const expectedSent = batch.reservation === 'refused' ? [] : this.validRows;
    expect([...this.dispatchedRows].sort((a, b) => a - b)).toEqual(expectedSent);
  }

  /** Every target row had exactly one more reversal attempt; every other row none. */
  private checkCompensationFinished(): void {
    const start = this.compensationStart as NonNullable<Simulation['compensationStart']>;
    for (const { row } of this.rowsOf()) {
      expect([row.row, row.reversalAttempts]).toEqual([row.row, (start.attempts.get(row.row) ?? 0) + (start.targets.has(row.row) ? 1 : 0)]);
      expect(row.reversalPending).toBe(false);
    }
    this.compensationStart = undefined;
  }

  checkInvariants(): void {
    const batch = this.store.existing();
    const upload = batch.upload;
    if (!upload) throw new Error('no upload');
    const { maxInFlight } = this.scenario;
    const compensation = batch.compensation;

    // What the batch should count, from the chunk streams alone: a chunk whose payment (or
    // reversal) is in flight shows its rows as they were when it was sent until it settles.
    const seen: Record<PayoutRowStatus, number> = { ...NO_ROWS };
    const actual: Record<PayoutRowStatus, number> = { ...NO_ROWS };
    let paidSettled = 0n;
    let reversedSettled = 0n;
    this.store.chunkEvents.forEach((events, chunk) => {
      let state: PayoutChunkState = NO_CHUNK;
      const reversalFrom = new Map<number, { compensationId: string; from: PayoutRowStatus }>();
      for (const event of events) {
        if (event.type === 'PayoutReversalsDispatched' && state.status === 'recorded') {
          for (const { row } of event.data.rows) reversalFrom.set(row, { compensationId: event.data.compensationId, from: (state.rows.get(row) as { status: PayoutRowStatus }).status });
        }
        state = evolvePayoutChunk(state, event);
      }
      if (state.status === 'none') throw new Error(`chunk ${chunk} empty`);
      expect(state.rows.size).toBe(Math.min(upload.rowsPerChunk, upload.rows - chunk * upload.rowsPerChunk));
      const paymentInFlight = batch.dispatched.has(chunk) && !batch.settled.has(chunk);
      const reversalInFlight = compensation !== undefined && compensation.dispatched.has(chunk) && !compensation.settled.has(chunk);
      for (const row of state.rows.values()) {
        actual[row.status] += 1;
        const from = reversalFrom.get(row.row);
        const reversingNow = reversalInFlight && from?.compensationId === compensation?.compensationId;
        let status = row.status;
        if (paymentInFlight && row.amountMinor !== null && (row.status === 'SUCCEEDED' || row.status === 'FAILED')) status = 'PROCESSING';
        if (reversingNow && from) status = from.from;
        seen[status] += 1;
        if (PAID_STATUSES.includes(row.status)) {
          // The ledger paid exactly this row, with this transaction.
          check(this.ledger.paidRows.get(row.row) === row.amountMinor && row.transactionId === `pay-${row.row}`, `row ${row.row} is ${row.status} but the ledger did not pay it`);
          if (!paymentInFlight) paidSettled += row.amountMinor ?? 0n;
        }
        if (row.status === 'REVERSED') {
          check(this.ledger.reversedRows.has(row.row), `row ${row.row} is REVERSED but the ledger did not reverse it`);
          check(row.reason === null, `row ${row.row} is REVERSED with a failure reason ${row.reason}`);
          if (!reversingNow) reversedSettled += row.amountMinor ?? 0n;
        }
      }
    });
    expect(batch.counts).toEqual(seen);
    expect(sum(batch.counts)).toBe(upload.rows);
    expect(sum(actual)).toBe(upload.rows);
    expect(batch.paidMinor).toBe(paidSettled);
    expect(batch.reversedMinor).toBe(reversedSettled);
    expect(batch.reversedMinor).toBeLessThanOrEqual(batch.paidMinor);

    // Never more than maxInFlight chunks waiting on the ledger.
    expect([...batch.dispatched].filter((chunk) => !batch.settled.has(chunk)).length).toBeLessThanOrEqual(maxInFlight);
    if (compensation) expect(compensation.chunks.filter((chunk) => compensation.dispatched.has(chunk) && !compensation.settled.has(chunk)).length).toBeLessThanOrEqual(maxInFlight);

    if (FINISHED.has(batch.status)) this.checkFinishedStatus(batch, actual);
  }

  /** A finished batch's status is what its rows say. */
  private checkFinishedStatus(batch: ExistingBatch, rows: RowCounts): void {
    expect(rows).toEqual(batch.counts);
    expect(rows.PENDING + rows.PROCESSING).toBe(0);
    expect(batch.paused).toBe(false);
    const stillPaid = rows.SUCCEEDED + rows.REVERSAL_FAILED;
    const expected =
      stillPaid + rows.REVERSED === 0
        ? 'FAILED'
        : rows.REVERSED === 0
          ? rows.FAILED === 0
            ? 'COMPLETED'
            : 'PARTIALLY_FAILED'
          : stillPaid === 0
            ? 'COMPENSATED'
            : 'PARTIALLY_COMPENSATED';
    expect({ status: batch.status, rows }).toEqual({ status: expected, rows });
    if (batch.reservation === 'released') expect(batch.releasedMinor + batch.paidMinor).toBe(batch.upload?.validTotalMinor);
    if (batch.reservation === 'refused') expect([batch.status, batch.paidMinor, rows.FAILED]).toEqual(['FAILED', 0n, batch.upload?.rows]);
  }

  private checkEnd(): void {
    const batch = this.store.existing();
    expect(FINISHED.has(batch.status)).toBe(true);
    expect(this.toLedger).toEqual([]);
    expect(this.toSaga).toEqual([]);
    this.store.refold();
    const rows = this.rowsOf().map(({ row }) => row);
    const everPaid = rows.filter((row) => PAID_STATUSES.includes(row.status));
    expect(everPaid.map((row) => row.row).sort((a, b) => a - b)).toEqual([...this.ledger.paidRows.keys()].sort((a, b) => a - b));
    expect(batch.paidMinor).toBe([...this.ledger.paidRows.values()].reduce((total, amount) => total + amount, 0n));
    expect(rows.filter((row) => row.status === 'REVERSED').map((row) => row.row).sort((a, b) => a - b)).toEqual([...this.ledger.reversedRows].sort((a, b) => a - b));
    expect(this.compensations).toEqual([]);
    expect(nextSagaActions(batch, this.scenario.maxInFlight)).toEqual([]);
  }
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

function sum(counts: RowCounts): number {
  return PAYOUT_ROW_STATUSES.reduce((total, status) => total + counts[status], 0);
}

function simulate(deciders: Deciders) {
  return fc.property(scenario, (s) => {
    new Simulation(s, deciders).run();
  });
}

describe('payout batches, simulated end to end through the deciders', () => {
  it('keep counts, money and statuses consistent through reordering, duplicates, pauses, a crash and compensations', () => {
    fc.assert(simulate(REAL), { numRuns: 150 });
  });

  describe('the simulation catches a broken saga', () => {
    const fails = (deciders: Partial<Deciders>): boolean => fc.check(simulate({ ...REAL, ...deciders }), { numRuns: 200, endOnFailure: true }).failed;

    it('that ignores the in-flight bound', () => {
      expect(fails({ nextSagaActions: (batch, max) => nextSagaActions(batch, max + 1) })).toBe(true);
    });

    it('that dispatches while paused', () => {
      expect(
        fails({
          nextSagaActions: (batch, max) => nextSagaActions({ ...batch, paused: false }, max),
          decideDispatchChunk: (batch, chunk, now) => decideDispatchChunk({ ...batch, paused: false }, chunk, now),
          decideDispatchReversals: (batch, chunk, now) => decideDispatchReversals({ ...batch, paused: false }, chunk, now),
        }),
      ).toBe(true);
    });

    it('that forgets paid money', () => {
      expect(
        fails({
          decideRowsSettled: (batch, chunk, results, now) => {
            const step = decideRowsSettled(batch, chunk, results, now);
            return { ...step, batchEvents: step.batchEvents.map((event) => (event.type === 'PayoutChunkSettled' ? { ...event, data: { ...event.data, paidMinor: '0' } } : event)) };
          },
        }),
      ).toBe(true);
    });

    it('that counts only the last message of a chunk\'s reversal results (the bug fixed in decideReversalsSettled)', () => {
      expect(
        fails({
          decideReversalsSettled: (batch, chunk, compensationId, results, now) => {
            const step = decideReversalsSettled(batch, chunk, compensationId, results, now);
            if (step.batchEvents.length === 0) return step;
            // As before the fix: the delta and the money of the rows answered in this message only.
            const delta: Record<string, number> = {};
            let reversedMinor = 0n;
            for (const result of results) {
              const row = chunk.rows.get(result.row);
              if (!row || !row.reversalPending || row.reversalAttempts !== result.attempt) continue;
              if (row.status !== result.outcome) {
                delta[row.status] = (delta[row.status] ?? 0) - 1;
                delta[result.outcome] = (delta[result.outcome] ?? 0) + 1;
              }
              if (result.outcome === 'REVERSED') reversedMinor += row.amountMinor ?? 0n;
            }
            return {
              ...step,
              batchEvents: step.batchEvents.map((event) =>
                event.type === 'PayoutChunkReversalSettled' ? { ...event, data: { ...event.data, delta, reversedMinor: reversedMinor.toString() } } : event,
              ),
            };
          },
        }),
      ).toBe(true);
    });

    it('that retries a reversal under an attempt key already used', () => {
      expect(
        fails({
          decideDispatchReversals: (batch, chunk, now) => {
            const step = decideDispatchReversals(batch, chunk, now);
            return { ...step, rows: step.rows.map(({ row }) => ({ row, attempt: 1 })) };
          },
        }),
      ).toBe(true);
    });
  });
});
