import type { handleUnaryCall } from '@grpc/grpc-js';
import { authenticateGrpcMetadata, type JwtVerifier, type Principal } from '@ledger/auth';
import { fromProtoTimestamp, toProtoTimestamp, type createGrpcHandlers, type GrpcCallContext, type ProtoTimestamp } from '@ledger/nest';
import type { ProtoWalletStatus } from '../grpc/ledger.grpc.handlers';
import type { HistoryOrder } from './query-input';
import type { BalanceView, DirectoryEntryView, HistoryEntryView } from './query.views';
import type { QueryCall, WalletReadModelQueriesService } from './wallet-read-model-queries.service';

/** The fully qualified name to register the implementation under (startGrpcServer `services[].name`). */
export const WALLET_QUERY_GRPC_SERVICE_NAME = 'ledger.v1.WalletQueryService';

export interface WalletQueryGrpcDependencies {
  readonly queries: WalletReadModelQueriesService;
  readonly verifier: JwtVerifier;
  readonly handlers: ReturnType<typeof createGrpcHandlers>;
}

// Wire shapes as @grpc/proto-loader hands them over (PROTO_LOADER_OPTIONS): '' / 0 / [] for
// absent scalars, null for absent messages, enum names as strings.
type ProtoTimestampInput = { readonly seconds?: string | number | null; readonly nanos?: number | null } | null | undefined;
type ProtoHistoryOrder = 'HISTORY_ORDER_UNSPECIFIED' | 'HISTORY_ORDER_NEWEST_FIRST' | 'HISTORY_ORDER_OLDEST_FIRST';

export interface GetBalanceRequest { wallet_id: string; min_position: string }
export interface GetBalancesRequest { wallet_ids: string[]; min_position: string }
export interface ListHistoryRequest {
  wallet_id: string;
  from_time: ProtoTimestampInput;
  to_time: ProtoTimestampInput;
  types: string[];
  order: ProtoHistoryOrder | string | number;
  page_size: number;
  cursor: string;
  min_position: string;
}
export interface GetBalanceAtRequest {
  wallet_id: string;
  point?: 'at_time' | 'at_position' | null;
  at_time?: ProtoTimestampInput;
  at_position?: string | null;
  min_position: string;
}
export interface ListWalletsRequest { owner_id: string; page_size: number; cursor: string; min_position: string }

export interface ProtoWalletBalance {
  wallet_id: string;
  owner_id: string;
  currency: string;
  balance: string;
  available: string;
  held: string;
  revision: string;
  position: string;
  as_of: ProtoTimestamp;
}
export interface ProtoHistoryEntry {
  wallet_id: string;
  revision: string;
  position: string;
  recorded_at: ProtoTimestamp;
  type: string;
  amount: string;
  currency: string;
  balance_after: string;
  held_after: string;
  available_after: string;
  counterparty: string;
  transaction_id: string;
  hold_id: string;
  reference: string;
  correlation_id: string;
}
export interface ProtoDirectoryEntry { wallet_id: string; owner_id: string; currency: string; status: ProtoWalletStatus; opened_at: ProtoTimestamp }

export interface GetBalanceResponse { balance: ProtoWalletBalance; status: ProtoWalletStatus; watermark: string }
export interface GetBalancesResponse { watermark: string; balances: ProtoWalletBalance[] }
export interface ListHistoryResponse { watermark: string; entries: ProtoHistoryEntry[]; next_cursor: string }
export interface GetBalanceAtResponse { balance: ProtoWalletBalance; watermark: string }
export interface ListWalletsResponse { watermark: string; owner_id: string; wallets: ProtoDirectoryEntry[]; next_cursor: string }

/** A type alias (not an interface) so it is assignable to grpc-js' UntypedServiceImplementation. */
export type WalletQueryGrpcImplementation = {
  GetBalance: handleUnaryCall<GetBalanceRequest, GetBalanceResponse>;
  GetBalances: handleUnaryCall<GetBalancesRequest, GetBalancesResponse>;
  ListHistory: handleUnaryCall<ListHistoryRequest, ListHistoryResponse>;
  GetBalanceAt: handleUnaryCall<GetBalanceAtRequest, GetBalanceAtResponse>;
  ListWallets: handleUnaryCall<ListWalletsRequest, ListWalletsResponse>;
};

const STATUS: Readonly<Record<string, ProtoWalletStatus>> = { open: 'WALLET_STATUS_OPEN', frozen: 'WALLET_STATUS_FROZEN', closed: 'WALLET_STATUS_CLOSED' };

/**
 * Enum name → the service's order. UNSPECIFIED is the default; an unknown value (a newer client)
 * goes through as text so the service refuses it by name (INVALID_ORDER).
 */
function historyOrder(value: ListHistoryRequest['order']): HistoryOrder | string | undefined {
  if (value === 'HISTORY_ORDER_UNSPECIFIED' || value === 0 || value === '') return undefined;
  if (value === 'HISTORY_ORDER_NEWEST_FIRST') return 'newest_first';
  if (value === 'HISTORY_ORDER_OLDEST_FIRST') return 'oldest_first';
  return String(value);
}

function status(value: string): ProtoWalletStatus {
  return STATUS[value] ?? 'WALLET_STATUS_UNSPECIFIED';
}

function toProtoBalance(view: BalanceView): ProtoWalletBalance {
  return {
    wallet_id: view.walletId,
    owner_id: view.ownerId,
    currency: view.currency,
    balance: view.balance,
    available: view.available,
    held: view.held,
    revision: view.revision,
    position: view.position,
    as_of: toProtoTimestamp(new Date(view.asOf)),
  };
}

function toProtoHistoryEntry(entry: HistoryEntryView): ProtoHistoryEntry {
  return {
    wallet_id: entry.walletId,
    revision: entry.revision,
    position: entry.position,
    recorded_at: toProtoTimestamp(new Date(entry.recordedAt)),
    type: entry.type,
    amount: entry.amount,
    currency: entry.currency,
    balance_after: entry.balanceAfter,
    held_after: entry.heldAfter,
    available_after: entry.availableAfter,
    counterparty: entry.counterparty ?? '',
    transaction_id: entry.transactionId ?? '',
    hold_id: entry.holdId ?? '',
    reference: entry.reference ?? '',
    correlation_id: entry.correlationId ?? '',
  };
}

function toProtoDirectoryEntry(entry: DirectoryEntryView): ProtoDirectoryEntry {
  return { wallet_id: entry.walletId, owner_id: entry.ownerId, currency: entry.currency, status: status(entry.status), opened_at: toProtoTimestamp(new Date(entry.openedAt)) };
}

/** page_size 0 is proto3's "absent": the service's default applies. */
function pageSize(value: number): number | undefined {
  return value === 0 ? undefined : value;
}

/** The call's deadline and cancellation bound the read-your-writes wait. */
function queryCall(context: GrpcCallContext): QueryCall {
  return { signal: context.signal, ...(context.deadline ? { deadline: context.deadline } : {}) };
}

/**
 * The implementation of ledger.v1.WalletQueryService: authenticate the `authorization` metadata
 * first (no principal, no work), map the request to the query service's raw inputs (which parse
 * and refuse by name), map the answer back. Errors leave through the `unary` wrapper as the
 * gRPC status with the `reason-code` trailer, like LedgerService.
 */
export function createWalletQueryGrpcImplementation(deps: WalletQueryGrpcDependencies): WalletQueryGrpcImplementation {
  const { queries, verifier, handlers } = deps;

  function authenticated<Req, Res>(handle: (principal: Principal, request: Req, context: GrpcCallContext) => Promise<Res>): handleUnaryCall<Req, Res> {
    return handlers.unary<Req, Res>(async (request, context) => handle(await authenticateGrpcMetadata(context.metadata, verifier), request, context));
  }

  return {
    GetBalance: authenticated<GetBalanceRequest, GetBalanceResponse>(async (principal, request, context) => {
      const answer = await queries.getBalance(principal, { walletId: request.wallet_id, minPosition: request.min_position }, queryCall(context));
      return { balance: toProtoBalance(answer), status: status(answer.status), watermark: answer.watermark };
    }),

    GetBalances: authenticated<GetBalancesRequest, GetBalancesResponse>(async (principal, request, context) => {
      const answer = await queries.getBalances(principal, { walletIds: request.wallet_ids, minPosition: request.min_position }, queryCall(context));
      return { watermark: answer.watermark, balances: answer.balances.map(toProtoBalance) };
    }),

    ListHistory: authenticated<ListHistoryRequest, ListHistoryResponse>(async (principal, request, context) => {
      const answer = await queries.listHistory(
        principal,
        {
          walletId: request.wallet_id,
          from: fromProtoTimestamp(request.from_time, 'from_time'),
          to: fromProtoTimestamp(request.to_time, 'to_time'),
          types: request.types,
          order: historyOrder(request.order),
          pageSize: pageSize(request.page_size),
          cursor: request.cursor,
          minPosition: request.min_position,
        },
        queryCall(context),
      );
      return { watermark: answer.watermark, entries: answer.entries.map(toProtoHistoryEntry), next_cursor: answer.nextCursor ?? '' };
    }),

    GetBalanceAt: authenticated<GetBalanceAtRequest, GetBalanceAtResponse>(async (principal, request, context) => {
      // Both oneof members are read: the service refuses "neither" and "both" (INVALID_BALANCE_POINT).
      const answer = await queries.getBalanceAt(
        principal,
        {
          walletId: request.wallet_id,
          atTime: fromProtoTimestamp(request.at_time, 'at_time'),
          atPosition: request.at_position ?? undefined,
          minPosition: request.min_position,
        },
        queryCall(context),
      );
      return { balance: toProtoBalance(answer), watermark: answer.watermark };
    }),

    ListWallets: authenticated<ListWalletsRequest, ListWalletsResponse>(async (principal, request, context) => {
      const answer = await queries.listWallets(
        principal,
        { ownerId: request.owner_id, pageSize: pageSize(request.page_size), cursor: request.cursor, minPosition: request.min_position },
        queryCall(context),
      );
      return { watermark: answer.watermark, owner_id: answer.ownerId, wallets: answer.wallets.map(toProtoDirectoryEntry), next_cursor: answer.nextCursor ?? '' };
    }),
  };
}
