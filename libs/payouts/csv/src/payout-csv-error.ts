import { ValidationError, type ErrorDetails } from '@ledger/errors';

/**
 * Stable codes of the file-level problems of a payout CSV (part of the API contract: never renamed).
 * Any of them rejects the whole file: the caller records nothing.
 */
export const PAYOUT_CSV_ERROR_CODES = [
  'CSV_EMPTY',
  'CSV_HEADER_INVALID',
  'CSV_NOT_UTF8',
  'CSV_TOO_LARGE',
  'CSV_TOO_MANY_ROWS',
  'CSV_LINE_TOO_LONG',
  'CSV_MALFORMED',
  'CSV_NO_ROWS',
] as const;

export type PayoutCsvErrorCode = (typeof PAYOUT_CSV_ERROR_CODES)[number];

/** Where the problem is and which limit was hit; only the keys that apply are present. */
export interface PayoutCsvErrorDetails {
  /** 1-based physical line of the offending record (the header is line 1, a leading BOM is not counted). */
  readonly line?: number;
  /** 1-based data row number (header and blank lines excluded) the offending record has or would have had. */
  readonly row?: number;
  /** The limit that was exceeded (bytes or rows, see the code). */
  readonly limit?: number;
  readonly [key: string]: string | number | boolean | null | undefined;
}

/** A file-level problem of an uploaded payout CSV (HTTP 400 / gRPC INVALID_ARGUMENT). */
export class PayoutCsvError extends ValidationError {
  declare readonly code: PayoutCsvErrorCode;
  readonly line: number | undefined;
  readonly row: number | undefined;
  readonly limit: number | undefined;

  constructor(code: PayoutCsvErrorCode, message: string, details: PayoutCsvErrorDetails = {}) {
    super(code, message, withoutUndefined(details));
    this.line = details.line;
    this.row = details.row;
    this.limit = details.limit;
  }
}

function withoutUndefined(details: PayoutCsvErrorDetails): ErrorDetails {
  const defined: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(details)) {
    if (value !== undefined) defined[key] = value;
  }
  return defined;
}
