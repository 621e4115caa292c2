import fc from 'fast-check';
import { CURRENCY_EXPONENTS, formatAmount, MAX_AMOUNT_MINOR, type CurrencyCode } from '@ledger/money';
import { MAX_PAYOUT_REFERENCE_LENGTH, MAX_RECORDED_TEXT } from './payout.events';
import { isWalletId, validatePayoutRow, type RawRow, type RecipientInfo, type RowRejectionReason } from './payout-row.validation';

const SOURCE = '0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9';
const ALICE = '11111111-2222-4333-8444-555555555555';
const BOB = '66666666-7777-4888-9999-aaaaaaaaaaaa';
const USD_BATCH = { sourceWalletId: SOURCE, currency: 'USD' as CurrencyCode };
const ACTIVE_USD: RecipientInfo = { status: 'open', currency: 'USD' };

function raw(overrides: Partial<RawRow> = {}): RawRow {
  return { row: 7, recipientId: ALICE, amount: '12.34', reference: 'INV-1', ...overrides };
}

/** The reason a row alone (no earlier rows) is refused with, or null when it is valid. `null`: a recipient the directory does not know. */
function reasonOf(row: Partial<RawRow>, recipient: RecipientInfo | null = ACTIVE_USD, batch = USD_BATCH): string | null {
  return validatePayoutRow(raw(row), batch, recipient ?? undefined, new Map()).reason;
}

describe('validatePayoutRow', () => {
  it('records a valid row with its amount in minor units', () => {
    expect(validatePayoutRow(raw(), USD_BATCH, ACTIVE_USD, new Map())).toEqual({
      row: 7,
      recipientId: ALICE,
      amount: '12.34',
      amountMinor: '1234',
      amountMinorValue: 1234n,
      reference: 'INV-1',
      reason: null,
    });
  });

  it('records a missing or empty reference as none', () => {
    expect(validatePayoutRow(raw({ reference: undefined }), USD_BATCH, ACTIVE_USD, new Map())).toMatchObject({ reference: null, reason: null });
    expect(validatePayoutRow(raw({ reference: '' }), USD_BATCH, ACTIVE_USD, new Map())).toMatchObject({ reference: null, reason: null });
  });

  /** One row for every reason (the Record makes a new reason without a case a compile error). */
  const EVERY_REASON: Record<RowRejectionReason, { row: Partial<RawRow>; recipient?: RecipientInfo | undefined; currency?: CurrencyCode }> = {
    RECIPIENT_ID_INVALID: { row: { recipientId: 'alice' } },
    RECIPIENT_UNKNOWN: { row: {}, recipient: undefined },
    RECIPIENT_CLOSED: { row: {}, recipient: { status: 'closed', currency: 'USD' } },
    RECIPIENT_FROZEN: { row: {}, recipient: { status: 'frozen', currency: 'USD' } },
    CURRENCY_MISMATCH: { row: {}, recipient: { status: 'open', currency: 'EUR' } },
    SELF_PAYMENT: { row: { recipientId: SOURCE } },
    AMOUNT_INVALID: { row: { amount: '1e3' } },
    AMOUNT_PRECISION: { row: { amount: '0.001' } },
    AMOUNT_NOT_POSITIVE: { row: { amount: '0' } },
    AMOUNT_TOO_LARGE: { row: { amount: '10000000000000.01' } },
    REFERENCE_INVALID: { row: { reference: 'a\nb' } },
    DUPLICATE_ROW: { row: {} },
  };

  it.each(Object.entries(EVERY_REASON))('refuses with %s: no amount recorded', (reason, { row, ...rest }) => {
    const recipient = 'recipient' in rest ? rest.recipient : ACTIVE_USD;
    const seen = new Map<string, number>();
    if (reason === 'DUPLICATE_ROW') validatePayoutRow(raw({ row: 3 }), USD_BATCH, recipient, seen);
    const recorded = validatePayoutRow(raw(row), USD_BATCH, recipient, seen);
    expect(recorded).toMatchObject({ reason, amountMinor: null, amountMinorValue: null, row: 7 });
  });

  describe('amounts (plain decimals in the batch currency, exact, never rounded)', () => {
    it.each([
      ['1e3', 'AMOUNT_INVALID'],
      ['1,000.00', 'AMOUNT_INVALID'],
      ['1 000', 'AMOUNT_INVALID'],
      ['NaN', 'AMOUNT_INVALID'],
      ['Infinity', 'AMOUNT_INVALID'],
      ['-5', 'AMOUNT_INVALID'],
      ['+5', 'AMOUNT_INVALID'],
      ['', 'AMOUNT_INVALID'],
      [' 5', 'AMOUNT_INVALID'],
      ['5.', 'AMOUNT_INVALID'],
      ['.5', 'AMOUNT_INVALID'],
      ['05', 'AMOUNT_INVALID'],
      ['0x10', 'AMOUNT_INVALID'],
      ['12 USD', 'AMOUNT_INVALID'],
      ['9'.repeat(41), 'AMOUNT_INVALID'],
      ['0', 'AMOUNT_NOT_POSITIVE'],
      ['0.00', 'AMOUNT_NOT_POSITIVE'],
      ['0.001', 'AMOUNT_PRECISION'],
      ['1.999', 'AMOUNT_PRECISION'],
      ['10000000000000.01', 'AMOUNT_TOO_LARGE'],
    ])('USD %p: %s', (amount, reason) => {
      expect(reasonOf({ amount })).toBe(reason);
    });

    it.each([
      ['12.5', 'JPY', 'AMOUNT_PRECISION'],
      ['12.0', 'JPY', 'AMOUNT_PRECISION'],
      ['1.0001', 'KWD', 'AMOUNT_PRECISION'],
      ['1000000000000001', 'JPY', 'AMOUNT_TOO_LARGE'],
    ] as const)('%p in %s: %s', (amount, currency, reason) => {
      expect(reasonOf({ amount }, { status: 'open', currency }, { sourceWalletId: SOURCE, currency })).toBe(reason);
    });

    it.each([
      ['12.5', 'USD', 1250n],
      ['0.01', 'USD', 1n],
      ['12', 'JPY', 12n],
      ['1.005', 'KWD', 1005n],
      ['10000000000000.00', 'USD', MAX_AMOUNT_MINOR],
    ] as const)('%p in %s is %p minor units', (amount, currency, minor) => {
      const recorded = validatePayoutRow(raw({ amount }), { sourceWalletId: SOURCE, currency }, { status: 'open', currency }, new Map());
      expect(recorded).toMatchObject({ reason: null, amountMinor: minor.toString(), amountMinorValue: minor });
    });

    it('accepts every representable amount of every currency, exactly', () => {
      const currencies = Object.keys(CURRENCY_EXPONENTS) as CurrencyCode[];
      fc.assert(
        fc.property(fc.constantFrom(...currencies), fc.bigInt({ min: 1n, max: MAX_AMOUNT_MINOR }), (currency, minor) => {
          const recorded = validatePayoutRow(raw({ amount: formatAmount(minor, currency) }), { sourceWalletId: SOURCE, currency }, { status: 'open', currency }, new Map());
          expect([recorded.reason, recorded.amountMinorValue]).toEqual([null, minor]);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('references', () => {
    it.each([
      ['NUL', 'a\u0000b'],
      ['tab', 'a\tb'],
      ['line feed', 'INV-1\n'],
      ['carriage return', '\rINV'],
      ['unit separator', '\u001f'],
      ['DEL', 'x\u007f'],
    ])('refuses a reference with a control character (%s): REFERENCE_INVALID', (_name, reference) => {
      expect(reasonOf({ reference })).toBe('REFERENCE_INVALID');
    });

    it(`accepts ${MAX_PAYOUT_REFERENCE_LENGTH} characters and refuses one more, recording what was sent (bounded)`, () => {
      expect(reasonOf({ reference: 'r'.repeat(MAX_PAYOUT_REFERENCE_LENGTH) })).toBeNull();
      const long = validatePayoutRow(raw({ reference: 'r'.repeat(5000) }), USD_BATCH, ACTIVE_USD, new Map());
      expect(long.reason).toBe('REFERENCE_INVALID');
      expect(long.reference).toBe('r'.repeat(MAX_PAYOUT_REFERENCE_LENGTH + 1));
      expect(reasonOf({ reference: 'r'.repeat(MAX_PAYOUT_REFERENCE_LENGTH + 1) })).toBe('REFERENCE_INVALID');
    });

    it('accepts printable text beyond ASCII', () => {
      expect(reasonOf({ reference: 'Überweisung März – 請求書 #42' })).toBeNull();
    });
  });

  describe('recipients', () => {
    it.each([
      ['not a UUID', 'alice'],
      ['upper case', BOB.toUpperCase()],
      ['no version', '11111111-2222-0333-8444-555555555555'],
      ['wrong variant', '11111111-2222-4333-c444-555555555555'],
      ['surrounded by spaces', ` ${ALICE} `],
      ['empty', ''],
    ])('refuses a recipient id that is %s: RECIPIENT_ID_INVALID', (_case, recipientId) => {
      expect(isWalletId(recipientId)).toBe(false);
      expect(reasonOf({ recipientId })).toBe('RECIPIENT_ID_INVALID');
    });

    it('refuses paying the source wallet itself: SELF_PAYMENT (whatever the directory says)', () => {
      expect(reasonOf({ recipientId: SOURCE })).toBe('SELF_PAYMENT');
      expect(reasonOf({ recipientId: SOURCE }, null)).toBe('SELF_PAYMENT');
    });

    it.each([
      ['unknown', null, 'RECIPIENT_UNKNOWN'],
      ['closed', { status: 'closed', currency: 'USD' }, 'RECIPIENT_CLOSED'],
      ['frozen', { status: 'frozen', currency: 'USD' }, 'RECIPIENT_FROZEN'],
      ['in another currency', { status: 'open', currency: 'EUR' }, 'CURRENCY_MISMATCH'],
      ['closed and in another currency', { status: 'closed', currency: 'EUR' }, 'RECIPIENT_CLOSED'],
    ] as const)('refuses a recipient %s: %s', (_case, recipient, reason) => {
      expect(reasonOf({}, recipient)).toBe(reason);
    });
  });

  describe('duplicates (same recipient, amount and reference as an earlier valid row)', () => {
    function validateAll(rows: Array<Partial<RawRow>>, recipients: Record<string, RecipientInfo> = { [ALICE]: ACTIVE_USD, [BOB]: ACTIVE_USD }): Array<string | null> {
      const seen = new Map<string, number>();
      return rows.map((row, index) => validatePayoutRow(raw({ row: index + 1, ...row }), USD_BATCH, recipients[row.recipientId ?? ALICE], seen).reason);
    }

    it('refuses the second of two equal rows, and remembers the first by its row number', () => {
      const seen = new Map<string, number>();
      expect(validatePayoutRow(raw({ row: 1 }), USD_BATCH, ACTIVE_USD, seen).reason).toBeNull();
      expect(validatePayoutRow(raw({ row: 2 }), USD_BATCH, ACTIVE_USD, seen).reason).toBe('DUPLICATE_ROW');
      expect([...seen.values()]).toEqual([1]);
    });

    it('compares amounts by value: 10 and 10.00 are the same amount', () => {
      expect(validateAll([{ amount: '10' }, { amount: '10.00' }, { amount: '10.0' }])).toEqual([null, 'DUPLICATE_ROW', 'DUPLICATE_ROW']);
    });

    it('no reference and an empty reference are the same (none)', () => {
      expect(validateAll([{ reference: undefined }, { reference: '' }])).toEqual([null, 'DUPLICATE_ROW']);
    });

    it('is not a duplicate with another reference, amount or recipient', () => {
      expect(validateAll([{}, { reference: 'INV-2' }, { amount: '12.35' }, { recipientId: BOB }, { reference: undefined }])).toEqual([null, null, null, null, null]);
    });

    it('a refused row does not make a later equal row a duplicate', () => {
      const seen = new Map<string, number>();
      expect(validatePayoutRow(raw({ row: 1 }), USD_BATCH, { status: 'frozen', currency: 'USD' }, seen).reason).toBe('RECIPIENT_FROZEN');
      expect(validatePayoutRow(raw({ row: 2 }), USD_BATCH, ACTIVE_USD, seen).reason).toBeNull();
    });
  });

  it('checks in a fixed order: the recipient id, the amount, the reference, then the recipient', () => {
    expect(reasonOf({ recipientId: 'x', amount: 'NaN', reference: '\n' }, null)).toBe('RECIPIENT_ID_INVALID');
    expect(reasonOf({ amount: 'NaN', reference: '\n' }, null)).toBe('AMOUNT_INVALID');
    expect(reasonOf({ reference: '\n' }, null)).toBe('REFERENCE_INVALID');
    expect(reasonOf({ recipientId: SOURCE }, { status: 'frozen', currency: 'EUR' })).toBe('SELF_PAYMENT');
    expect(reasonOf({}, { status: 'frozen', currency: 'EUR' })).toBe('RECIPIENT_FROZEN');
  });

  it('records at most MAX_RECORDED_TEXT characters of what a refused row held', () => {
    const recorded = validatePayoutRow(raw({ recipientId: 'x'.repeat(10_000), amount: '9'.repeat(10_000) }), USD_BATCH, undefined, new Map());
    expect(recorded.reason).toBe('RECIPIENT_ID_INVALID');
    expect(recorded.recipientId).toHaveLength(MAX_RECORDED_TEXT);
    expect(recorded.amount).toHaveLength(MAX_RECORDED_TEXT);
  });
});
