import { InvariantViolationError } from '@ledger/errors';

/**
 * First characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a
 * formula (OWASP "CSV Injection"): = + - @ tab CR, plus their full-width forms, which some
 * locales' Excel also evaluates.
 */
const FORMULA_TRIGGERS: ReadonlySet<string> = new Set(['=', '+', '-', '@', '\t', '\r', '\uff1d', '\uff0b', '\uff0d', '\uff20']);
const NEEDS_QUOTES = /[",\r\n]/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * One cell of a report from any text (recipient ids, references, messages: possibly attacker
 * controlled). A value starting with a formula trigger is prefixed with a single quote, so a
 * spreadsheet shows it as text; then the cell is quoted per RFC 4180 when it contains a comma, a
 * quote, CR or LF (embedded quotes doubled). Numbers are text here too ("-12.50" → "'-12.50"):
 * amounts we produce go through {@link csvNumberCell}.
 */
export function csvCell(value: string): string {
  const neutralised = value.length > 0 && FORMULA_TRIGGERS.has(value.charAt(0)) ? `'${value}` : value;
  return NEEDS_QUOTES.test(neutralised) ? `"${neutralised.replace(/"/g, '""')}"` : neutralised;
}

/**
 * A number cell for decimal amounts we generate ourselves ("-12.50", "1000"), written as is so
 * spreadsheets keep it a number. Anything else is a bug on our side, never user input: it throws.
 */
export function csvNumberCell(value: string): string {
  if (!DECIMAL.test(value)) {
    throw new InvariantViolationError('CSV_NUMBER_CELL_INVALID', 'A number cell must be a plain decimal such as -12.50', {
      value: value.length > 40 ? `${value.slice(0, 40)}…` : value,
    });
  }
  return value;
}

/** Joins cells already escaped by {@link csvCell} / {@link csvNumberCell} into a CRLF-terminated record. */
export function csvLine(cells: readonly string[]): string {
  return `${cells.join(',')}\r\n`;
}
