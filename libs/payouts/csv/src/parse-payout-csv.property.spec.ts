import fc from 'fast-check';
import { bytesOf, collectBatches, splitAt } from './csv-test-sources.spec-helper';
import { parsePayoutCsv, type PayoutCsvLimits, type RawPayoutRow } from './parse-payout-csv';
import { PayoutCsvError } from './payout-csv-error';

const EOLS = ['\n', '\r\n', '\r'] as const;

/** Field text: anything but line breaks (refused inside quotes), with CSV-significant characters often. */
const valueUnit = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('a', 'B', '7', '.', '-', ' ', '\t', ',', '"', '=', "'", 'é', '€', '😀', '東', '\u00a0', '\ufeff'),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => c !== '\r' && c !== '\n') },
);
const value = fc.string({ unit: valueUnit, maxLength: 12 });
const padding = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 2 });

interface Cell {
  readonly value: string;
  readonly quote: boolean;
  readonly before: string;
  readonly after: string;
  readonly spacesAfterQuote: string;
}

const cell = (text: fc.Arbitrary<string>): fc.Arbitrary<Cell> =>
  fc.record({ value: text, quote: fc.boolean(), before: padding, after: padding, spacesAfterQuote: fc.constantFrom('', ' ', '  ') });

/** How a writer may put a value in a field; returns the field text and the value the parser must give. */
function writeCell({ value: text, quote, before, after, spacesAfterQuote }: Cell): { field: string; expected: string } {
  const content = `${before}${text}${after}`;
  // A comma or a quote forces quoting; otherwise the writer decides.
  if (quote || /[",]/.test(content)) {
    return { field: `"${content.replace(/"/g, '""')}"${spacesAfterQuote}`, expected: content.trim() };
  }
  return { field: content, expected: content.trim() };
}

interface Line {
  readonly kind: 'row' | 'blank';
  readonly cells: readonly Cell[];
  readonly blank: string;
  readonly eol: (typeof EOLS)[number];
}

const validFile = fc
  .record({
    bom: fc.boolean(),
    withReference: fc.boolean(),
    header: fc.tuple(cell(fc.constant('recipient_id')), cell(fc.constant('amount')), cell(fc.constant('reference'))),
    headerEol: fc.constantFrom(...EOLS),
    leadingBlanks: fc.array(fc.record({ blank: padding, eol: fc.constantFrom(...EOLS) }), { maxLength: 2 }),
    lines: fc.array(
      fc.record({
        kind: fc.constantFrom<'row' | 'blank'>('row', 'row', 'row', 'blank'),
        cells: fc.tuple(cell(value), cell(value), cell(value)),
        blank: padding,
        eol: fc.constantFrom(...EOLS),
      }),
      { maxLength: 25 },
    ),
    finalEol: fc.boolean(),
  })
  .filter((file) => file.lines.some((line) => line.kind === 'row'));

type ValidFile = typeof validFile extends fc.Arbitrary<infer T> ? T : never;

function writeFile(file: ValidFile): { text: string; rows: Omit<RawPayoutRow, 'row'>[] } {
  const columns = file.withReference ? 3 : 2;
  const physical: { content: string; eol: string }[] = [];
  for (const blank of file.leadingBlanks) physical.push({ content: blank.blank, eol: blank.eol });
  physical.push({
    content: file.header
      .slice(0, columns)
      .map((header) => writeCell(header).field)
      .join(','),
    eol: file.headerEol,
  });
  const rows: Omit<RawPayoutRow, 'row'>[] = [];
  for (const line of file.lines as readonly Line[]) {
    if (line.kind === 'blank') {
      physical.push({ content: line.blank, eol: line.eol });
      continue;
    }
    const written = line.cells.slice(0, columns).map(writeCell);
    const reference = columns === 3 ? (written[2]?.expected ?? '') : '';
    rows.push({
      recipientId: written[0]?.expected ?? '',
      amount: written[1]?.expected ?? '',
      reference: reference === '' ? undefined : reference,
      line: physical.length + 1,
    });
    physical.push({ content: written.map((field) => field.field).join(','), eol: line.eol });
  }
  let text = file.bom ? '\ufeff' : '';
  physical.forEach(({ content, eol }, index) => {
    // "\r" then an empty line ending in "\n" would read as one CRLF: keep the blank line visible.
    const previous = physical[index - 1];
    const merged = previous?.eol === '\r' && content === '' && eol.startsWith('\n');
    const last = index === physical.length - 1;
    text += (merged ? ' ' : content) + (last && !file.finalEol ? '' : eol);
  });
  return { text, rows };
}

const cuts = fc.array(fc.nat(), { maxLength: 30 });

describe('parsePayoutCsv properties', () => {
  it('reads back exactly the rows written, whatever the quoting, padding, line endings, blank lines and chunking', async () => {
    await fc.assert(
      fc.asyncProperty(validFile, cuts, fc.integer({ min: 1, max: 7 }), async (file, cutPoints, batchSize) => {
        const { text, rows } = writeFile(file);
        const bytes = bytesOf(text);
        const batches = await collectBatches(
          splitAt(
            bytes,
            cutPoints.map((cut) => cut % (bytes.length + 1)),
          ),
          { batchSize },
        );
        expect(batches.flat()).toEqual(rows.map((parsed, index) => ({ row: index + 1, ...parsed })));
        expect(batches.slice(0, -1).every((batch) => batch.length === batchSize)).toBe(true);
        expect(batches.at(-1)?.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  // Any bytes at all (valid or not): the result (rows, or the error's code, position and message)
  // must not depend on where the chunks are cut.
  // Tokens of bytes: CSV syntax, line breaks, valid multi-byte characters (a BOM among them), and
  // invalid or truncated sequences.
  const soupToken = fc.constantFrom<readonly number[]>(
    [0x61], [0x31], [0x2c], [0x2c], [0x22], [0x22], [0x20], [0x0d], [0x0a], [0x0a], [0x0d, 0x0a],
    [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xef, 0xbb, 0xbf],
    [0xff], [0x80], [0xc3], [0xe2, 0x82],
  );
  const soupFile = fc.tuple(
    fc.constantFrom('', 'recipient_id,amount\n', 'recipient_id,amount,reference\r\n', '\ufeffrecipient_id,amount\r'),
    fc.array(soupToken, { maxLength: 80 }).map((tokens) => tokens.flat()),
  );
  const smallLimits: fc.Arbitrary<PayoutCsvLimits> = fc.record({
    maxFileBytes: fc.integer({ min: 1, max: 200 }),
    maxRows: fc.integer({ min: 1, max: 8 }),
    maxLineBytes: fc.integer({ min: 1, max: 40 }),
  });

  async function outcome(chunks: Uint8Array[], limits: PayoutCsvLimits): Promise<unknown> {
    try {
      const rows: RawPayoutRow[] = [];
      for await (const batch of parsePayoutCsv(
        (async function* () {
          yield* chunks;
        })(),
        { limits, batchSize: 3 },
      )) {
        rows.push(...batch);
      }
      return { rows };
    } catch (error) {
      if (!(error instanceof PayoutCsvError)) throw error;
      return { code: error.code, message: error.message, details: error.details };
    }
  }

  it('gives the same outcome for any bytes however they are chunked', async () => {
    await fc.assert(
      fc.asyncProperty(soupFile, smallLimits, cuts, async ([prefix, soup], limits, cutPoints) => {
        const bytes = bytesOf(prefix, soup);
        const whole = await outcome([bytes], limits);
        const chunked = await outcome(
          splitAt(
            bytes,
            cutPoints.map((cut) => cut % (bytes.length + 1)),
          ),
          limits,
        );
        const byteByByte = await outcome(
          splitAt(
            bytes,
            Array.from({ length: bytes.length }, (_, index) => index),
          ),
          limits,
        );
        expect(chunked).toEqual(whole);
        expect(byteByByte).toEqual(whole);
      }),
      { numRuns: 500 },
    );
  });
});
