import { givenWallet, givenWallets } from './testing/wallet-spec';
import { MAX_OPEN_HOLDS_PER_WALLET, MAX_REMEMBERED_RESOLVED_HOLDS, type DrawFromHoldCommand } from './wallet.commands';
import { decideDrawFromHold } from './wallet.decider';
import { decodeWalletSnapshot, encodeWalletSnapshot } from './wallet.snapshot';
import type { WalletEvent } from './wallet.events';
import { availableMinor, foldWallet, type ExistingWallet } from './wallet.state';

const now = new Date('2026-11-21T10:00:00.000Z');
const at = now.toISOString();
const ctx = { now };
const usd = (minor: bigint) => ({ amountMinor: minor, currency: 'USD' as const });
const W = 'w1';
const opened: WalletEvent = { type: 'WalletOpened', data: { walletId: W, ownerId: 'alice', currency: 'USD', openedAt: at } };
const funded = (minor: bigint, tx = 'tx-fund'): WalletEvent => ({
  type: 'FundsDeposited',
  data: { walletId: W, transactionId: tx, amountMinor: minor.toString(), currency: 'USD', occurredAt: at, from: 'system:external-funding:USD' },
});
const holdPlaced = (holdId: string, minor: bigint, expiresAt = '2026-11-22T10:00:00.000Z'): WalletEvent => ({
  type: 'HoldPlaced',
  data: { walletId: W, holdId, amountMinor: minor.toString(), currency: 'USD', expiresAt, placedAt: at },
});

describe('wallet decider: lifecycle', () => {
  it('opens a wallet once', () => {
    givenWallet([]).when({ type: 'OpenWallet', walletId: W, ownerId: 'alice', currency: 'USD' }, ctx).then([opened]);
    givenWallet([opened]).when({ type: 'OpenWallet', walletId: W, ownerId: 'alice', currency: 'USD' }, ctx).thenRejects('WALLET_ALREADY_EXISTS');
  });

  it('refuses every command on a wallet that does not exist', () => {
    givenWallet([]).when({ type: 'Deposit', walletId: W, transactionId: 't', amount: usd(1n) }, ctx).thenRejects('WALLET_NOT_FOUND');
    givenWallet([]).when({ type: 'FreezeWallet', walletId: W, reason: 'x' }, ctx).thenRejects('WALLET_NOT_FOUND');
  });

  it('freezes, refuses movement while frozen, unfreezes', () => {
    const frozen: WalletEvent = { type: 'WalletFrozen', data: { walletId: W, reason: 'fraud review', frozenAt: at } };
    givenWallet([opened]).when({ type: 'FreezeWallet', walletId: W, reason: 'fraud review' }, ctx).then([frozen]);
    givenWallet([opened, frozen]).when({ type: 'FreezeWallet', walletId: W, reason: 'again' }, ctx).thenRejects('WALLET_FROZEN');
    givenWallet([opened, frozen]).when({ type: 'Deposit', walletId: W, transactionId: 't', amount: usd(5n) }, ctx).thenRejects('WALLET_FROZEN');
    givenWallet([opened, funded(10n), frozen]).when({ type: 'Withdraw', walletId: W, transactionId: 't', amount: usd(5n) }, ctx).thenRejects('WALLET_FROZEN');
    givenWallet([opened, frozen]).when({ type: 'UnfreezeWallet', walletId: W }, ctx).then([{ type: 'WalletUnfrozen', data: { walletId: W, unfrozenAt: at } }]);
    givenWallet([opened]).when({ type: 'UnfreezeWallet', walletId: W }, ctx).thenRejects('WALLET_NOT_FROZEN');
    givenWallet([opened]).when({ type: 'FreezeWallet', walletId: W, reason: '  ' }, ctx).thenRejects('FREEZE_REASON_INVALID');
  });

  it('closes only at zero balance with no open holds, and a closed wallet refuses everything', () => {
    const closed: WalletEvent = { type: 'WalletClosed', data: { walletId: W, closedAt: at } };
    givenWallet([opened]).when({ type: 'CloseWallet', walletId: W }, ctx).then([closed]);
    givenWallet([opened, funded(1n)]).when({ type: 'CloseWallet', walletId: W }, ctx).thenRejects('WALLET_NOT_EMPTY');
    givenWallet([opened, funded(5n), holdPlaced('h', 5n)]).when({ type: 'CloseWallet', walletId: W }, ctx).thenRejects('WALLET_HAS_OPEN_HOLDS');
    givenWallet([opened, closed]).when({ type: 'Deposit', walletId: W, transactionId: 't', amount: usd(1n) }, ctx).thenRejects('WALLET_CLOSED');
    givenWallet([opened, closed]).when({ type: 'CloseWallet', walletId: W }, ctx).thenRejects('WALLET_CLOSED');
    givenWallet([opened, closed]).when({ type: 'FreezeWallet', walletId: W, reason: 'x' }, ctx).thenRejects('WALLET_CLOSED');
  });
});

describe('wallet decider: deposits and withdrawals are double entries against a system account', () => {
  it('deposits from external funding', () => {
    givenWallet([opened]).when({ type: 'Deposit', walletId: W, transactionId: 'tx1', amount: usd(1250n), reference: 'salary' }, ctx).then([
      {
        type: 'FundsDeposited',
        data: { walletId: W, transactionId: 'tx1', amountMinor: '1250', currency: 'USD', occurredAt: at, reference: 'salary', from: 'system:external-funding:USD' },
      },
    ]);
  });

  it('withdraws up to the available balance, never beyond', () => {
    givenWallet([opened, funded(1000n)]).when({ type: 'Withdraw', walletId: W, transactionId: 'tx2', amount: usd(1000n) }, ctx).then([
      { type: 'FundsWithdrawn', data: { walletId: W, transactionId: 'tx2', amountMinor: '1000', currency: 'USD', occurredAt: at, to: 'system:external-funding:USD' } },
    ]);
    givenWallet([opened, funded(1000n)]).when({ type: 'Withdraw', walletId: W, transactionId: 'tx2', amount: usd(1001n) }, ctx).thenRejects('INSUFFICIENT_FUNDS');
    givenWallet([opened, funded(1000n), holdPlaced('h', 600n)]).when({ type: 'Withdraw', walletId: W, transactionId: 'tx2', amount: usd(401n) }, ctx).thenRejects('INSUFFICIENT_FUNDS');
  });

  it('refuses another currency and over-long references', () => {
    givenWallet([opened]).when({ type: 'Deposit', walletId: W, transactionId: 't', amount: { amountMinor: 5n, currency: 'EUR' } }, ctx).thenRejects('CURRENCY_MISMATCH');
    givenWallet([opened]).when({ type: 'Deposit', walletId: W, transactionId: 't', amount: usd(5n), reference: 'x'.repeat(141) }, ctx).thenRejects('REFERENCE_INVALID');
    givenWallet([opened]).when({ type: 'Deposit', walletId: W, transactionId: 't', amount: usd(5n), reference: 'a\nb' }, ctx).thenRejects('REFERENCE_INVALID');
  });
});

describe('wallet decider: holds', () => {
  const base = [opened, funded(1000n)];

  it('places a hold against available funds, within the allowed duration', () => {
    givenWallet(base).when({ type: 'PlaceHold', walletId: W, holdId: 'h1', amount: usd(400n), expiresAt: new Date('2026-11-22T10:00:00.000Z') }, ctx).then([holdPlaced('h1', 400n)]);
    givenWallet(base).when({ type: 'PlaceHold', walletId: W, holdId: 'h1', amount: usd(1001n), expiresAt: new Date('2026-11-22T10:00:00Z') }, ctx).thenRejects('INSUFFICIENT_FUNDS');
    givenWallet(base).when({ type: 'PlaceHold', walletId: W, holdId: 'h1', amount: usd(1n), expiresAt: now }, ctx).thenRejects('HOLD_EXPIRY_IN_PAST');
    givenWallet(base).when({ type: 'PlaceHold', walletId: W, holdId: 'h1', amount: usd(1n), expiresAt: new Date('2027-01-01T00:00:00Z') }, ctx).thenRejects('HOLD_EXPIRY_TOO_FAR');
    givenWallet(base).when({ type: 'PlaceHold', walletId: W, holdId: 'h1', amount: usd(1n), expiresAt: new Date('invalid') }, ctx).thenRejects('HOLD_EXPIRY_IN_PAST');
    givenWallet([...base, holdPlaced('h1', 1n)]).when({ type: 'PlaceHold', walletId: W, holdId: 'h1', amount: usd(1n), expiresAt: new Date('2026-11-22T10:00:00Z') }, ctx).thenRejects('HOLD_ALREADY_EXISTS');
  });

  it('tracks held and available separately', () => {
    const state = foldWallet([...base, holdPlaced('h1', 400n), holdPlaced('h2', 100n)]) as ExistingWallet;
    expect(state.balanceMinor).toBe(1000n);
    expect(state.heldMinor).toBe(500n);
    expect(availableMinor(state)).toBe(500n);
  });

  it('captures partially to a system account, releasing the rest, and resolves only once', () => {
    const capture = { type: 'CaptureHoldToSystem' as const, walletId: W, holdId: 'h1', transactionId: 'tx9', amount: usd(150n), account: 'payout-settlement' as const };
    const capturedEvent: WalletEvent = {
      type: 'HoldCaptured',
      data: { walletId: W, holdId: 'h1', transactionId: 'tx9', capturedMinor: '150', releasedMinor: '250', currency: 'USD', to: { kind: 'system', account: 'system:payout-settlement:USD' }, capturedAt: at },
    };
    givenWallet([...base, holdPlaced('h1', 400n)]).when(capture, ctx).then([capturedEvent]);
    const after = foldWallet([...base, holdPlaced('h1', 400n), capturedEvent]) as ExistingWallet;
    expect([after.balanceMinor, after.heldMinor, availableMinor(after)]).toEqual([850n, 0n, 850n]);
    givenWallet([...base, holdPlaced('h1', 400n), capturedEvent]).when(capture, ctx).thenRejects('HOLD_ALREADY_RESOLVED');
    givenWallet([...base, holdPlaced('h1', 400n), capturedEvent]).when({ type: 'ReleaseHold', walletId: W, holdId: 'h1' }, ctx).thenRejects('HOLD_ALREADY_RESOLVED');
    givenWallet([...base, holdPlaced('h1', 400n)]).when({ ...capture, amount: usd(401n) }, ctx).thenRejects('CAPTURE_EXCEEDS_HOLD');
    givenWallet(base).when(capture, ctx).thenRejects('HOLD_NOT_FOUND');
  });

  it('caps open holds per wallet at MAX_OPEN_HOLDS_PER_WALLET (HOLD_LIMIT_REACHED); resolving one makes room', () => {
    const holds = Array.from({ length: MAX_OPEN_HOLDS_PER_WALLET }, (_, i) => holdPlaced(`h${i}`, 1n));
    const place = { type: 'PlaceHold' as const, walletId: W, holdId: 'one-more', amount: usd(1n), expiresAt: new Date('2026-11-22T10:00:00.000Z') };
    givenWallet([...base, ...holds]).when(place, ctx).thenRejects('HOLD_LIMIT_REACHED');
    const released: WalletEvent = { type: 'HoldReleased', data: { walletId: W, holdId: 'h0', releasedMinor: '1', currency: 'USD', releasedAt: at } };
    givenWallet([...base, ...holds, released]).when(place, ctx).then([holdPlaced('one-more', 1n)]);
  });

  it('remembers the latest MAX_REMEMBERED_RESOLVED_HOLDS resolved holds; an older one is HOLD_NOT_FOUND and still never resolves again', () => {
    const count = MAX_REMEMBERED_RESOLVED_HOLDS + 1;
    const history: WalletEvent[] = [...base];
    for (let i = 0; i < count; i += 1) {
      history.push(holdPlaced(`r${i}`, 1n));
      history.push({ type: 'HoldReleased', data: { walletId: W, holdId: `r${i}`, releasedMinor: '1', currency: 'USD', releasedAt: at } });
    }
    const state = foldWallet(history) as ExistingWallet;
    expect(state.resolvedHoldIds.size).toBe(MAX_REMEMBERED_RESOLVED_HOLDS);
    expect(state.resolvedHoldIds.has('r0')).toBe(false);
    givenWallet(history).when({ type: 'ReleaseHold', walletId: W, holdId: 'r0' }, ctx).thenRejects('HOLD_NOT_FOUND');
    givenWallet(history).when({ type: 'ReleaseHold', walletId: W, holdId: 'r1' }, ctx).thenRejects('HOLD_ALREADY_RESOLVED');
    givenWallet(history).when({ type: 'ReleaseHold', walletId: W, holdId: `r${count - 1}` }, ctx).thenRejects('HOLD_ALREADY_RESOLVED');
    // A snapshot written before the bound held every id: decoding keeps exactly what replay keeps.
    const unbounded = { ...encodeWalletSnapshot(state), resolvedHoldIds: Array.from({ length: count }, (_, i) => `r${i}`) };
    expect([...(decodeWalletSnapshot(unbounded) as ExistingWallet).resolvedHoldIds]).toEqual([...state.resolvedHoldIds]);
  });

  it('releases, and expires only at or after the deadline; an expired hold cannot be captured', () => {
    const placed = holdPlaced('h1', 400n, '2026-11-21T11:00:00.000Z');
    givenWallet([...base, placed]).when({ type: 'ReleaseHold', walletId: W, holdId: 'h1' }, ctx).then([
      { type: 'HoldReleased', data: { walletId: W, holdId: 'h1', releasedMinor: '400', currency: 'USD', releasedAt: at } },
    ]);
    givenWallet([...base, placed]).when({ type: 'ExpireHold', walletId: W, holdId: 'h1' }, ctx).thenRejects('HOLD_NOT_YET_EXPIRED');
    const later = { now: new Date('2026-11-21T11:00:00.000Z') };
    givenWallet([...base, placed]).when({ type: 'ExpireHold', walletId: W, holdId: 'h1' }, later).then([
      { type: 'HoldExpired', data: { walletId: W, holdId: 'h1', releasedMinor: '400', currency: 'USD', expiredAt: later.now.toISOString() } },
    ]);
    givenWallet([...base, placed]).when({ type: 'CaptureHoldToSystem', walletId: W, holdId: 'h1', transactionId: 't', account: 'payout-settlement' }, later).thenRejects('HOLD_EXPIRED');
  });
});

describe('wallet decider: drawing from a hold several times (batch payouts)', () => {
  const D = 'w2';
  const base = [opened, funded(1000n)];
  const destination: WalletEvent[] = [{ type: 'WalletOpened', data: { walletId: D, ownerId: 'bob', currency: 'USD', openedAt: at } }];
  const held = [...base, holdPlaced('h1', 400n)];
  const draw = (minor: bigint, extra: Partial<DrawFromHoldCommand> = {}): DrawFromHoldCommand => ({
    type: 'DrawFromHold', walletId: W, holdId: 'h1', transactionId: `tx-${minor}`, toWalletId: D, amount: usd(minor), ...extra,
  });
  const drawn = (minor: bigint, remaining: bigint, extra: { transactionId?: string; holdId?: string; reference?: string } = {}): WalletEvent => ({
    type: 'HoldDrawn',
    data: {
      walletId: W, holdId: 'h1', transactionId: `tx-${minor}`, drawnMinor: minor.toString(), remainingMinor: remaining.toString(), currency: 'USD',
      to: { kind: 'wallet', walletId: D }, drawnAt: at, ...extra,
    },
  });
  const holder = (events: readonly WalletEvent[]) => foldWallet(events) as ExistingWallet;

  it('debits the holder out of the hold and credits the destination, naming the hold; the hold stays open with the rest', () => {
    givenWallets(held, destination).when(decideDrawFromHold, draw(150n, { reference: 'row 1' }), ctx).then({
      fromEvents: [drawn(150n, 250n, { reference: 'row 1' })],
      toEvents: [{
        type: 'TransferCredited',
        data: { walletId: D, transactionId: 'tx-150', amountMinor: '150', currency: 'USD', occurredAt: at, reference: 'row 1', fromWalletId: W, holdId: 'h1' },
      }],
    });
    const after = holder([...held, drawn(150n, 250n)]);
    // Balance and held down by the draw; available unchanged.
    expect([after.balanceMinor, after.heldMinor, availableMinor(after)]).toEqual([850n, 250n, 600n]);
    expect(after.openHolds.get('h1')).toEqual({ holdId: 'h1', amountMinor: 250n, expiresAt: '2026-11-22T10:00:00.000Z' });
    expect(after.resolvedHoldIds.has('h1')).toBe(false);
  });

  it('draws again and again; the draw that empties the hold resolves it, and nothing resolves it again', () => {
    const history = [...held, drawn(100n, 300n, { transactionId: 'a' }), drawn(100n, 200n, { transactionId: 'b' })];
    givenWallets(history, destination).when(decideDrawFromHold, draw(200n), ctx).then({
      fromEvents: [drawn(200n, 0n)],
      toEvents: [{ type: 'TransferCredited', data: { walletId: D, transactionId: 'tx-200', amountMinor: '200', currency: 'USD', occurredAt: at, fromWalletId: W, holdId: 'h1' } }],
    });
    const emptied = [...history, drawn(200n, 0n)];
    const after = holder(emptied);
    expect([after.balanceMinor, after.heldMinor, availableMinor(after), after.openHolds.size]).toEqual([600n, 0n, 600n, 0]);
    expect(after.resolvedHoldIds.has('h1')).toBe(true);
    givenWallets(emptied, destination).when(decideDrawFromHold, draw(1n), ctx).thenRejects('HOLD_ALREADY_RESOLVED');
    givenWallet(emptied).when({ type: 'ReleaseHold', walletId: W, holdId: 'h1' }, ctx).thenRejects('HOLD_ALREADY_RESOLVED');
    givenWallet(emptied).when({ type: 'ExpireHold', walletId: W, holdId: 'h1' }, { now: new Date('2026-11-23T00:00:00.000Z') }).thenRejects('HOLD_ALREADY_RESOLVED');
    givenWallet(emptied).when({ type: 'CaptureHoldToSystem', walletId: W, holdId: 'h1', transactionId: 't', account: 'payout-settlement' }, ctx).thenRejects('HOLD_ALREADY_RESOLVED');
    givenWallet(emptied).when({ type: 'CloseWallet', walletId: W }, ctx).thenRejects('WALLET_NOT_EMPTY');
  });

  it('releases, expires and captures only what a partly drawn hold still reserves', () => {
    const partly = [...held, drawn(150n, 250n)];
    givenWallet(partly).when({ type: 'ReleaseHold', walletId: W, holdId: 'h1' }, ctx).then([
      { type: 'HoldReleased', data: { walletId: W, holdId: 'h1', releasedMinor: '250', currency: 'USD', releasedAt: at } },
    ]);
    const later = { now: new Date('2026-11-22T10:00:00.000Z') };
    givenWallet(partly).when({ type: 'ExpireHold', walletId: W, holdId: 'h1' }, later).then([
      { type: 'HoldExpired', data: { walletId: W, holdId: 'h1', releasedMinor: '250', currency: 'USD', expiredAt: later.now.toISOString() } },
    ]);
    const capture = { type: 'CaptureHoldToSystem' as const, walletId: W, holdId: 'h1', transactionId: 'tx9', account: 'payout-settlement' as const };
    givenWallet(partly).when({ ...capture, amount: usd(50n) }, ctx).then([{
      type: 'HoldCaptured',
      data: { walletId: W, holdId: 'h1', transactionId: 'tx9', capturedMinor: '50', releasedMinor: '200', currency: 'USD', to: { kind: 'system', account: 'system:payout-settlement:USD' }, capturedAt: at },
    }]);
    givenWallet(partly).when({ ...capture, amount: usd(251n) }, ctx).thenRejects('CAPTURE_EXCEEDS_HOLD');
    const released: WalletEvent = { type: 'HoldReleased', data: { walletId: W, holdId: 'h1', releasedMinor: '250', currency: 'USD', releasedAt: at } };
    const after = holder([...partly, released]);
    expect([after.balanceMinor, after.heldMinor, availableMinor(after), after.openHolds.size]).toEqual([850n, 0n, 850n, 0]);
  });

  it('refuses a draw beyond what the hold still reserves with DRAW_EXCEEDS_HOLD, naming both amounts', () => {
    givenWallets(held, destination).when(decideDrawFromHold, draw(401n), ctx).thenRejects('DRAW_EXCEEDS_HOLD', { holdId: 'h1', held: '4.00', requested: '4.01' });
    givenWallets([...held, drawn(300n, 100n)], destination).when(decideDrawFromHold, draw(101n), ctx).thenRejects('DRAW_EXCEEDS_HOLD', { held: '1.00', requested: '1.01' });
  });

  const frozen = (walletId: string): WalletEvent => ({ type: 'WalletFrozen', data: { walletId, reason: 'review', frozenAt: at } });
  it.each<[string, WalletEvent[], WalletEvent[], Partial<DrawFromHoldCommand>, ContextOverride, string]>([
    ['into the holding wallet', held, destination, { toWalletId: W }, {}, 'SAME_WALLET'],
    ['from a wallet that does not exist', [], destination, {}, {}, 'WALLET_NOT_FOUND'],
    ['into a wallet that does not exist', held, [], {}, {}, 'WALLET_NOT_FOUND'],
    ['from a frozen wallet', [...held, frozen(W)], destination, {}, {}, 'WALLET_FROZEN'],
    ['into a frozen wallet', held, [...destination, frozen(D)], {}, {}, 'WALLET_FROZEN'],
    ['into a closed wallet', held, [...destination, { type: 'WalletClosed', data: { walletId: D, closedAt: at } }], {}, {}, 'WALLET_CLOSED'],
    ['from a hold that does not exist', base, destination, {}, {}, 'HOLD_NOT_FOUND'],
    ['from a released hold', [...held, { type: 'HoldReleased', data: { walletId: W, holdId: 'h1', releasedMinor: '400', currency: 'USD', releasedAt: at } }], destination, {}, {}, 'HOLD_ALREADY_RESOLVED'],
    ['at or after the deadline', held, destination, {}, { now: new Date('2026-11-22T10:00:00.000Z') }, 'HOLD_EXPIRED'],
    ['in another currency', held, destination, { amount: { amountMinor: 10n, currency: 'EUR' } }, {}, 'CURRENCY_MISMATCH'],
    ['into a wallet in another currency', held, [{ type: 'WalletOpened', data: { walletId: D, ownerId: 'bob', currency: 'EUR', openedAt: at } }], {}, {}, 'CURRENCY_MISMATCH'],
    ['of zero', held, destination, { amount: usd(0n) }, {}, 'AMOUNT_NOT_POSITIVE'],
    ['of a negative amount', held, destination, { amount: usd(-5n) }, {}, 'AMOUNT_NOT_POSITIVE'],
    ['with an over-long reference', held, destination, { reference: 'x'.repeat(141) }, {}, 'REFERENCE_INVALID'],
    ['with a control character in the reference', held, destination, { reference: 'a\u0000b' }, {}, 'REFERENCE_INVALID'],
  ])('refuses a draw %s', (_label, fromHistory, toHistory, override, context, code) => {
    givenWallets(fromHistory, toHistory).when(decideDrawFromHold, draw(100n, override), { ...ctx, ...context }).thenRejects(code);
  });

  it.each<[string, WalletEvent]>([
    ['beyond what the hold reserves', drawn(401n, 0n)],
    ['with a remainder that does not add up', drawn(100n, 299n)],
    ['of nothing', drawn(0n, 400n)],
    ['from a hold that is not open', drawn(1n, 0n, { holdId: 'nope' })],
  ])('treats a HoldDrawn %s as a corrupt history', (_label, event) => {
    expect(() => foldWallet([...held, event])).toThrow(expect.objectContaining({ code: 'CORRUPT_WALLET_HISTORY' }));
  });

  it('snapshots a partly drawn hold with what it still reserves', () => {
    const state = holder([...held, drawn(150n, 250n)]);
    const decoded = decodeWalletSnapshot(JSON.parse(JSON.stringify(encodeWalletSnapshot(state)))) as ExistingWallet;
    expect(decoded).toEqual(state);
    expect(decoded.openHolds.get('h1')?.amountMinor).toBe(250n);
  });
});

type ContextOverride = { now?: Date };
