import { ValidationError } from '@ledger/errors';

/**
 * ISO 4217 currencies the ledger accepts, with their exponent (digits after the decimal point of
 * the minor unit). A currency missing here is refused (UNKNOWN_CURRENCY) rather than guessed.
 * Exponents follow the ISO 4217 list; adding a currency is a reviewed change, and changing an
 * exponent never is (amounts in events are minor units of the exponent at the time).
 */
export const CURRENCY_EXPONENTS = Object.freeze({
  AED: 2, ARS: 2, AUD: 2, BHD: 3, BRL: 2, CAD: 2, CHF: 2, CLP: 0, CNY: 2, COP: 2, CZK: 2,
  DKK: 2, EGP: 2, EUR: 2, GBP: 2, GHS: 2, HKD: 2, HUF: 2, IDR: 2, ILS: 2, INR: 2, ISK: 0,
  JOD: 3, JPY: 0, KES: 2, KRW: 0, KWD: 3, MAD: 2, MXN: 2, MYR: 2, NGN: 2, NOK: 2, NZD: 2,
  OMR: 3, PHP: 2, PKR: 2, PLN: 2, QAR: 2, RON: 2, SAR: 2, SEK: 2, SGD: 2, THB: 2, TND: 3,
  TRY: 2, TWD: 2, TZS: 2, UAH: 2, UGX: 0, USD: 2, VND: 0, XAF: 0, XOF: 0, ZAR: 2,
} as const satisfies Record<string, number>);

export type CurrencyCode = keyof typeof CURRENCY_EXPONENTS;

export function isCurrencyCode(value: unknown): value is CurrencyCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(CURRENCY_EXPONENTS, value);
}

export function parseCurrency(value: unknown): CurrencyCode {
  if (isCurrencyCode(value)) return value;
  const shown = typeof value === 'string' ? value.slice(0, 16) : typeof value;
  if (typeof value === 'string' && /^[A-Z]{3}$/.test(value)) {
    throw new ValidationError('UNKNOWN_CURRENCY', `Currency '${shown}' is not supported`, { currency: shown });
  }
  throw new ValidationError('INVALID_CURRENCY', `Currency must be a three-letter ISO 4217 code; got '${shown}'`, {
    currency: shown,
  });
}

export function exponentOf(currency: CurrencyCode): number {
  return CURRENCY_EXPONENTS[currency];
}
