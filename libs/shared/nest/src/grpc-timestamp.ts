import { ValidationError } from '@ledger/errors';

/** google.protobuf.Timestamp as proto-loader hands it over (longs as String). */
export interface ProtoTimestamp {
  readonly seconds: string;
  readonly nanos: number;
}

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range Timestamp allows. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

export function toProtoTimestamp(date: Date): ProtoTimestamp {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new Error('toProtoTimestamp: invalid Date');
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/**
 * A request's Timestamp as a Date (millisecond precision: sub-millisecond nanos are dropped), or
 * undefined when the field was absent. Out-of-range or malformed values are the caller's error.
 */
export function fromProtoTimestamp(
  value: { readonly seconds?: string | number | null; readonly nanos?: number | null } | null | undefined,
  field: string,
): Date | undefined {
  if (value === null || value === undefined) return undefined;
  const secondsText = String(value.seconds ?? '0');
  const nanos = value.nanos ?? 0;
  if (!/^-?\d{1,12}$/.test(secondsText) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw new ValidationError('INVALID_TIMESTAMP', `${field} is not a valid timestamp`, { field });
  }
  const seconds = Number(secondsText);
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
    throw new ValidationError('INVALID_TIMESTAMP', `${field} is outside 0001-01-01..9999-12-31`, { field });
  }
  return new Date(seconds * 1000 + Math.floor(nanos / 1_000_000));
}
