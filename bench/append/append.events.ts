import { randomUUID } from 'node:crypto';
import type { NewEvent } from '@ledger/event-store';
import { testEvent } from '@ledger/testing';

/**
 * The events both the adapter and the baseline write, built the same way for both so their rows
 * are the same size. Ids are set here (the adapter would otherwise generate them) because the
 * baseline must supply them too. Amounts are integer minor units as decimal strings.
 */

export const BENCH_CATEGORY = 'benchWallet';
export const HOT_CATEGORY = 'benchHot';
const AMOUNT_MINOR = '1250';
const CURRENCY = 'EUR';

export function depositEvent(): NewEvent {
  return testEvent('FundsDeposited', { amountMinor: AMOUNT_MINOR, currency: CURRENCY }, randomUUID());
}

/** The two halves of a transfer: a debit on the source wallet, a credit on the destination. */
export function transferEvents(): { readonly debit: NewEvent; readonly credit: NewEvent } {
  const transferId = randomUUID();
  return {
    debit: testEvent('FundsDebited', { transferId, amountMinor: AMOUNT_MINOR, currency: CURRENCY }, randomUUID()),
    credit: testEvent('FundsCredited', { transferId, amountMinor: AMOUNT_MINOR, currency: CURRENCY }, randomUUID()),
  };
}

/** Stream ids unique to one cell, so no cell sees another's streams. */
export function walletStream(cellTag: string, writer: number, suffix = ''): string {
  return `${BENCH_CATEGORY}-${cellTag}.w${writer}${suffix}`;
}

export function hotStream(cellTag: string): string {
  return `${HOT_CATEGORY}-${cellTag}`;
}

/** -1n is "no event yet" in both drivers; the kernel spells it 'no_stream'. */
export const NO_EVENT = -1n;
