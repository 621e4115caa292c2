import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Request and response shapes for OpenAPI. Validation happens in the use cases (named errors). */
export class OpenWalletBody {
  @ApiProperty({ example: 'USD', description: 'ISO 4217 code' }) currency!: string;
  @ApiPropertyOptional({ description: 'Owner subject; defaults to the caller. Others need ledger:admin or ledger:service.' }) ownerId?: string;
}

export class MoneyBody {
  @ApiProperty({ example: '12.34', description: 'Decimal string in major units; at most the currency’s decimals; > 0; ≤ 10^13 major units' }) amount!: string;
  @ApiProperty({ example: 'USD' }) currency!: string;
  @ApiPropertyOptional({ maxLength: 140 }) reference?: string;
}

export class PinnedMoneyBody extends MoneyBody {
  @ApiPropertyOptional({ example: '1234', description: 'Transaction PIN (4 digits); required for users moving money' }) transactionPin?: string;
}

export class TransferBody extends PinnedMoneyBody {
  @ApiProperty({ format: 'uuid' }) fromWalletId!: string;
  @ApiProperty({ format: 'uuid' }) toWalletId!: string;
}

export class PlaceHoldBody extends PinnedMoneyBody {
  @ApiProperty({ example: '2026-12-01T00:00:00Z', description: 'RFC 3339 UTC; within 30 days' }) expiresAt!: string;
}

export class CaptureHoldBody {
  @ApiPropertyOptional({ description: 'Omit to capture the whole hold' }) amount?: string;
  @ApiPropertyOptional() currency?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'Exactly one of toWalletId and toSystemAccount' }) toWalletId?: string;
  @ApiPropertyOptional({ enum: ['external-funding', 'payout-settlement'] }) toSystemAccount?: string;
  @ApiPropertyOptional({ maxLength: 140 }) reference?: string;
  @ApiPropertyOptional() transactionPin?: string;
}

export class FreezeBody {
  @ApiProperty({ maxLength: 200 }) reason!: string;
}

export class SetPinBody {
  @ApiProperty({ example: '1234' }) newPin!: string;
  @ApiPropertyOptional({ description: 'Required when changing an existing PIN' }) currentPin?: string;
}

export class HoldDto {
  @ApiProperty() holdId!: string;
  @ApiProperty() amount!: string;
  @ApiProperty() expiresAt!: string;
}

export class WalletDto {
  @ApiProperty() walletId!: string;
  @ApiProperty() ownerId!: string;
  @ApiProperty() currency!: string;
  @ApiProperty({ enum: ['open', 'frozen', 'closed'] }) status!: string;
  @ApiProperty({ example: '59.75' }) balance!: string;
  @ApiProperty() available!: string;
  @ApiProperty() held!: string;
  @ApiProperty({ description: 'Stream revision (also the ETag)' }) revision!: string;
  @ApiProperty({ type: [HoldDto] }) openHolds!: HoldDto[];
}

export class CommandResponseDto {
  @ApiProperty({ description: 'Global position of the append (decimal string): pass as minPosition to read your write' }) position!: string;
  @ApiProperty({ description: 'True when the idempotency key replayed the original result' }) replayed!: boolean;
  @ApiProperty({ nullable: true, type: String }) transactionId!: string | null;
  @ApiProperty({ nullable: true, type: String }) holdId!: string | null;
  @ApiProperty({ type: [WalletDto], description: 'The wallets the caller may see, after the command' }) wallets!: WalletDto[];
}
