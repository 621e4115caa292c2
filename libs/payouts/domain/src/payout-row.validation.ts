import { ApplicationError } from '@ledger/errors';
import { parseAmount, type CurrencyCode } from '@ledger/money';
import { MAX_PAYOUT_REFERENCE_LENGTH, MAX_RECORDED_TEXT, type RecordedRow } from './payout.events';

/** What the wallet directory says about a recipient at upload time. */
export interface RecipientInfo {
  readonly status: 'open' | 'frozen' | 'closed';
  readonly currency: CurrencyCode;
}

/** Why a row is refused at upload. Stable codes, shown per row in the summary and the report. */
export type RowRejectionReason =
  | 'RECIPIENT_ID_INVALID'
  | 'RECIPIENT_UNKNOWN'
  | 'RECIPIENT_CLOSED'
  | 'RECIPIENT_FROZEN'
  | 'CURRENCY_MISMATCH'
  | 'SELF_PAYMENT'
  | 'AMOUNT_INVALID'
  | 'AMOUNT_PRECISION'
  | 'AMOUNT_NOT_POSITIVE'
  | 'AMOUNT_TOO_LARGE'
  | 'REFERENCE_INVALID'
  | 'DUPLICATE_ROW';

export interface RawRow {
  readonly row: number;
  readonly recipientId: string;
  readonly amount: string;
  readonly reference: string | undefined;
}

const WALLET_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Whether text is a wallet id the directory could know (lower-case UUID). */
export function isWalletId(text: string): boolean {
  return WALLET_ID.test(text);
}

/**
 * Validates one row against the batch (source wallet, currency), the recipient as the directory
 * knows it, and the rows before it (`seen`: duplicate = same recipient, amount and reference as
 * an earlier row; it is updated here). Returns the row as it will be recorded: valid rows carry
 * amountMinor, refused rows a reason and no amount. Pure.
 */
export function validatePayoutRow(
  raw: RawRow,
  batch: { readonly sourceWalletId: string; readonly currency: CurrencyCode },
  recipient: RecipientInfo | undefined,
  seen: Map<string, number>,
): RecordedRow & { readonly amountMinorValue: bigint | null } {
  const base = {
    row: raw.row,
    recipientId: clip(raw.recipientId),
    amount: clip(raw.amount),
    reference: raw.reference === undefined || raw.reference === '' ? null : clip(raw.reference, MAX_PAYOUT_REFERENCE_LENGTH + 1),
  };
  const refuse = (reason: RowRejectionReason) => ({ ...base, amountMinor: null, amountMinorValue: null, reason });
  if (!isWalletId(raw.recipientId)) return refuse('RECIPIENT_ID_INVALID');
  let amountMinor: bigint;
  try {
    amountMinor = parseAmount(raw.amount, batch.currency).amountMinor;
  } catch (error) {
    if (!(error instanceof ApplicationError)) throw error;
    return refuse(amountReason(error.code));
  }
  if (raw.reference !== undefined && !validReference(raw.reference)) return refuse('REFERENCE_INVALID');
  if (raw.recipientId === batch.sourceWalletId) return refuse('SELF_PAYMENT');
  if (!recipient) return refuse('RECIPIENT_UNKNOWN');
  if (recipient.status === 'closed') return refuse('RECIPIENT_CLOSED');
  if (recipient.status === 'frozen') return refuse('RECIPIENT_FROZEN');
  if (recipient.currency !== batch.currency) return refuse('CURRENCY_MISMATCH');
  const key = `${raw.recipientId}\u0000${amountMinor}\u0000${raw.reference ?? ''}`;
  if (seen.has(key)) return refuse('DUPLICATE_ROW');
  seen.set(key, raw.row);
  return { ...base, amountMinor: amountMinor.toString(), amountMinorValue: amountMinor, reason: null };
}

function amountReason(code: string): RowRejectionReason {
  switch (code) {
    case 'AMOUNT_PRECISION':
      return 'AMOUNT_PRECISION';
    case 'AMOUNT_NOT_POSITIVE':
      return 'AMOUNT_NOT_POSITIVE';
    case 'AMOUNT_TOO_LARGE':
      return 'AMOUNT_TOO_LARGE';
    default:
      return 'AMOUNT_INVALID';
  }
}

function validReference(reference: string): boolean {
  // eslint-disable-next-line no-control-regex
  return reference.length <= MAX_PAYOUT_REFERENCE_LENGTH && !/[\u0000-\u001f\u007f]/.test(reference);
}

/** Keeps stored text bounded whatever the file held. */
function clip(text: string, max = MAX_RECORDED_TEXT): string {
  return text.length <= max ? text : text.slice(0, max);
}
