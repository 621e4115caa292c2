import fc from 'fast-check';
import { ValidationError } from '@ledger/errors';
import { IDEMPOTENCY_KEY_PATTERN } from '@ledger/event-sourcing';
import { CURRENCY_EXPONENTS, type CurrencyCode } from '@ledger/money';
import {
  decodePayoutCommand,
  decodePayoutResult,
  encodePayoutCommand,
  encodePayoutResult,
  MAX_PAYOUT_MESSAGE_CHARS,
  MAX_ROWS_PER_COMMAND,
  MAX_SEQUENCE_NUMBER,
  PAYOUT_COMMAND_SCHEMA,
  PAYOUT_MESSAGE_INVALID,
  PAYOUT_RESULT_SCHEMA,
  PAYOUTS_IDEMPOTENCY_SCOPE,
  payoutHoldKey,
  PayoutMessageError,
  payoutReleaseKey,
  payoutReversalKey,
  payoutRowKey,
  type PayoutCommand,
  type PayoutResult,
  type PayPayoutRows,
} from './index';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const BATCH = '0b6c3f1e-7d1a-4c55-9a0e-3f1f2b8e9d01';
const SOURCE = '1c0f6a52-2d0b-4e8a-8f7e-5b9b2a4c6d02';
const HOLD = '2d1e7b63-3e1c-4f9b-9a8f-6cac3b5d7e03';
const RECIPIENT = '3e2f8c74-4f2d-4a0c-ab90-7dbd4c6e8f04';
const TX = '4f309d85-503e-4b1d-bca1-8ece5d7f9005';

const uuid = fc.uuid({ version: [1, 2, 3, 4, 5, 6, 7, 8] });
const positiveMinor = fc.bigInt({ min: 1n, max: 10n ** 31n - 1n }).map(String);
const anyMinor = fc.oneof(fc.constant('0'), positiveMinor);
const currency = fc.constantFrom(...(Object.keys(CURRENCY_EXPONENTS) as CurrencyCode[]));
const rowNumber = fc.integer({ min: 1, max: MAX_SEQUENCE_NUMBER });
const chunk = fc.integer({ min: 0, max: MAX_SEQUENCE_NUMBER });
const instant = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());
const reference = fc.string({ minLength: 1, maxLength: 140 }).filter((s) => !CONTROL.test(s));
const code = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,63}$/);
const position = positiveMinor;

const command: fc.Arbitrary<PayoutCommand> = fc.oneof(
  fc.record({ type: fc.constant('ReservePayoutFunds' as const), batchId: uuid, sourceWalletId: uuid, holdId: uuid, currency, amountMinor: positiveMinor, expiresAt: instant }),
  fc.record({
    type: fc.constant('PayPayoutRows' as const),
    batchId: uuid,
    chunk,
    sourceWalletId: uuid,
    holdId: uuid,
    currency,
    rows: fc.uniqueArray(
      fc.record({ row: rowNumber, recipientWalletId: uuid, amountMinor: positiveMinor, reference }, { requiredKeys: ['row', 'recipientWalletId', 'amountMinor'] }),
      { minLength: 1, maxLength: 20, selector: (r) => r.row },
    ),
  }),
  fc.record({ type: fc.constant('ReleasePayoutReservation' as const), batchId: uuid, sourceWalletId: uuid, holdId: uuid }),
  fc.record({
    type: fc.constant('ReversePayoutRows' as const),
    batchId: uuid,
    chunk,
    sourceWalletId: uuid,
    currency,
    rows: fc.uniqueArray(fc.record({ row: rowNumber, attempt: rowNumber, recipientWalletId: uuid, amountMinor: positiveMinor }), {
      minLength: 1,
      maxLength: 20,
      selector: (r) => `${r.row}/${r.attempt}`,
    }),
  }),
);

const rowResult = fc.oneof(
  fc.record({ row: rowNumber, outcome: fc.constant('SUCCEEDED' as const), transactionId: uuid, position }, { requiredKeys: ['row', 'outcome', 'transactionId'] }),
  fc.record({ row: rowNumber, outcome: fc.constant('FAILED' as const), reason: code, position }, { requiredKeys: ['row', 'outcome', 'reason'] }),
);
const reversalResult = fc.oneof(
  fc.record({ row: rowNumber, attempt: rowNumber, outcome: fc.constant('REVERSED' as const), transactionId: uuid, position }, { requiredKeys: ['row', 'attempt', 'outcome', 'transactionId'] }),
  fc.record({ row: rowNumber, attempt: rowNumber, outcome: fc.constant('REVERSAL_FAILED' as const), reason: code, position }, { requiredKeys: ['row', 'attempt', 'outcome', 'reason'] }),
);

const result: fc.Arbitrary<PayoutResult> = fc.oneof(
  fc.record({ type: fc.constant('PayoutFundsReserved' as const), batchId: uuid, holdId: uuid, amountMinor: positiveMinor, position }),
  fc.record({ type: fc.constant('PayoutReservationRefused' as const), batchId: uuid, holdId: uuid, reason: code, message: fc.string({ maxLength: 500 }).filter((s) => !CONTROL.test(s)) }),
  fc.record({ type: fc.constant('PayoutRowsProcessed' as const), batchId: uuid, chunk, results: fc.uniqueArray(rowResult, { minLength: 1, maxLength: 20, selector: (r) => r.row }) }),
  fc.record(
    { type: fc.constant('PayoutReservationReleased' as const), batchId: uuid, holdId: uuid, releasedMinor: anyMinor, position, note: code },
    { requiredKeys: ['type', 'batchId', 'holdId', 'releasedMinor'] },
  ),
  fc.record({
    type: fc.constant('PayoutRowsReversed' as const),
    batchId: uuid,
    chunk,
    results: fc.uniqueArray(reversalResult, { minLength: 1, maxLength: 20, selector: (r) => `${r.row}/${r.attempt}` }),
  }),
);

/** The error a decode throws, or a failure message when it does not throw the named error. */
function rejection(decode: () => unknown): { code: string; reason: string; path: string } {
  try {
    decode();
  } catch (error) {
    if (!(error instanceof PayoutMessageError)) throw new Error(`expected PayoutMessageError, got ${String(error)}`);
    return { code: error.code, reason: error.reason, path: error.path };
  }
  throw new Error('expected the decode to be refused');
}

const reserve = { schema: PAYOUT_COMMAND_SCHEMA, type: 'ReservePayoutFunds', batchId: BATCH, sourceWalletId: SOURCE, holdId: HOLD, currency: 'USD', amountMinor: '150000', expiresAt: '2026-11-21T10:00:00Z' };
const pay = {
  schema: PAYOUT_COMMAND_SCHEMA,
  type: 'PayPayoutRows',
  batchId: BATCH,
  chunk: 0,
  sourceWalletId: SOURCE,
  holdId: HOLD,
  currency: 'USD',
  rows: [
    { row: 1, recipientWalletId: RECIPIENT, amountMinor: '1000', reference: 'invoice 42' },
    { row: 2, recipientWalletId: RECIPIENT, amountMinor: '2500' },
  ],
};
const reverse = { schema: PAYOUT_COMMAND_SCHEMA, type: 'ReversePayoutRows', batchId: BATCH, chunk: 3, sourceWalletId: SOURCE, currency: 'USD', rows: [{ row: 1, attempt: 1, recipientWalletId: RECIPIENT, amountMinor: '1000' }] };
const processed = {
  schema: PAYOUT_RESULT_SCHEMA,
  type: 'PayoutRowsProcessed',
  batchId: BATCH,
  chunk: 0,
  results: [
    { row: 1, outcome: 'SUCCEEDED', transactionId: TX, position: '17' },
    { row: 2, outcome: 'FAILED', reason: 'WALLET_FROZEN', position: '18' },
  ],
};
const json = (value: unknown): string => JSON.stringify(value);


describe('payout messages: round trips', () => {
  it('decode(encode(command)) is the command, for any valid command', () => {
    fc.assert(
      fc.property(command, (c) => {
        const value = encodePayoutCommand(c);
        expect(JSON.parse(value)).toMatchObject({ schema: PAYOUT_COMMAND_SCHEMA, type: c.type });
        expect(decodePayoutCommand(value)).toEqual(c);
      }),
      { numRuns: 300 },
    );
  });

  it('decode(encode(result)) is the result, for any valid result', () => {
    fc.assert(
      fc.property(result, (r) => {
        const value = encodePayoutResult(r);
        expect(JSON.parse(value)).toMatchObject({ schema: PAYOUT_RESULT_SCHEMA, type: r.type });
        expect(decodePayoutResult(value)).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes the documented examples field for field', () => {
    const { schema: _schema, ...reserveFields } = reserve;
    expect(decodePayoutCommand(json(reserve))).toEqual(reserveFields);
    expect(decodePayoutCommand(json(pay))).toMatchObject({ type: 'PayPayoutRows', chunk: 0, rows: [{ row: 1, reference: 'invoice 42' }, { row: 2 }] });
    expect(decodePayoutResult(json(processed))).toMatchObject({ type: 'PayoutRowsProcessed', results: [{ outcome: 'SUCCEEDED', transactionId: TX }, { outcome: 'FAILED', reason: 'WALLET_FROZEN' }] });
    expect(
      decodePayoutResult(json({ schema: PAYOUT_RESULT_SCHEMA, type: 'PayoutReservationReleased', batchId: BATCH, holdId: HOLD, releasedMinor: '0', note: 'HOLD_EXPIRED' })),
    ).toEqual({ type: 'PayoutReservationReleased', batchId: BATCH, holdId: HOLD, releasedMinor: '0', note: 'HOLD_EXPIRED' });
  });

  it('encodes in canonical field order, and drops an optional field left undefined', () => {
    const value = encodePayoutCommand({ type: 'ReleasePayoutReservation', holdId: HOLD, sourceWalletId: SOURCE, batchId: BATCH });
    expect(value).toBe(`{"schema":"${PAYOUT_COMMAND_SCHEMA}","type":"ReleasePayoutReservation","batchId":"${BATCH}","sourceWalletId":"${SOURCE}","holdId":"${HOLD}"}`);
    const withUndefined = encodePayoutCommand({ ...(decodePayoutCommand(json(pay)) as Extract<PayoutCommand, { type: 'PayPayoutRows' }>), rows: [{ row: 1, recipientWalletId: RECIPIENT, amountMinor: '1', reference: undefined }] });
    expect(JSON.parse(withUndefined).rows[0]).toEqual({ row: 1, recipientWalletId: RECIPIENT, amountMinor: '1' });
  });
});

describe('payout messages: strict decoding', () => {
  it('refuses with the named error PAYOUT_MESSAGE_INVALID (a ValidationError) and a reason', () => {
    let caught: unknown;
    try {
      decodePayoutCommand('not json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PayoutMessageError);
    expect(caught).toBeInstanceOf(ValidationError);
    expect(caught).toMatchObject({ code: PAYOUT_MESSAGE_INVALID, reason: 'the message value is not JSON', name: 'PayoutMessageError' });
  });

  it.each([
    ['not JSON', '{', '$', /not JSON/],
    ['JSON but not an object', '[1]', '$', /JSON object/],
    ['a missing schema', json({ ...reserve, schema: undefined }), '$.schema', /missing/],
    ['an unknown schema', json({ ...reserve, schema: 'payouts.command.v2' }), '$.schema', /unknown schema 'payouts.command.v2'/],
    ['a result schema on the command topic', json({ ...reserve, schema: PAYOUT_RESULT_SCHEMA }), '$.schema', /unknown schema/],
    ['an unknown type', json({ ...reserve, type: 'PayEverything' }), '$.type', /unknown command type 'PayEverything'/],
    ['a missing field', json({ ...reserve, holdId: undefined }), '$.holdId', /missing/],
    ['an extra field', json({ ...reserve, priority: 'high' }), '$.priority', /not a field/],
    ['an extra __proto__ field', `{"__proto__":{},${json(reserve).slice(1)}`, '$.__proto__', /not a field/],
    ['a numeric amount', json({ ...reserve, amountMinor: 150000 }), '$.amountMinor', /decimal string.*number/],
    ['a decimal amount', json({ ...reserve, amountMinor: '1500.00' }), '$.amountMinor', /must match/],
    ['a negative amount', json({ ...reserve, amountMinor: '-5' }), '$.amountMinor', /must match/],
    ['a leading zero', json({ ...reserve, amountMinor: '0150' }), '$.amountMinor', /must match/],
    ['an exponent', json({ ...reserve, amountMinor: '1e5' }), '$.amountMinor', /must match/],
    ['32 digits', json({ ...reserve, amountMinor: '1'.repeat(32) }), '$.amountMinor', /must match/],
    ['a zero reservation', json({ ...reserve, amountMinor: '0' }), '$.amountMinor', /greater than zero/],
    ['an upper-case UUID', json({ ...reserve, batchId: BATCH.toUpperCase() }), '$.batchId', /UUID/],
    ['a non-UUID id', json({ ...reserve, sourceWalletId: 'wallet-1' }), '$.sourceWalletId', /UUID/],
    ['an unknown currency', json({ ...reserve, currency: 'XXX' }), '$.currency', /currency/],
    ['a local time', json({ ...reserve, expiresAt: '2026-11-21T10:00:00+01:00' }), '$.expiresAt', /UTC/],
    ['an impossible date', json({ ...reserve, expiresAt: '2026-02-30T10:00:00Z' }), '$.expiresAt', /UTC/],
    ['a fractional row', json({ ...pay, rows: [{ row: 1.5, recipientWalletId: RECIPIENT, amountMinor: '1' }] }), '$.rows[0].row', /integer/],
    ['a row 0', json({ ...pay, rows: [{ row: 0, recipientWalletId: RECIPIENT, amountMinor: '1' }] }), '$.rows[0].row', /integer from 1/],
    ['a string row', json({ ...pay, rows: [{ row: '1', recipientWalletId: RECIPIENT, amountMinor: '1' }] }), '$.rows[0].row', /integer/],
    ['a negative chunk', json({ ...pay, chunk: -1 }), '$.chunk', /integer from 0/],
    ['a zero row amount', json({ ...pay, rows: [{ row: 1, recipientWalletId: RECIPIENT, amountMinor: '0' }] }), '$.rows[0].amountMinor', /greater than zero/],
    ['a repeated row', json({ ...pay, rows: [pay.rows[1], pay.rows[1]] }), '$.rows[1]', /repeats row 2/],
    ['no rows', json({ ...pay, rows: [] }), '$.rows', /1 to 1000 entries/],
    ['an empty reference', json({ ...pay, rows: [{ ...pay.rows[0], reference: '' }] }), '$.rows[0].reference', /1 to 140/],
    ['a reference with a newline', json({ ...pay, rows: [{ ...pay.rows[0], reference: 'a\nb' }] }), '$.rows[0].reference', /control/],
    ['a 141-character reference', json({ ...pay, rows: [{ ...pay.rows[0], reference: 'r'.repeat(141) }] }), '$.rows[0].reference', /1 to 140/],
    ['an extra row field', json({ ...pay, rows: [{ ...pay.rows[1], currency: 'USD' }] }), '$.rows[0].currency', /not a field/],
    ['a reversal attempt 0', json({ ...reverse, rows: [{ ...reverse.rows[0], attempt: 0 }] }), '$.rows[0].attempt', /integer from 1/],
    ['a repeated (row, attempt)', json({ ...reverse, rows: [reverse.rows[0], reverse.rows[0]] }), '$.rows[1]', /repeats \(row, attempt\) 1\/1/],
  ])('refuses a command with %s', (_what, value, path, reason) => {
    const refused = rejection(() => decodePayoutCommand(value));
    expect(refused.code).toBe(PAYOUT_MESSAGE_INVALID);
    expect(refused.path).toBe(path);
    expect(refused.reason).toMatch(reason);
  });

  it('refuses more than MAX_ROWS_PER_COMMAND rows, and accepts exactly that many', () => {
    const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ row: i + 1, recipientWalletId: RECIPIENT, amountMinor: '1' }));
    expect(rejection(() => decodePayoutCommand(json({ ...pay, rows: rows(MAX_ROWS_PER_COMMAND + 1) })))).toMatchObject({ path: '$.rows', reason: expect.stringMatching(/1 to 1000/) });
    expect((decodePayoutCommand(json({ ...pay, rows: rows(MAX_ROWS_PER_COMMAND) })) as PayPayoutRows).rows).toHaveLength(MAX_ROWS_PER_COMMAND);
  });

  it('refuses an oversized value before parsing it', () => {
    expect(rejection(() => decodePayoutCommand(' '.repeat(MAX_PAYOUT_MESSAGE_CHARS + 1))).reason).toMatch(/at most 1048576/);
  });

  it.each([
    ['an unknown type', json({ ...processed, type: 'PayoutRowsDone' }), '$.type'],
    ['a command schema', json({ ...processed, schema: PAYOUT_COMMAND_SCHEMA }), '$.schema'],
    ['SUCCEEDED without a transaction id', json({ ...processed, results: [{ row: 1, outcome: 'SUCCEEDED', position: '1' }] }), '$.results[0].transactionId'],
    ['SUCCEEDED with a reason', json({ ...processed, results: [{ row: 1, outcome: 'SUCCEEDED', transactionId: TX, reason: 'X' }] }), '$.results[0].reason'],
    ['FAILED without a reason', json({ ...processed, results: [{ row: 1, outcome: 'FAILED' }] }), '$.results[0].reason'],
    ['FAILED with a transaction id', json({ ...processed, results: [{ row: 1, outcome: 'FAILED', reason: 'X', transactionId: TX }] }), '$.results[0].transactionId'],
    ['an unknown outcome', json({ ...processed, results: [{ row: 1, outcome: 'MAYBE' }] }), '$.results[0].outcome'],
    ['a lower-case reason', json({ ...processed, results: [{ row: 1, outcome: 'FAILED', reason: 'frozen' }] }), '$.results[0].reason'],
    ['a numeric position', json({ ...processed, results: [{ row: 1, outcome: 'FAILED', reason: 'X', position: 5 }] }), '$.results[0].position'],
    ['a repeated row', json({ ...processed, results: [processed.results[0], processed.results[0]] }), '$.results[1]'],
    ['a negative released amount', json({ schema: PAYOUT_RESULT_SCHEMA, type: 'PayoutReservationReleased', batchId: BATCH, holdId: HOLD, releasedMinor: '-1' }), '$.releasedMinor'],
    ['a reserved amount of zero', json({ schema: PAYOUT_RESULT_SCHEMA, type: 'PayoutFundsReserved', batchId: BATCH, holdId: HOLD, amountMinor: '0', position: '1' }), '$.amountMinor'],
    ['a refusal without a message', json({ schema: PAYOUT_RESULT_SCHEMA, type: 'PayoutReservationRefused', batchId: BATCH, holdId: HOLD, reason: 'INSUFFICIENT_FUNDS' }), '$.message'],
    [
      'REVERSED without an attempt',
      json({ schema: PAYOUT_RESULT_SCHEMA, type: 'PayoutRowsReversed', batchId: BATCH, chunk: 0, results: [{ row: 1, outcome: 'REVERSED', transactionId: TX }] }),
      '$.results[0].attempt',
    ],
  ])('refuses a result with %s', (_what, value, path) => {
    const refused = rejection(() => decodePayoutResult(value));
    expect(refused.code).toBe(PAYOUT_MESSAGE_INVALID);
    expect(refused.path).toBe(path);
  });

  it('encoders refuse what decoders would refuse, so a producer cannot send it', () => {
    expect(() => encodePayoutCommand({ ...(decodePayoutCommand(json(reserve)) as Extract<PayoutCommand, { type: 'ReservePayoutFunds' }>), amountMinor: '12.50' })).toThrow(PayoutMessageError);
    expect(() => encodePayoutResult({ type: 'PayoutRowsProcessed', batchId: BATCH, chunk: 0, results: [] })).toThrow(/1 to 1000 entries/);
    expect(() => encodePayoutCommand({ type: 'ReleasePayoutReservation', batchId: BATCH, sourceWalletId: SOURCE, holdId: HOLD, extra: 1 } as unknown as PayoutCommand)).toThrow(/not a field/);
  });

  it('never throws anything but PayoutMessageError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), command.map((c) => json({ schema: PAYOUT_COMMAND_SCHEMA, ...c, extra: true }))), (value) => {
        for (const decode of [decodePayoutCommand, decodePayoutResult]) {
          try {
            decode(value);
          } catch (error) {
            expect(error).toBeInstanceOf(PayoutMessageError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('payout idempotency keys', () => {
  it('are the documented deterministic strings', () => {
    expect(payoutRowKey(BATCH, 7)).toBe(`payout:${BATCH}:7`);
    expect(payoutHoldKey(BATCH)).toBe(`payout-hold:${BATCH}`);
    expect(payoutReleaseKey(BATCH)).toBe(`payout-release:${BATCH}`);
    expect(payoutReversalKey(BATCH, 7, 2)).toBe(`payout-reversal:${BATCH}:7:2`);
    expect(PAYOUTS_IDEMPOTENCY_SCOPE).toBe('service:payouts');
  });

  it('always satisfy the ledger idempotency key pattern, even at the largest numbers', () => {
    fc.assert(
      fc.property(uuid, rowNumber, rowNumber, (batchId, row, attempt) => {
        for (const key of [payoutRowKey(batchId, row), payoutHoldKey(batchId), payoutReleaseKey(batchId), payoutReversalKey(batchId, row, attempt)]) {
          expect(key).toMatch(IDEMPOTENCY_KEY_PATTERN);
        }
      }),
    );
    expect(payoutReversalKey(BATCH, MAX_SEQUENCE_NUMBER, MAX_SEQUENCE_NUMBER)).toMatch(IDEMPOTENCY_KEY_PATTERN);
  });

  it('are distinct per effect: no two rows, attempts or steps share a key', () => {
    const keys = new Set([payoutHoldKey(BATCH), payoutReleaseKey(BATCH), payoutRowKey(BATCH, 1), payoutRowKey(BATCH, 11), payoutReversalKey(BATCH, 1, 1), payoutReversalKey(BATCH, 1, 11), payoutReversalKey(BATCH, 11, 1)]);
    expect(keys.size).toBe(7);
  });

  it('refuse a malformed batch id or row number', () => {
    expect(() => payoutRowKey('batch-1', 1)).toThrow(PayoutMessageError);
    expect(() => payoutRowKey(BATCH, 0)).toThrow(PayoutMessageError);
    expect(() => payoutReversalKey(BATCH, 1, 1.5)).toThrow(PayoutMessageError);
  });
});
