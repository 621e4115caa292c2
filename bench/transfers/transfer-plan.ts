/**
 * What each transfer request carries: which wallets, how much, under which idempotency key.
 * Pure, so the choices are tested and the same for every transport and the baseline.
 */

export interface TransferPair {
  readonly from: string;
  readonly to: string;
}

/** Picks the source and destination of the next transfer. */
export type PairPicker = () => TransferPair;

/** spread: source and destination drawn uniformly from `wallets`, never the same wallet. */
export function spreadPicker(wallets: readonly string[], random: () => number = Math.random): PairPicker {
  if (wallets.length < 2) throw new RangeError('spread needs at least two wallets');
  return () => {
    const from = Math.floor(random() * wallets.length);
    // Draw from the other n - 1 wallets: indexes at or above the source shift up by one.
    let to = Math.floor(random() * (wallets.length - 1));
    if (to >= from) to += 1;
    return { from: wallets[from]!, to: wallets[to]! };
  };
}

/** hot: every transfer leaves `source`; destinations drawn uniformly from `destinations`. */
export function hotPicker(source: string, destinations: readonly string[], random: () => number = Math.random): PairPicker {
  const others = destinations.filter((wallet) => wallet !== source);
  if (others.length === 0) throw new RangeError('hot needs at least one destination other than the source');
  return () => ({ from: source, to: others[Math.floor(random() * others.length)]! });
}

/** Transfers carry 1 to 99 minor units, cycling, so sums are not all the same number. */
export const MAX_TRANSFER_MINOR = 99;

export function transferAmountMinor(sequence: number): number {
  return (sequence % MAX_TRANSFER_MINOR) + 1;
}

/**
 * A key unique to the run, the cell and the request, within the API's rule (8-128 characters of
 * [A-Za-z0-9_.:-]): `<run>.<cell>.<sequence in base 36>`.
 */
export function idempotencyKey(runId: string, cell: number, sequence: number): string {
  return `${runId}.c${cell}.${sequence.toString(36)}`;
}

/**
 * A balance as the API prints it ("1234.05", exactly `exponent` decimals, never negative for a
 * wallet) in minor units. Zero is a valid balance here, unlike an amount in a request.
 */
export function balanceToMinor(text: string, exponent: number): bigint {
  const pattern = exponent === 0 ? /^(0|[1-9][0-9]*)$/ : new RegExp(`^(0|[1-9][0-9]*)\\.([0-9]{${exponent}})$`);
  const match = pattern.exec(text);
  if (!match) throw new Error(`'${text.slice(0, 40)}' is not a balance with ${exponent} decimals`);
  return BigInt(match[1]!) * 10n ** BigInt(exponent) + BigInt(match[2] ?? '0');
}
