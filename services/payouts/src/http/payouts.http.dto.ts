import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { MAX_ROWS_PAGE_SIZE } from '../application/payouts.application';

/**
 * Request and response shapes of /v1/payouts for OpenAPI (payouts.application.ts is the source of
 * truth for the responses). Validation happens in the application, by name.
 */

const BATCH_STATUSES = ['PENDING', 'VALIDATED', 'PROCESSING', 'COMPLETED', 'PARTIALLY_FAILED', 'FAILED', 'CANCELLED', 'COMPENSATING', 'COMPENSATED', 'PARTIALLY_COMPENSATED'];
export const ROW_STATUSES = ['PENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'REVERSED', 'REVERSAL_FAILED'];
const PIN = 'Transaction PIN (4 digits); required for users, omitted by service principals';

export class CreateBatchBody {
  @ApiProperty({ format: 'uuid', description: 'The wallet the batch pays from; yours unless you hold an admin or service scope' }) sourceWalletId!: string;
  @ApiProperty({ example: 'USD', description: 'ISO 4217; the source wallet’s currency' }) currency!: string;
  @ApiPropertyOptional({ maxLength: 200, description: 'Free text, no control characters' }) description?: string;
}

export class ExecuteBatchBody {
  @ApiPropertyOptional({ example: '1234', description: PIN }) pin?: string;
}

export class CancelBatchBody {
  @ApiPropertyOptional({ maxLength: 200, description: 'Recorded with the cancellation' }) reason?: string;
}

export class CompensateBatchBody {
  @ApiPropertyOptional({ type: [Number], example: [2, 5], description: 'Row numbers to reverse (at most 10,000); absent or empty: every SUCCEEDED row' }) rows?: number[];
  @ApiPropertyOptional({ example: '1234', description: PIN }) pin?: string;
}

export class RowCountsDto {
  @ApiProperty() PENDING!: number;
  @ApiProperty() PROCESSING!: number;
  @ApiProperty() SUCCEEDED!: number;
  @ApiProperty() FAILED!: number;
  @ApiProperty() REVERSED!: number;
  @ApiProperty() REVERSAL_FAILED!: number;
}

export class CompensationDto {
  @ApiProperty({ format: 'uuid' }) compensationId!: string;
  @ApiProperty({ enum: ['ALL_SUCCEEDED', 'SELECTED'] }) scope!: string;
  @ApiProperty({ description: 'Chunks of rows the compensation touches' }) chunks!: number;
  @ApiProperty({ description: 'Of which settled' }) chunksSettled!: number;
}

export class BatchDto {
  @ApiProperty({ format: 'uuid' }) batchId!: string;
  @ApiProperty() ownerId!: string;
  @ApiProperty({ format: 'uuid' }) sourceWalletId!: string;
  @ApiProperty({ example: 'USD' }) currency!: string;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty({ enum: BATCH_STATUSES }) status!: string;
  @ApiProperty({ description: 'True while a PROCESSING batch is paused' }) paused!: boolean;
  @ApiProperty({ example: '2026-11-21T10:00:00.000Z' }) createdAt!: string;
  @ApiProperty() updatedAt!: string;
  @ApiProperty({ description: 'Data rows of the uploaded file (0 before the upload)' }) rows!: number;
  @ApiProperty() validRows!: number;
  @ApiProperty() invalidRows!: number;
  @ApiProperty({ type: RowCountsDto }) counts!: RowCountsDto;
  @ApiProperty({ example: '1250.00', description: 'Decimal string, major units of currency' }) validTotal!: string;
  @ApiProperty({ example: '1000.00' }) paidTotal!: string;
  @ApiProperty({ example: '0.00' }) reversedTotal!: string;
  @ApiProperty({ example: '0.00' }) releasedTotal!: string;
  @ApiProperty({ example: '0.8000', description: '0..1, four decimals, as text' }) progress!: string;
  @ApiProperty({ nullable: true, type: String, description: 'The ledger hold reserving the total' }) holdId!: string | null;
  @ApiProperty({ enum: ['none', 'requested', 'reserved', 'refused', 'released'] }) reservation!: string;
  @ApiProperty({ nullable: true, type: String, example: 'INSUFFICIENT_FUNDS' }) refusalReason!: string | null;
  @ApiProperty({ nullable: true, type: CompensationDto }) compensation!: CompensationDto | null;
  @ApiProperty({ description: 'Revision of the batch stream this view reflects' }) revision!: string;
}

export class PayoutCommandResponseDto {
  @ApiProperty({ type: BatchDto, description: 'The batch after the command' }) batch!: BatchDto;
  @ApiProperty({ description: 'Global position of the append (decimal string); "0" when the command changed nothing' }) position!: string;
  @ApiProperty({ description: 'True when the idempotency key replayed the original result (also the Idempotent-Replayed header)' }) replayed!: boolean;
}

export class InvalidRowDto {
  @ApiProperty() row!: number;
  @ApiProperty() recipientId!: string;
  @ApiProperty({ description: 'As written in the file' }) amount!: string;
  @ApiProperty({ example: 'AMOUNT_PRECISION', description: 'Stable reason code' }) reason!: string;
}

export class UploadSummaryDto {
  @ApiProperty({ format: 'uuid' }) batchId!: string;
  @ApiProperty({ enum: BATCH_STATUSES }) status!: string;
  @ApiProperty() currency!: string;
  @ApiProperty({ description: 'Data rows (header and blank lines excluded)' }) rows!: number;
  @ApiProperty() validRows!: number;
  @ApiProperty() invalidRows!: number;
  @ApiProperty({ example: '1250.00' }) validTotal!: string;
  @ApiProperty({ description: 'Lower-case hex SHA-256 of the file as received' }) fileSha256!: string;
  @ApiProperty() fileBytes!: number;
  @ApiProperty({ type: [InvalidRowDto], description: 'The first invalid rows in row order; GET …/rows?status=FAILED has them all' }) invalidSample!: InvalidRowDto[];
  @ApiProperty({ description: 'True when this exact file had already been recorded for the batch' }) replayed!: boolean;
}

export class RowDto {
  @ApiProperty({ description: '1-based data row number' }) row!: number;
  @ApiProperty() recipientId!: string;
  @ApiProperty({ example: '12.34' }) amount!: string;
  @ApiProperty({ nullable: true, type: String }) reference!: string | null;
  @ApiProperty({ enum: ROW_STATUSES }) status!: string;
  @ApiProperty({ nullable: true, type: String, description: 'Why the row FAILED or its last reversal failed' }) reason!: string | null;
  @ApiProperty({ nullable: true, type: String }) transactionId!: string | null;
  @ApiProperty() reversalAttempts!: number;
  @ApiProperty({ nullable: true, type: String }) reversalTransactionId!: string | null;
}

export class RowsPageDto {
  @ApiProperty({ type: [RowDto] }) rows!: RowDto[];
  @ApiProperty({ nullable: true, type: String, description: `Opaque; pass as cursor (same status filter) for the next page of at most ${MAX_ROWS_PAGE_SIZE}. Null on the last page.` }) nextCursor!: string | null;
}
