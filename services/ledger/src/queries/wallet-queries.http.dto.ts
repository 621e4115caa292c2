import { ApiProperty } from '@nestjs/swagger';

/** Response shapes of /v1/queries for OpenAPI (query.views.ts is the source of truth). */

const WATERMARK = 'The answer reflects every event at or below this global position (decimal string)';

export class BalanceViewDto {
  @ApiProperty({ format: 'uuid' }) walletId!: string;
  @ApiProperty() ownerId!: string;
  @ApiProperty({ example: 'USD' }) currency!: string;
  @ApiProperty({ example: '59.75', description: 'Total balance, held money included' }) balance!: string;
  @ApiProperty({ example: '49.75', description: 'balance − held' }) available!: string;
  @ApiProperty({ example: '10.00' }) held!: string;
  @ApiProperty({ example: '7', description: 'Stream revision of the last event reflected' }) revision!: string;
  @ApiProperty({ example: '4295032833', description: 'Global position of that event' }) position!: string;
  @ApiProperty({ example: '2026-11-21T10:00:00.000Z', description: 'When that event was recorded (current balance: when the row was updated)' }) asOf!: string;
}

export class CurrentBalanceDto extends BalanceViewDto {
  @ApiProperty({ enum: ['open', 'frozen', 'closed'] }) status!: string;
  @ApiProperty({ description: WATERMARK }) watermark!: string;
}

export class BalanceAtDto extends BalanceViewDto {
  @ApiProperty({ description: WATERMARK }) watermark!: string;
}

export class BalancesDto {
  @ApiProperty({ description: `${WATERMARK}; every balance is the wallet's state after its last event at or below it` }) watermark!: string;
  @ApiProperty({ type: [BalanceViewDto], description: 'In the order asked' }) balances!: BalanceViewDto[];
}

export class HistoryEntryDto {
  @ApiProperty({ format: 'uuid' }) walletId!: string;
  @ApiProperty() revision!: string;
  @ApiProperty() position!: string;
  @ApiProperty() recordedAt!: string;
  @ApiProperty({ example: 'TransferDebited' }) type!: string;
  @ApiProperty({ example: '-40.25', description: 'Signed effect on the balance; 0 for lifecycle and hold events' }) amount!: string;
  @ApiProperty() currency!: string;
  @ApiProperty() balanceAfter!: string;
  @ApiProperty() heldAfter!: string;
  @ApiProperty() availableAfter!: string;
  @ApiProperty({ nullable: true, type: String, example: 'wallet:…', description: 'The other side of a movement' }) counterparty!: string | null;
  @ApiProperty({ nullable: true, type: String }) transactionId!: string | null;
  @ApiProperty({ nullable: true, type: String }) holdId!: string | null;
  @ApiProperty({ nullable: true, type: String }) reference!: string | null;
  @ApiProperty({ nullable: true, type: String }) correlationId!: string | null;
}

export class HistoryPageDto {
  @ApiProperty({ description: WATERMARK }) watermark!: string;
  @ApiProperty({ type: [HistoryEntryDto] }) entries!: HistoryEntryDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Opaque; pass as cursor with the same filters for the next page. Null on the last page.' }) nextCursor!: string | null;
}

export class DirectoryEntryDto {
  @ApiProperty({ format: 'uuid' }) walletId!: string;
  @ApiProperty() ownerId!: string;
  @ApiProperty() currency!: string;
  @ApiProperty({ enum: ['open', 'frozen', 'closed'] }) status!: string;
  @ApiProperty() openedAt!: string;
}

export class WalletsPageDto {
  @ApiProperty({ description: WATERMARK }) watermark!: string;
  @ApiProperty() ownerId!: string;
  @ApiProperty({ type: [DirectoryEntryDto] }) wallets!: DirectoryEntryDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor!: string | null;
}
