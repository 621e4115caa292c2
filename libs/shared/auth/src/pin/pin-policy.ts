import { ValidationError } from '@ledger/errors';

/** Lockout rules (env: PIN_MAX_ATTEMPTS, PIN_LOCK_SECONDS; see loadAuthConfig). */
export interface PinPolicy {
  /** Consecutive wrong PINs that lock it; the attempt that reaches this number locks. */
  readonly maxAttempts: number;
  /** How long a lock lasts, from the locking attempt. */
  readonly lockSeconds: number;
}

/** Stable codes (part of the API contract: never renamed). */
export const PinErrorCodes = {
  /** ValidationError: a PIN is not exactly 4 ASCII digits. */
  formatInvalid: 'PIN_FORMAT_INVALID',
  /** IllegalStateError: the owner has no PIN yet (set one first); not counted as a failure. */
  notSet: 'PIN_NOT_SET',
  /** ForbiddenError: wrong PIN; details.attemptsRemaining before the lock. */
  invalid: 'PIN_INVALID',
  /** RateLimitedError: locked; details.lockedUntil (ISO 8601) and retryAfterSeconds. */
  locked: 'PIN_LOCKED',
  /** ValidationError: changing an existing PIN needs the current one. */
  currentRequired: 'PIN_CURRENT_REQUIRED',
  /** ValidationError: the owner id is empty or too long. */
  ownerInvalid: 'OWNER_ID_INVALID',
} as const;

export const PIN_LENGTH = 4;
const PIN_FORMAT = /^[0-9]{4}$/;
export const MAX_PIN_OWNER_ID_LENGTH = 200;

/**
 * Exactly four ASCII digits (no spaces, no Unicode digits, no numbers: a leading 0 matters).
 * The error never contains the value.
 */
export function assertPinFormat(pin: unknown, field = 'pin'): asserts pin is string {
  if (typeof pin !== 'string' || !PIN_FORMAT.test(pin)) {
    throw new ValidationError(PinErrorCodes.formatInvalid, `The ${field} must be exactly ${PIN_LENGTH} digits (0-9)`, { field });
  }
}

export function assertPinOwnerId(ownerId: unknown): asserts ownerId is string {
  if (typeof ownerId !== 'string' || ownerId === '' || ownerId.length > MAX_PIN_OWNER_ID_LENGTH) {
    throw new ValidationError(PinErrorCodes.ownerInvalid, `The owner id must be 1 to ${MAX_PIN_OWNER_ID_LENGTH} characters`);
  }
}
