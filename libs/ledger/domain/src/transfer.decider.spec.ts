import type { WalletEvent } from './wallet.events';
import { decideCaptureHoldToWallet, decideTransfer } from './wallet.decider';
import { availableMinor, foldWallet, type ExistingWallet } from './wallet.state';

const now = new Date('2026-11-21T10:00:00.000Z');
const at = now.toISOString();
const usd = (minor: bigint) => ({ amountMinor: minor, currency: 'USD' as const });
const open = (walletId: string, currency: 'USD' | 'EUR' = 'USD'): WalletEvent => ({ type: 'WalletOpened', data: { walletId, ownerId: `owner-${walletId}`, currency, openedAt: at } });
const fund = (walletId: string, minor: bigint): WalletEvent => ({
  type: 'FundsDeposited',
  data: { walletId, transactionId: `fund-${walletId}`, amountMinor: minor.toString(), currency: 'USD', occurredAt: at, from: 'system:external-funding:USD' },
});

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('transfer decider', () => {
  const a = foldWallet([open('a'), fund('a', 1000n)]);
  const b = foldWallet([open('b')]);

  it('debits the source and credits the destination with one transaction id', () => {
    const { fromEvents, toEvents } = decideTransfer({ type: 'Transfer', transactionId: 'tx', fromWalletId: 'a', toWalletId: 'b', amount: usd(300n) }, a, b, { now });
    expect(fromEvents).toEqual([{ type: 'TransferDebited', data: { walletId: 'a', transactionId: 'tx', amountMinor: '300', currency: 'USD', occurredAt: at, toWalletId: 'b' } }]);
    expect(toEvents).toEqual([{ type: 'TransferCredited', data: { walletId: 'b', transactionId: 'tx', amountMinor: '300', currency: 'USD', occurredAt: at, fromWalletId: 'a' } }]);
  });

  it.each([
    ['more than available', { amount: usd(1001n) }, b, 'INSUFFICIENT_FUNDS'],
    ['to itself', { toWalletId: 'a' }, a, 'SAME_WALLET'],
    ['to another currency', {}, foldWallet([open('b', 'EUR')]), 'CURRENCY_MISMATCH'],
    ['to a frozen wallet', {}, foldWallet([open('b'), { type: 'WalletFrozen', data: { walletId: 'b', reason: 'r', frozenAt: at } }]), 'WALLET_FROZEN'],
    ['to a closed wallet', {}, foldWallet([open('b'), { type: 'WalletClosed', data: { walletId: 'b', closedAt: at } }]), 'WALLET_CLOSED'],
    ['to a missing wallet', {}, foldWallet([]), 'WALLET_NOT_FOUND'],
  ] as const)('refuses a transfer %s', (_label, override, destination, code) => {
    const command = { type: 'Transfer' as const, transactionId: 'tx', fromWalletId: 'a', toWalletId: 'b', amount: usd(300n), ...override };
    expect(codeOf(() => decideTransfer(command, a, destination, { now }))).toBe(code);
  });

  it('captures a hold into another wallet, partially, releasing the rest', () => {
    const holder = foldWallet([open('a'), fund('a', 1000n), { type: 'HoldPlaced', data: { walletId: 'a', holdId: 'h', amountMinor: '500', currency: 'USD', expiresAt: '2026-11-22T00:00:00.000Z', placedAt: at } }]);
    const { fromEvents, toEvents } = decideCaptureHoldToWallet({ type: 'CaptureHoldToWallet', walletId: 'a', holdId: 'h', transactionId: 'tx', toWalletId: 'b', amount: usd(200n) }, holder, b, { now });
    const after = foldWallet(fromEvents, holder) as ExistingWallet;
    expect([after.balanceMinor, after.heldMinor, availableMinor(after)]).toEqual([800n, 0n, 800n]);
    expect((foldWallet(toEvents, b) as ExistingWallet).balanceMinor).toBe(200n);
    expect(toEvents[0]).toMatchObject({ type: 'TransferCredited', data: { fromWalletId: 'a', holdId: 'h', amountMinor: '200' } });
  });
});
