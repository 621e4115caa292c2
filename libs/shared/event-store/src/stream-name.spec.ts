import { categoryOf, parseStreamName, streamNameOf } from './stream-name';

describe('stream names', () => {
  it('splits category and id at the first dash; ids may contain dashes', () => {
    expect(parseStreamName('wallet-3f2a-9c')).toEqual({ category: 'wallet', id: '3f2a-9c' });
    expect(categoryOf('payoutBatch-b1:row.2')).toBe('payoutBatch');
    expect(streamNameOf('wallet', 'abc')).toBe('wallet-abc');
  });

  it.each(['wallet', '-x', 'Wallet-1', 'wallet-', 'wallet-a b', '$all-x', 'wal_let-1', 'wallet-é', `w-${'x'.repeat(200)}`, ''])(
    'refuses %p with INVALID_STREAM_NAME',
    (name) => {
      expect(() => parseStreamName(name)).toThrow(expect.objectContaining({ code: 'INVALID_STREAM_NAME' }));
    },
  );
});
