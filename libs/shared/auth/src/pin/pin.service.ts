import { ForbiddenError, IllegalStateError, RateLimitedError, ValidationError } from '@ledger/errors';
import { type PinHasher, sameScryptParams, ScryptPinHasher } from './pin-hasher';
import { assertPinFormat, assertPinOwnerId, PinErrorCodes, type PinPolicy } from './pin-policy';
import type { PinRecord, PinStore, PinUpdate } from './pin-store';

type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'not_set' }
  | { readonly kind: 'current_required' }
  | { readonly kind: 'invalid'; readonly attemptsRemaining: number }
  | { readonly kind: 'locked'; readonly lockedUntil: Date; readonly now: Date };

const OK: Outcome = { kind: 'ok' };

function assertNow(now: Date): void {
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('now must be a valid Date');
}

/**
 * Transaction PINs: set, change and verify, with a lockout after `policy.maxAttempts`
 * consecutive wrong PINs. Time arrives as `now` (the domain never reads a clock), so a lock
 * expires when the caller's clock passes `lockedUntil`. Every decision for one owner runs
 * under the store's per-owner lock, so parallel wrong guesses are each counted.
 *
 * Errors (codes in PinErrorCodes; none ever carries the PIN or its hash):
 * - ValidationError PIN_FORMAT_INVALID, PIN_CURRENT_REQUIRED, OWNER_ID_INVALID
 * - IllegalStateError PIN_NOT_SET (a precondition the owner must fix, not a bad guess: not counted)
 * - ForbiddenError PIN_INVALID { attemptsRemaining }
 * - RateLimitedError PIN_LOCKED { lockedUntil, retryAfterSeconds, attemptsRemaining: 0 }
 */
export class PinService {
  constructor(
    private readonly store: PinStore,
    private readonly policy: PinPolicy,
    private readonly hasher: PinHasher = new ScryptPinHasher(),
  ) {
    if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) throw new Error('PIN maxAttempts must be a positive integer');
    if (!Number.isInteger(policy.lockSeconds) || policy.lockSeconds < 1) throw new Error('PIN lockSeconds must be a positive integer');
  }

  /**
   * Sets the first PIN (no current PIN needed) or changes it (the current PIN is verified and
   * counted like any attempt; a lock refuses the change). A currentPin given for a first set is
   * ignored: there is nothing to check it against.
   */
  async setPin(ownerId: string, newPin: string, now: Date, currentPin?: string): Promise<void> {
    assertPinOwnerId(ownerId);
    assertPinFormat(newPin, 'pin');
    if (currentPin !== undefined) assertPinFormat(currentPin, 'currentPin');
    assertNow(now);
    // Hashing the new PIN decides nothing, so it runs before the owner's lock is taken.
    const fresh = await this.hasher.hash(newPin);
    const replacement: PinRecord = { ownerId, ...fresh, consecutiveFailures: 0, lockedUntil: null, updatedAt: now };
    const outcome = await this.store.update<Outcome>(ownerId, async (current) => {
      if (current === undefined) return { write: replacement, result: OK };
      if (currentPin === undefined) return { result: { kind: 'current_required' } };
      const attempt = await this.attempt(current, currentPin, now);
      return attempt.result.kind === 'ok' ? { write: replacement, result: OK } : attempt;
    });
    this.raiseUnlessOk(outcome);
  }

  /** Resolves when `pin` is the owner's PIN and it is not locked; otherwise throws (see class doc). */
  async verifyPin(ownerId: string, pin: string, now: Date): Promise<void> {
    assertPinOwnerId(ownerId);
    assertPinFormat(pin, 'pin');
    assertNow(now);
    const outcome = await this.store.update<Outcome>(ownerId, async (current) => {
      if (current === undefined) return { result: { kind: 'not_set' } };
      const attempt = await this.attempt(current, pin, now);
      if (attempt.result.kind !== 'ok' || sameScryptParams(current.params, this.hasher.params)) return attempt;
      // Stored with older parameters: upgrade now that we hold the correct PIN.
      const upgraded = await this.hasher.hash(pin);
      return { write: { ...current, ...upgraded, consecutiveFailures: 0, lockedUntil: null, updatedAt: now }, result: OK };
    });
    this.raiseUnlessOk(outcome);
  }

  /** One counted attempt against a record, under the owner's lock. */
  private async attempt(current: PinRecord, pin: string, now: Date): Promise<PinUpdate<Outcome>> {
    if (current.lockedUntil !== null && now.getTime() < current.lockedUntil.getTime()) {
      return { result: { kind: 'locked', lockedUntil: current.lockedUntil, now } };
    }
    // A lock that has run out starts a fresh count.
    const failuresBefore = current.lockedUntil === null ? current.consecutiveFailures : 0;
    if (await this.hasher.matches(pin, current)) {
      const unchanged = current.consecutiveFailures === 0 && current.lockedUntil === null;
      return unchanged
        ? { result: OK }
        : { write: { ...current, consecutiveFailures: 0, lockedUntil: null, updatedAt: now }, result: OK };
    }
    const failures = failuresBefore + 1;
    if (failures >= this.policy.maxAttempts) {
      const lockedUntil = new Date(now.getTime() + this.policy.lockSeconds * 1000);
      return {
        write: { ...current, consecutiveFailures: failures, lockedUntil, updatedAt: now },
        result: { kind: 'locked', lockedUntil, now },
      };
    }
    return {
      write: { ...current, consecutiveFailures: failures, lockedUntil: null, updatedAt: now },
      result: { kind: 'invalid', attemptsRemaining: this.policy.maxAttempts - failures },
    };
  }

  private raiseUnlessOk(outcome: Outcome): void {
    switch (outcome.kind) {
      case 'ok':
        return;
      case 'not_set':
        throw new IllegalStateError(PinErrorCodes.notSet, 'No transaction PIN is set: set one first');
      case 'current_required':
        throw new ValidationError(PinErrorCodes.currentRequired, 'Changing the PIN needs the current PIN', { field: 'currentPin' });
      case 'invalid':
        throw new ForbiddenError(PinErrorCodes.invalid, 'The PIN is wrong', { attemptsRemaining: outcome.attemptsRemaining });
      case 'locked':
        throw new RateLimitedError(PinErrorCodes.locked, 'Too many wrong PINs: the PIN is locked for now', {
          lockedUntil: outcome.lockedUntil.toISOString(),
          retryAfterSeconds: Math.max(1, Math.ceil((outcome.lockedUntil.getTime() - outcome.now.getTime()) / 1000)),
          attemptsRemaining: 0,
        });
    }
  }
}
