import { IllegalStateError, IdempotencyConflictError, NotFoundError } from '@ledger/errors';

/** Why a well-formed payout command is refused in the batch's current state. Stable API codes. */
export type PayoutRejectionCode =
  | 'BATCH_ALREADY_EXISTS'
  | 'BATCH_ALREADY_UPLOADED'
  | 'BATCH_NOT_UPLOADED'
  | 'BATCH_NOT_EXECUTABLE'
  | 'BATCH_NO_VALID_ROWS'
  | 'BATCH_NOT_CANCELLABLE'
  | 'BATCH_NOT_RUNNING'
  | 'BATCH_ALREADY_PAUSED'
  | 'BATCH_NOT_PAUSED'
  | 'BATCH_NOT_COMPENSABLE'
  | 'NOTHING_TO_COMPENSATE'
  | 'ROW_NOT_COMPENSABLE';

export class PayoutRejection extends IllegalStateError {
  constructor(
    override readonly code: PayoutRejectionCode,
    message: string,
    details: ConstructorParameters<typeof IllegalStateError>[2] = {},
  ) {
    super(code, message, details);
  }
}

export function batchNotFound(batchId: string): NotFoundError {
  return new NotFoundError('BATCH_NOT_FOUND', `Payout batch ${batchId} does not exist`, { batchId });
}

export function rowNotFound(batchId: string, row: number): NotFoundError {
  return new NotFoundError('ROW_NOT_FOUND', `Payout batch ${batchId} has no row ${row}`, { batchId, row });
}

/** The batch was already given a different file: same key and same content only. */
export function uploadConflict(batchId: string): IdempotencyConflictError {
  return new IdempotencyConflictError('BATCH_CONTENT_CONFLICT', `Payout batch ${batchId} already holds a different file`, { batchId });
}
