/** Nest injection tokens of the payouts service. */
export const PAYOUTS_APPLICATION = Symbol('PAYOUTS_APPLICATION');
export const PAYOUTS_CONFIG = Symbol('PAYOUTS_CONFIG');
export const PAYOUTS_RUNTIME = Symbol('PAYOUTS_RUNTIME');
