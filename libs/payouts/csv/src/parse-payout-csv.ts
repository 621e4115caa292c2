import { parse as papaParse, type ParseConfig } from 'papaparse';
import { PayoutCsvError } from './payout-csv-error';

/** Bounds of one uploaded payout file; exceeding any of them rejects the whole file. */
export interface PayoutCsvLimits {
  /** Size of the whole upload in bytes (BOM and line breaks included). */
  readonly maxFileBytes: number;
  /** Number of data rows (header and blank lines excluded). */
  readonly maxRows: number;
  /** Bytes of one line, line break and BOM excluded (a record is exactly one line: see README). */
  readonly maxLineBytes: number;
}

export const DEFAULT_PAYOUT_CSV_LIMITS: PayoutCsvLimits = Object.freeze({
  maxFileBytes: 32 * 1024 * 1024,
  maxRows: 200_000,
  maxLineBytes: 1_024,
});

export const DEFAULT_PAYOUT_CSV_BATCH_SIZE = 1_000;

/** Bytes of a source chunk parsed at once (bigger chunks are sliced). */
const PARSE_SLICE_BYTES = 64 * 1024;

/** One data record, structurally valid; business validation (amount, recipient) happens elsewhere. */
export interface RawPayoutRow {
  /** 1-based data row number: the header and blank lines are not counted. */
  readonly row: number;
  /** Trimmed. */
  readonly recipientId: string;
  /** Trimmed, otherwise as written (never parsed here). */
  readonly amount: string;
  /** Trimmed; undefined when the column is absent or the cell is empty. */
  readonly reference: string | undefined;
  /** 1-based physical line where the record starts (the header is line 1), for messages. */
  readonly line: number;
}

export interface ParsePayoutCsvOptions {
  readonly limits?: PayoutCsvLimits;
  /** Rows per yielded array (the last one may be shorter); default 1000. */
  readonly batchSize?: number;
}

/**
 * Parses an uploaded payout CSV (`recipient_id,amount[,reference]`) from a byte stream (a Node
 * Readable, gRPC chunks...), yielding the rows in arrays of `batchSize`. The file is never held
 * whole: the source is pulled only when the consumer asks for more rows (at most one source chunk
 * plus one line ahead), and stopping early (`return()`, `break` in `for await`) releases it.
 *
 * Any file-level problem throws a {@link PayoutCsvError} as soon as it is found; problems are
 * reported in file order (the first offending line wins, whatever the chunking). Batches yielded
 * before the error must then be discarded by the caller: a rejected file records nothing.
 */
export async function* parsePayoutCsv(
  source: AsyncIterable<Uint8Array>,
  options: ParsePayoutCsvOptions = {},
): AsyncGenerator<RawPayoutRow[], void, undefined> {
  const batchSize = options.batchSize ?? DEFAULT_PAYOUT_CSV_BATCH_SIZE;
  requirePositiveInteger('batchSize', batchSize);
  const parser = new PayoutCsvStreamParser(options.limits ?? DEFAULT_PAYOUT_CSV_LIMITS);

  let batch: RawPayoutRow[] = [];
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(`parsePayoutCsv expects Uint8Array chunks, got ${typeof chunk} (was an encoding set on the stream?)`);
    }
    // A big chunk is parsed a slice at a time, so the rows parsed ahead of the consumer stay
    // bounded whatever the source's chunk size.
    for (let offset = 0; offset < chunk.length; offset += PARSE_SLICE_BYTES) {
      for (const row of parser.push(chunk.subarray(offset, offset + PARSE_SLICE_BYTES))) {
        batch.push(row);
        if (batch.length === batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
  }
  for (const row of parser.end()) {
    batch.push(row);
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

const LF = 0x0a;
const CR = 0x0d;
const UTF8_BOM = [0xef, 0xbb, 0xbf] as const;
const BOM_CHAR = 0xfeff;

const HEADER_2 = 'recipient_id,amount';
const HEADER_3 = 'recipient_id,amount,reference';
const KNOWN_COLUMNS: readonly string[] = ['recipient_id', 'amount', 'reference'];
const REQUIRED_COLUMNS: readonly string[] = ['recipient_id', 'amount'];

const PAPA_CONFIG: ParseConfig<string[]> = {
  delimiter: ',',
  newline: '\n',
  quoteChar: '"',
  escapeChar: '"',
  header: false,
  dynamicTyping: false,
  skipEmptyLines: false,
  comments: false,
};

const MALFORMED_QUOTES =
  'a quoted field must start right after a comma or the start of the line, write an embedded quote as two quotes (""), ' +
  'and end on the same line right before a comma or the end of the line (newlines inside quoted fields are not accepted)';

interface Header {
  readonly columns: 2 | 3;
}

/**
 * The push-based core: bytes in, rows out, synchronously.
 *
 * Bytes are first scanned for line breaks (LF, CRLF or a lone CR: each ends a record, since
 * newlines inside quoted fields are refused), the file size and the line length, so neither an
 * endless line nor an endless file is ever buffered. Only complete lines are decoded (fatal UTF-8
 * decoder in streaming mode, so a character split across chunks is fine) and handed to papaparse;
 * the incomplete last line is kept as bytes (at most `maxLineBytes` + a BOM).
 */
class PayoutCsvStreamParser {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly limits: PayoutCsvLimits;
  /** Bytes of the incomplete current line (no line break in it). */
  private carry: Uint8Array;
  private carryLength = 0;
  private totalBytes = 0;
  /** Physical line being scanned: the one the carry belongs to. */
  private line = 1;
  /** Bytes of that line so far (BOM and line break excluded). */
  private lineBytes = 0;
  /** The last byte scanned was a CR: a following LF completes a CRLF and is not a new line. */
  private previousWasCR = false;
  /** Leading UTF-8 BOM bytes matched so far, while still undecided. */
  private bomMatched = 0;
  private bomDecided = false;
  private textStarted = false;
  private header: Header | undefined;
  private rowCount = 0;

  constructor(limits: PayoutCsvLimits) {
    requirePositiveInteger('limits.maxFileBytes', limits.maxFileBytes);
    requirePositiveInteger('limits.maxRows', limits.maxRows);
    requirePositiveInteger('limits.maxLineBytes', limits.maxLineBytes);
    this.limits = limits;
    this.carry = new Uint8Array(Math.min(limits.maxLineBytes + UTF8_BOM.length, 4096));
  }

  push(chunk: Uint8Array): RawPayoutRow[] {
    const rows: RawPayoutRow[] = [];
    if (chunk.length === 0) return rows;
    const { maxFileBytes, maxLineBytes } = this.limits;
    const regionFirstLine = this.line;
    const allowed = Math.min(chunk.length, maxFileBytes - this.totalBytes);
    this.totalBytes += chunk.length;

    let i = 0;
    let regionStart = 0;
    let line = this.line;
    let lineBytes = this.lineBytes;
    let previousWasCR = this.previousWasCR;
    if (previousWasCR && allowed > 0 && chunk[0] === LF) {
      // Second half of a CRLF split across chunks: the CR already ended the line (and its region).
      i = 1;
      regionStart = 1;
      previousWasCR = false;
    }
    if (!this.bomDecided) {
      while (i < allowed && this.bomMatched < UTF8_BOM.length && chunk[i] === UTF8_BOM[this.bomMatched]) {
        this.bomMatched += 1;
        i += 1;
      }
      if (this.bomMatched === UTF8_BOM.length || i < allowed) {
        if (this.bomMatched < UTF8_BOM.length) lineBytes += this.bomMatched; // not a BOM after all
        this.bomDecided = true;
      }
    }

    let lastBreakEnd = -1;
    // Built when thrown, after the lines before it were parsed (so `row` is known).
    let failure: (() => PayoutCsvError) | undefined;
    for (; i < allowed; i++) {
      const byte = chunk[i];
      if (byte === LF) {
        lastBreakEnd = i + 1;
        if (previousWasCR) {
          previousWasCR = false;
        } else {
          line += 1;
          lineBytes = 0;
        }
      } else if (byte === CR) {
        lastBreakEnd = i + 1;
        previousWasCR = true;
        line += 1;
        lineBytes = 0;
      } else {
        previousWasCR = false;
        lineBytes += 1;
        if (lineBytes > maxLineBytes) {
          const tooLongLine = line;
          failure = () => this.lineTooLong(tooLongLine);
          break;
        }
      }
    }
    this.line = line;
    this.lineBytes = lineBytes;
    this.previousWasCR = previousWasCR;
    if (failure === undefined && allowed < chunk.length) {
      failure = () =>
        new PayoutCsvError(
          'CSV_TOO_LARGE',
          `The file is larger than ${maxFileBytes} bytes (the limit was passed on line ${line})`,
          { limit: maxFileBytes, line },
        );
    }

    // Complete lines (carry + chunk up to the last line break) are parsed now, before any failure
    // found further on is thrown: an earlier problem wins.
    if (lastBreakEnd >= 0) {
      const region = chunk.subarray(regionStart, lastBreakEnd);
      const text = this.decodeRegion(region, regionFirstLine, rows);
      this.carryLength = 0;
      this.consumeText(text, regionFirstLine, rows);
    }
    if (failure !== undefined) throw failure();
    this.appendCarry(chunk.subarray(lastBreakEnd >= 0 ? lastBreakEnd : regionStart));
    return rows;
  }

  end(): RawPayoutRow[] {
    const rows: RawPayoutRow[] = [];
    const lastLine = this.carry.subarray(0, this.carryLength);
    let text: string;
    try {
      text = this.decoder.decode(lastLine); // flush: a character truncated at EOF throws
    } catch (error) {
      if (!isInvalidEncoding(error)) throw error;
      return this.failOnInvalidUtf8(lastLine, this.line);
    }
    this.carryLength = 0;
    this.consumeText(text, this.line, rows);
    if (this.header === undefined) {
      throw new PayoutCsvError('CSV_EMPTY', 'The file is empty: expected a header line "recipient_id,amount[,reference]"');
    }
    if (this.rowCount === 0) {
      throw new PayoutCsvError('CSV_NO_ROWS', 'The file has a header but no data rows');
    }
    return rows;
  }

  /** Decodes the carry followed by `region` (complete lines); invalid UTF-8 fails at its line. */
  private decodeRegion(region: Uint8Array, firstLine: number, rows: RawPayoutRow[]): string {
    const carry = this.carry.subarray(0, this.carryLength);
    try {
      const head = carry.length > 0 ? this.decoder.decode(carry, { stream: true }) : '';
      return head + this.decoder.decode(region, { stream: true });
    } catch (error) {
      if (!isInvalidEncoding(error)) throw error;
      const bytes = new Uint8Array(carry.length + region.length);
      bytes.set(carry, 0);
      bytes.set(region, carry.length);
      return this.failOnInvalidUtf8(bytes, firstLine, rows);
    }
  }

  /**
   * `bytes` start at the beginning of line `firstLine` and are known to hold invalid UTF-8: parses
   * the lines before the offending one (an earlier problem wins), then throws CSV_NOT_UTF8.
   */
  private failOnInvalidUtf8(bytes: Uint8Array, firstLine: number, rows: RawPayoutRow[] = []): never {
    const bad = firstInvalidUtf8Offset(bytes);
    let line = firstLine;
    let lineStart = 0;
    for (let i = 0; i < bad; i++) {
      const byte = bytes[i];
      if (byte === CR || byte === LF) {
        if (byte === CR && bytes[i + 1] === LF) i += 1;
        line += 1;
        lineStart = i + 1;
      }
    }
    const before = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, lineStart));
    this.consumeText(before, firstLine, rows);
    throw new PayoutCsvError('CSV_NOT_UTF8', `Line ${line} is not valid UTF-8: save the file as UTF-8`, {
      line,
      row: this.nextRowIfAny(),
    });
  }

  /** `text` holds whole lines starting at `firstLine` (the last one may lack its line break at EOF). */
  private consumeText(text: string, firstLine: number, rows: RawPayoutRow[]): void {
    if (text.length === 0) return;
    if (!this.textStarted) {
      this.textStarted = true;
      if (text.charCodeAt(0) === BOM_CHAR) text = text.slice(1);
    }
    if (text.indexOf('\r') !== -1) text = text.replace(/\r\n?/g, '\n');
    // Every line, the last included, ends with a line break so papaparse treats all alike; its
    // extra empty row at the end is blank and skipped. papaparse strips a leading U+FEFF from its
    // input: a leading blank line keeps a U+FEFF that starts a later line as data.
    if (text.charCodeAt(text.length - 1) !== LF) text += '\n';
    const lead = text.charCodeAt(0) === BOM_CHAR ? 1 : 0;
    const result = papaParse<string[]>(lead === 1 ? `\n${text}` : text, PAPA_CONFIG);

    let firstErrorRow = Number.POSITIVE_INFINITY;
    for (const error of result.errors) firstErrorRow = Math.min(firstErrorRow, error.row ?? 0);
    const mayHaveQuotes = text.indexOf('"') !== -1;
    const data = result.data;
    for (let i = lead; i < data.length; i++) {
      const fields = data[i] ?? [];
      const line = firstLine + i - lead;
      if (i === firstErrorRow || (mayHaveQuotes && fields.some((field) => field.indexOf('\n') !== -1))) {
        throw this.malformedQuotes(line);
      }
      if (fields.length === 1 && (fields[0] ?? '').trim() === '') continue; // blank line
      if (this.header === undefined) {
        this.header = parseHeader(fields, line);
      } else {
        rows.push(this.toRow(fields, line, this.header));
      }
    }
    if (firstErrorRow !== Number.POSITIVE_INFINITY) throw this.malformedQuotes(firstLine + firstErrorRow - lead);
  }

  private toRow(fields: string[], line: number, header: Header): RawPayoutRow {
    const row = this.rowCount + 1;
    if (row > this.limits.maxRows) {
      throw new PayoutCsvError(
        'CSV_TOO_MANY_ROWS',
        `The file has more than ${this.limits.maxRows} data rows (row ${row} is on line ${line})`,
        { limit: this.limits.maxRows, row, line },
      );
    }
    if (fields.length !== header.columns) {
      throw new PayoutCsvError(
        'CSV_MALFORMED',
        `Row ${row} (line ${line}) has ${fields.length} fields, but the header has ${header.columns} ` +
          `(${header.columns === 2 ? HEADER_2 : HEADER_3}); quote values that contain commas`,
        { row, line, expectedFields: header.columns, foundFields: fields.length },
      );
    }
    this.rowCount = row;
    const reference = header.columns === 3 ? (fields[2] ?? '').trim() : '';
    return {
      row,
      recipientId: (fields[0] ?? '').trim(),
      amount: (fields[1] ?? '').trim(),
      reference: reference === '' ? undefined : reference,
      line,
    };
  }

  private malformedQuotes(line: number): PayoutCsvError {
    const row = this.nextRowIfAny();
    return new PayoutCsvError(
      'CSV_MALFORMED',
      `${row === undefined ? 'The header' : `Row ${row}`} (line ${line}) has malformed quotes: ${MALFORMED_QUOTES}`,
      { line, row },
    );
  }

  private lineTooLong(line: number): PayoutCsvError {
    const limit = this.limits.maxLineBytes;
    return new PayoutCsvError('CSV_LINE_TOO_LONG', `Line ${line} is longer than ${limit} bytes`, {
      limit,
      line,
      row: this.nextRowIfAny(),
    });
  }

  /** The data row number the record being looked at would get (undefined while in the header). */
  private nextRowIfAny(): number | undefined {
    return this.header === undefined ? undefined : this.rowCount + 1;
  }

  private appendCarry(bytes: Uint8Array): void {
    const needed = this.carryLength + bytes.length;
    if (needed > this.carry.length) {
      const grown = new Uint8Array(Math.max(needed, this.carry.length * 2));
      grown.set(this.carry.subarray(0, this.carryLength), 0);
      this.carry = grown;
    }
    this.carry.set(bytes, this.carryLength);
    this.carryLength = needed;
  }
}

function parseHeader(fields: string[], line: number): Header {
  const names = fields.map((field) => field.trim());
  const found = names.join(',');
  if (found === HEADER_2) return { columns: 2 };
  if (found === HEADER_3) return { columns: 3 };

  const problems: string[] = [];
  const missing = REQUIRED_COLUMNS.filter((name) => !names.includes(name));
  const unknown = names.filter((name) => !KNOWN_COLUMNS.includes(name)).map((name) => (name === '' ? '(empty)' : name));
  const duplicated = KNOWN_COLUMNS.filter((name) => names.indexOf(name) !== names.lastIndexOf(name));
  if (missing.length > 0) problems.push(`missing ${missing.join(', ')}`);
  if (unknown.length > 0) problems.push(`unknown ${unknown.join(', ')} (names are case-sensitive)`);
  if (duplicated.length > 0) problems.push(`duplicated ${duplicated.join(', ')}`);
  if (problems.length === 0) problems.push('columns out of order');
  throw new PayoutCsvError(
    'CSV_HEADER_INVALID',
    `Invalid header on line ${line}: expected "${HEADER_2}" or "${HEADER_3}", found "${found}" (${problems.join('; ')})`,
    {
      line,
      expected: `${HEADER_2} | ${HEADER_3}`,
      found,
      missing: missing.join(','),
      unknown: unknown.join(','),
      duplicated: duplicated.join(','),
    },
  );
}

/**
 * Offset of the byte at which a fatal decoder gives up on `bytes` (known to be invalid), or
 * `bytes.length` when only the final flush fails (a character truncated at the end). Binary search
 * over prefixes: failing is monotonic, and this runs once, on the error path.
 */
function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  const fails = (length: number): boolean => {
    try {
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, length), { stream: true });
      return false;
    } catch {
      return true;
    }
  };
  if (!fails(bytes.length)) return bytes.length;
  let low = 1;
  let high = bytes.length; // fails(high) holds
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (fails(middle)) high = middle;
    else low = middle + 1;
  }
  return high - 1;
}

/**
 * The fatal decoder's complaint. Matched by Node's error code as well: under Jest's VM sandbox
 * (and across realms in general) the TypeError does not pass `instanceof TypeError`.
 */
function isInvalidEncoding(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA')
  );
}

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
}
