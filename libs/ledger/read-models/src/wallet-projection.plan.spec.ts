import type { RecordedEvent } from '@ledger/event-store';
import {
  decideDrawFromHold,
  decideWallet,
  foldWallet,
  initialWalletState,
  type DrawFromHoldCommand,
  type WalletCommand,
  type WalletEvent,
  type WalletState,
} from '@ledger/ledger-domain';
import { ProjectionPoisonError } from './projection-poison.error';
import { holdKey, holdsToLoad, planWalletBatch, type StoredWallet } from './wallet-projection.plan';

const NOW = new Date('2026-11-21T10:00:00.000Z');

/** Decides commands one after the other on one wallet and records the events as the store would. */
function history(walletId: string, commands: WalletCommand[], startPosition = 100n): RecordedEvent[] {
  let state: WalletState = initialWalletState;
  const events: WalletEvent[] = [];
  for (const command of commands) {
    const decided = decideWallet(command, state, { now: NOW });
    state = foldWallet(decided, state);
    events.push(...decided);
  }
  return events.map((event, index) => recorded(walletId, event, BigInt(index), startPosition + BigInt(index)));
}

function recorded(walletId: string, event: WalletEvent, revision: bigint, position: bigint): RecordedEvent {
  return {
    id: `00000000-0000-4000-8000-${position.toString().padStart(12, '0')}`,
    type: event.type,
    data: event.data as unknown as RecordedEvent['data'],
    metadata: { correlationId: `corr-${revision}`, causationId: 'c', principal: 'service:test', schemaVersion: 1, idempotencyKey: `key-${revision}` },
    streamId: `wallet-${walletId}`,
    revision,
    position,
    recordedAt: new Date(NOW.getTime() + Number(revision)),
    hash: 'h',
  };
}

const usd = (amountMinor: bigint) => ({ amountMinor, currency: 'USD' as const });
const commands: WalletCommand[] = [
  { type: 'OpenWallet', walletId: 'w1', ownerId: 'o1', currency: 'USD' },
  { type: 'Deposit', walletId: 'w1', transactionId: 't1', amount: usd(1_000n), reference: 'salary' },
  { type: 'PlaceHold', walletId: 'w1', holdId: 'h1', amount: usd(300n), expiresAt: new Date(NOW.getTime() + 60_000) },
  { type: 'CaptureHoldToSystem', walletId: 'w1', holdId: 'h1', transactionId: 't2', amount: usd(100n), account: 'payout-settlement' },
  { type: 'PlaceHold', walletId: 'w1', holdId: 'h2', amount: usd(50n), expiresAt: new Date(NOW.getTime() + 60_000) },
  { type: 'Withdraw', walletId: 'w1', transactionId: 't3', amount: usd(200n) },
  { type: 'FreezeWallet', walletId: 'w1', reason: 'review' },
];

describe('planWalletBatch', () => {
  const events = history('w1', commands);

  it('writes one history row per event with signed amounts, balances after, counterparty and metadata', () => {
    const plan = planWalletBatch(events, new Map(), new Map());
    expect(plan.poison).toBeUndefined();
    expect(plan.history.map((r) => [r.type, r.amountMinor, r.balanceAfter, r.heldAfter, r.counterparty])).toEqual([
      ['WalletOpened', 0n, 0n, 0n, null],
      ['FundsDeposited', 1_000n, 1_000n, 0n, 'system:external-funding:USD'],
      ['HoldPlaced', 0n, 1_000n, 300n, null],
      ['HoldCaptured', -100n, 900n, 0n, 'system:payout-settlement:USD'],
      ['HoldPlaced', 0n, 900n, 50n, null],
      ['FundsWithdrawn', -200n, 700n, 50n, 'system:external-funding:USD'],
      ['WalletFrozen', 0n, 700n, 50n, null],
    ]);
    expect(plan.history[1]).toMatchObject({ transactionId: 't1', reference: 'salary', idempotencyKey: 'key-1', correlationId: 'corr-1' });
    expect(plan.history[3]).toMatchObject({ holdId: 'h1', transactionId: 't2' });
    const folded = foldWallet(events.map((e) => ({ type: e.type, data: e.data }) as unknown as WalletEvent));
    expect(folded.status === 'frozen' && [folded.balanceMinor, folded.heldMinor]).toEqual([700n, 50n]);
    expect(plan.balances).toEqual([expect.objectContaining({ walletId: 'w1', status: 'frozen', balanceMinor: 700n, heldMinor: 50n, streamRevision: 6n, globalPosition: 106n })]);
    expect(plan.directoryInserts).toEqual([expect.objectContaining({ walletId: 'w1', ownerId: 'o1', status: 'frozen' })]);
    expect(plan.holdsToUpsert).toEqual([{ walletId: 'w1', holdId: 'h2', amountMinor: 50n }]);
    expect(plan.holdsToDelete).toEqual([]);
  });

  it('continues from a stored row and stored hold amounts, and skips what it already has', () => {
    const stored: StoredWallet = { walletId: 'w1', ownerId: 'o1', currency: 'USD', status: 'open', balanceMinor: 1_000n, heldMinor: 300n, streamRevision: 2n, globalPosition: 102n };
    const plan = planWalletBatch(events, new Map([['w1', stored]]), new Map([[holdKey('w1', 'h1'), 300n]]));
    expect(plan.duplicates).toBe(3);
    expect(plan.applied).toBe(4);
    expect(plan.history[0]).toMatchObject({ type: 'HoldCaptured', amountMinor: -100n, balanceAfter: 900n, heldAfter: 0n });
    expect(plan.holdsToDelete).toEqual([{ walletId: 'w1', holdId: 'h1' }]);
    expect(plan.directoryStatus).toEqual([{ walletId: 'w1', status: 'frozen' }]);
  });

  it('changes nothing for a batch of duplicates', () => {
    const stored: StoredWallet = { walletId: 'w1', ownerId: 'o1', currency: 'USD', status: 'frozen', balanceMinor: 700n, heldMinor: 50n, streamRevision: 6n, globalPosition: 106n };
    const plan = planWalletBatch([...events, ...events.slice(2)], new Map([['w1', stored]]), new Map());
    expect(plan).toMatchObject({ applied: 0, duplicates: 12, history: [], balances: [], holdsToUpsert: [], holdsToDelete: [], poison: undefined });
  });

  it('stops at a revision gap, keeping what came before and nothing after', () => {
    const plan = planWalletBatch([events[0]!, events[1]!, events[3]!, events[4]!], new Map(), new Map());
    expect(plan.poison).toBeInstanceOf(ProjectionPoisonError);
    expect(plan.poison).toMatchObject({ reason: 'REVISION_GAP', location: { eventId: events[3]!.id, streamId: 'wallet-w1', revision: 3n, position: 103n } });
    expect(plan.poison!.message).toContain(events[3]!.id);
    expect(plan.history.map((r) => r.streamRevision)).toEqual([0n, 1n]);
    expect(plan.balances[0]).toMatchObject({ streamRevision: 1n, balanceMinor: 1_000n });
  });

  it.each([
    ['an unknown event type', (e: RecordedEvent): RecordedEvent => ({ ...e, type: 'FundsTeleported' })],
    ['a resolution of a hold that is not open', (e: RecordedEvent): RecordedEvent => ({ ...e, type: 'HoldReleased', data: { walletId: 'w1', holdId: 'nope', releasedMinor: '1', currency: 'USD', releasedAt: NOW.toISOString() } })],
    ['an amount that is not integer minor units', (e: RecordedEvent): RecordedEvent => ({ ...e, data: { ...e.data, amountMinor: '1.5' } })],
    ['an event of another wallet', (e: RecordedEvent): RecordedEvent => ({ ...e, data: { ...e.data, walletId: 'w2' } })],
  ])('stops at %s', (_what, corrupt) => {
    const bad = corrupt(events[1]!);
    const plan = planWalletBatch([events[0]!, bad, events[2]!], new Map(), new Map());
    expect(plan.poison).toMatchObject({ reason: 'CANNOT_FOLLOW', location: { eventId: bad.id, revision: 1n } });
    expect(plan.history).toHaveLength(1);
  });

  it('stops at an event that is not of a wallet stream', () => {
    const foreign = { ...events[1]!, streamId: 'payout-p1' };
    expect(planWalletBatch([events[0]!, foreign], new Map(), new Map()).poison).toMatchObject({ reason: 'NOT_A_WALLET_EVENT', location: { streamId: 'payout-p1' } });
  });
});

describe('planWalletBatch: draws from a hold (batch payouts)', () => {
  // w1 reserves 300 in hold h1 and pays it out to w2 in three draws; w2's credits name the hold.
  const states = new Map<string, WalletState>();
  const events: RecordedEvent[] = [];
  const append = (walletId: string, decided: readonly WalletEvent[]): void => {
    for (const event of decided) {
      const revision = BigInt(events.filter((e) => e.streamId === `wallet-${walletId}`).length);
      events.push(recorded(walletId, event, revision, 100n + BigInt(events.length)));
    }
    states.set(walletId, foldWallet(decided, states.get(walletId) ?? initialWalletState));
  };
  const single = (command: WalletCommand): void => append(command.walletId, decideWallet(command, states.get(command.walletId) ?? initialWalletState, { now: NOW }));
  const draw = (minor: bigint, reference: string): void => {
    const command: DrawFromHoldCommand = { type: 'DrawFromHold', walletId: 'w1', holdId: 'h1', transactionId: `row-${reference}`, toWalletId: 'w2', amount: usd(minor), reference };
    const { fromEvents, toEvents } = decideDrawFromHold(command, states.get('w1') ?? initialWalletState, states.get('w2') ?? initialWalletState, { now: NOW });
    append('w1', fromEvents);
    append('w2', toEvents);
  };
  single(commands[0]!);
  single(commands[1]!);
  single(commands[2]!);
  single({ type: 'OpenWallet', walletId: 'w2', ownerId: 'o2', currency: 'USD' });
  draw(100n, '1');
  draw(150n, '2');
  draw(50n, '3');
  const ofW1 = (from: number) => events.slice(from).filter((e) => e.streamId === 'wallet-w1');
  const drawRows = (plan: ReturnType<typeof planWalletBatch>) =>
    plan.history.filter((r) => r.type === 'HoldDrawn' || r.type === 'TransferCredited').map((r) => [r.walletId, r.type, r.amountMinor, r.balanceAfter, r.heldAfter, r.counterparty, r.holdId, r.transactionId]);

  it('lowers balance and held on the holder, with a history row naming the destination; credits the destination', () => {
    const plan = planWalletBatch(events, new Map(), new Map());
    expect(plan.poison).toBeUndefined();
    expect(drawRows(plan)).toEqual([
      ['w1', 'HoldDrawn', -100n, 900n, 200n, 'w2', 'h1', 'row-1'],
      ['w2', 'TransferCredited', 100n, 100n, 0n, 'w1', 'h1', 'row-1'],
      ['w1', 'HoldDrawn', -150n, 750n, 50n, 'w2', 'h1', 'row-2'],
      ['w2', 'TransferCredited', 150n, 250n, 0n, 'w1', 'h1', 'row-2'],
      ['w1', 'HoldDrawn', -50n, 700n, 0n, 'w2', 'h1', 'row-3'],
      ['w2', 'TransferCredited', 50n, 300n, 0n, 'w1', 'h1', 'row-3'],
    ]);
    expect(plan.history.find((r) => r.type === 'HoldDrawn')).toMatchObject({ reference: '1', currency: 'USD' });
    expect(plan.balances.map((b) => [b.walletId, b.balanceMinor, b.heldMinor])).toEqual([['w1', 700n, 0n], ['w2', 300n, 0n]]);
    // Placed and emptied within the batch: no open-holds row to write or delete.
    expect([plan.holdsToUpsert, plan.holdsToDelete]).toEqual([[], []]);
  });

  it('keeps the stored hold row at what remains across batches, and deletes it when a draw empties the hold', () => {
    expect(holdsToLoad(events)).toEqual([{ walletId: 'w1', holdId: 'h1' }]);
    const afterPlacing: StoredWallet = { walletId: 'w1', ownerId: 'o1', currency: 'USD', status: 'open', balanceMinor: 1_000n, heldMinor: 300n, streamRevision: 2n, globalPosition: 102n };
    const first = planWalletBatch(events.slice(0, 6), new Map([['w1', afterPlacing]]), new Map([[holdKey('w1', 'h1'), 300n]]));
    expect(first).toMatchObject({ poison: undefined, holdsToUpsert: [{ walletId: 'w1', holdId: 'h1', amountMinor: 200n }], holdsToDelete: [] });

    const afterTwo: StoredWallet = { ...afterPlacing, balanceMinor: 750n, heldMinor: 50n, streamRevision: 4n, globalPosition: 106n };
    const last = planWalletBatch(ofW1(8), new Map([['w1', afterTwo]]), new Map([[holdKey('w1', 'h1'), 50n]]));
    expect(last.poison).toBeUndefined();
    expect(last.history[0]).toMatchObject({ type: 'HoldDrawn', amountMinor: -50n, balanceAfter: 700n, heldAfter: 0n });
    expect([last.holdsToUpsert, last.holdsToDelete]).toEqual([[], [{ walletId: 'w1', holdId: 'h1' }]]);
  });

  it('stops at a draw whose remainder does not follow from the stored hold', () => {
    const afterTwo: StoredWallet = { walletId: 'w1', ownerId: 'o1', currency: 'USD', status: 'open', balanceMinor: 750n, heldMinor: 50n, streamRevision: 4n, globalPosition: 106n };
    const plan = planWalletBatch(ofW1(8), new Map([['w1', afterTwo]]), new Map([[holdKey('w1', 'h1'), 60n]]));
    expect(plan.poison).toMatchObject({ reason: 'CANNOT_FOLLOW', location: { revision: 5n } });
    expect(plan.history).toEqual([]);
  });
});
