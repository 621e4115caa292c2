import { CommandProcessor, idempotencyStreamId } from '@ledger/event-sourcing';
import { InMemoryEventStore, type EventStore, type RecordedEvent } from '@ledger/event-store';
import { walletStreamId } from '@ledger/ledger-domain';
import {
  decodePayoutResult,
  PAYOUT_RESULTS_TOPIC,
  payoutHoldKey,
  payoutRowKey,
  PAYOUTS_IDEMPOTENCY_SCOPE,
  type PayoutResult,
  type PayoutRowsProcessed,
  type PayoutRowsReversed,
  type PayPayoutRows,
  type ReservePayoutFunds,
} from '@ledger/payouts-messages';
import { waitFor } from '@ledger/testing';
import { randomUUID } from 'node:crypto';
import { walletStreamModel } from '../wallets/wallet.stream-model';
import { PayoutCommandHandler } from './payout-command.handler';
import { delivery, ManualClock, PayoutWallets, RecordingPublisher } from './payout-test-kit';

const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const HOUR = 3_600_000;

interface LogLine {
  level: 'log' | 'warn' | 'error';
  entry: Record<string, unknown>;
}

/** An event store whose appends can be made to fail, and that counts appendBatch calls. */
function flaky(inner: EventStore): { store: EventStore; failAppends: (n: number) => void; appendBatchCalls: () => number } {
  let failures = 0;
  let calls = 0;
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'appendBatch') {
        return async (...args: Parameters<EventStore['appendBatch']>) => {
          calls += 1;
          if (failures > 0) {
            failures -= 1;
            throw new Error('simulated store outage');
          }
          return target.appendBatch(...args);
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, failAppends: (n) => (failures = n), appendBatchCalls: () => calls };
}

describe('PayoutCommandHandler (in-memory event store)', () => {
  let memory: InMemoryEventStore;
  let store: ReturnType<typeof flaky>;
  let processor: CommandProcessor;
  let clock: ManualClock;
  let publisher: RecordingPublisher;
  let logs: LogLine[];
  let handler: PayoutCommandHandler;
  let wallets: PayoutWallets;
  let offset: number;

  beforeEach(() => {
    memory = new InMemoryEventStore();
    store = flaky(memory);
    processor = new CommandProcessor(store.store, { maxBatchSize: 256, maxConflictRetries: 5, maxQueuedCommands: 10_000, cacheEntries: 10_000 });
    clock = new ManualClock(T0);
    publisher = new RecordingPublisher();
    logs = [];
    const logger = {
      log: (entry: Record<string, unknown>) => logs.push({ level: 'log', entry }),
      warn: (entry: Record<string, unknown>) => logs.push({ level: 'warn', entry }),
      error: (entry: Record<string, unknown>) => logs.push({ level: 'error', entry }),
    };
    handler = new PayoutCommandHandler({ processor, store: store.store, publisher, clock: clock.now, logger }, { retryAttempts: 0, retryInitialDelayMs: 1, retryMaxDelayMs: 1 });
    wallets = new PayoutWallets(store.store, processor, clock.now);
    offset = 0;
  });
  afterEach(() => processor.close());

  /** Delivers a command (a fresh offset each time, as a redelivery after a restart may have). */
  async function deliver(command: Parameters<typeof delivery>[0]): Promise<PayoutResult> {
    offset += 1;
    const before = publisher.published.length;
    await handler.handle(delivery(command, offset));
    expect(publisher.published).toHaveLength(before + 1);
    const published = publisher.published[before]!;
    expect(published.topic).toBe(PAYOUT_RESULTS_TOPIC);
    expect(published.message.key).toBe(command.batchId);
    return decodePayoutResult(published.message.value);
  }

  /** A source wallet with `fundsMinor`, and a batch whose hold reserves `reserveMinor` of it. */
  async function reserved(fundsMinor: bigint, reserveMinor: bigint): Promise<{ batchId: string; sourceWalletId: string; holdId: string }> {
    const sourceWalletId = await wallets.open('USD', fundsMinor);
    const batchId = randomUUID();
    const holdId = randomUUID();
    const result = await deliver(reserveCommand(batchId, sourceWalletId, holdId, reserveMinor));
    expect(result).toMatchObject({ type: 'PayoutFundsReserved', amountMinor: reserveMinor.toString() });
    return { batchId, sourceWalletId, holdId };
  }

  function reserveCommand(batchId: string, sourceWalletId: string, holdId: string, amountMinor: bigint): ReservePayoutFunds {
    return { type: 'ReservePayoutFunds', batchId, sourceWalletId, holdId, currency: 'USD', amountMinor: amountMinor.toString(), expiresAt: new Date(T0 + HOUR).toISOString() };
  }

  function payCommand(batch: { batchId: string; sourceWalletId: string; holdId: string }, rows: Array<[row: number, recipientWalletId: string, amountMinor: bigint]>, chunk = 0): PayPayoutRows {
    return {
      type: 'PayPayoutRows',
      ...batch,
      chunk,
      currency: 'USD',
      rows: rows.map(([row, recipientWalletId, amountMinor]) => ({ row, recipientWalletId, amountMinor: amountMinor.toString(), reference: `row ${row}` })),
    };
  }

  async function walletEvents(walletId: string, type: string): Promise<RecordedEvent[]> {
    return (await memory.readStream(walletStreamId(walletId), { direction: 'forwards', maxCount: 4_096 })).filter((e) => e.type === type);
  }

  it('reserves with a hold and answers with its position; the events name service:payouts, the batch and the message', async () => {
    const batch = await reserved(100_000n, 60_000n);
    expect(await wallets.held(batch.sourceWalletId)).toBe(60_000n);
    const [placed] = await walletEvents(batch.sourceWalletId, 'HoldPlaced');
    expect(placed?.data).toMatchObject({ holdId: batch.holdId, amountMinor: '60000' });
    expect(placed?.metadata).toMatchObject({ principal: 'service:payouts', correlationId: batch.batchId, causationId: 'payouts.commands.v1:0:1', idempotencyKey: `payout-hold:${batch.batchId}` });
    // The position of the append, which ends with the idempotency record (what a replay answers too).
    const [record] = await memory.readStream(idempotencyStreamId(PAYOUTS_IDEMPOTENCY_SCOPE, payoutHoldKey(batch.batchId)), { direction: 'forwards', maxCount: 1 });
    expect(record!.position).toBeGreaterThan(placed!.position);
    const result = decodePayoutResult(publisher.published[0]!.message.value);
    expect(result).toEqual({ type: 'PayoutFundsReserved', batchId: batch.batchId, holdId: batch.holdId, amountMinor: '60000', position: record!.position.toString() });
  });

  it('refuses a reservation beyond the available funds, and keeps refusing it after the wallet is funded (recorded, final)', async () => {
    const sourceWalletId = await wallets.open('USD', 10_000n);
    const command = reserveCommand(randomUUID(), sourceWalletId, randomUUID(), 50_000n);
    const refused = await deliver(command);
    expect(refused).toMatchObject({ type: 'PayoutReservationRefused', reason: 'INSUFFICIENT_FUNDS', message: expect.stringContaining('available') });
    await wallets.deposit(sourceWalletId, 100_000n);
    expect(await deliver(command)).toEqual(refused);
    expect(await wallets.held(sourceWalletId)).toBe(0n);
  });

  it('pays every row exactly once when the same command is delivered twice, and answers the same both times', async () => {
    const batch = await reserved(100_000n, 6_000n);
    const [a, b, c] = [await wallets.open(), await wallets.open(), await wallets.open()];
    const command = payCommand(batch, [[1, a, 1_000n], [2, b, 2_000n], [3, c, 3_000n]]);
    const first = (await deliver(command)) as PayoutRowsProcessed;
    expect(first.results.map((r) => r.outcome)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    const again = await deliver(command);
    expect(again).toEqual(first);
    expect([await wallets.balance(a), await wallets.balance(b), await wallets.balance(c)]).toEqual([1_000n, 2_000n, 3_000n]);
    expect(await wallets.balance(batch.sourceWalletId)).toBe(94_000n);
    expect(await wallets.held(batch.sourceWalletId)).toBe(0n);
    expect(await walletEvents(batch.sourceWalletId, 'HoldDrawn')).toHaveLength(3);
    // The transaction id is the row's, whatever the delivery; both legs carry it.
    const credited = await walletEvents(a, 'TransferCredited');
    expect(credited).toHaveLength(1);
    expect(credited[0]!.data).toMatchObject({ transactionId: (first.results[0] as { transactionId: string }).transactionId, reference: 'row 1' });
    expect(credited[0]!.metadata.idempotencyKey).toBe(payoutRowKey(batch.batchId, 1));
    expect(handler.status()).toMatchObject({ messagesHandled: 3, rowsSucceeded: 6, rowsFailed: 0 });
  });

  it('pays every row exactly once when the same command is delivered concurrently', async () => {
    const batch = await reserved(1_000_000n, 40_000n);
    const recipients = await Promise.all(Array.from({ length: 20 }, () => wallets.open()));
    const command = payCommand(batch, recipients.map((walletId, i) => [i + 1, walletId, 2_000n] as [number, string, bigint]));
    await Promise.all([handler.handle(delivery(command, 101)), handler.handle(delivery(command, 102)), handler.handle(delivery(command, 103))]);
    const results = publisher.published.slice(-3).map((p) => decodePayoutResult(p.message.value) as PayoutRowsProcessed);
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[0]!.results.every((r) => r.outcome === 'SUCCEEDED')).toBe(true);
    for (const walletId of recipients) expect(await wallets.balance(walletId)).toBe(2_000n);
    expect(await wallets.balance(batch.sourceWalletId)).toBe(960_000n);
    expect(await walletEvents(batch.sourceWalletId, 'HoldDrawn')).toHaveLength(20);
  });

  it('submits the rows of a message together, so group commit appends them in a few batches', async () => {
    const batch = await reserved(1_000_000n, 100_000n);
    const recipients = await Promise.all(Array.from({ length: 100 }, () => wallets.open()));
    const before = store.appendBatchCalls();
    const result = (await deliver(payCommand(batch, recipients.map((walletId, i) => [i + 1, walletId, 1_000n] as [number, string, bigint])))) as PayoutRowsProcessed;
    expect(result.results.filter((r) => r.outcome === 'SUCCEEDED')).toHaveLength(100);
    // One command at a time would take 100 appends.
    expect(store.appendBatchCalls() - before).toBeLessThanOrEqual(3);
  });

  it('records a refused row as FAILED for good: unfreezing the recipient later does not pay it on redelivery', async () => {
    const batch = await reserved(100_000n, 3_000n);
    const [ok, frozen] = [await wallets.open(), await wallets.open()];
    await wallets.freeze(frozen);
    const command = payCommand(batch, [[1, ok, 1_000n], [2, frozen, 2_000n]]);
    const first = (await deliver(command)) as PayoutRowsProcessed;
    expect(first.results).toEqual([
      expect.objectContaining({ row: 1, outcome: 'SUCCEEDED' }),
      { row: 2, outcome: 'FAILED', reason: 'WALLET_FROZEN', position: expect.stringMatching(/^[1-9][0-9]*$/) },
    ]);
    await wallets.unfreeze(frozen);
    expect(await deliver(command)).toEqual(first);
    expect(await wallets.balance(frozen)).toBe(0n);
    // Only the idempotency record was appended for the refusal: the hold still reserves the row's amount.
    expect(await wallets.held(batch.sourceWalletId)).toBe(2_000n);
    const record = await memory.readStream(idempotencyStreamId(PAYOUTS_IDEMPOTENCY_SCOPE, payoutRowKey(batch.batchId, 2)), { direction: 'forwards', maxCount: 10 });
    expect(record).toHaveLength(1);
    expect(record[0]!.data).toMatchObject({ result: { outcome: 'FAILED', reason: 'WALLET_FROZEN' } });
  });

  it('settles a mixed chunk row by row: each refusal named, the others paid, money conserved', async () => {
    const batch = await reserved(100_000n, 10_000n);
    const ok1 = await wallets.open();
    const ok2 = await wallets.open();
    const frozen = await wallets.open();
    await wallets.freeze(frozen);
    const euro = await wallets.open('EUR');
    const missing = randomUUID();
    const command = payCommand(batch, [
      [1, ok1, 4_000n],
      [2, frozen, 1_000n],
      [3, missing, 1_000n],
      [4, euro, 1_000n],
      [5, ok2, 5_000n],
      [6, ok1, 2_000n], // only 1 000 left in the hold after rows 1 and 5
      [7, batch.sourceWalletId, 500n],
    ]);
    const result = (await deliver(command)) as PayoutRowsProcessed;
    expect(result.results.map((r) => [r.row, r.outcome, 'reason' in r ? r.reason : undefined])).toEqual([
      [1, 'SUCCEEDED', undefined],
      [2, 'FAILED', 'WALLET_FROZEN'],
      [3, 'FAILED', 'WALLET_NOT_FOUND'],
      [4, 'FAILED', 'CURRENCY_MISMATCH'],
      [5, 'SUCCEEDED', undefined],
      [6, 'FAILED', 'DRAW_EXCEEDS_HOLD'],
      [7, 'FAILED', 'SAME_WALLET'],
    ]);
    expect(await wallets.balance(ok1)).toBe(4_000n);
    expect(await wallets.balance(ok2)).toBe(5_000n);
    expect(await wallets.balance(batch.sourceWalletId)).toBe(91_000n);
    expect(await wallets.held(batch.sourceWalletId)).toBe(1_000n);
    expect(await deliver(command)).toEqual(result);
  });

  it('refuses rows on an expired hold with HOLD_EXPIRED', async () => {
    const batch = await reserved(100_000n, 5_000n);
    const recipient = await wallets.open();
    clock.advance(HOUR);
    const result = (await deliver(payCommand(batch, [[1, recipient, 1_000n]]))) as PayoutRowsProcessed;
    expect(result.results[0]).toMatchObject({ outcome: 'FAILED', reason: 'HOLD_EXPIRED' });
    expect(await wallets.balance(recipient)).toBe(0n);
  });

  it('releases exactly what the rows left of the hold, once', async () => {
    const batch = await reserved(100_000n, 10_000n);
    const [a, b] = [await wallets.open(), await wallets.open()];
    await deliver(payCommand(batch, [[1, a, 3_000n], [2, b, 2_500n]]));
    const release = { type: 'ReleasePayoutReservation' as const, ...batch };
    const released = await deliver(release);
    expect(released).toEqual({ type: 'PayoutReservationReleased', batchId: batch.batchId, holdId: batch.holdId, releasedMinor: '4500', position: expect.any(String) });
    const state = await wallets.state(batch.sourceWalletId);
    expect([state.balanceMinor, state.heldMinor, state.openHolds.size]).toEqual([94_500n, 0n, 0]);
    expect(await deliver(release)).toEqual(released);
    expect(await walletEvents(batch.sourceWalletId, 'HoldReleased')).toHaveLength(1);
  });

  it('releases "0" with a note when the rows drew the hold in full, or it expired, or it never existed', async () => {
    const drawn = await reserved(100_000n, 3_000n);
    await deliver(payCommand(drawn, [[1, await wallets.open(), 3_000n]]));
    expect(await deliver({ type: 'ReleasePayoutReservation', ...drawn })).toMatchObject({ releasedMinor: '0', note: 'HOLD_DRAWN_IN_FULL' });

    const expiring = await reserved(100_000n, 3_000n);
    clock.advance(HOUR);
    await processor.execute({
      streams: [{ streamId: walletStreamId(expiring.sourceWalletId), model: walletStreamModel as never }],
      decide: ([view]) => ({
        events: [
          [{ type: 'HoldExpired', data: { walletId: expiring.sourceWalletId, holdId: expiring.holdId, releasedMinor: '3000', currency: 'USD', expiredAt: clock.now().toISOString() } }],
        ],
        result: { revision: String(view?.revision) },
      }),
      metadata: { correlationId: 'test', causationId: 'test', principal: 'service:ledger-hold-expiry' },
    });
    expect(await deliver({ type: 'ReleasePayoutReservation', ...expiring })).toMatchObject({ releasedMinor: '0', note: 'HOLD_EXPIRED' });

    const neverPlaced = { batchId: randomUUID(), sourceWalletId: await wallets.open(), holdId: randomUUID() };
    expect(await deliver({ type: 'ReleasePayoutReservation', ...neverPlaced })).toMatchObject({ releasedMinor: '0', note: 'HOLD_NOT_FOUND' });
  });

  it('reverses a paid row; with too little left in the recipient wallet the attempt fails for good, a later attempt succeeds', async () => {
    const batch = await reserved(100_000n, 5_000n);
    const recipient = await wallets.open();
    await deliver(payCommand(batch, [[1, recipient, 5_000n]]));
    await wallets.withdraw(recipient, 4_000n);
    const reverse = (attempt: number) => ({
      type: 'ReversePayoutRows' as const,
      batchId: batch.batchId,
      chunk: 0,
      sourceWalletId: batch.sourceWalletId,
      currency: 'USD' as const,
      rows: [{ row: 1, attempt, recipientWalletId: recipient, amountMinor: '5000' }],
    });
    const failed = (await deliver(reverse(1))) as PayoutRowsReversed;
    expect(failed.results).toEqual([{ row: 1, attempt: 1, outcome: 'REVERSAL_FAILED', reason: 'INSUFFICIENT_FUNDS', position: expect.any(String) }]);
    await wallets.deposit(recipient, 4_000n);
    expect(await deliver(reverse(1))).toEqual(failed);
    expect(await wallets.balance(recipient)).toBe(5_000n);

    const reversed = (await deliver(reverse(2))) as PayoutRowsReversed;
    expect(reversed.results[0]).toMatchObject({ row: 1, attempt: 2, outcome: 'REVERSED', transactionId: expect.any(String) });
    expect(await wallets.balance(recipient)).toBe(0n);
    expect(await wallets.balance(batch.sourceWalletId)).toBe(100_000n);
    expect(await deliver(reverse(2))).toEqual(reversed);
    expect(await wallets.balance(batch.sourceWalletId)).toBe(100_000n);
  });

  it('refuses to reverse a row the batch did not pay, or with another amount', async () => {
    const batch = await reserved(100_000n, 5_000n);
    const [paid, frozen] = [await wallets.open(), await wallets.open()];
    await wallets.freeze(frozen);
    await deliver(payCommand(batch, [[1, paid, 3_000n], [2, frozen, 2_000n]]));
    await wallets.unfreeze(frozen);
    const result = (await deliver({
      type: 'ReversePayoutRows',
      batchId: batch.batchId,
      chunk: 0,
      sourceWalletId: batch.sourceWalletId,
      currency: 'USD',
      rows: [
        { row: 1, attempt: 1, recipientWalletId: paid, amountMinor: '9999' },
        { row: 2, attempt: 1, recipientWalletId: frozen, amountMinor: '2000' },
        { row: 3, attempt: 1, recipientWalletId: paid, amountMinor: '1' },
      ],
    })) as PayoutRowsReversed;
    expect(result.results.map((r) => (r.outcome === 'REVERSAL_FAILED' ? r.reason : r.outcome))).toEqual(['REVERSAL_DOES_NOT_MATCH_PAYOUT', 'PAYOUT_ROW_NOT_PAID', 'PAYOUT_ROW_NOT_PAID']);
    expect(await wallets.balance(paid)).toBe(3_000n);
  });

  it('skips a poison message with one error line naming where it was, and publishes nothing', async () => {
    const batchId = randomUUID();
    await handler.handle({ topic: 'payouts.commands.v1', partition: 3, offset: '77', key: batchId, value: '{"schema":"payouts.command.v1","type":"PayAll"}', headers: {} });
    const good = reserveCommand(batchId, randomUUID(), randomUUID(), 1n);
    await handler.handle(delivery(good, 78, { key: 'another-key' }));
    expect(publisher.published).toHaveLength(0);
    const errors = logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(2);
    expect(errors[0]!.entry).toMatchObject({ msg: 'payout command: poison message skipped', topic: 'payouts.commands.v1', partition: 3, offset: '77', reason: "unknown command type 'PayAll'" });
    expect(errors[1]!.entry).toMatchObject({ offset: '78', reason: expect.stringContaining('key must be the batchId') });
    expect(handler.status().poisonMessages).toBe(2);
  });

  it('does not record an infrastructure failure: the handler throws, nothing is published, and redelivery pays each row once', async () => {
    const batch = await reserved(100_000n, 3_000n);
    const [a, b] = [await wallets.open(), await wallets.open()];
    const command = payCommand(batch, [[1, a, 1_000n], [2, b, 2_000n]]);
    const before = publisher.published.length;
    store.failAppends(1);
    await expect(handler.handle(delivery(command, 500))).rejects.toThrow(/simulated store outage/);
    expect(publisher.published).toHaveLength(before);
    expect(await wallets.balance(a)).toBe(0n);
    expect(logs.some((l) => l.level === 'error' && l.entry['msg'] === 'payout command: steps failed; the message will be delivered again' && l.entry['offset'] === '500')).toBe(true);
    const result = (await deliver(command)) as PayoutRowsProcessed;
    expect(result.results.map((r) => r.outcome)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect([await wallets.balance(a), await wallets.balance(b)]).toEqual([1_000n, 2_000n]);
  });

  it('retries failed steps itself when allowed, then answers once', async () => {
    const retrying = new PayoutCommandHandler({ processor, store: store.store, publisher, clock: clock.now }, { retryAttempts: 3, retryInitialDelayMs: 1, retryMaxDelayMs: 2 });
    const batch = await reserved(100_000n, 3_000n);
    const a = await wallets.open();
    store.failAppends(2);
    await retrying.handle(delivery(payCommand(batch, [[1, a, 3_000n]]), 600));
    const result = decodePayoutResult(publisher.published.at(-1)!.message.value) as PayoutRowsProcessed;
    expect(result.results[0]).toMatchObject({ outcome: 'SUCCEEDED' });
    expect(retrying.status().failedAttempts).toBe(2);
    expect(await wallets.balance(a)).toBe(3_000n);
  });

  it('stops waiting out a retry pause at once when aborted, leaving the message uncommitted', async () => {
    const patient = new PayoutCommandHandler({ processor, store: store.store, publisher, clock: clock.now, logger: { log: () => undefined, warn: (e: Record<string, unknown>) => logs.push({ level: 'warn', entry: e }), error: () => undefined } }, {
      retryAttempts: 5,
      retryInitialDelayMs: 600_000,
      retryMaxDelayMs: 600_000,
    });
    const batch = await reserved(100_000n, 3_000n);
    const recipient = await wallets.open();
    const before = publisher.published.length;
    store.failAppends(1);
    const handled = patient.handle(delivery(payCommand(batch, [[1, recipient, 3_000n]]), 800)).then(
      () => undefined,
      (error: unknown) => error,
    );
    await waitFor(() => logs.some((l) => l.level === 'warn' && l.entry['offset'] === '800'), 5_000, 'the first retry pause');
    patient.abort();
    expect(await handled).toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(publisher.published).toHaveLength(before);
  });

  it('gives the message back when the result cannot be published; the redelivery republishes the same result', async () => {
    const batch = await reserved(100_000n, 3_000n);
    const a = await wallets.open();
    const command = payCommand(batch, [[1, a, 3_000n]]);
    publisher.failNext = 1;
    await expect(handler.handle(delivery(command, 700))).rejects.toThrow(/simulated broker outage/);
    await handler.handle(delivery(command, 700));
    const result = decodePayoutResult(publisher.published.at(-1)!.message.value) as PayoutRowsProcessed;
    expect(result.results[0]).toMatchObject({ outcome: 'SUCCEEDED' });
    expect(await wallets.balance(a)).toBe(3_000n);
    expect(await walletEvents(a, 'TransferCredited')).toHaveLength(1);
  });

  it('answers a key reused for a different request as refused, without paying again', async () => {
    const batch = await reserved(100_000n, 5_000n);
    const a = await wallets.open();
    await deliver(payCommand(batch, [[1, a, 1_000n]]));
    const changed = (await deliver(payCommand(batch, [[1, a, 2_000n]]))) as PayoutRowsProcessed;
    expect(changed.results[0]).toEqual({ row: 1, outcome: 'FAILED', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await wallets.balance(a)).toBe(1_000n);
    expect(logs.some((l) => l.level === 'error' && String(l.entry['msg']).includes('idempotency key already used'))).toBe(true);
  });
});
