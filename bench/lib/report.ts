/**
 * Plain-text tables for benchmark output. Numbers are formatted here, once, so every bench prints
 * the same units the same way: rates as whole numbers with thousands separators, milliseconds
 * with three decimals, ratios with two.
 */

export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned; labels left-aligned. */
  readonly align: 'left' | 'right';
}

/** Lays out rows under headers with a rule below the header; every row must match the columns. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  for (const [index, row] of rows.entries()) {
    if (row.length !== columns.length) {
      throw new RangeError(`Row ${index} has ${row.length} cells; the table has ${columns.length} columns`);
    }
  }
  const widths = columns.map((column, c) => Math.max(column.header.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (columns[c]!.align === 'right' ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A placeholder for a value that does not apply (e.g. a ratio on the baseline's own row). */
export const NOT_APPLICABLE = '-';

export function formatRate(perSecond: number): string {
  return Number.isFinite(perSecond) ? Math.round(perSecond).toLocaleString('en-US') : NOT_APPLICABLE;
}

export function formatMs(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? NOT_APPLICABLE : ms.toFixed(3);
}

export function formatRatio(ratio: number | undefined): string {
  return ratio === undefined || !Number.isFinite(ratio) ? NOT_APPLICABLE : `${ratio.toFixed(2)}x`;
}

export function formatDecimal(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? NOT_APPLICABLE : value.toFixed(digits);
}

/** `numerator / denominator`, or undefined when the denominator is zero or missing. */
export function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  if (numerator === undefined || denominator === undefined || denominator === 0) return undefined;
  return numerator / denominator;
}
