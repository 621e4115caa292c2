import fc from 'fast-check';
import { balanceToMinor, hotPicker, idempotencyKey, MAX_TRANSFER_MINOR, spreadPicker, transferAmountMinor } from './transfer-plan';

/** A deterministic stand-in for Math.random: cycles through the given values. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('spreadPicker', () => {
  it('never picks the same wallet twice, and reaches every other wallet (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 50 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, a, b) => {
        const wallets = Array.from({ length: n }, (_, i) => `w${i}`);
        const { from, to } = spreadPicker(wallets, sequence(a, b))();
        expect(from).not.toBe(to);
        expect(wallets).toContain(from);
        expect(wallets).toContain(to);
      }),
    );
  });

  it('maps the random draws onto the wallets uniformly, skipping the source', () => {
    const wallets = ['a', 'b', 'c'];
    expect(spreadPicker(wallets, sequence(0, 0))()).toEqual({ from: 'a', to: 'b' });
    expect(spreadPicker(wallets, sequence(0.5, 0))()).toEqual({ from: 'b', to: 'a' });
    expect(spreadPicker(wallets, sequence(0.5, 0.99))()).toEqual({ from: 'b', to: 'c' });
    expect(spreadPicker(wallets, sequence(0.99, 0.99))()).toEqual({ from: 'c', to: 'b' });
    expect(() => spreadPicker(['only'])).toThrow(RangeError);
  });
});

describe('hotPicker', () => {
  it('always pays from the hot wallet to another wallet', () => {
    const pick = hotPicker('hot', ['a', 'hot', 'b'], sequence(0, 0.99));
    expect(pick()).toEqual({ from: 'hot', to: 'a' });
    expect(pick()).toEqual({ from: 'hot', to: 'b' });
    expect(() => hotPicker('hot', ['hot'])).toThrow(RangeError);
  });
});

describe('amounts, keys and balances', () => {
  it('cycles amounts through 1..99 minor units', () => {
    expect([0, 1, 98, 99, 100].map(transferAmountMinor)).toEqual([1, 2, 99, 1, 2]);
    fc.assert(fc.property(fc.nat(), (n) => transferAmountMinor(n) >= 1 && transferAmountMinor(n) <= MAX_TRANSFER_MINOR));
  });

  it('makes idempotency keys the API accepts, unique per run, cell and request', () => {
    const key = idempotencyKey('1a2b3c4d', 12, 123_456);
    expect(key).toBe('1a2b3c4d.c12.2n9c');
    expect(key).toMatch(/^[A-Za-z0-9_.:-]{8,128}$/);
    expect(idempotencyKey('1a2b3c4d', 1, 23)).not.toBe(idempotencyKey('1a2b3c4d', 12, 3));
  });

  it('reads balances exactly, zero included, and refuses anything else', () => {
    expect(balanceToMinor('100000.00', 2)).toBe(10_000_000n);
    expect(balanceToMinor('0.00', 2)).toBe(0n);
    expect(balanceToMinor('0.07', 2)).toBe(7n);
    expect(balanceToMinor('500', 0)).toBe(500n);
    for (const bad of ['1.5', '-1.00', '1e3', '01.00', '1.000', '']) expect(() => balanceToMinor(bad, 2)).toThrow();
  });
});
