import type { CurrencyCode } from '@ledger/money';

/**
 * System accounts are where money enters and leaves the ledger. They may go negative, no
 * decision ever depends on their balance, so they are not streams (a stream every deposit had to
 * lock would serialise all deposits): each movement event names its system leg, and a system
 * account's balance is the sum of those legs (ADR 0004). Per currency, user balances plus system
 * balances are always zero.
 */
export const SYSTEM_ACCOUNTS = ['external-funding', 'payout-settlement'] as const;
export type SystemAccountName = (typeof SYSTEM_ACCOUNTS)[number];

/** `system:<name>:<currency>`, e.g. `system:external-funding:USD`. */
export type SystemAccountId = `system:${SystemAccountName}:${CurrencyCode}`;

export function systemAccount(name: SystemAccountName, currency: CurrencyCode): SystemAccountId {
  return `system:${name}:${currency}`;
}

export function isSystemAccountName(value: unknown): value is SystemAccountName {
  return typeof value === 'string' && (SYSTEM_ACCOUNTS as readonly string[]).includes(value);
}

/** The other side of a movement: another wallet, or a system account. */
export type Counterparty =
  | { readonly kind: 'wallet'; readonly walletId: string }
  | { readonly kind: 'system'; readonly account: SystemAccountId };
