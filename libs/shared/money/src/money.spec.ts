import fc from 'fast-check';
import { ValidationError } from '@ledger/errors';
import { CURRENCY_EXPONENTS, parseCurrency, type CurrencyCode } from './currencies';
import { formatAmount, MAX_AMOUNT_MINOR, minorFromText, parseAmount } from './money';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error instanceof ValidationError ? error.code : `not a ValidationError: ${String(error)}`;
  }
}

describe('parseAmount', () => {
  it.each([
    ['12.34', 'USD', 1234n],
    ['12.3', 'USD', 1230n],
    ['12', 'USD', 1200n],
    ['0.01', 'USD', 1n],
    ['1000', 'JPY', 1000n],
    ['1.005', 'KWD', 1005n],
    ['10000000000000.00', 'USD', MAX_AMOUNT_MINOR],
  ] as const)('parses %s %s exactly into %p minor units', (text, currency, minor) => {
    expect(parseAmount(text, currency)).toEqual({ amountMinor: minor, currency });
  });

  it.each([
    ['1.001', 'USD', 'AMOUNT_PRECISION'],
    ['1.5', 'JPY', 'AMOUNT_PRECISION'],
    ['0', 'USD', 'AMOUNT_NOT_POSITIVE'],
    ['0.00', 'USD', 'AMOUNT_NOT_POSITIVE'],
    ['-1.00', 'USD', 'INVALID_AMOUNT'],
    ['+1', 'USD', 'INVALID_AMOUNT'],
    ['1e3', 'USD', 'INVALID_AMOUNT'],
    ['1,000.00', 'USD', 'INVALID_AMOUNT'],
    ['NaN', 'USD', 'INVALID_AMOUNT'],
    ['Infinity', 'USD', 'INVALID_AMOUNT'],
    [' 1', 'USD', 'INVALID_AMOUNT'],
    ['1.', 'USD', 'INVALID_AMOUNT'],
    ['.5', 'USD', 'INVALID_AMOUNT'],
    ['01', 'USD', 'INVALID_AMOUNT'],
    ['0x10', 'USD', 'INVALID_AMOUNT'],
    ['１', 'USD', 'INVALID_AMOUNT'],
    ['10000000000000.01', 'USD', 'AMOUNT_TOO_LARGE'],
    ['9'.repeat(41), 'USD', 'INVALID_AMOUNT'],
  ] as const)('refuses %p in %s with %s', (text, currency, code) => {
    expect(codeOf(() => parseAmount(text, currency))).toBe(code);
  });

  it('refuses JavaScript numbers: floats never carry money', () => {
    expect(codeOf(() => parseAmount(12.34, 'USD'))).toBe('AMOUNT_NOT_A_STRING');
    expect(codeOf(() => parseAmount(10n, 'USD'))).toBe('AMOUNT_NOT_A_STRING');
  });

  it('round-trips every representable amount through formatAmount, for every currency', () => {
    const currencies = Object.keys(CURRENCY_EXPONENTS) as CurrencyCode[];
    fc.assert(
      fc.property(fc.constantFrom(...currencies), fc.bigInt({ min: 1n, max: MAX_AMOUNT_MINOR }), (currency, minor) => {
        const text = formatAmount(minor, currency);
        expect(parseAmount(text, currency).amountMinor).toBe(minor);
      }),
      { numRuns: 500 },
    );
  });
});

describe('formatAmount', () => {
  it('writes exactly the currency exponent, negatives included', () => {
    expect(formatAmount(1n, 'USD')).toBe('0.01');
    expect(formatAmount(-150n, 'USD')).toBe('-1.50');
    expect(formatAmount(5n, 'JPY')).toBe('5');
    expect(formatAmount(1n, 'KWD')).toBe('0.001');
    expect(formatAmount(0n, 'EUR')).toBe('0.00');
  });
});

describe('currencies', () => {
  it('knows exponents and refuses unknown or malformed codes by name', () => {
    expect(parseCurrency('JPY')).toBe('JPY');
    expect(codeOf(() => parseCurrency('XYZ'))).toBe('UNKNOWN_CURRENCY');
    expect(codeOf(() => parseCurrency('usd'))).toBe('INVALID_CURRENCY');
    expect(codeOf(() => parseCurrency(840))).toBe('INVALID_CURRENCY');
  });

  it('treats a malformed stored amount as corruption', () => {
    expect(() => minorFromText('1.5')).toThrow(/not an integer of minor units/);
    expect(minorFromText('-42')).toBe(-42n);
  });
});
