import { InvariantViolationError, ValidationError } from '@ledger/errors';
import { exponentOf, type CurrencyCode } from './currencies';

/**
 * The largest amount any single movement may carry, in minor units: 10^15 (ten trillion major
 * units at exponent 2). Far below 2^63, so sums of many movements stay inside PostgreSQL bigint.
 */
export const MAX_AMOUNT_MINOR = 10n ** 15n;

/** An amount of money: integer minor units of one currency. Never a float. */
export interface Money {
  readonly amountMinor: bigint;
  readonly currency: CurrencyCode;
}

const DECIMAL = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
const MAX_AMOUNT_TEXT_LENGTH = 40;

/**
 * Parses a decimal amount in major units ("12.34") into minor units, exactly. Refuses, with a
 * named code and never by rounding: anything not a plain decimal (signs, exponents, separators,
 * spaces, NaN: INVALID_AMOUNT), more decimals than the currency has (AMOUNT_PRECISION), zero
 * (AMOUNT_NOT_POSITIVE) and amounts over MAX_AMOUNT_MINOR (AMOUNT_TOO_LARGE). A JS number is
 * refused outright (AMOUNT_NOT_A_STRING): floats never carry money.
 */
export function parseAmount(text: unknown, currency: CurrencyCode): Money {
  if (typeof text !== 'string') {
    throw new ValidationError('AMOUNT_NOT_A_STRING', `Amount must be a decimal string such as "12.34"; got a ${typeof text}`);
  }
  if (text.length > MAX_AMOUNT_TEXT_LENGTH) {
    throw new ValidationError('INVALID_AMOUNT', `Amount is longer than ${MAX_AMOUNT_TEXT_LENGTH} characters`);
  }
  const match = DECIMAL.exec(text);
  if (!match) {
    throw new ValidationError('INVALID_AMOUNT', `Amount '${text}' is not a plain positive decimal such as "12.34"`, { amount: text });
  }
  const exponent = exponentOf(currency);
  const whole = match[1] as string;
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) {
    throw new ValidationError(
      'AMOUNT_PRECISION',
      `Amount '${text}' has ${fraction.length} decimals; ${currency} allows ${exponent}`,
      { amount: text, currency, exponent },
    );
  }
  const amountMinor = BigInt(whole) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');
  if (amountMinor === 0n) throw new ValidationError('AMOUNT_NOT_POSITIVE', 'Amount must be greater than zero', { amount: text });
  if (amountMinor > MAX_AMOUNT_MINOR) {
    throw new ValidationError('AMOUNT_TOO_LARGE', `Amount '${text}' exceeds the maximum of ${formatAmount(MAX_AMOUNT_MINOR, currency)} ${currency}`, {
      amount: text,
      currency,
    });
  }
  return { amountMinor, currency };
}

/** Minor units → decimal string in major units, exact, with exactly the currency's decimals. */
export function formatAmount(amountMinor: bigint, currency: CurrencyCode): string {
  const exponent = exponentOf(currency);
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}

/** Minor units as they travel inside events: a decimal integer string. */
export function minorToText(amountMinor: bigint): string {
  return amountMinor.toString();
}

/** Reads minor units back from an event; anything malformed there is corruption, not input. */
export function minorFromText(text: string): bigint {
  if (!/^-?(0|[1-9][0-9]*)$/.test(text)) {
    throw new InvariantViolationError('CORRUPT_AMOUNT', `Stored amount '${text.slice(0, 40)}' is not an integer of minor units`);
  }
  return BigInt(text);
}
