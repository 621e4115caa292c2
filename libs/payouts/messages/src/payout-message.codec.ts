import { ValidationError } from '@ledger/errors';
import { isCurrencyCode, type CurrencyCode } from '@ledger/money';
import {
  MAX_MINOR_UNIT_DIGITS,
  MAX_PAYOUT_CODE_CHARS,
  MAX_PAYOUT_MESSAGE_CHARS,
  MAX_PAYOUT_REASON_MESSAGE_CHARS,
  MAX_PAYOUT_REFERENCE_CHARS,
  MAX_ROWS_PER_COMMAND,
  MAX_SEQUENCE_NUMBER,
  PAYOUT_COMMAND_SCHEMA,
  PAYOUT_RESULT_SCHEMA,
  type PayoutCommand,
  type PayoutResult,
  type PayoutReversalInstruction,
  type PayoutReversalResult,
  type PayoutRowInstruction,
  type PayoutRowResult,
} from './payout-messages';

export const PAYOUT_MESSAGE_INVALID = 'PAYOUT_MESSAGE_INVALID';

/**
 * A payout message (or a value handed to an encoder) that breaks the contract. `reason` says
 * what, `path` where (`$.rows[3].amountMinor`). Both are safe to log: input is cut short.
 */
export class PayoutMessageError extends ValidationError {
  constructor(
    readonly reason: string,
    readonly path = '$',
  ) {
    super(PAYOUT_MESSAGE_INVALID, `Invalid payout message at ${path}: ${reason}`, { reason, path });
  }
}

/** Lower-case UUID (versions 1-8, RFC 4122 variant), as the ledger assigns and accepts them. */
export const PAYOUT_UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Integer minor units as a decimal string; `"0"` only where zero makes sense. */
export const MINOR_UNITS_PATTERN = new RegExp(`^(0|[1-9][0-9]{0,${MAX_MINOR_UNIT_DIGITS - 1}})$`);
const CODE_PATTERN = new RegExp(`^[A-Z][A-Z0-9_]{0,${MAX_PAYOUT_CODE_CHARS - 1}}$`);
const INSTANT_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
/** A lone UTF-16 surrogate: not valid Unicode, and PostgreSQL jsonb refuses it in an event. */
const LONE_SURROGATE = /\p{Cs}/u;

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** @throws PayoutMessageError when the value is not a valid `payouts.command.v1` message. */
export function decodePayoutCommand(value: string): PayoutCommand {
  return readCommand(parse(value));
}

/** @throws PayoutMessageError when the value is not a valid `payouts.result.v1` message. */
export function decodePayoutResult(value: string): PayoutResult {
  return readResult(parse(value));
}

/**
 * The message value for a command: canonical field order, validated exactly as decoding does, so
 * nothing a reader would refuse can be sent. @throws PayoutMessageError
 */
export function encodePayoutCommand(command: PayoutCommand): string {
  return JSON.stringify({ schema: PAYOUT_COMMAND_SCHEMA, ...readCommand({ ...command, schema: PAYOUT_COMMAND_SCHEMA }) });
}

/** The message value for a result (validated as decoding does). @throws PayoutMessageError */
export function encodePayoutResult(result: PayoutResult): string {
  return JSON.stringify({ schema: PAYOUT_RESULT_SCHEMA, ...readResult({ ...result, schema: PAYOUT_RESULT_SCHEMA }) });
}

// ---------------------------------------------------------------------------------------------
// Readers: each builds a fresh object with only the contract's fields, in canonical order.
// ---------------------------------------------------------------------------------------------

function parse(value: unknown): unknown {
  if (typeof value !== 'string') throw new PayoutMessageError('the message value must be a string');
  if (value.length > MAX_PAYOUT_MESSAGE_CHARS) {
    throw new PayoutMessageError(`the message value has ${value.length} characters; at most ${MAX_PAYOUT_MESSAGE_CHARS}`);
  }
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new PayoutMessageError('the message value is not JSON');
  }
}

function readCommand(input: unknown): PayoutCommand {
  const type = envelope(input, PAYOUT_COMMAND_SCHEMA);
  const $ = '$';
  switch (type) {
    case 'ReservePayoutFunds': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'sourceWalletId', 'holdId', 'currency', 'amountMinor', 'expiresAt']);
      return {
        type,
        batchId: uuid(o, 'batchId', $),
        sourceWalletId: uuid(o, 'sourceWalletId', $),
        holdId: uuid(o, 'holdId', $),
        currency: currency(o, 'currency', $),
        amountMinor: minor(o, 'amountMinor', $, true),
        expiresAt: instant(o, 'expiresAt', $),
      };
    }
    case 'PayPayoutRows': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'chunk', 'sourceWalletId', 'holdId', 'currency', 'rows']);
      const rows = list(o, 'rows', $, 1, MAX_ROWS_PER_COMMAND, readRowInstruction);
      unique(rows, 'rows', (row) => String(row.row), 'row');
      return {
        type,
        batchId: uuid(o, 'batchId', $),
        chunk: integer(o, 'chunk', $, 0),
        sourceWalletId: uuid(o, 'sourceWalletId', $),
        holdId: uuid(o, 'holdId', $),
        currency: currency(o, 'currency', $),
        rows,
      };
    }
    case 'ReleasePayoutReservation': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'sourceWalletId', 'holdId']);
      return { type, batchId: uuid(o, 'batchId', $), sourceWalletId: uuid(o, 'sourceWalletId', $), holdId: uuid(o, 'holdId', $) };
    }
    case 'ReversePayoutRows': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'chunk', 'sourceWalletId', 'currency', 'rows']);
      const rows = list(o, 'rows', $, 1, MAX_ROWS_PER_COMMAND, readReversalInstruction);
      unique(rows, 'rows', (row) => `${row.row}/${row.attempt}`, '(row, attempt)');
      return {
        type,
        batchId: uuid(o, 'batchId', $),
        chunk: integer(o, 'chunk', $, 0),
        sourceWalletId: uuid(o, 'sourceWalletId', $),
        currency: currency(o, 'currency', $),
        rows,
      };
    }
    default:
      throw new PayoutMessageError(`unknown command type '${shorten(type)}'`, '$.type');
  }
}

function readRowInstruction(input: unknown, path: string): PayoutRowInstruction {
  const o = fields(input, path, ['row', 'recipientWalletId', 'amountMinor'], ['reference']);
  const reference = o['reference'] === undefined ? undefined : text(o, 'reference', path, 1, MAX_PAYOUT_REFERENCE_CHARS);
  return {
    row: integer(o, 'row', path, 1),
    recipientWalletId: uuid(o, 'recipientWalletId', path),
    amountMinor: minor(o, 'amountMinor', path, true),
    ...(reference === undefined ? {} : { reference }),
  };
}

function readReversalInstruction(input: unknown, path: string): PayoutReversalInstruction {
  const o = fields(input, path, ['row', 'attempt', 'recipientWalletId', 'amountMinor']);
  return {
    row: integer(o, 'row', path, 1),
    attempt: integer(o, 'attempt', path, 1),
    recipientWalletId: uuid(o, 'recipientWalletId', path),
    amountMinor: minor(o, 'amountMinor', path, true),
  };
}

function readResult(input: unknown): PayoutResult {
  const type = envelope(input, PAYOUT_RESULT_SCHEMA);
  const $ = '$';
  switch (type) {
    case 'PayoutFundsReserved': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'holdId', 'amountMinor', 'position']);
      return { type, batchId: uuid(o, 'batchId', $), holdId: uuid(o, 'holdId', $), amountMinor: minor(o, 'amountMinor', $, true), position: minor(o, 'position', $, true) };
    }
    case 'PayoutReservationRefused': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'holdId', 'reason', 'message']);
      return {
        type,
        batchId: uuid(o, 'batchId', $),
        holdId: uuid(o, 'holdId', $),
        reason: code(o, 'reason', $),
        message: text(o, 'message', $, 0, MAX_PAYOUT_REASON_MESSAGE_CHARS),
      };
    }
    case 'PayoutRowsProcessed': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'chunk', 'results']);
      const results = list(o, 'results', $, 1, MAX_ROWS_PER_COMMAND, readRowResult);
      unique(results, 'results', (r) => String(r.row), 'row');
      return { type, batchId: uuid(o, 'batchId', $), chunk: integer(o, 'chunk', $, 0), results };
    }
    case 'PayoutReservationReleased': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'holdId', 'releasedMinor'], ['position', 'note']);
      const position = o['position'] === undefined ? undefined : minor(o, 'position', $, true);
      const note = o['note'] === undefined ? undefined : code(o, 'note', $);
      return {
        type,
        batchId: uuid(o, 'batchId', $),
        holdId: uuid(o, 'holdId', $),
        releasedMinor: minor(o, 'releasedMinor', $, false),
        ...(position === undefined ? {} : { position }),
        ...(note === undefined ? {} : { note }),
      };
    }
    case 'PayoutRowsReversed': {
      const o = fields(input, $, ['schema', 'type', 'batchId', 'chunk', 'results']);
      const results = list(o, 'results', $, 1, MAX_ROWS_PER_COMMAND, readReversalResult);
      unique(results, 'results', (r) => `${r.row}/${r.attempt}`, '(row, attempt)');
      return { type, batchId: uuid(o, 'batchId', $), chunk: integer(o, 'chunk', $, 0), results };
    }
    default:
      throw new PayoutMessageError(`unknown result type '${shorten(type)}'`, '$.type');
  }
}

function readRowResult(input: unknown, path: string): PayoutRowResult {
  const outcome = oneOf(input, path, 'outcome', ['SUCCEEDED', 'FAILED'] as const);
  if (outcome === 'SUCCEEDED') {
    const o = fields(input, path, ['row', 'outcome', 'transactionId'], ['position']);
    return { row: integer(o, 'row', path, 1), outcome, transactionId: uuid(o, 'transactionId', path), ...optionalPosition(o, path) };
  }
  const o = fields(input, path, ['row', 'outcome', 'reason'], ['position']);
  return { row: integer(o, 'row', path, 1), outcome, reason: code(o, 'reason', path), ...optionalPosition(o, path) };
}

function readReversalResult(input: unknown, path: string): PayoutReversalResult {
  const outcome = oneOf(input, path, 'outcome', ['REVERSED', 'REVERSAL_FAILED'] as const);
  if (outcome === 'REVERSED') {
    const o = fields(input, path, ['row', 'attempt', 'outcome', 'transactionId'], ['position']);
    return {
      row: integer(o, 'row', path, 1),
      attempt: integer(o, 'attempt', path, 1),
      outcome,
      transactionId: uuid(o, 'transactionId', path),
      ...optionalPosition(o, path),
    };
  }
  const o = fields(input, path, ['row', 'attempt', 'outcome', 'reason'], ['position']);
  return {
    row: integer(o, 'row', path, 1),
    attempt: integer(o, 'attempt', path, 1),
    outcome,
    reason: code(o, 'reason', path),
    ...optionalPosition(o, path),
  };
}

// ---------------------------------------------------------------------------------------------
// Field checks
// ---------------------------------------------------------------------------------------------

type Fields = Readonly<Record<string, unknown>>;

/** Checks the schema and returns the type, before the type's own fields are read. */
function envelope(input: unknown, schema: string): string {
  if (!isPlainObject(input)) throw new PayoutMessageError('the message must be a JSON object');
  if (input['schema'] !== schema) {
    const got = input['schema'];
    throw new PayoutMessageError(
      got === undefined ? `schema is missing; expected '${schema}'` : `unknown schema ${typeof got === 'string' ? `'${shorten(got)}'` : `of type ${typeof got}`}; expected '${schema}'`,
      '$.schema',
    );
  }
  const type = input['type'];
  if (typeof type !== 'string') throw new PayoutMessageError(type === undefined ? 'is missing' : 'must be a string', '$.type');
  return type;
}

/**
 * The object's own fields: every required one present, nothing outside required + optional.
 * An optional field holding `undefined` (only possible when encoding) counts as absent.
 */
function fields(input: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Fields {
  if (!isPlainObject(input)) throw new PayoutMessageError('must be an object', path);
  for (const name of Object.keys(input)) {
    if (!required.includes(name) && !optional.includes(name)) throw new PayoutMessageError('is not a field of this message', `${path}.${shorten(name)}`);
  }
  for (const name of required) {
    if (!Object.prototype.hasOwnProperty.call(input, name) || input[name] === undefined) throw new PayoutMessageError('is missing', `${path}.${name}`);
  }
  return input;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function uuid(o: Fields, name: string, path: string): string {
  const value = o[name];
  if (typeof value !== 'string' || !PAYOUT_UUID_PATTERN.test(value)) throw new PayoutMessageError('must be a lower-case UUID', `${path}.${name}`);
  return value;
}

function currency(o: Fields, name: string, path: string): CurrencyCode {
  const value = o[name];
  if (!isCurrencyCode(value)) throw new PayoutMessageError('must be a supported ISO 4217 currency code', `${path}.${name}`);
  return value;
}

function minor(o: Fields, name: string, path: string, positive: boolean): string {
  const value = o[name];
  if (typeof value !== 'string') throw new PayoutMessageError(`must be a decimal string of integer minor units; got a ${typeof value}`, `${path}.${name}`);
  if (!MINOR_UNITS_PATTERN.test(value)) throw new PayoutMessageError(`must match ${MINOR_UNITS_PATTERN.source}`, `${path}.${name}`);
  if (positive && value === '0') throw new PayoutMessageError('must be greater than zero', `${path}.${name}`);
  return value;
}

function integer(o: Fields, name: string, path: string, min: number): number {
  const value = o[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_SEQUENCE_NUMBER) {
    throw new PayoutMessageError(`must be an integer from ${min} to ${MAX_SEQUENCE_NUMBER}`, `${path}.${name}`);
  }
  return value;
}

function instant(o: Fields, name: string, path: string): string {
  const value = o[name];
  if (typeof value !== 'string' || !INSTANT_PATTERN.test(value) || !isRealInstant(value)) {
    throw new PayoutMessageError('must be an ISO 8601 UTC timestamp such as 2026-11-21T10:00:00Z', `${path}.${name}`);
  }
  return value;
}

/** Date.parse accepts 2026-02-30 (rolling over); the round trip through toISOString does not. */
function isRealInstant(value: string): boolean {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return false;
  return new Date(ms).toISOString().slice(0, 19) === value.slice(0, 19);
}

function code(o: Fields, name: string, path: string): string {
  const value = o[name];
  if (typeof value !== 'string' || !CODE_PATTERN.test(value)) {
    throw new PayoutMessageError(`must be a code of 1 to ${MAX_PAYOUT_CODE_CHARS} upper-case letters, digits and _`, `${path}.${name}`);
  }
  return value;
}

function text(o: Fields, name: string, path: string, minLength: number, maxLength: number): string {
  const value = o[name];
  if (typeof value !== 'string' || value.length < minLength || value.length > maxLength || CONTROL_CHARACTERS.test(value) || LONE_SURROGATE.test(value)) {
    throw new PayoutMessageError(`must be a string of ${minLength} to ${maxLength} characters without control characters or lone surrogates`, `${path}.${name}`);
  }
  return value;
}

function oneOf<T extends string>(input: unknown, path: string, name: string, allowed: readonly T[]): T {
  if (!isPlainObject(input)) throw new PayoutMessageError('must be an object', path);
  const value = input[name];
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new PayoutMessageError(`must be one of ${allowed.join(', ')}`, `${path}.${name}`);
  }
  return value as T;
}

function list<T>(o: Fields, name: string, path: string, min: number, max: number, read: (item: unknown, path: string) => T): T[] {
  const value = o[name];
  if (!Array.isArray(value)) throw new PayoutMessageError('must be an array', `${path}.${name}`);
  if (value.length < min || value.length > max) throw new PayoutMessageError(`must have ${min} to ${max} entries; got ${value.length}`, `${path}.${name}`);
  return value.map((item, index) => read(item, `${path}.${name}[${index}]`));
}

function unique<T>(items: readonly T[], name: string, keyOf: (item: T) => string, what: string): void {
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const key = keyOf(item);
    if (seen.has(key)) throw new PayoutMessageError(`repeats ${what} ${key}`, `$.${name}[${index}]`);
    seen.add(key);
  });
}

function optionalPosition(o: Fields, path: string): { position?: string } {
  return o['position'] === undefined ? {} : { position: minor(o, 'position', path, true) };
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
