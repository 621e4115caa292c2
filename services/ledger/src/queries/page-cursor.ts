import { invalidCursor } from './query.errors';
import type { HistoryOrder } from './query-input';

/**
 * Opaque keyset cursors for the paged queries: `c1.` + base64url(JSON). A cursor names the query
 * it belongs to (the wallet or owner and every filter) and the last key the previous page
 * returned; the next page continues strictly after that key, so rows inserted meanwhile cause
 * neither gaps nor duplicates.
 *
 * Validated, not signed: every field is checked (shape, types, ranges) and must match the
 * request it comes with, so a malformed or foreign cursor is INVALID_CURSOR. A hand-edited cursor
 * can only move the start of a page within data the caller is authorised to read anyway (the
 * wallet or owner is authorised on every request), so a signature would protect nothing and
 * would need a key shared by every replica.
 */

const PREFIX = 'c1.';
/** Longer text is refused before decoding. */
const MAX_CURSOR_LENGTH = 1_024;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const DECIMAL = /^\d{1,19}$/;

/** Where a wallet's history page left off, and the query it belongs to. */
export interface HistoryCursor {
  readonly kind: 'history';
  readonly walletId: string;
  readonly order: HistoryOrder;
  /** ISO instants or null, exactly as the request stated them (after parsing). */
  readonly from: string | null;
  readonly to: string | null;
  /** Sorted, or null for every type. */
  readonly types: readonly string[] | null;
  /** The stream revision of the last row returned. */
  readonly afterRevision: string;
}

/** Where an owner's wallet list left off. */
export interface DirectoryCursor {
  readonly kind: 'directory';
  readonly ownerId: string;
  readonly afterWalletId: string;
}

export type PageCursor = HistoryCursor | DirectoryCursor;

export function encodeCursor(cursor: PageCursor): string {
  return PREFIX + Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

/** @throws ValidationError INVALID_CURSOR */
export function decodeHistoryCursor(text: string, expected: Omit<HistoryCursor, 'afterRevision'>): HistoryCursor {
  const value = decode(text);
  if (value['kind'] !== 'history') throw invalidCursor('not a history cursor');
  exactKeys(value, ['kind', 'walletId', 'order', 'from', 'to', 'types', 'afterRevision']);
  const afterRevision = value['afterRevision'];
  if (typeof afterRevision !== 'string' || !DECIMAL.test(afterRevision)) throw invalidCursor('bad position');
  const types = value['types'];
  if (types !== null && !(Array.isArray(types) && types.every((t) => typeof t === 'string'))) throw invalidCursor('bad filter');
  const cursor: HistoryCursor = {
    kind: 'history',
    walletId: stringOrThrow(value['walletId']),
    order: stringOrThrow(value['order']) as HistoryOrder,
    from: nullableString(value['from']),
    to: nullableString(value['to']),
    types: types as string[] | null,
    afterRevision,
  };
  const sameQuery =
    cursor.walletId === expected.walletId &&
    cursor.order === expected.order &&
    cursor.from === expected.from &&
    cursor.to === expected.to &&
    JSON.stringify(cursor.types) === JSON.stringify(expected.types);
  if (!sameQuery) throw invalidCursor('it belongs to another wallet, order or filter; repeat the original query with the cursor');
  return cursor;
}

/** @throws ValidationError INVALID_CURSOR */
export function decodeDirectoryCursor(text: string, ownerId: string): DirectoryCursor {
  const value = decode(text);
  if (value['kind'] !== 'directory') throw invalidCursor('not a wallet-list cursor');
  exactKeys(value, ['kind', 'ownerId', 'afterWalletId']);
  const cursor: DirectoryCursor = { kind: 'directory', ownerId: stringOrThrow(value['ownerId']), afterWalletId: stringOrThrow(value['afterWalletId']) };
  if (cursor.ownerId !== ownerId) throw invalidCursor('it belongs to another owner');
  if (cursor.afterWalletId.length > 64) throw invalidCursor('bad position');
  return cursor;
}

function decode(text: string): Record<string, unknown> {
  if (typeof text !== 'string' || text.length > MAX_CURSOR_LENGTH || !text.startsWith(PREFIX)) throw invalidCursor('malformed');
  const body = text.slice(PREFIX.length);
  if (!BASE64URL.test(body)) throw invalidCursor('malformed');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor('malformed');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidCursor('malformed');
  return value as Record<string, unknown>;
}

function exactKeys(value: Record<string, unknown>, keys: readonly string[]): void {
  const actual = Object.keys(value).sort();
  if (actual.length !== keys.length || [...keys].sort().some((key, i) => actual[i] !== key)) throw invalidCursor('malformed');
}

function stringOrThrow(value: unknown): string {
  if (typeof value !== 'string' || value.length > 256) throw invalidCursor('malformed');
  return value;
}

function nullableString(value: unknown): string | null {
  return value === null ? null : stringOrThrow(value);
}
