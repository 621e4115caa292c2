import { InvariantViolationError } from '@ledger/errors';
import { formatAmount, type CurrencyCode } from '@ledger/money';
import type { BalanceAtRow, BalanceRow, DirectoryRow, HistoryRow } from './wallet-read-model.sql';

/**
 * What the queries answer, as the REST API shows it (gRPC maps these field by field). Amounts
 * are decimal strings in major units with exactly the currency's decimals; positions and
 * revisions are decimal strings. `watermark`: the answer reflects every event at or below it.
 */

/** A wallet's balance as of one of its events. `balance` is the total (held money included). */
export interface BalanceView {
  walletId: string;
  ownerId: string;
  currency: string;
  balance: string;
  available: string;
  held: string;
  /** Stream revision of the wallet's last event reflected. */
  revision: string;
  /** Global position of that event. */
  position: string;
  /** When that event was recorded (ISO 8601 UTC). */
  asOf: string;
}

export interface CurrentBalanceResponse extends BalanceView {
  status: string;
  watermark: string;
}

export interface BalancesResponse {
  watermark: string;
  balances: BalanceView[];
}

export interface BalanceAtResponse extends BalanceView {
  watermark: string;
}

export interface HistoryEntryView {
  walletId: string;
  revision: string;
  position: string;
  recordedAt: string;
  type: string;
  /** Signed effect on the balance ("-12.50" for a debit; "0.00" for lifecycle and hold events). */
  amount: string;
  currency: string;
  balanceAfter: string;
  heldAfter: string;
  availableAfter: string;
  counterparty: string | null;
  transactionId: string | null;
  holdId: string | null;
  reference: string | null;
  correlationId: string | null;
}

export interface HistoryPageResponse {
  watermark: string;
  entries: HistoryEntryView[];
  /** Pass as `cursor` (with the same filters) for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface DirectoryEntryView {
  walletId: string;
  ownerId: string;
  currency: string;
  status: string;
  openedAt: string;
}

export interface WalletsPageResponse {
  watermark: string;
  ownerId: string;
  wallets: DirectoryEntryView[];
  nextCursor: string | null;
}

/** Rows are written by the projector; a value that does not parse is corruption, not input. */
function minor(text: string, column: string): bigint {
  if (!/^-?\d{1,39}$/.test(text)) throw new InvariantViolationError('READ_MODEL_CORRUPT', `Read-model column ${column} holds '${text.slice(0, 40)}'`);
  return BigInt(text);
}

function money(amountMinor: bigint, currency: string): string {
  try {
    return formatAmount(amountMinor, currency as CurrencyCode);
  } catch (error) {
    throw new InvariantViolationError('READ_MODEL_CORRUPT', `Read-model currency '${currency.slice(0, 8)}' is unknown`, {}, { cause: error });
  }
}

export function balanceFromCurrent(row: BalanceRow): BalanceView & { status: string } {
  const balance = minor(row.balance_minor, 'balance_minor');
  const held = minor(row.held_minor, 'held_minor');
  return {
    walletId: row.wallet_id,
    ownerId: row.owner_id,
    currency: row.currency,
    status: row.status,
    balance: money(balance, row.currency),
    available: money(balance - held, row.currency),
    held: money(held, row.currency),
    revision: row.stream_revision,
    position: row.global_position,
    asOf: row.updated_at.toISOString(),
  };
}

export function balanceFromHistory(row: Omit<BalanceAtRow, 'owner_id'>, ownerId: string): BalanceView {
  const balance = minor(row.balance_after, 'balance_after');
  const held = minor(row.held_after, 'held_after');
  return {
    walletId: row.wallet_id,
    ownerId,
    currency: row.currency,
    balance: money(balance, row.currency),
    available: money(balance - held, row.currency),
    held: money(held, row.currency),
    revision: row.stream_revision,
    position: row.global_position,
    asOf: row.recorded_at.toISOString(),
  };
}

export function historyEntry(row: HistoryRow): HistoryEntryView {
  const balance = minor(row.balance_after, 'balance_after');
  const held = minor(row.held_after, 'held_after');
  return {
    walletId: row.wallet_id,
    revision: row.stream_revision,
    position: row.global_position,
    recordedAt: row.recorded_at.toISOString(),
    type: row.type,
    amount: money(minor(row.amount_minor, 'amount_minor'), row.currency),
    currency: row.currency,
    balanceAfter: money(balance, row.currency),
    heldAfter: money(held, row.currency),
    availableAfter: money(balance - held, row.currency),
    counterparty: row.counterparty,
    transactionId: row.transaction_id,
    holdId: row.hold_id,
    reference: row.reference,
    correlationId: row.correlation_id,
  };
}

export function directoryEntry(row: DirectoryRow): DirectoryEntryView {
  return { walletId: row.wallet_id, ownerId: row.owner_id, currency: row.currency, status: row.status, openedAt: row.opened_at.toISOString() };
}
