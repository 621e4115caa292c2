import { CurrentPrincipal, type Principal } from '@ledger/auth';
import { ApiProblemResponses } from '@ledger/nest';
import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { WALLET_EVENT_TYPES } from '@ledger/ledger-domain';
import { WALLET_READ_MODEL_QUERIES } from './queries.tokens';
import { DEFAULT_PAGE_SIZE, HISTORY_ORDERS, MAX_PAGE_SIZE, MAX_WALLETS_PER_BALANCES_QUERY } from './query-input';
import type { WalletReadModelQueriesService } from './wallet-read-model-queries.service';
import { BalanceAtDto, BalancesDto, CurrentBalanceDto, HistoryPageDto, WalletsPageDto } from './wallet-queries.http.dto';

type QueryString = Record<string, unknown>;

const MinPosition = ApiQuery({
  name: 'minPosition',
  required: false,
  description:
    'Read your writes: the `position` a command answered. Waits (at most QUERY_MAX_WAIT_MS) until the read models reflect it: 504 READ_MODEL_NOT_CAUGHT_UP otherwise; beyond the newest event: 400 POSITION_FROM_FUTURE',
});
const PageSize = ApiQuery({ name: 'pageSize', required: false, description: `1 to ${MAX_PAGE_SIZE} (PAGE_SIZE_TOO_LARGE above), default ${DEFAULT_PAGE_SIZE}` });
const Cursor = ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page; repeat the same filters with it (INVALID_CURSOR otherwise)' });

/**
 * REST over the read models (ADR 0007): the same use cases as ledger.v1.WalletQueryService, the
 * same authentication (global JWT guard) and object-level rules. Query-string values reach the
 * service as they came (strings, or arrays when repeated) and are refused there by name.
 */
@ApiTags('queries')
@ApiBearerAuth('bearer')
@ApiProblemResponses(400, 401, 403, 404, 429, 503, 504)
@Controller('v1/queries')
export class WalletQueriesHttpController {
  constructor(@Inject(WALLET_READ_MODEL_QUERIES) private readonly queries: WalletReadModelQueriesService) {}

  @Get('wallets/:walletId/balance')
  @ApiOperation({ summary: "A wallet's current projected balance" })
  @MinPosition
  @ApiOkResponse({ type: CurrentBalanceDto })
  balance(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Query() q: QueryString) {
    return this.queries.getBalance(principal, { walletId, minPosition: q['minPosition'] });
  }

  @Get('balances')
  @ApiOperation({ summary: 'Several wallets as of one watermark: a transfer between them is seen whole or not at all' })
  @ApiQuery({ name: 'walletIds', required: true, description: `Comma-separated and/or repeated wallet ids, at most ${MAX_WALLETS_PER_BALANCES_QUERY} (TOO_MANY_WALLETS)` })
  @MinPosition
  @ApiOkResponse({ type: BalancesDto })
  balances(@CurrentPrincipal() principal: Principal, @Query() q: QueryString) {
    return this.queries.getBalances(principal, { walletIds: q['walletIds'], minPosition: q['minPosition'] });
  }

  @Get('wallets/:walletId/history')
  @ApiOperation({ summary: "A page of a wallet's history (one entry per event of its stream)" })
  @ApiQuery({ name: 'from', required: false, description: 'Inclusive, RFC 3339 UTC' })
  @ApiQuery({ name: 'to', required: false, description: 'Exclusive, RFC 3339 UTC; from ≤ to (INVALID_TIME_RANGE)' })
  @ApiQuery({ name: 'types', required: false, description: `Comma-separated and/or repeated event types: ${WALLET_EVENT_TYPES.join(', ')}` })
  @ApiQuery({ name: 'order', required: false, enum: HISTORY_ORDERS, description: 'Default newest_first' })
  @PageSize
  @Cursor
  @MinPosition
  @ApiOkResponse({ type: HistoryPageDto })
  history(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Query() q: QueryString) {
    return this.queries.listHistory(principal, {
      walletId,
      from: q['from'],
      to: q['to'],
      types: q['types'],
      order: q['order'],
      pageSize: q['pageSize'],
      cursor: q['cursor'],
      minPosition: q['minPosition'],
    });
  }

  @Get('wallets/:walletId/balance-at')
  @ApiOperation({ summary: "A wallet's balance after its last event at or before a time or a global position" })
  @ApiQuery({ name: 'atTime', required: false, description: 'RFC 3339 UTC; exactly one of atTime and atPosition (INVALID_BALANCE_POINT)' })
  @ApiQuery({ name: 'atPosition', required: false, description: 'Global position (decimal string); waits like minPosition until the read models reflect it' })
  @MinPosition
  @ApiOkResponse({ type: BalanceAtDto })
  balanceAt(@CurrentPrincipal() principal: Principal, @Param('walletId') walletId: string, @Query() q: QueryString) {
    return this.queries.getBalanceAt(principal, { walletId, atTime: q['atTime'], atPosition: q['atPosition'], minPosition: q['minPosition'] });
  }

  @Get('wallets')
  @ApiOperation({ summary: "An owner's wallets (directory)" })
  @ApiQuery({ name: 'ownerId', required: false, description: "Default: the caller. Another owner's list needs ledger:admin, ledger:service or ledger:audit" })
  @PageSize
  @Cursor
  @MinPosition
  @ApiOkResponse({ type: WalletsPageDto })
  wallets(@CurrentPrincipal() principal: Principal, @Query() q: QueryString) {
    return this.queries.listWallets(principal, { ownerId: q['ownerId'], pageSize: q['pageSize'], cursor: q['cursor'], minPosition: q['minPosition'] });
  }
}
