import { Readable } from 'node:stream';
import { ValidationError } from '@ledger/errors';
import {
  bytesOf,
  collectBatches,
  errorOf,
  InstrumentedSource,
  outcomeOf,
  parseText,
  sourceOf,
  splitAt,
  splitEvery,
} from './csv-test-sources.spec-helper';
import { DEFAULT_PAYOUT_CSV_LIMITS, parsePayoutCsv, type PayoutCsvLimits, type RawPayoutRow } from './parse-payout-csv';
import { PayoutCsvError } from './payout-csv-error';

const BOM = [0xef, 0xbb, 0xbf];

function limits(overrides: Partial<PayoutCsvLimits>): PayoutCsvLimits {
  return { ...DEFAULT_PAYOUT_CSV_LIMITS, ...overrides };
}

function row(row: number, line: number, recipientId: string, amount: string, reference?: string): RawPayoutRow {
  return { row, recipientId, amount, reference, line };
}

describe('parsePayoutCsv: well-formed files', () => {
  it('parses a two-column file (no reference)', async () => {
    await expect(parseText('recipient_id,amount\nR1,10.00\nR2,0.5\n')).resolves.toEqual([
      row(1, 2, 'R1', '10.00'),
      row(2, 3, 'R2', '0.5'),
    ]);
  });

  it('parses a three-column file; an empty reference is undefined', async () => {
    await expect(parseText('recipient_id,amount,reference\nR1,10.00,Invoice 7\nR2,3,\nR3,4,  \n')).resolves.toEqual([
      row(1, 2, 'R1', '10.00', 'Invoice 7'),
      row(2, 3, 'R2', '3'),
      row(3, 4, 'R3', '4'),
    ]);
  });

  it('trims every field and the header names, keeps inner spaces, and never interprets the amount', async () => {
    const text = ' recipient_id ,\tamount , reference\n  R1 , -1e3 ,  Invoice  7  \n';
    await expect(parseText(text)).resolves.toEqual([row(1, 2, 'R1', '-1e3', 'Invoice  7')]);
  });

  it('strips a UTF-8 BOM, even when it arrives one byte per chunk', async () => {
    const bytes = bytesOf(BOM, 'recipient_id,amount\nR1,1\n');
    const expected = [row(1, 2, 'R1', '1')];
    await expect(parseText(bytes)).resolves.toEqual(expected);
    await expect(collectBatches(splitEvery(bytes, 1))).resolves.toEqual([expected]);
  });

  it('strips only one BOM: a second U+FEFF is data (and trimmed as whitespace)', async () => {
    await expect(parseText(bytesOf(BOM, 'recipient_id,amount\n\ufeffR1,1\n'))).resolves.toEqual([row(1, 2, 'R1', '1')]);
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('accepts %s line endings, with or without a final line break', async (_name, eol) => {
    const expected = [row(1, 2, 'R1', '1'), row(2, 3, 'R2', '2')];
    await expect(parseText(`recipient_id,amount${eol}R1,1${eol}R2,2${eol}`)).resolves.toEqual(expected);
    await expect(parseText(`recipient_id,amount${eol}R1,1${eol}R2,2`)).resolves.toEqual(expected);
  });

  it('accepts mixed line endings and counts physical lines across them', async () => {
    const text = 'recipient_id,amount\r\nR1,1\nR2,2\rR3,3\r\n\r\nR4,4\n';
    await expect(parseText(text)).resolves.toEqual([
      row(1, 2, 'R1', '1'),
      row(2, 3, 'R2', '2'),
      row(3, 4, 'R3', '3'),
      row(4, 6, 'R4', '4'),
    ]);
  });

  it('skips blank and whitespace-only lines anywhere (before the header too) without counting them as rows', async () => {
    const text = '\n \r\nrecipient_id,amount\n\nR1,1\n \t \n\r\nR2,2\n\n\n';
    await expect(parseText(text)).resolves.toEqual([row(1, 5, 'R1', '1'), row(2, 8, 'R2', '2')]);
  });

  it('keeps a line of empty fields as a row (structure is fine; business validation rejects it elsewhere)', async () => {
    await expect(parseText('recipient_id,amount\n , \n')).resolves.toEqual([row(1, 2, '', '')]);
  });

  it('unquotes quoted fields: embedded commas, doubled quotes, spaces inside quotes and after the closing quote', async () => {
    const text =
      '"recipient_id","amount","reference"\n' +
      '"R,1","1.00","Invoice ""7"", March"\n' +
      '"  R2  "  ,"2",""\n' +
      'R3,3,say "hi"\n';
    await expect(parseText(text)).resolves.toEqual([
      row(1, 2, 'R,1', '1.00', 'Invoice "7", March'),
      row(2, 3, 'R2', '2'),
      row(3, 4, 'R3', '3', 'say "hi"'),
    ]);
  });

  it('treats a quote after leading whitespace as data, as RFC 4180 does (the amount then fails business validation)', async () => {
    await expect(parseText('recipient_id,amount,reference\nR1, "1.00", "Invoice 7"\n')).resolves.toEqual([
      row(1, 2, 'R1', '"1.00"', '"Invoice 7"'),
    ]);
    const error = await errorOf(parseText('recipient_id,amount,reference\nR1,1, "Invoice 7, March"\n'));
    expect(error.details).toEqual({ row: 1, line: 2, expectedFields: 3, foundFields: 4 });
  });

  it('keeps multi-byte characters intact', async () => {
    const text = 'recipient_id,amount,reference\nRé€😀,1,Zürich – 東京 😀\n';
    await expect(parseText(text)).resolves.toEqual([row(1, 2, 'Ré€😀', '1', 'Zürich – 東京 😀')]);
  });

  it('accepts a file of exactly the limits', async () => {
    const text = 'recipient_id,amount\nR1,1\nR2,2\n';
    const exact = limits({ maxFileBytes: Buffer.byteLength(text), maxRows: 2, maxLineBytes: 'recipient_id,amount'.length });
    await expect(parseText(text, { limits: exact })).resolves.toHaveLength(2);
  });
});

describe('parsePayoutCsv: chunk boundaries', () => {
  // Multi-byte characters (2, 3 and 4 bytes), a BOM, CRLF, quoted fields with commas, doubled quotes
  // and spaces, blank lines: every cut position falls inside one of them at some point.
  const sample = bytesOf(
    BOM,
    'recipient_id,amount,reference\r\n' +
      'Ré,1.00,"Zürich, ""Süd"""\r\n' +
      '\r\n' +
      '€uro , 2 ,"😀 a,b"  \n' +
      '"😀",3,東京\r' +
      'R4,4,\r\n',
  );

  let expected: RawPayoutRow[];
  beforeAll(async () => {
    expected = await parseText(sample);
    expect(expected).toEqual([
      row(1, 2, 'Ré', '1.00', 'Zürich, "Süd"'),
      row(2, 4, '€uro', '2', '😀 a,b'),
      row(3, 5, '😀', '3', '東京'),
      row(4, 6, 'R4', '4'),
    ]);
  });

  it('parses the same rows whatever single cut splits the bytes', async () => {
    for (let cut = 1; cut < sample.length; cut++) {
      const rows = (await collectBatches(splitAt(sample, [cut]))).flat();
      expect({ cut, rows }).toEqual({ cut, rows: expected });
    }
  });

  it('parses the same rows from one-, two- and three-byte chunks', async () => {
    for (const size of [1, 2, 3]) {
      await expect(collectBatches(splitEvery(sample, size)).then((batches) => batches.flat())).resolves.toEqual(expected);
    }
  });

  it('treats a U+FEFF at the start of a later line as data, also when a chunk starts there', async () => {
    // papaparse strips a leading U+FEFF from its input: it must not do so at a chunk's first line.
    const bytes = bytesOf('recipient_id,amount\n\ufeff"R,1",1\n');
    for (let cut = 1; cut < bytes.length; cut++) {
      const outcome = await outcomeOf(splitAt(bytes, [cut]));
      expect({ cut, outcome }).toEqual({ cut, outcome: { error: { code: 'CSV_MALFORMED', line: 2, row: 1 } } });
    }
  });

  it('ignores empty chunks', async () => {
    const chunks = splitEvery(sample, 5).flatMap((chunk) => [new Uint8Array(0), chunk]);
    await expect(collectBatches(chunks).then((batches) => batches.flat())).resolves.toEqual(expected);
  });

  it('finds a quoting error at the same line whether or not a cut falls inside the quoted field', async () => {
    const bytes = bytesOf('recipient_id,amount\nR1,1\nR2,"2\n3"\nR4,4\n');
    for (let cut = 1; cut < bytes.length; cut++) {
      const outcome = await outcomeOf(splitAt(bytes, [cut]));
      expect({ cut, outcome }).toEqual({ cut, outcome: { error: { code: 'CSV_MALFORMED', line: 3, row: 2 } } });
    }
  });
});

describe('parsePayoutCsv: file-level errors', () => {
  it('reports them as PayoutCsvError, a ValidationError with a stable code and details', async () => {
    const error = await errorOf(parseText('recipient_id,amount\nR1\n'));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.kind).toBe('validation');
    expect(error.name).toBe('PayoutCsvError');
    expect(error.code).toBe('CSV_MALFORMED');
    expect(error.details).toEqual({ row: 1, line: 2, expectedFields: 2, foundFields: 1 });
  });

  it.each([
    ['no bytes at all', bytesOf()],
    ['only a BOM', bytesOf(BOM)],
    ['only blank lines', bytesOf('\n \r\n\t\n')],
  ])('CSV_EMPTY: %s', async (_name, bytes) => {
    const error = await errorOf(parseText(bytes));
    expect(error.code).toBe('CSV_EMPTY');
    expect(error.message).toContain('recipient_id,amount');
  });

  it.each([
    ['a header only', 'recipient_id,amount'],
    ['a header and blank lines', 'recipient_id,amount,reference\r\n\r\n  \n'],
  ])('CSV_NO_ROWS: %s', async (_name, text) => {
    expect((await errorOf(parseText(text))).code).toBe('CSV_NO_ROWS');
  });

  it.each([
    ['a missing column', 'recipient_id', { missing: 'amount', unknown: '', duplicated: '' }],
    ['an extra column', 'recipient_id,amount,reference,note', { missing: '', unknown: 'note', duplicated: '' }],
    ['a wrongly cased name', 'Recipient_ID,amount', { missing: 'recipient_id', unknown: 'Recipient_ID', duplicated: '' }],
    ['a duplicated column', 'recipient_id,amount,amount', { missing: '', unknown: '', duplicated: 'amount' }],
    ['an empty column name', 'recipient_id,,amount', { missing: '', unknown: '(empty)', duplicated: '' }],
    ['another delimiter', 'recipient_id;amount', { missing: 'recipient_id,amount', unknown: 'recipient_id;amount', duplicated: '' }],
    ['columns out of order', 'amount,recipient_id', { missing: '', unknown: '', duplicated: '' }],
    ['reference without amount', 'recipient_id,reference', { missing: 'amount', unknown: '', duplicated: '' }],
  ])('CSV_HEADER_INVALID: %s', async (_name, header, problems) => {
    const error = await errorOf(parseText(`\n${header}\nR1,1\n`));
    expect(error.code).toBe('CSV_HEADER_INVALID');
    expect(error.details).toEqual({ line: 2, expected: 'recipient_id,amount | recipient_id,amount,reference', found: header, ...problems });
    expect(error.message).toContain('expected "recipient_id,amount" or "recipient_id,amount,reference"');
    expect(error.message).toContain(`found "${header}"`);
  });

  it('CSV_MALFORMED: a row with too few or too many fields, with its row and line', async () => {
    const tooMany = await errorOf(parseText('recipient_id,amount\nR1,1\n\nR2,2,x\n'));
    expect(tooMany.details).toEqual({ row: 2, line: 4, expectedFields: 2, foundFields: 3 });
    expect(tooMany.message).toBe(
      'Row 2 (line 4) has 3 fields, but the header has 2 (recipient_id,amount); quote values that contain commas',
    );
    const tooFew = await errorOf(parseText('recipient_id,amount,reference\r\nR1,1\r\n'));
    expect(tooFew.details).toEqual({ row: 1, line: 2, expectedFields: 3, foundFields: 2 });
  });

  it.each([
    ['a newline (LF) inside a quoted field', 'recipient_id,amount,reference\nR1,1,"a\nb"\nR2,2,x\n', 2, 1],
    ['a newline (CRLF) inside a quoted field', 'recipient_id,amount,reference\r\nR1,1,x\r\nR2,2,"a\r\nb"\r\n', 3, 2],
    ['an unterminated quote at the end of the file', 'recipient_id,amount\nR1,1\nR2,"2', 3, 2],
    ['an unterminated quote followed by more rows', 'recipient_id,amount\nR1,"1\nR2,2\nR3,3\n', 2, 1],
    ['text after a closing quote', 'recipient_id,amount\nR1,"1"x\n', 2, 1],
  ])('CSV_MALFORMED: %s', async (_name, text, line, rowNumber) => {
    const error = await errorOf(parseText(text));
    expect(error.code).toBe('CSV_MALFORMED');
    expect(error.details).toEqual({ line, row: rowNumber });
    expect(error.message).toContain(`Row ${rowNumber} (line ${line}) has malformed quotes`);
    expect(error.message).toContain('newlines inside quoted fields are not accepted');
  });

  it('CSV_MALFORMED in the header has a line but no row', async () => {
    const error = await errorOf(parseText('"recipient_id,amount\nR1,1\n'));
    expect(error.code).toBe('CSV_MALFORMED');
    expect(error.details).toEqual({ line: 1 });
  });

  it.each([
    ['an invalid byte', [0xff]],
    ['a lone continuation byte', [0x80]],
    ['an overlong encoding', [0xc0, 0x80]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a character cut short by the line break', [0xe2, 0x82]],
  ])('CSV_NOT_UTF8: %s, with its line, however the bytes are chunked', async (_name, bad) => {
    const bytes = bytesOf('recipient_id,amount,reference\r\nR1,1,é\r\nR2,2,a', bad, 'b\r\nR3,3,x\r\n');
    for (const size of [1, 2, 3, 5, bytes.length]) {
      await expect(outcomeOf(splitEvery(bytes, size))).resolves.toEqual({ error: { code: 'CSV_NOT_UTF8', line: 3, row: 2 } });
    }
    expect((await errorOf(parseText(bytes))).message).toBe('Line 3 is not valid UTF-8: save the file as UTF-8');
  });

  it('CSV_NOT_UTF8: a character truncated at the end of the file', async () => {
    const bytes = bytesOf('recipient_id,amount\nR1,1\nR2,2', [0xf0, 0x9f, 0x98]);
    await expect(outcomeOf(splitEvery(bytes, 1))).resolves.toEqual({ error: { code: 'CSV_NOT_UTF8', line: 3, row: 2 } });
    await expect(outcomeOf([bytes])).resolves.toEqual({ error: { code: 'CSV_NOT_UTF8', line: 3, row: 2 } });
  });

  it('CSV_NOT_UTF8: a Latin-1 file fails on its header line', async () => {
    const latin1 = Uint8Array.from(Buffer.from('recipient_id,amount\nR\xe9,1\n', 'latin1'));
    await expect(outcomeOf([latin1])).resolves.toEqual({ error: { code: 'CSV_NOT_UTF8', line: 2, row: 1 } });
    const header = Uint8Array.from(Buffer.from('r\xe9cipient_id,amount\nR1,1\n', 'latin1'));
    await expect(outcomeOf([header])).resolves.toEqual({ error: { code: 'CSV_NOT_UTF8', line: 1, row: undefined } });
  });

  it('CSV_TOO_LARGE: one byte over maxFileBytes', async () => {
    const text = 'recipient_id,amount\nR1,1\nR2,2\n';
    const size = Buffer.byteLength(text);
    const error = await errorOf(parseText(text, { limits: limits({ maxFileBytes: size - 1 }) }));
    expect(error.code).toBe('CSV_TOO_LARGE');
    expect(error.details).toEqual({ limit: size - 1, line: 3 });
  });

  it('CSV_TOO_LARGE: an endless stream of valid rows is cut off near the limit and released', async () => {
    const line = bytesOf('R1,1\n');
    // "Endless": capped at 1 MB so a parser that does not stop fails the test instead of hanging it.
    const source = new InstrumentedSource((index) => (index === 0 ? bytesOf('recipient_id,amount\n') : index < 200_000 ? line : undefined));
    const error = await errorOf(collectBatches(source, { limits: limits({ maxFileBytes: 10_000 }), batchSize: 10 }));
    expect(error.code).toBe('CSV_TOO_LARGE');
    expect(source.pulled).toBeLessThanOrEqual(Math.ceil(10_000 / line.length) + 1);
    expect(source.closed).toBe(true);
  });

  it('CSV_TOO_MANY_ROWS: blank lines do not count; row maxRows + 1 fails with its row and line', async () => {
    const ok = 'recipient_id,amount\nR1,1\n\nR2,2\n';
    await expect(parseText(ok, { limits: limits({ maxRows: 2 }) })).resolves.toHaveLength(2);
    const error = await errorOf(parseText(`${ok}\nR3,3\n`, { limits: limits({ maxRows: 2 }) }));
    expect(error.code).toBe('CSV_TOO_MANY_ROWS');
    expect(error.details).toEqual({ limit: 2, row: 3, line: 6 });
  });

  it('CSV_LINE_TOO_LONG: counts bytes (not characters), excluding the line break and the BOM', async () => {
    const header = 'recipient_id,amount,reference'; // 29 bytes
    const reference = 'é'.repeat(12); // 12 characters, 24 bytes
    const line = `R1,1,${reference}`; // 29 bytes
    const bytes = bytesOf(BOM, `${header}\r\n${line}\r\n`);
    await expect(parseText(bytes, { limits: limits({ maxLineBytes: 29 }) })).resolves.toHaveLength(1);
    const header28 = await errorOf(parseText(bytes, { limits: limits({ maxLineBytes: 28 }) }));
    expect(header28.details).toEqual({ limit: 28, line: 1 });
    const text = `${header}\n${line}\nR2,2,${reference}x\n`;
    const error = await errorOf(parseText(text, { limits: limits({ maxLineBytes: 29 }) }));
    expect(error.code).toBe('CSV_LINE_TOO_LONG');
    expect(error.details).toEqual({ limit: 29, line: 3, row: 2 });
    expect(error.message).toBe('Line 3 is longer than 29 bytes');
  });

  it('CSV_LINE_TOO_LONG: an endless line is refused without buffering it', async () => {
    const filler = new Uint8Array(100).fill(0x61); // "aaaa..." with no line break, forever
    // "Endless": capped at 1 MB so a parser that does not stop fails the test instead of hanging it.
    const source = new InstrumentedSource((index) =>
      index === 0 ? bytesOf('recipient_id,amount\nR1,') : index < 10_000 ? filler : undefined,
    );
    const error = await errorOf(collectBatches(source, { limits: limits({ maxLineBytes: 1_000 }) }));
    expect(error.details).toEqual({ limit: 1_000, line: 2, row: 1 });
    expect(source.pulled).toBeLessThanOrEqual(12);
    expect(source.closed).toBe(true);
  });

  describe('the first problem in the file wins, however the bytes are chunked', () => {
    const small = limits({ maxLineBytes: 20, maxRows: 3, maxFileBytes: 200 });
    it.each([
      ['a malformed row before a too long line', 'recipient_id,amount\nR1,1,x\nR2,' + '9'.repeat(30) + '\n', 'CSV_MALFORMED', 2],
      ['a too long line before a malformed row', 'recipient_id,amount\nR1,' + '9'.repeat(30) + '\nR2,2,x\n', 'CSV_LINE_TOO_LONG', 2],
      ['a malformed row before the size limit', 'recipient_id,amount\nR1,1,x\n' + 'R,1\n'.repeat(60), 'CSV_MALFORMED', 2],
      ['too many rows before the size limit', 'recipient_id,amount\n' + 'R,1\n'.repeat(60), 'CSV_TOO_MANY_ROWS', 5],
    ])('%s', async (_name, text, code, line) => {
      const bytes = bytesOf(text);
      for (const size of [1, 2, 3, 7, 64, bytes.length]) {
        const outcome = await outcomeOf(splitEvery(bytes, size), { limits: small });
        expect({ size, outcome }).toEqual({ size, outcome: { error: expect.objectContaining({ code, line }) } });
      }
    });

    it.each([
      ['invalid UTF-8 before a too long line', bytesOf('recipient_id,amount\nR1,', [0xff], '\nR2,' + '9'.repeat(30) + '\n'), 'CSV_NOT_UTF8'],
      ['a malformed row before invalid UTF-8', bytesOf('recipient_id,amount\n"R1,1\nR2,', [0xff], '\n'), 'CSV_MALFORMED'],
    ])('%s', async (_name, bytes, code) => {
      for (const size of [1, 2, 3, 7, bytes.length]) {
        await expect(outcomeOf(splitEvery(bytes, size), { limits: small })).resolves.toEqual({
          error: { code, line: 2, row: 1 },
        });
      }
    });
  });
});

describe('parsePayoutCsv: batches, laziness and release of the source', () => {
  function rowsText(count: number, firstIndex = 1): string {
    let text = '';
    for (let index = firstIndex; index < firstIndex + count; index++) text += `R${index},${index}.00\n`;
    return text;
  }

  it('yields arrays of batchSize rows, the last one shorter, never an empty one', async () => {
    const batches = await collectBatches([bytesOf(`recipient_id,amount\n${rowsText(5)}`)], { batchSize: 2 });
    expect(batches.map((batch) => batch.map((parsed) => parsed.row))).toEqual([[1, 2], [3, 4], [5]]);
    const exact = await collectBatches([bytesOf(`recipient_id,amount\n${rowsText(4)}`)], { batchSize: 2 });
    expect(exact.map((batch) => batch.length)).toEqual([2, 2]);
  });

  it('defaults to batches of 1000 rows', async () => {
    const batches = await collectBatches(splitEvery(bytesOf(`recipient_id,amount\n${rowsText(2_500)}`), 4096));
    expect(batches.map((batch) => batch.length)).toEqual([1_000, 1_000, 500]);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects batchSize %p', async (batchSize) => {
    await expect(collectBatches([bytesOf('recipient_id,amount\nR1,1\n')], { batchSize })).rejects.toThrow(RangeError);
  });

  it.each(['maxFileBytes', 'maxRows', 'maxLineBytes'] as const)('rejects a non-positive %s', async (name) => {
    await expect(collectBatches([bytesOf('recipient_id,amount\nR1,1\n')], { limits: limits({ [name]: 0 }) })).rejects.toThrow(
      RangeError,
    );
  });

  it('refuses string chunks (a stream with an encoding set)', async () => {
    const strings = (async function* () {
      yield 'recipient_id,amount\n';
    })() as unknown as AsyncIterable<Uint8Array>;
    await expect(collectBatches(strings)).rejects.toThrow(TypeError);
  });

  it('passes a failure of the source through unchanged', async () => {
    const failing = (async function* () {
      yield bytesOf('recipient_id,amount\nR1,1\n');
      throw new Error('connection reset');
    })();
    await expect(collectBatches(failing)).rejects.toThrow('connection reset');
  });

  it('pulls the source only as the consumer asks, and closes it when the consumer stops early', async () => {
    // 100 chunks of 50 whole rows each (the first one starts with the header).
    const source = new InstrumentedSource((index) =>
      index < 100 ? bytesOf(`${index === 0 ? 'recipient_id,amount\n' : ''}${rowsText(50, index * 50 + 1)}`) : undefined,
    );
    const rows = parsePayoutCsv(source, { batchSize: 20 });
    const first = await rows.next();
    expect(first.done).toBe(false);
    expect(source.pulled).toBe(1);
    for (let consumed = 20; consumed < 200; consumed += 20) {
      await rows.next();
      expect(source.pulled).toBeLessThanOrEqual(Math.ceil((consumed + 20) / 50));
    }
    expect(source.closed).toBe(false);
    await rows.return();
    expect(source.closed).toBe(true);
    expect(source.pulled).toBe(4);
  });

  it('parses one huge chunk a slice at a time, not all of its rows ahead of the consumer', async () => {
    // 20,000 rows (~250 KB) in a single chunk, the last one malformed: the first batch arrives
    // before the parser gets anywhere near it; the error still comes before the end.
    const bytes = bytesOf(`recipient_id,amount\n${rowsText(20_000)}R,1,x\n`);
    const rows = parsePayoutCsv(sourceOf([bytes]), { batchSize: 100 });
    const first = await rows.next();
    expect(first.value).toHaveLength(100);
    const error = await errorOf(
      (async () => {
        for (;;) if ((await rows.next()).done) return;
      })(),
    );
    expect(error.code).toBe('CSV_MALFORMED');
    expect(error.details).toMatchObject({ row: 20_001, line: 20_002 });
  });

  it('destroys a Node Readable when the consumer breaks out of the loop', async () => {
    const readable = Readable.from(splitEvery(bytesOf(`recipient_id,amount\n${rowsText(1_000)}`), 1_024).map((chunk) => Buffer.from(chunk)));
    let seen = 0;
    for await (const batch of parsePayoutCsv(readable, { batchSize: 10 })) {
      seen += batch.length;
      break;
    }
    expect(seen).toBe(10);
    expect(readable.destroyed).toBe(true);
  });

  it('parses a 100,000-row file pulled lazily, holding at most about one chunk of rows ahead', async () => {
    const ROWS = 100_000;
    const ROWS_PER_CHUNK = 1_000;
    const chunkCount = ROWS / ROWS_PER_CHUNK;
    let leftover = '';
    const source = new InstrumentedSource((index) => {
      if (index > chunkCount) return undefined;
      if (index === chunkCount) return Buffer.from(leftover);
      const first = index * ROWS_PER_CHUNK + 1;
      let text = leftover + (index === 0 ? '\ufeffrecipient_id,amount,reference\r\n' : '');
      for (let id = first; id < first + ROWS_PER_CHUNK; id++) text += `rcp-${id},${id}.25,"Invoice ${id}, ""Q1"""\r\n`;
      // Cut inside the quoted field of the last row, so every chunk ends with an incomplete line.
      const cut = text.length - 8;
      leftover = text.slice(cut);
      return Buffer.from(text.slice(0, cut));
    });
    let count = 0;
    let maxAhead = 0;
    let last: RawPayoutRow | undefined;
    for await (const batch of parsePayoutCsv(source, { batchSize: 500 })) {
      count += batch.length;
      last = batch[batch.length - 1];
      maxAhead = Math.max(maxAhead, source.pulled * ROWS_PER_CHUNK - count);
    }
    expect(count).toBe(ROWS);
    expect(last).toEqual(row(ROWS, ROWS + 1, `rcp-${ROWS}`, `${ROWS}.25`, `Invoice ${ROWS}, "Q1"`));
    // Reading the whole source first would put this near ROWS.
    expect(maxAhead).toBeLessThanOrEqual(2 * ROWS_PER_CHUNK);
    expect(source.closed).toBe(true);
  });
});

describe('PayoutCsvError', () => {
  it('keeps only the details that apply', () => {
    const error = new PayoutCsvError('CSV_MALFORMED', 'bad', { line: 3, row: undefined });
    expect(error.details).toEqual({ line: 3 });
    expect([error.line, error.row, error.limit]).toEqual([3, undefined, undefined]);
  });
});

// Keeps the helper honest: sourceOf yields exactly the chunks given.
it('sourceOf yields the chunks in order', async () => {
  const seen: number[] = [];
  for await (const chunk of sourceOf([bytesOf('ab'), bytesOf('c')])) seen.push(chunk.length);
  expect(seen).toEqual([2, 1]);
});
