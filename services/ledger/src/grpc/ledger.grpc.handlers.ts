import type { handleUnaryCall } from '@grpc/grpc-js';
import { authenticateGrpcMetadata, type JwtVerifier, type PinService, type Principal } from '@ledger/auth';
import { ForbiddenError } from '@ledger/errors';
import { fromProtoTimestamp, toProtoTimestamp, type createGrpcHandlers, type GrpcCallContext, type ProtoTimestamp } from '@ledger/nest';
import type { CommandResponse, WalletCommandsService } from '../wallets/wallet-commands.service';
import type { WalletQueriesService } from '../wallets/wallet-queries.service';
import type { WalletView } from '../wallets/wallet.view';

/** The fully qualified name to register the implementation under (startGrpcServer `services[].name`). */
export const LEDGER_GRPC_SERVICE_NAME = 'ledger.v1.LedgerService';

/** SetTransactionPin is for users: a service token has no PIN (requiresPin fails closed for it). */
export const PIN_USER_ONLY = 'PIN_USER_ONLY';

export interface LedgerGrpcDependencies {
  readonly commands: WalletCommandsService;
  readonly queries: WalletQueriesService;
  readonly pins: Pick<PinService, 'setPin'>;
  readonly verifier: JwtVerifier;
  /** `now` for PIN decisions (lock expiry); the command service has its own clock. */
  readonly clock: () => Date;
  readonly handlers: ReturnType<typeof createGrpcHandlers>;
}

// ---------------------------------------------------------------------------------------------
// Wire shapes, as @grpc/proto-loader hands them over with PROTO_LOADER_OPTIONS: proto field names
// (keepCase), 64-bit values and Timestamp seconds as strings, enums as their names, absent
// scalars as '' (defaults: true), absent messages as null, unset oneof members undefined.
// ---------------------------------------------------------------------------------------------

export type ProtoWalletStatus = 'WALLET_STATUS_UNSPECIFIED' | 'WALLET_STATUS_OPEN' | 'WALLET_STATUS_FROZEN' | 'WALLET_STATUS_CLOSED';
export type ProtoSystemAccount = 'SYSTEM_ACCOUNT_UNSPECIFIED' | 'SYSTEM_ACCOUNT_EXTERNAL_FUNDING' | 'SYSTEM_ACCOUNT_PAYOUT_SETTLEMENT';
type ProtoTimestampInput = { readonly seconds?: string | number | null; readonly nanos?: number | null } | null | undefined;

export interface ProtoHold {
  hold_id: string;
  amount: string;
  expires_at: ProtoTimestamp;
}

export interface ProtoWallet {
  wallet_id: string;
  owner_id: string;
  currency: string;
  status: ProtoWalletStatus;
  balance: string;
  available: string;
  held: string;
  revision: string;
  open_holds: ProtoHold[];
}

export interface OpenWalletRequest { owner_id: string; currency: string; idempotency_key: string }
export interface FreezeWalletRequest { wallet_id: string; reason: string; idempotency_key: string }
export interface UnfreezeWalletRequest { wallet_id: string; idempotency_key: string }
export interface CloseWalletRequest { wallet_id: string; idempotency_key: string }
export interface DepositRequest { wallet_id: string; amount: string; currency: string; reference: string; idempotency_key: string; transaction_pin: string }
export interface WithdrawRequest { wallet_id: string; amount: string; currency: string; reference: string; idempotency_key: string; transaction_pin: string }
export interface TransferRequest {
  from_wallet_id: string;
  to_wallet_id: string;
  amount: string;
  currency: string;
  reference: string;
  idempotency_key: string;
  transaction_pin: string;
}
export interface PlaceHoldRequest {
  wallet_id: string;
  amount: string;
  currency: string;
  expires_at: ProtoTimestampInput;
  idempotency_key: string;
  transaction_pin: string;
}
export interface CaptureHoldRequest {
  wallet_id: string;
  hold_id: string;
  amount: string;
  currency: string;
  /** Virtual field (oneofs: true): which member of `oneof destination` is set, if any. */
  destination?: 'to_wallet_id' | 'to_system_account' | null;
  to_wallet_id?: string | null;
  /** An enum name, or the number when the client sent a value this proto does not know. */
  to_system_account?: ProtoSystemAccount | string | number | null;
  reference: string;
  idempotency_key: string;
  transaction_pin: string;
}
export interface ReleaseHoldRequest { wallet_id: string; hold_id: string; idempotency_key: string }
export interface GetWalletRequest { wallet_id: string }
export interface SetTransactionPinRequest { new_pin: string; current_pin: string }

/** position, replayed and the acted-on wallet: every command response has these. */
export interface ProtoCommandResponse {
  position: string;
  replayed: boolean;
  wallet: ProtoWallet | null;
}
export type ProtoMoneyResponse = ProtoCommandResponse & { transaction_id: string };
export type ProtoPlaceHoldResponse = ProtoCommandResponse & { hold_id: string };
export interface ProtoGetWalletResponse { wallet: ProtoWallet }
export type ProtoSetTransactionPinResponse = Record<string, never>;

/** A type alias (not an interface) so it is assignable to grpc-js' UntypedServiceImplementation. */
export type LedgerGrpcImplementation = {
  OpenWallet: handleUnaryCall<OpenWalletRequest, ProtoCommandResponse>;
  FreezeWallet: handleUnaryCall<FreezeWalletRequest, ProtoCommandResponse>;
  UnfreezeWallet: handleUnaryCall<UnfreezeWalletRequest, ProtoCommandResponse>;
  CloseWallet: handleUnaryCall<CloseWalletRequest, ProtoCommandResponse>;
  Deposit: handleUnaryCall<DepositRequest, ProtoMoneyResponse>;
  Withdraw: handleUnaryCall<WithdrawRequest, ProtoMoneyResponse>;
  Transfer: handleUnaryCall<TransferRequest, ProtoMoneyResponse>;
  PlaceHold: handleUnaryCall<PlaceHoldRequest, ProtoPlaceHoldResponse>;
  CaptureHold: handleUnaryCall<CaptureHoldRequest, ProtoMoneyResponse>;
  ReleaseHold: handleUnaryCall<ReleaseHoldRequest, ProtoCommandResponse>;
  GetWallet: handleUnaryCall<GetWalletRequest, ProtoGetWalletResponse>;
  SetTransactionPin: handleUnaryCall<SetTransactionPinRequest, ProtoSetTransactionPinResponse>;
};

// ---------------------------------------------------------------------------------------------
// Mapping
// ---------------------------------------------------------------------------------------------

const WALLET_STATUS: Readonly<Record<WalletView['status'], ProtoWalletStatus>> = {
  open: 'WALLET_STATUS_OPEN',
  frozen: 'WALLET_STATUS_FROZEN',
  closed: 'WALLET_STATUS_CLOSED',
};

/** Proto enum name → the service's system account name. Anything else goes through unchanged and the service refuses it (UNKNOWN_SYSTEM_ACCOUNT). */
const SYSTEM_ACCOUNT: Readonly<Record<string, string>> = {
  SYSTEM_ACCOUNT_EXTERNAL_FUNDING: 'external-funding',
  SYSTEM_ACCOUNT_PAYOUT_SETTLEMENT: 'payout-settlement',
};

/**
 * proto3 cannot tell an optional string that was not sent from one sent empty: '' is "absent".
 * Used only where the API says a field is optional (owner_id, reference, amount of a capture,
 * current_pin, transaction_pin); required fields go to the service as they are, so an empty one
 * meets the service's own named error (IDEMPOTENCY_KEY_MISSING, INVALID_WALLET_ID, ...).
 */
function optional(value: string | null | undefined): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : value;
}

export function toProtoWallet(view: WalletView): ProtoWallet {
  const status = WALLET_STATUS[view.status];
  if (status === undefined) throw new Error(`toProtoWallet: unknown wallet status '${String(view.status)}'`);
  return {
    wallet_id: view.walletId,
    owner_id: view.ownerId,
    currency: view.currency,
    status,
    balance: view.balance,
    available: view.available,
    held: view.held,
    revision: view.revision,
    open_holds: view.openHolds.map((hold) => ({ hold_id: hold.holdId, amount: hold.amount, expires_at: toProtoTimestamp(new Date(hold.expiresAt)) })),
  };
}

/** `wallet` is the first of `wallets`: the wallet the command acted on (the source of a transfer or capture). */
export function toProtoCommandResponse(response: CommandResponse): ProtoCommandResponse {
  const acted = response.wallets[0];
  return { position: response.position, replayed: response.replayed, wallet: acted === undefined ? null : toProtoWallet(acted) };
}

function withTransactionId(response: CommandResponse): ProtoMoneyResponse {
  return { ...toProtoCommandResponse(response), transaction_id: response.transactionId ?? '' };
}

/** A Timestamp as the ISO string the service parses; absent stays absent (the service names the error). */
function isoFromProto(value: ProtoTimestampInput, field: string): string | undefined {
  return fromProtoTimestamp(value, field)?.toISOString();
}

/** The destination of a capture: the oneof member named by `destination`, else whichever one is present. */
function captureDestination(request: CaptureHoldRequest): { toWalletId?: string; toSystemAccount?: string } {
  const chosen =
    request.destination ??
    (request.to_wallet_id !== undefined && request.to_wallet_id !== null
      ? 'to_wallet_id'
      : request.to_system_account !== undefined && request.to_system_account !== null
        ? 'to_system_account'
        : undefined);
  if (chosen === 'to_wallet_id') return { toWalletId: request.to_wallet_id ?? '' };
  if (chosen === 'to_system_account') {
    const name = String(request.to_system_account ?? '');
    return { toSystemAccount: SYSTEM_ACCOUNT[name] ?? name };
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------

/**
 * The implementation of ledger.v1.LedgerService: every rpc authenticates the call's
 * `authorization` metadata before anything else (no principal, no work), maps the request to the
 * wallet services' string inputs, and maps their result back. Errors are thrown as they are; the
 * `unary` wrapper turns them into the gRPC status with the `reason-code` trailer.
 */
export function createLedgerGrpcImplementation(deps: LedgerGrpcDependencies): LedgerGrpcImplementation {
  const { commands, queries, pins, verifier, clock, handlers } = deps;

  function authenticated<Req, Res>(handle: (principal: Principal, request: Req, context: GrpcCallContext) => Promise<Res>): handleUnaryCall<Req, Res> {
    return handlers.unary<Req, Res>(async (request, context) => {
      const principal = await authenticateGrpcMetadata(context.metadata, verifier);
      return handle(principal, request, context);
    });
  }

  return {
    OpenWallet: authenticated<OpenWalletRequest, ProtoCommandResponse>(async (principal, request) => {
      const ownerId = optional(request.owner_id);
      const response = await commands.openWallet(principal, {
        ...(ownerId === undefined ? {} : { ownerId }),
        currency: request.currency,
        idempotencyKey: request.idempotency_key,
      });
      return toProtoCommandResponse(response);
    }),

    FreezeWallet: authenticated<FreezeWalletRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(
        await commands.freezeWallet(principal, { walletId: request.wallet_id, reason: request.reason, idempotencyKey: request.idempotency_key }),
      ),
    ),

    UnfreezeWallet: authenticated<UnfreezeWalletRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(await commands.unfreezeWallet(principal, { walletId: request.wallet_id, idempotencyKey: request.idempotency_key })),
    ),

    CloseWallet: authenticated<CloseWalletRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(await commands.closeWallet(principal, { walletId: request.wallet_id, idempotencyKey: request.idempotency_key })),
    ),

    // Deposits are operator/service actions (SCOPE_REQUIRED for anyone else); the service takes
    // no PIN for them, so transaction_pin is not forwarded.
    Deposit: authenticated<DepositRequest, ProtoMoneyResponse>(async (principal, request) =>
      withTransactionId(
        await commands.deposit(principal, {
          walletId: request.wallet_id,
          amount: request.amount,
          currency: request.currency,
          reference: optional(request.reference),
          idempotencyKey: request.idempotency_key,
        }),
      ),
    ),

    Withdraw: authenticated<WithdrawRequest, ProtoMoneyResponse>(async (principal, request) =>
      withTransactionId(
        await commands.withdraw(principal, {
          walletId: request.wallet_id,
          amount: request.amount,
          currency: request.currency,
          reference: optional(request.reference),
          idempotencyKey: request.idempotency_key,
          pin: optional(request.transaction_pin),
        }),
      ),
    ),

    Transfer: authenticated<TransferRequest, ProtoMoneyResponse>(async (principal, request) =>
      withTransactionId(
        await commands.transfer(principal, {
          fromWalletId: request.from_wallet_id,
          toWalletId: request.to_wallet_id,
          amount: request.amount,
          currency: request.currency,
          reference: optional(request.reference),
          idempotencyKey: request.idempotency_key,
          pin: optional(request.transaction_pin),
        }),
      ),
    ),

    PlaceHold: authenticated<PlaceHoldRequest, ProtoPlaceHoldResponse>(async (principal, request) => {
      const response = await commands.placeHold(principal, {
        walletId: request.wallet_id,
        amount: request.amount,
        currency: request.currency,
        expiresAt: isoFromProto(request.expires_at, 'expires_at'),
        idempotencyKey: request.idempotency_key,
        pin: optional(request.transaction_pin),
      });
      return { ...toProtoCommandResponse(response), hold_id: response.holdId ?? '' };
    }),

    CaptureHold: authenticated<CaptureHoldRequest, ProtoMoneyResponse>(async (principal, request) => {
      const amount = optional(request.amount);
      return withTransactionId(
        await commands.captureHold(principal, {
          walletId: request.wallet_id,
          holdId: request.hold_id,
          ...(amount === undefined ? {} : { amount, currency: request.currency }),
          ...captureDestination(request),
          reference: optional(request.reference),
          idempotencyKey: request.idempotency_key,
          pin: optional(request.transaction_pin),
        }),
      );
    }),

    ReleaseHold: authenticated<ReleaseHoldRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(
        await commands.releaseHold(principal, { walletId: request.wallet_id, holdId: request.hold_id, idempotencyKey: request.idempotency_key }),
      ),
    ),

    GetWallet: authenticated<GetWalletRequest, ProtoGetWalletResponse>(async (principal, request) => ({
      wallet: toProtoWallet(await queries.getWallet(principal, request.wallet_id)),
    })),

    SetTransactionPin: authenticated<SetTransactionPinRequest, ProtoSetTransactionPinResponse>(async (principal, request) => {
      if (principal.kind !== 'user') {
        throw new ForbiddenError(PIN_USER_ONLY, 'Only users have a transaction PIN', { kind: principal.kind });
      }
      await pins.setPin(principal.subject, request.new_pin, clock(), optional(request.current_pin));
      return {};
    }),
  };
}
