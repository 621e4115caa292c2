import { CurrentPrincipal, type Principal } from '@ledger/auth';
import { ForbiddenError, ValidationError } from '@ledger/errors';
import { PIN_USER_ONLY } from '../grpc/ledger.grpc.handlers';
import { ApiProblemResponses } from '@ledger/nest';
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Put, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { PinService } from '@ledger/auth';
import { LEDGER_CLOCK, PIN_SERVICE, WALLET_COMMANDS, WALLET_QUERIES } from '../ledger.tokens';
import type { CommandResponse, WalletCommandsService } from './wallet-commands.service';
import type { WalletQueriesService } from './wallet-queries.service';
import {
  CaptureHoldBody,
  CommandResponseDto,
  FreezeBody,
  MoneyBody,
  OpenWalletBody,
  PinnedMoneyBody,
  PlaceHoldBody,
  SetPinBody,
  TransferBody,
  WalletDto,
} from './wallet.http.dto';

type Fields = Record<string, unknown>;

/** Every money-moving call carries `Idempotency-Key`; a replay answers with the original result. */
const IdempotencyHeader = ApiHeader({ name: 'Idempotency-Key', required: true, description: '8-128 chars of [A-Za-z0-9_.:-], unique per request' });

@ApiTags('wallets')
@ApiBearerAuth('bearer')
@ApiProblemResponses()
@Controller('v1')
export class WalletsHttpController {
  constructor(
    @Inject(WALLET_COMMANDS) private readonly commands: WalletCommandsService,
    @Inject(WALLET_QUERIES) private readonly queries: WalletQueriesService,
    @Inject(PIN_SERVICE) private readonly pins: Pick<PinService, 'setPin'>,
    @Inject(LEDGER_CLOCK) private readonly clock: () => Date,
  ) {}

  @Post('wallets')
  @HttpCode(201)
  @IdempotencyHeader
  @ApiBody({ type: OpenWalletBody })
  @ApiOkResponse({ type: CommandResponseDto })
  async open(@CurrentPrincipal() principal: Principal, @Headers('idempotency-key') key: string | undefined, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const b = fields(body);
    return replayHeader(res, await this.commands.openWallet(principal, { currency: b['currency'], ...(b['ownerId'] === undefined ? {} : { ownerId: text(b['ownerId'], 'ownerId') }), idempotencyKey: key }));
  }

  @Get('wallets/:walletId')
  @ApiOkResponse({ type: WalletDto })
  async get(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Res({ passthrough: true }) res: Response) {
    const wallet = await this.queries.getWallet(principal, walletId);
    res.setHeader('ETag', `"${wallet.revision}"`);
    return wallet;
  }

  @Post('wallets/:walletId/deposits')
  @HttpCode(201)
  @IdempotencyHeader
  @ApiBody({ type: MoneyBody })
  @ApiOkResponse({ type: CommandResponseDto })
  async deposit(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Headers('idempotency-key') key: string | undefined, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const b = fields(body);
    return replayHeader(res, await this.commands.deposit(principal, { walletId, amount: b['amount'], currency: b['currency'], reference: b['reference'], idempotencyKey: key }));
  }

  @Post('wallets/:walletId/withdrawals')
  @HttpCode(201)
  @IdempotencyHeader
  @ApiBody({ type: PinnedMoneyBody })
  @ApiOkResponse({ type: CommandResponseDto })
  async withdraw(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Headers('idempotency-key') key: string | undefined, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const b = fields(body);
    return replayHeader(res, await this.commands.withdraw(principal, { walletId, amount: b['amount'], currency: b['currency'], reference: b['reference'], pin: b['transactionPin'], idempotencyKey: key }));
  }

  @Post('transfers')
  @HttpCode(201)
  @IdempotencyHeader
  @ApiBody({ type: TransferBody })
  @ApiOkResponse({ type: CommandResponseDto })
  async transfer(@CurrentPrincipal() principal: Principal, @Headers('idempotency-key') key: string | undefined, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const b = fields(body);
    return replayHeader(res, await this.commands.transfer(principal, {
      fromWalletId: b['fromWalletId'], toWalletId: b['toWalletId'], amount: b['amount'], currency: b['currency'], reference: b['reference'], pin: b['transactionPin'], idempotencyKey: key,
    }));
  }

  @Post('wallets/:walletId/holds')
  @HttpCode(201)
  @IdempotencyHeader
  @ApiBody({ type: PlaceHoldBody })
  @ApiOkResponse({ type: CommandResponseDto })
  async placeHold(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Headers('idempotency-key') key: string | undefined, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const b = fields(body);
    return replayHeader(res, await this.commands.placeHold(principal, { walletId, amount: b['amount'], currency: b['currency'], expiresAt: b['expiresAt'], pin: b['transactionPin'], idempotencyKey: key }));
  }

  @Post('wallets/:walletId/holds/:holdId/capture')
  @HttpCode(200)
  @IdempotencyHeader
  @ApiBody({ type: CaptureHoldBody })
  @ApiOkResponse({ type: CommandResponseDto })
  async capture(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Param('holdId') holdId: string, @Headers('idempotency-key') key: string | undefined, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const b = fields(body);
    return replayHeader(res, await this.commands.captureHold(principal, {
      walletId, holdId, amount: b['amount'], currency: b['currency'], toWalletId: b['toWalletId'], toSystemAccount: b['toSystemAccount'], reference: b['reference'], pin: b['transactionPin'], idempotencyKey: key,
    }));
  }

  @Post('wallets/:walletId/holds/:holdId/release')
  @HttpCode(200)
  @IdempotencyHeader
  @ApiOkResponse({ type: CommandResponseDto })
  async release(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Param('holdId') holdId: string, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    return replayHeader(res, await this.commands.releaseHold(principal, { walletId, holdId, idempotencyKey: key }));
  }

  @Post('wallets/:walletId/freeze')
  @HttpCode(200)
  @IdempotencyHeader
  @ApiBody({ type: FreezeBody })
  @ApiOkResponse({ type: CommandResponseDto })
  async freeze(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Headers('idempotency-key') key: string | undefined, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    return replayHeader(res, await this.commands.freezeWallet(principal, { walletId, reason: fields(body)['reason'], idempotencyKey: key }));
  }

  @Post('wallets/:walletId/unfreeze')
  @HttpCode(200)
  @IdempotencyHeader
  @ApiOkResponse({ type: CommandResponseDto })
  async unfreeze(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    return replayHeader(res, await this.commands.unfreezeWallet(principal, { walletId, idempotencyKey: key }));
  }

  @Post('wallets/:walletId/close')
  @HttpCode(200)
  @IdempotencyHeader
  @ApiOkResponse({ type: CommandResponseDto })
  async close(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Headers('idempotency-key') key: string | undefined, @Res({ passthrough: true }) res: Response) {
    return replayHeader(res, await this.commands.closeWallet(principal, { walletId, idempotencyKey: key }));
  }

  /** Sets or changes the caller's own transaction PIN. Nothing about the PIN is returned. */
  @Put('me/transaction-pin')
  @HttpCode(204)
  @ApiBody({ type: SetPinBody })
  async setPin(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<void> {
    // Services confirm nothing with a PIN (they carry ledger:service); one must never gain a PIN
    // under a subject that could equal a user's owner id.
    if (principal.kind !== 'user') throw new ForbiddenError(PIN_USER_ONLY, 'Only users have a transaction PIN', { kind: principal.kind });
    const b = fields(body);
    const current = b['currentPin'];
    await this.pins.setPin(principal.subject, text(b['newPin'], 'newPin'), this.clock(), current === undefined || current === '' ? undefined : text(current, 'currentPin'));
  }
}

function fields(body: unknown): Fields {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('INVALID_BODY', 'The request body must be a JSON object');
  }
  return body as Fields;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new ValidationError('INVALID_FIELD', `${field} must be a string`, { field });
  return value;
}

function replayHeader(res: Response, outcome: CommandResponse): CommandResponse {
  if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
  return outcome;
}
