import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { ApplicationError, InvariantViolationError } from '@ledger/errors';
import { minorFromText, type CurrencyCode } from '@ledger/money';
import type { CommandContext, WalletCommand } from './wallet.commands';
import { decideCaptureHoldToWallet, decideDrawFromHold, decideTransfer, decideWallet } from './wallet.decider';
import type { WalletEvent } from './wallet.events';
import { availableMinor, foldWallet, initialWalletState, evolveWallet, type WalletState } from './wallet.state';
import { decodeWalletSnapshot, encodeWalletSnapshot } from './wallet.snapshot';

/**
 * Random command sequences over a few wallets; after every step the ledger invariants hold:
 * no user wallet below zero (balance, held, available), held = sum of open holds' remaining
 * amounts, per currency the sum of all accounts (wallets + system accounts) is zero, a hold is
 * never drawn beyond its amount and resolves at most once, and replaying a wallet's history (or
 * its snapshot) gives the state built step by step.
 */
const WALLETS: Array<[string, CurrencyCode]> = [['a', 'USD'], ['b', 'USD'], ['c', 'USD'], ['e', 'EUR']];
const walletId = fc.constantFrom(...WALLETS.map(([id]) => id));
const holdId = fc.constantFrom('h1', 'h2', 'h3', 'h4', 'h5');
const currency = fc.constantFrom<CurrencyCode>('USD', 'USD', 'USD', 'EUR');
const amount = fc.record({ amountMinor: fc.bigInt({ min: 1n, max: 5_000n }), currency });

type Step =
  | { kind: 'wallet'; command: WalletCommand }
  | { kind: 'transfer'; from: string; to: string; amount: { amountMinor: bigint; currency: CurrencyCode } }
  | { kind: 'captureToWallet'; walletId: string; holdId: string; to: string; amount?: { amountMinor: bigint; currency: CurrencyCode } }
  /**
   * `openHold` set: from one of the open holds of any wallet, if there is one (else `walletId` and
   * `holdId`). No amount: exactly what the hold still reserves, so holds are drawn to zero too.
   */
  | { kind: 'draw'; walletId: string; holdId: string; openHold: number | undefined; to: string; amount?: { amountMinor: bigint; currency: CurrencyCode } }
  | { kind: 'advance'; minutes: number };

const draw = fc.record({ amountMinor: fc.bigInt({ min: -1n, max: 1_500n }), currency });
const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });

/** Weighted so that holds are placed, drawn and resolved often, and wallets rarely closed or frozen. */
const step: fc.Arbitrary<Step> = fc.oneof(
  weighted(8, fc.record({ walletId, amount }).map(({ walletId, amount }) => ({ kind: 'wallet' as const, command: { type: 'Deposit' as const, walletId, transactionId: 't', amount } }))),
  weighted(4, fc.record({ walletId, amount }).map(({ walletId, amount }) => ({ kind: 'wallet' as const, command: { type: 'Withdraw' as const, walletId, transactionId: 't', amount } }))),
  weighted(4, fc.record({ from: walletId, to: walletId, amount }).map((s) => ({ kind: 'transfer' as const, ...s }))),
  weighted(10, fc.record({ walletId, holdId, amount, minutes: fc.integer({ min: 1, max: 120 }) }).map(({ walletId, holdId, amount, minutes }) => ({
    kind: 'wallet' as const,
    command: { type: 'PlaceHold' as const, walletId, holdId, amount, expiresAt: new Date(0 + minutes * 60_000) },
  }))),
  weighted(2, fc.record({ walletId, holdId, amount: fc.option(amount, { nil: undefined }) }).map(({ walletId, holdId, amount }) => ({
    kind: 'wallet' as const,
    command: { type: 'CaptureHoldToSystem' as const, walletId, holdId, transactionId: 't', account: 'payout-settlement' as const, ...(amount ? { amount } : {}) },
  }))),
  weighted(2, fc.record({ walletId, holdId, to: walletId, amount: fc.option(amount, { nil: undefined }) }).map((s) => ({ kind: 'captureToWallet' as const, ...s, ...(s.amount ? {} : { amount: undefined }) }))),
  weighted(16, fc.record({ walletId, holdId, openHold: fc.option(fc.nat(), { nil: undefined, freq: 5 }), to: walletId, amount: fc.option(draw, { nil: undefined, freq: 3 }) }).map((s) => ({
    kind: 'draw' as const,
    ...s,
  }))),
  weighted(2, fc.record({ walletId, holdId }).map(({ walletId, holdId }) => ({ kind: 'wallet' as const, command: { type: 'ReleaseHold' as const, walletId, holdId } }))),
  weighted(2, fc.record({ walletId, holdId }).map(({ walletId, holdId }) => ({ kind: 'wallet' as const, command: { type: 'ExpireHold' as const, walletId, holdId } }))),
  weighted(1, walletId.map((walletId) => ({ kind: 'wallet' as const, command: { type: 'FreezeWallet' as const, walletId, reason: 'review' } }))),
  weighted(4, walletId.map((walletId) => ({ kind: 'wallet' as const, command: { type: 'UnfreezeWallet' as const, walletId } }))),
  weighted(2, walletId.map((walletId) => ({ kind: 'wallet' as const, command: { type: 'CloseWallet' as const, walletId } }))),
  weighted(4, fc.integer({ min: 1, max: 90 }).map((minutes) => ({ kind: 'advance' as const, minutes }))),
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
    case 'HoldDrawn':
      // Credited by the destination's TransferCredited, as a capture into a wallet is.
      return [[event.data.walletId, event.data.currency, -minorFromText(event.data.drawnMinor)]];
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
      fc.property(fc.array(step, { minLength: 1, maxLength: 60, size: 'max' }), (steps) => {
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
        for (const [id, cur] of WALLETS) {
          record(id, decideWallet({ type: 'OpenWallet', walletId: id, ownerId: `o-${id}`, currency: cur }, state(id), context()));
          record(id, decideWallet({ type: 'Deposit', walletId: id, transactionId: `fund-${id}`, amount: { amountMinor: 10_000n, currency: cur } }, state(id), context()));
        }

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
            } else if (current.kind === 'draw') {
              const open = [...states.values()].flatMap((s) => (s.status === 'none' ? [] : [...s.openHolds.values()].map((hold) => ({ walletId: s.walletId, hold }))));
              const picked = current.openHold !== undefined && open.length > 0 ? open[current.openHold % open.length] : undefined;
              const from = picked?.walletId ?? current.walletId;
              const amount = current.amount ?? { amountMinor: picked?.hold.amountMinor ?? 1n, currency: 'USD' as const };
              const decided = decideDrawFromHold(
                { type: 'DrawFromHold', walletId: from, holdId: picked?.hold.holdId ?? current.holdId, transactionId, toWalletId: current.to, amount },
                state(from),
                state(current.to),
                context(),
              );
              record(from, decided.fromEvents);
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

          expect(violations(histories, states)).toEqual([]);
        }
        return accepted >= 0;
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * Every ledger invariant the wallets' histories and the states built step by step break; empty
 * when all hold. One expect per step on this list (expect is costly at this volume), which
 * still says what broke.
 */
function violations(histories: ReadonlyMap<string, readonly WalletEvent[]>, states: ReadonlyMap<string, WalletState>): string[] {
  const problems: string[] = [];
  const totals = new Map<string, bigint>();
  for (const events of histories.values()) {
    for (const event of events) {
      for (const [, cur, delta] of legs(event)) totals.set(cur, (totals.get(cur) ?? 0n) + delta);
    }
  }
  for (const [cur, total] of totals) if (total !== 0n) problems.push(`${cur}: the accounts sum to ${total}, not 0`);
  for (const [id, events] of histories) {
    const wallet = states.get(id);
    if (wallet === undefined || wallet.status === 'none') {
      problems.push(`${id}: vanished`);
      continue;
    }
    if (wallet.balanceMinor < 0n || wallet.heldMinor < 0n || availableMinor(wallet) < 0n) {
      problems.push(`${id}: below zero (balance ${wallet.balanceMinor}, held ${wallet.heldMinor})`);
    }
    const remaining = [...wallet.openHolds.values()].reduce((sum, h) => sum + h.amountMinor, 0n);
    if (remaining !== wallet.heldMinor) problems.push(`${id}: held ${wallet.heldMinor}, open holds reserve ${remaining}`);
    if (!isDeepStrictEqual(foldWallet(events), wallet)) problems.push(`${id}: replaying the history gives another state`);
    if (!isDeepStrictEqual(decodeWalletSnapshot(JSON.parse(JSON.stringify(encodeWalletSnapshot(wallet)))), wallet)) problems.push(`${id}: the snapshot gives another state`);
    const fromLegs = events.flatMap(legs).filter(([account]) => account === id).reduce((sum, [, , d]) => sum + d, 0n);
    if (fromLegs !== wallet.balanceMinor) problems.push(`${id}: balance ${wallet.balanceMinor}, movements sum to ${fromLegs}`);
    const open = holdsFromHistory(id, events, problems);
    if (!isDeepStrictEqual(open, new Map([...wallet.openHolds.values()].map((h) => [h.holdId, h.amountMinor])))) problems.push(`${id}: open holds differ from the history's`);
    // Every draw is credited, in full, to the wallet it names, under its transaction id and hold.
    for (const event of events) {
      if (event.type !== 'HoldDrawn') continue;
      const credits = (histories.get(event.data.to.walletId) ?? []).filter((e) => e.type === 'TransferCredited' && e.data.transactionId === event.data.transactionId);
      const expected = [event.data.drawnMinor, event.data.holdId, event.data.walletId];
      if (!isDeepStrictEqual(credits.map((e) => e.type === 'TransferCredited' && [e.data.amountMinor, e.data.holdId, e.data.fromWalletId]), [expected])) {
        problems.push(`${id}: draw ${event.data.transactionId} is not credited once in full`);
      }
    }
  }
  return problems;
}

/**
 * Walks one wallet's history hold by hold, noting in `problems` a hold placed twice, drawn
 * beyond what it reserves or with a wrong remainder, a resolution (capture, release, expiry, or
 * the draw that empties the hold) that does not account for exactly what was left, and anything
 * happening to a hold after its resolution (so it resolves at most once). Returns what each hold
 * still open reserves.
 */
function holdsFromHistory(walletId: string, events: readonly WalletEvent[], problems: string[]): Map<string, bigint> {
  const open = new Map<string, bigint>();
  const resolved = new Set<string>();
  const check = (ok: boolean, what: string): void => {
    if (!ok) problems.push(`${walletId}: ${what}`);
  };
  const resolve = (holdId: string, accounted: bigint): void => {
    check(open.get(holdId) === accounted, `hold ${holdId} reserved ${open.get(holdId)}, its resolution accounts for ${accounted}`);
    open.delete(holdId);
    resolved.add(holdId);
  };
  for (const event of events) {
    if (!event.type.startsWith('Hold')) continue;
    const holdId = (event.data as { holdId: string }).holdId;
    check(!resolved.has(holdId), `${event.type} of hold ${holdId} after the hold was resolved`);
    switch (event.type) {
      case 'HoldPlaced':
        check(!open.has(holdId), `hold ${holdId} placed twice`);
        open.set(holdId, minorFromText(event.data.amountMinor));
        break;
      case 'HoldDrawn': {
        const left = open.get(holdId) ?? 0n;
        const drawn = minorFromText(event.data.drawnMinor);
        check(open.has(holdId) && drawn > 0n && drawn <= left, `hold ${holdId} reserving ${left} drawn by ${drawn}`);
        check(minorFromText(event.data.remainingMinor) === left - drawn, `hold ${holdId}: ${left} - ${drawn} is not ${event.data.remainingMinor}`);
        if (drawn === left) resolve(holdId, drawn);
        else open.set(holdId, left - drawn);
        break;
      }
      case 'HoldCaptured':
        resolve(holdId, minorFromText(event.data.capturedMinor) + minorFromText(event.data.releasedMinor));
        break;
      case 'HoldReleased':
      case 'HoldExpired':
        resolve(holdId, minorFromText(event.data.releasedMinor));
        break;
    }
  }
  return open;
}
