import type { PinHash } from './pin-hasher';

/** One owner's PIN state. The hash never leaves the PIN module: not in errors, logs or events. */
export interface PinRecord extends PinHash {
  readonly ownerId: string;
  /** Wrong PINs since the last success or the last lock expiry. */
  readonly consecutiveFailures: number;
  /** Set by the attempt that reached the limit; a time in the past means the lock has expired. */
  readonly lockedUntil: Date | null;
  /** The `now` of the last write (domain time, not the database clock). */
  readonly updatedAt: Date;
}

export interface PinUpdate<T> {
  /** The owner's new record; omitted when nothing changes. */
  readonly write?: PinRecord;
  readonly result: T;
}

/**
 * Storage port for PIN records. All changes go through `update`, which serialises everything
 * done for one owner, so that failure counting is exact under concurrency.
 */
export interface PinStore {
  /**
   * Calls `decide` with the owner's current record (undefined when none) while holding that
   * owner's lock, then stores `write` (if any) before releasing it. Nothing for the same owner
   * runs in between. When `decide` throws, nothing is written and its error propagates.
   *
   * @throws TimeoutError PIN_STORE_BUSY when the owner's lock could not be taken in time (PostgreSQL)
   * @throws whatever `decide` throws, unchanged; driver errors unchanged
   */
  update<T>(ownerId: string, decide: (current: PinRecord | undefined) => Promise<PinUpdate<T>>): Promise<T>;
}
