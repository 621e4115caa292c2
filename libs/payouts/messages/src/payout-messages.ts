import type { CurrencyCode } from '@ledger/money';

/**
 * The payout saga's message contract between the payouts service and the ledger, version 1.
 *
 * Two topics, both keyed by batchId (one batch = one partition = one order):
 * - `payouts.commands.v1`: payouts → ledger, every value `{"schema":"payouts.command.v1","type":…}`
 * - `payouts.results.v1`: ledger → payouts, every value `{"schema":"payouts.result.v1","type":…}`
 *
 * Values are JSON objects with exactly the fields listed here (an unknown or missing field is
 * refused). Amounts are decimal strings of integer minor units of `currency` (`amountMinor`);
 * global positions are decimal strings too (both may exceed 2^53). Ids are lower-case UUIDs.
 * A change that an old reader would refuse is a new version (`…v2` topic and schema).
 */

export const PAYOUT_COMMANDS_TOPIC = 'payouts.commands.v1';
export const PAYOUT_RESULTS_TOPIC = 'payouts.results.v1';
export const PAYOUT_COMMAND_SCHEMA = 'payouts.command.v1';
export const PAYOUT_RESULT_SCHEMA = 'payouts.result.v1';

/** Rows in one PayPayoutRows / ReversePayoutRows command, and so in one result message. */
export const MAX_ROWS_PER_COMMAND = 1_000;
/** Row, chunk and attempt numbers: integers up to 2^31 − 1. */
export const MAX_SEQUENCE_NUMBER = 2_147_483_647;
/** Characters of a message value the decoders look at; a longer value is refused before parsing. */
export const MAX_PAYOUT_MESSAGE_CHARS = 1_048_576;
/** Characters of a row's reference (the ledger's own bound on references in events). */
export const MAX_PAYOUT_REFERENCE_CHARS = 140;
/** Characters of a refusal's human-readable message. */
export const MAX_PAYOUT_REASON_MESSAGE_CHARS = 500;
/** Characters of a reason / note code (SCREAMING_SNAKE_CASE). */
export const MAX_PAYOUT_CODE_CHARS = 64;
/** Digits of an amount or position: `^(0|[1-9][0-9]{0,30})$`. */
export const MAX_MINOR_UNIT_DIGITS = 31;

/** Who the ledger records as acting for the saga, and the key space of its idempotency keys. */
export const PAYOUTS_PRINCIPAL = 'service:payouts';
export const PAYOUTS_IDEMPOTENCY_SCOPE = 'service:payouts';

// ---------------------------------------------------------------------------------------------
// Commands (payouts → ledger)
// ---------------------------------------------------------------------------------------------

/** Reserve the batch total: a hold with the given id on the source wallet. */
export interface ReservePayoutFunds {
  readonly type: 'ReservePayoutFunds';
  readonly batchId: string;
  readonly sourceWalletId: string;
  readonly holdId: string;
  readonly currency: CurrencyCode;
  /** Positive. */
  readonly amountMinor: string;
  /** ISO 8601 UTC, e.g. `2026-11-21T10:00:00Z` or with milliseconds. */
  readonly expiresAt: string;
}

export interface PayoutRowInstruction {
  /** 1-based row number of the batch (unique within the command). */
  readonly row: number;
  readonly recipientWalletId: string;
  /** Positive. */
  readonly amountMinor: string;
  /** 1 to MAX_PAYOUT_REFERENCE_CHARS characters, no control characters. */
  readonly reference?: string;
}

/** Pay rows from the reservation's hold (each row exactly once, by its deterministic key). */
export interface PayPayoutRows {
  readonly type: 'PayPayoutRows';
  readonly batchId: string;
  /** 0-based chunk number, echoed in the result. */
  readonly chunk: number;
  readonly sourceWalletId: string;
  readonly holdId: string;
  readonly currency: CurrencyCode;
  /** 1 to MAX_ROWS_PER_COMMAND rows. */
  readonly rows: readonly PayoutRowInstruction[];
}

/** Give back what is left of the reservation's hold. */
export interface ReleasePayoutReservation {
  readonly type: 'ReleasePayoutReservation';
  readonly batchId: string;
  readonly sourceWalletId: string;
  readonly holdId: string;
}

export interface PayoutReversalInstruction {
  readonly row: number;
  /** 1-based: a refused reversal may be tried again under the next attempt number. */
  readonly attempt: number;
  readonly recipientWalletId: string;
  /** Positive. */
  readonly amountMinor: string;
}

/** Move paid rows back from their recipients to the source wallet (compensation). */
export interface ReversePayoutRows {
  readonly type: 'ReversePayoutRows';
  readonly batchId: string;
  readonly chunk: number;
  readonly sourceWalletId: string;
  readonly currency: CurrencyCode;
  /** 1 to MAX_ROWS_PER_COMMAND rows, (row, attempt) unique within the command. */
  readonly rows: readonly PayoutReversalInstruction[];
}

export type PayoutCommand = ReservePayoutFunds | PayPayoutRows | ReleasePayoutReservation | ReversePayoutRows;
export type PayoutCommandType = PayoutCommand['type'];
export const PAYOUT_COMMAND_TYPES: readonly PayoutCommandType[] = ['ReservePayoutFunds', 'PayPayoutRows', 'ReleasePayoutReservation', 'ReversePayoutRows'];

// ---------------------------------------------------------------------------------------------
// Results (ledger → payouts)
// ---------------------------------------------------------------------------------------------

export interface PayoutFundsReserved {
  readonly type: 'PayoutFundsReserved';
  readonly batchId: string;
  readonly holdId: string;
  /** Positive. */
  readonly amountMinor: string;
  /** Global position of the hold's append. */
  readonly position: string;
}

/** Final: the same command always gets this answer again (the refusal is recorded). */
export interface PayoutReservationRefused {
  readonly type: 'PayoutReservationRefused';
  readonly batchId: string;
  readonly holdId: string;
  /** The ledger's error code, e.g. INSUFFICIENT_FUNDS, WALLET_FROZEN, CURRENCY_MISMATCH. */
  readonly reason: string;
  readonly message: string;
}

export type PayoutRowResult =
  | { readonly row: number; readonly outcome: 'SUCCEEDED'; readonly transactionId: string; readonly position?: string }
  /** Final: recorded, replayed on redelivery, never paid later under this key. */
  | { readonly row: number; readonly outcome: 'FAILED'; readonly reason: string; readonly position?: string };

export interface PayoutRowsProcessed {
  readonly type: 'PayoutRowsProcessed';
  readonly batchId: string;
  readonly chunk: number;
  /** One per row of the command, in the command's order. */
  readonly results: readonly PayoutRowResult[];
}

/**
 * Why a release gave back nothing (`releasedMinor` "0"); the values the ledger sends in v1. A
 * reader must accept any code (format-checked) and treat an unknown one as "nothing was held".
 */
export const PAYOUT_RELEASE_NOTES = {
  /** The rows drew the whole hold: nothing was left to give back (the normal end of a batch). */
  drawnInFull: 'HOLD_DRAWN_IN_FULL',
  /** The hold expired first (the ledger's hold-expiry worker gave what was left back). */
  expired: 'HOLD_EXPIRED',
  /** Someone else released the hold first (e.g. the wallet's owner, through the API). */
  released: 'HOLD_RELEASED',
  /** Someone captured the hold first, through the API. */
  captured: 'HOLD_CAPTURED',
  /** Resolved earlier, but too long ago for the ledger to say how. */
  alreadyResolved: 'HOLD_ALREADY_RESOLVED',
  /** No such hold on the wallet: never placed (the reservation was refused). */
  holdNotFound: 'HOLD_NOT_FOUND',
  walletNotFound: 'WALLET_NOT_FOUND',
} as const;

export interface PayoutReservationReleased {
  readonly type: 'PayoutReservationReleased';
  readonly batchId: string;
  readonly holdId: string;
  /** What went back to the source wallet's available balance; "0" with a `note` saying why. */
  readonly releasedMinor: string;
  /** Global position of the append (the release, or the recorded no-op). */
  readonly position?: string;
  readonly note?: string;
}

export type PayoutReversalResult =
  | { readonly row: number; readonly attempt: number; readonly outcome: 'REVERSED'; readonly transactionId: string; readonly position?: string }
  /** Final for this (row, attempt); a later attempt number may try again. */
  | { readonly row: number; readonly attempt: number; readonly outcome: 'REVERSAL_FAILED'; readonly reason: string; readonly position?: string };

export interface PayoutRowsReversed {
  readonly type: 'PayoutRowsReversed';
  readonly batchId: string;
  readonly chunk: number;
  readonly results: readonly PayoutReversalResult[];
}

export type PayoutResult = PayoutFundsReserved | PayoutReservationRefused | PayoutRowsProcessed | PayoutReservationReleased | PayoutRowsReversed;
export type PayoutResultType = PayoutResult['type'];
export const PAYOUT_RESULT_TYPES: readonly PayoutResultType[] = [
  'PayoutFundsReserved',
  'PayoutReservationRefused',
  'PayoutRowsProcessed',
  'PayoutReservationReleased',
  'PayoutRowsReversed',
];
