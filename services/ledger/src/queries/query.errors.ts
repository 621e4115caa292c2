import { NotFoundError, TimeoutError, UnavailableError, ValidationError } from '@ledger/errors';

/**
 * The named refusals of the read-model queries (proto/ledger/v1/wallet_queries.proto lists them
 * per rpc). Codes are part of the API contract: never renamed, only added.
 */
export const QueryErrorCodes = {
  /** No projection has started yet (no live version, or its tables are missing): 503 / UNAVAILABLE. */
  notReady: 'READ_MODEL_NOT_READY',
  /** `minPosition` was not reached within QUERY_MAX_WAIT_MS: 504 / DEADLINE_EXCEEDED. */
  notCaughtUp: 'READ_MODEL_NOT_CAUGHT_UP',
  /** A position beyond the event store's head: nobody can have been told about it. */
  positionFromFuture: 'POSITION_FROM_FUTURE',
  invalidPosition: 'INVALID_POSITION',
  invalidCursor: 'INVALID_CURSOR',
  invalidPageSize: 'INVALID_PAGE_SIZE',
  pageSizeTooLarge: 'PAGE_SIZE_TOO_LARGE',
  invalidTimeRange: 'INVALID_TIME_RANGE',
  invalidTimestamp: 'INVALID_TIMESTAMP',
  invalidEventType: 'INVALID_EVENT_TYPE',
  invalidOrder: 'INVALID_ORDER',
  walletIdsRequired: 'WALLET_IDS_REQUIRED',
  tooManyWallets: 'TOO_MANY_WALLETS',
  /** Balance-at: exactly one of atTime and atPosition. */
  invalidBalancePoint: 'INVALID_BALANCE_POINT',
  /** Balance-at a point before the wallet's first event: there was no balance. */
  walletNotYetOpened: 'WALLET_NOT_YET_OPENED',
} as const;

export function readModelNotReady(reason: string): UnavailableError {
  // The kind hides message and details from the caller; the reason is for the server log.
  return new UnavailableError(QueryErrorCodes.notReady, `The wallet read models are not ready: ${reason}`);
}

export function readModelNotCaughtUp(minPosition: bigint, watermark: bigint, waitedMs: number): TimeoutError {
  return new TimeoutError(
    QueryErrorCodes.notCaughtUp,
    `The read models reflect events up to position ${watermark}, not yet ${minPosition}; retry later`,
    { minPosition: minPosition.toString(), watermark: watermark.toString(), waitedMs },
  );
}

export function positionFromFuture(field: string, position: bigint, head: bigint): ValidationError {
  return new ValidationError(QueryErrorCodes.positionFromFuture, `${field} ${position} is beyond the newest event (position ${head})`, {
    field,
    position: position.toString(),
    head: head.toString(),
  });
}

export function walletNotYetOpened(walletId: string, firstPosition: string, openedAt: string): NotFoundError {
  return new NotFoundError(QueryErrorCodes.walletNotYetOpened, `Wallet ${walletId} did not exist yet at that point`, {
    walletId,
    firstPosition,
    openedAt,
  });
}

export function invalidCursor(reason: string): ValidationError {
  return new ValidationError(QueryErrorCodes.invalidCursor, `cursor is not valid for this request: ${reason}`, { field: 'cursor' });
}
