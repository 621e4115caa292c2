/**
 * The payments of one run, row by row, without holding them: row i (0-based; CSV row i + 1) pays
 * recipient i mod R a small amount, and some rows carry a reference. The same plan drives the CSV
 * of the payout batch and the baseline's plain transfers, so both move exactly the same money.
 *
 * No two rows are duplicates in the intake's sense (same recipient, amount and reference): the
 * k-th row of a recipient (k = floor(i / R)) pays 0.10 + k cents more than its first one.
 */

export const CSV_HEADER = 'recipient_id,amount,reference';

export interface PlannedPayment {
  /** 0-based; the CSV row number is index + 1. */
  readonly index: number;
  readonly recipient: number;
  readonly amountMinor: bigint;
  /** Undefined on most rows; a few contain a comma, so the CSV quotes them. */
  readonly reference: string | undefined;
}

export class PayoutPlan {
  constructor(
    readonly rows: number,
    readonly recipients: number,
  ) {
    if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer; got ${rows}`);
    if (!Number.isInteger(recipients) || recipients < 1 || recipients > rows) throw new RangeError(`recipients must be an integer from 1 to rows (${rows}); got ${recipients}`);
  }

  payment(index: number): PlannedPayment {
    const recipient = index % this.recipients;
    const k = Math.floor(index / this.recipients);
    // 0.10 to 0.90 by recipient, plus one cent per earlier row of the same recipient.
    const amountMinor = BigInt(10 + 10 * (recipient % 9) + k);
    const reference = index % 100 === 7 ? `payroll, run ${index}` : index % 4 === 1 ? `inv-${index}` : undefined;
    return { index, recipient, amountMinor, reference };
  }

  /** Sum of every row's amount, in minor units. */
  totalMinor(): bigint {
    return this.sliceTotalMinor(this.rows);
  }

  /** Sum of the first `count` rows. */
  sliceTotalMinor(count: number): bigint {
    let total = 0n;
    for (let i = 0; i < count; i += 1) total += this.payment(i).amountMinor;
    return total;
  }

  /** The CSV file (header + one line per row, CRLF-free), as text pieces of about `pieceBytes`. */
  *csvPieces(walletIds: readonly string[], pieceBytes = 64 * 1024): Generator<string> {
    if (walletIds.length !== this.recipients) throw new RangeError(`need ${this.recipients} recipient wallet ids; got ${walletIds.length}`);
    let piece = `${CSV_HEADER}\n`;
    for (let i = 0; i < this.rows; i += 1) {
      const p = this.payment(i);
      piece += `${walletIds[p.recipient]},${formatMinor(p.amountMinor)},${csvField(p.reference)}\n`;
      if (piece.length >= pieceBytes) {
        yield piece;
        piece = '';
      }
    }
    if (piece.length > 0) yield piece;
  }
}

/** Minor units as a decimal amount with two places (the bench pays in USD). */
export function formatMinor(minor: bigint): string {
  const negative = minor < 0n;
  const abs = negative ? -minor : minor;
  return `${negative ? '-' : ''}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

function csvField(value: string | undefined): string {
  if (value === undefined) return '';
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
