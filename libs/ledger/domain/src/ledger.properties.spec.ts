import fc from 'fast-check';
import { ApplicationError, InvariantViolationError } from '@ledger/errors';
import { minorFromText, type CurrencyCode } from '@ledger/money';
import type { CommandContext, WalletCommand } from './wallet.commands';
import { decideCaptureHoldToWallet, decideTransfer, decideWallet } from './wallet.decider';
import type { WalletEvent } from './wallet.events';
import { availableMinor, foldWallet, initialWalletState, evolveWallet, type WalletState } from './wallet.state';
import { decodeWalletSnapshot, encodeWalletSnapshot } from './wallet.snapshot';

/**
 * Random command sequences over a few wallets; after every step the ledger invariants hold:
 * no user wallet below zero (balance, held, available), held = sum of open holds, per currency
 * the sum of all accounts (wallets + system accounts) is zero, and replaying a wallet's history
 * gives the state built step by step.
 */
const WALLETS: Array<[string, CurrencyCode]> = [['a', 'USD'], ['b', 'USD'], ['c', 'USD'], ['e', 'EUR']];
const walletId = fc.constantFrom(...WALLETS.map(([id]) => id));
const holdId = fc.constantFrom('h1', 'h2', 'h3');
const currency = fc.constantFrom<CurrencyCode>('USD', 'USD', 'USD', 'EUR');
const amount = fc.record({ amountMinor: fc.bigInt({ min: 1n, max: 5_000n }), currency });

type Step =
  | { kind: 'wallet'; command: WalletCommand }
  | { kind: 'transfer'; from: string; to: string; amount: { amountMinor: bigint; currency: CurrencyCode } }
  | { kind: 'captureToWallet'; walletId: string; holdId: string; to: string; amount?: { amountMinor: bigint; currency: CurrencyCode } }
  | { kind: 'advance'; minutes: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ walletId, amount }).map(({ walletId, amount }) => ({ kind: 'wallet' as const, command: { type: 'Deposit' as const, walletId, transactionId: 't', amount } })),
  fc.record({ walletId, amount }).map(({ walletId, amount }) => ({ kind: 'wallet' as const, command: { type: 'Withdraw' as const, walletId, transactionId: 't', amount } })),
  fc.record({ from: walletId, to: walletId, amount }).map((s) => ({ kind: 'transfer' as const, ...s })),
  fc.record({ walletId, holdId, amount, minutes: fc.integer({ min: 1, max: 120 }) }).map(({ walletId, holdId, amount, minutes }) => ({
    kind: 'wallet' as const,
    command: { type: 'PlaceHold' as const, walletId, holdId, amount, expiresAt: new Date(0 + minutes * 60_000) },
  })),
  fc.record({ walletId, holdId, amount: fc.option(amount, { nil: undefined }) }).map(({ walletId, holdId, amount }) => ({
    kind: 'wallet' as const,
    command: { type: 'CaptureHoldToSystem' as const, walletId, holdId, transactionId: 't', account: 'payout-settlement' as const, ...(amount ? { amount } : {}) },
  })),
  fc.record({ walletId, holdId, to: walletId, amount: fc.option(amount, { nil: undefined }) }).map((s) => ({ kind: 'captureToWallet' as const, ...s, ...(s.amount ? {} : { amount: undefined }) })),
  fc.record({ walletId, holdId }).map(({ walletId, holdId }) => ({ kind: 'wallet' as const, command: { type: 'ReleaseHold' as const, walletId, holdId } })),
  fc.record({ walletId, holdId }).map(({ walletId, holdId }) => ({ kind: 'wallet' as const, command: { type: 'ExpireHold' as const, walletId, holdId } })),
  walletId.map((walletId) => ({ kind: 'wallet' as const, command: { type: 'FreezeWallet' as const, walletId, reason: 'review' } })),
  walletId.map((walletId) => ({ kind: 'wallet' as const, command: { type: 'UnfreezeWallet' as const, walletId } })),
  walletId.map((walletId) => ({ kind: 'wallet' as const, command: { type: 'CloseWallet' as const, walletId } })),
  fc.integer({ min: 1, max: 90 }).map((minutes) => ({ kind: 'advance' as const, minutes })),
);

/** Signed effect of one event on each account it touches (wallet id or system account id). */
function legs(event: WalletEvent): Array<[string, CurrencyCode, bigint]> {
  switch (event.type) {
    case 'FundsDeposited':
      return [[event.data.walletId, event.data.currency, minorFromText(event.data.amountMinor)], [event.data.from, event.data.currency, -minorFromText(event.data.amountMinor)]];
    case 'FundsWithdrawn':
      return [[event.data.walletId, event.data.currency, -minorFromText(event.data.amountMinor)], [event.data.to, event.data.currency, minorFromText(event.data.amountMinor)]];
    case 'TransferDebited':
      return [[event.data.walletId, event.data.currency, -minorFromText(event.data.amountMinor)]];
    case 'TransferCredited':
      return [[event.data.walletId, event.data.currency, minorFromText(event.data.amountMinor)]];
    case 'HoldCaptured': {
      const captured = minorFromText(event.data.capturedMinor);
      const own: [string, CurrencyCode, bigint] = [event.data.walletId, event.data.currency, -captured];
      // A capture into a wallet is credited by that wallet's TransferCredited event.
      return event.data.to.kind === 'system' ? [own, [event.data.to.account, event.data.currency, captured]] : [own];
    }
    default:
      return [];
  }
}

describe('ledger invariants under random command sequences', () => {
  it('never overdraws a wallet, conserves money per currency, and replays to the same state', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        const histories = new Map<string, WalletEvent[]>();
        const states = new Map<string, WalletState>();
        let clock = 0;
        let accepted = 0;
        const context = (): CommandContext => ({ now: new Date(clock) });
        const record = (id: string, events: readonly WalletEvent[]): void => {
          histories.set(id, [...(histories.get(id) ?? []), ...events]);
          states.set(id, events.reduce(evolveWallet, states.get(id) ?? initialWalletState));
        };
        const state = (id: string): WalletState => states.get(id) ?? initialWalletState;
        for (const [id, cur] of WALLETS) record(id, decideWallet({ type: 'OpenWallet', walletId: id, ownerId: `o-${id}`, currency: cur }, state(id), context()));

        for (const [index, current] of steps.entries()) {
          const transactionId = `tx${index}`;
          try {
            if (current.kind === 'advance') {
              clock += current.minutes * 60_000;
              continue;
            }
            if (current.kind === 'wallet') {
              const command = { ...current.command, ...('transactionId' in current.command ? { transactionId } : {}) } as WalletCommand;
              if (command.type === 'PlaceHold') (command as { expiresAt: Date }).expiresAt = new Date(clock + command.expiresAt.getTime());
              record(command.walletId, decideWallet(command, state(command.walletId), context()));
            } else if (current.kind === 'transfer') {
              const decided = decideTransfer({ type: 'Transfer', transactionId, fromWalletId: current.from, toWalletId: current.to, amount: current.amount }, state(current.from), state(current.to), context());
              record(current.from, decided.fromEvents);
              record(current.to, decided.toEvents);
            } else {
              const decided = decideCaptureHoldToWallet(
                { type: 'CaptureHoldToWallet', walletId: current.walletId, holdId: current.holdId, transactionId, toWalletId: current.to, ...(current.amount ? { amount: current.amount } : {}) },
                state(current.walletId),
                state(current.to),
                context(),
              );
              record(current.walletId, decided.fromEvents);
              record(current.to, decided.toEvents);
            }
            accepted += 1;
          } catch (error) {
            // A refusal changes nothing; anything else (a corrupt history) is a bug.
            if (!(error instanceof ApplicationError) || error instanceof InvariantViolationError) throw error;
          }

          const totals = new Map<string, bigint>();
          for (const events of histories.values()) {
            for (const event of events) {
              for (const [, cur, delta] of legs(event)) totals.set(cur, (totals.get(cur) ?? 0n) + delta);
            }
          }
          for (const [cur, total] of totals) expect([cur, total]).toEqual([cur, 0n]);
          for (const [id, events] of histories) {
            const wallet = state(id);
            if (wallet.status === 'none') throw new Error('wallet vanished');
            expect(wallet.balanceMinor >= 0n && wallet.heldMinor >= 0n && availableMinor(wallet) >= 0n).toBe(true);
            expect([...wallet.openHolds.values()].reduce((sum, h) => sum + h.amountMinor, 0n)).toBe(wallet.heldMinor);
            expect(foldWallet(events)).toEqual(wallet);
            expect(decodeWalletSnapshot(JSON.parse(JSON.stringify(encodeWalletSnapshot(wallet))))).toEqual(wallet);
            const fromLegs = events.flatMap(legs).filter(([account]) => account === id).reduce((sum, [, , d]) => sum + d, 0n);
            expect(fromLegs).toBe(wallet.balanceMinor);
          }
        }
        return accepted >= 0;
      }),
      { numRuns: 300 },
    );
  });
});
