import fc from 'fast-check';
import { parse } from 'papaparse';
import { InvariantViolationError } from '@ledger/errors';
import { csvCell, csvLine, csvNumberCell } from './csv-writer';

describe('csvCell', () => {
  it.each([
    ['', ''],
    ['R-1', 'R-1'],
    ['Invoice 7', 'Invoice 7'],
    ['12.50', '12.50'],
    [' padded ', ' padded '],
    ['Zürich 😀', 'Zürich 😀'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['line\nbreak', '"line\nbreak"'],
    ['line\r\nbreak', '"line\r\nbreak"'],
  ])('writes %p as %p (RFC 4180 quoting only when needed)', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it.each([
    ['=1+1', "'=1+1"],
    ['+1', "'+1"],
    ['-12.50', "'-12.50"],
    ['@SUM(A1:A2)', "'@SUM(A1:A2)"],
    ['\tx', "'\tx"],
    ['\rx', '"\'\rx"'],
    ['=HYPERLINK("http://x","y")', '"\'=HYPERLINK(""http://x"",""y"")"'],
    ['＝1+1', "'＝1+1"],
    ['a=1', 'a=1'],
    [' =1', ' =1'],
  ])('neutralises a formula trigger at the start: %p → %p', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 15 }),
    fc.string({ unit: fc.constantFrom('=', '-', '+', '@', '"', ',', '\r', '\n', '\t', '1', '＋'), maxLength: 6 }),
  );

  it('round-trips any text through a CSV parser: the value, quote-prefixed when it starts with a trigger', () => {
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 4 }), (values) => {
        // A first fixed cell: papaparse would strip a U+FEFF at the very start of its input.
        const line = csvLine(['#', ...values.map(csvCell)]);
        const result = parse<string[]>(line, { delimiter: ',', newline: '\r\n', quoteChar: '"' });
        expect(result.errors).toEqual([]);
        const cells = result.data[0]?.slice(1);
        expect(cells).toEqual(values.map((value) => (/^[=+\-@\t\r＝＋－＠]/.test(value) ? `'${value}` : value)));
        for (const parsed of cells ?? []) expect(parsed).not.toMatch(/^[=+\-@\t\r＝＋－＠]/);
      }),
    );
  });
});

describe('csvNumberCell', () => {
  it.each(['0', '7', '12.50', '-12.50', '1000000', '-0.001'])('writes our decimal %p as is, so it stays a number', (value) => {
    expect(csvNumberCell(value)).toBe(value);
  });

  it.each(['', '+1', '1e3', ' 1', '1 ', '1.', '.5', '-', '1,000', '=1', '１', '0x10', 'NaN', '-12.50\n'])(
    'refuses %p: only our own plain decimals go through unescaped',
    (value) => {
      expect(() => csvNumberCell(value)).toThrow(InvariantViolationError);
    },
  );
});

describe('csvLine', () => {
  it('joins escaped cells with commas and ends the record with CRLF', () => {
    expect(csvLine([csvCell('R1'), csvNumberCell('-12.50'), csvCell('a,b')])).toBe('R1,-12.50,"a,b"\r\n');
    expect(csvLine([])).toBe('\r\n');
  });
});
