import { ValidationError } from '@ledger/errors';
import { WALLET_EVENT_TYPES, type WalletEventType } from '@ledger/ledger-domain';
import { parseWalletId } from '../wallets/wallet-commands.service';
import { QueryErrorCodes } from './query.errors';

/**
 * Parsing of query inputs, shared by REST (strings from the query string, possibly repeated) and
 * gRPC (proto3 values, where '' / 0 / [] mean "absent"). Every refusal is a named ValidationError.
 */

/** Multi-wallet balances read at most this many wallets in one snapshot. */
export const MAX_WALLETS_PER_BALANCES_QUERY = 100;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
/** PostgreSQL bigint: positions and revisions never exceed it. */
const MAX_BIGINT = 9_223_372_036_854_775_807n;
const DECIMAL = /^\d{1,19}$/;
/** Same form as the commands' instants: RFC 3339 UTC, at most millisecond precision. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const OWNER_ID = /^[A-Za-z0-9_.:@-]{1,200}$/;
/** Longer query-string lists are refused before they are split. */
const MAX_LIST_TEXT_LENGTH = 8_192;

export type HistoryOrder = 'newest_first' | 'oldest_first';
export const HISTORY_ORDERS: readonly HistoryOrder[] = ['newest_first', 'oldest_first'];

function absent(value: unknown): value is undefined | null | '' {
  return value === undefined || value === null || value === '';
}

/** A global position as a decimal string (`minPosition`, `atPosition`); absent → undefined. */
export function parsePosition(value: unknown, field: string): bigint | undefined {
  if (absent(value)) return undefined;
  if (typeof value !== 'string' || !DECIMAL.test(value) || BigInt(value) > MAX_BIGINT) {
    throw new ValidationError(QueryErrorCodes.invalidPosition, `${field} must be a decimal integer from 0 to ${MAX_BIGINT}`, { field });
  }
  return BigInt(value);
}

/** Page size: absent → DEFAULT_PAGE_SIZE; 1 to MAX_PAGE_SIZE. */
export function parsePageSize(value: unknown): number {
  if (absent(value)) return DEFAULT_PAGE_SIZE;
  const size = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new ValidationError(QueryErrorCodes.invalidPageSize, `pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`, { field: 'pageSize' });
  }
  if (size > MAX_PAGE_SIZE) {
    throw new ValidationError(QueryErrorCodes.pageSizeTooLarge, `pageSize must be at most ${MAX_PAGE_SIZE}`, { field: 'pageSize', limit: MAX_PAGE_SIZE });
  }
  return size;
}

/** An RFC 3339 UTC instant (a Date from gRPC passes through); absent → undefined. */
export function parseInstant(value: unknown, field: string): Date | undefined {
  if (absent(value)) return undefined;
  if (value instanceof Date && Number.isFinite(value.getTime())) return value;
  if (typeof value !== 'string' || !INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    throw new ValidationError(QueryErrorCodes.invalidTimestamp, `${field} must be an RFC 3339 UTC timestamp such as 2026-11-21T10:00:00Z`, { field });
  }
  return new Date(value);
}

export interface TimeRange {
  /** Inclusive. */
  readonly from: Date | undefined;
  /** Exclusive. */
  readonly to: Date | undefined;
}

/** [from, to): both optional; from after to is INVALID_TIME_RANGE (equal is an empty range). */
export function parseTimeRange(fromInput: unknown, toInput: unknown): TimeRange {
  const from = parseInstant(fromInput, 'from');
  const to = parseInstant(toInput, 'to');
  if (from && to && from.getTime() > to.getTime()) {
    throw new ValidationError(QueryErrorCodes.invalidTimeRange, 'from must not be after to', { field: 'from' });
  }
  return { from, to };
}

/** A list from the query string (repeated and/or comma-separated) or a proto repeated field. */
function listOf(value: unknown, field: string): string[] {
  if (absent(value)) return [];
  const items = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new ValidationError('INVALID_FIELD', `${field} must be a list of strings`, { field });
    if (item.length > MAX_LIST_TEXT_LENGTH) throw new ValidationError('INVALID_FIELD', `${field} is too long`, { field });
    for (const part of item.split(',')) if (part !== '') out.push(part);
  }
  return out;
}

/** Event types to keep; each must be a wallet event type. Absent or empty → undefined (all). */
export function parseEventTypes(value: unknown): WalletEventType[] | undefined {
  const types = listOf(value, 'types');
  if (types.length === 0) return undefined;
  const known = new Set<string>(WALLET_EVENT_TYPES);
  const chosen = new Set<WalletEventType>();
  for (const type of types) {
    if (!known.has(type)) {
      throw new ValidationError(QueryErrorCodes.invalidEventType, `Unknown event type; use one of ${WALLET_EVENT_TYPES.join(', ')}`, { field: 'types', type: type.slice(0, 64) });
    }
    chosen.add(type as WalletEventType);
  }
  return [...chosen].sort();
}

/** 1 to MAX_WALLETS_PER_BALANCES_QUERY wallet ids; duplicates are read once, in first-seen order. */
export function parseWalletIds(value: unknown): string[] {
  const ids = listOf(value, 'walletIds');
  if (ids.length === 0) throw new ValidationError(QueryErrorCodes.walletIdsRequired, 'walletIds must name at least one wallet', { field: 'walletIds' });
  if (ids.length > MAX_WALLETS_PER_BALANCES_QUERY) {
    throw new ValidationError(QueryErrorCodes.tooManyWallets, `At most ${MAX_WALLETS_PER_BALANCES_QUERY} wallets per request`, { field: 'walletIds', limit: MAX_WALLETS_PER_BALANCES_QUERY });
  }
  return [...new Set(ids.map((id) => parseWalletId(id, 'walletIds')))];
}

/** The owner to list; absent → the caller's own subject. */
export function parseOwnerId(value: unknown, callerSubject: string): string {
  const ownerId = absent(value) ? callerSubject : value;
  if (typeof ownerId !== 'string' || !OWNER_ID.test(ownerId)) {
    throw new ValidationError('INVALID_OWNER_ID', 'ownerId must be 1-200 characters of letters, digits and _ . : @ -', { field: 'ownerId' });
  }
  return ownerId;
}

export function parseHistoryOrder(value: unknown): HistoryOrder {
  if (absent(value)) return 'newest_first';
  if (typeof value === 'string' && (HISTORY_ORDERS as readonly string[]).includes(value)) return value as HistoryOrder;
  throw new ValidationError(QueryErrorCodes.invalidOrder, `order must be one of ${HISTORY_ORDERS.join(', ')}`, { field: 'order' });
}
