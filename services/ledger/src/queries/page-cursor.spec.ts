import { isApplicationError } from '@ledger/errors';
import { decodeDirectoryCursor, decodeHistoryCursor, encodeCursor, type HistoryCursor } from './page-cursor';

const query = { kind: 'history' as const, walletId: 'w-1', order: 'newest_first' as const, from: null, to: '2026-02-01T00:00:00.000Z', types: ['FundsDeposited'] };

function codeOf(run: () => unknown): string {
  try {
    run();
    return 'OK';
  } catch (error) {
    return isApplicationError(error) ? error.code : String(error);
  }
}

describe('page cursors', () => {
  it('round-trips a history cursor for the same query', () => {
    const cursor: HistoryCursor = { ...query, afterRevision: '41' };
    expect(decodeHistoryCursor(encodeCursor(cursor), query)).toEqual(cursor);
  });

  it.each([
    ['another wallet', { walletId: 'w-2' }],
    ['another order', { order: 'oldest_first' as const }],
    ['another time range', { to: null }],
    ['other types', { types: null }],
  ])('refuses a cursor used with %s', (_label, change) => {
    const text = encodeCursor({ ...query, afterRevision: '41' });
    expect(codeOf(() => decodeHistoryCursor(text, { ...query, ...change }))).toBe('INVALID_CURSOR');
  });

  it.each([
    ['empty', ''],
    ['no prefix', Buffer.from('{}').toString('base64url')],
    ['not base64url', 'c1.a+b/'],
    ['not JSON', `c1.${Buffer.from('nope').toString('base64url')}`],
    ['an array', `c1.${Buffer.from('[]').toString('base64url')}`],
    ['an extra key', `c1.${Buffer.from(JSON.stringify({ ...query, afterRevision: '1', extra: 1 })).toString('base64url')}`],
    ['a non-decimal revision', `c1.${Buffer.from(JSON.stringify({ ...query, afterRevision: '1; DROP' })).toString('base64url')}`],
    ['a numeric revision', `c1.${Buffer.from(JSON.stringify({ ...query, afterRevision: 1 })).toString('base64url')}`],
    ['too long', `c1.${'A'.repeat(2_000)}`],
  ])('refuses a history cursor that is %s', (_label, text) => {
    expect(codeOf(() => decodeHistoryCursor(text, query))).toBe('INVALID_CURSOR');
  });

  it('binds a directory cursor to its owner and never accepts it as a history cursor', () => {
    const text = encodeCursor({ kind: 'directory', ownerId: 'alice', afterWalletId: 'w-9' });
    expect(decodeDirectoryCursor(text, 'alice').afterWalletId).toBe('w-9');
    expect(codeOf(() => decodeDirectoryCursor(text, 'bob'))).toBe('INVALID_CURSOR');
    expect(codeOf(() => decodeHistoryCursor(text, query))).toBe('INVALID_CURSOR');
  });
});
