import { givenWallet } from './testing/wallet-spec';
import { MAX_OPEN_HOLDS_PER_WALLET, MAX_REMEMBERED_RESOLVED_HOLDS } from './wallet.commands';
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
