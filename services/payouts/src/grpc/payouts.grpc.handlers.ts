import type { handleClientStreamingCall, handleServerStreamingCall, handleUnaryCall } from '@grpc/grpc-js';
import { authenticateGrpcMetadata, type JwtVerifier, type Principal } from '@ledger/auth';
import { ValidationError } from '@ledger/errors';
import { toProtoTimestamp, type createGrpcHandlers, type GrpcCallContext, type ProtoTimestamp } from '@ledger/nest';
import type { CompensationScope, PayoutBatchStatus, PayoutRowStatus } from '@ledger/payouts-domain';
import { join } from 'node:path';
import type { BatchView, CommandView, InvalidRowView, PayoutsApplication, RowView, UploadSummaryView } from '../application/payouts.application';

/** The fully qualified name to register the implementation under (startGrpcServer `services[].name`). */
export const PAYOUTS_GRPC_SERVICE_NAME = 'payouts.v1.PayoutService';

/** proto/ at the repository root, found from this file (source tree or container image alike): the include dir. */
export const PAYOUTS_PROTO_ROOT = join(__dirname, '..', '..', '..', '..', 'proto');
/** The file to pass to startGrpcServer `protoFiles` (with `includeDirs: [PAYOUTS_PROTO_ROOT]`). */
export const PAYOUTS_PROTO = join(PAYOUTS_PROTO_ROOT, 'payouts', 'v1', 'payouts.proto');

/**
 * GetReport sends the CSV in `bytes` messages of at most this many bytes (16 KiB): well under the
 * smallest sensible GRPC_MAX_SEND_MESSAGE_BYTES, large enough that a 100,000-row report is a few
 * hundred messages.
 */
export const REPORT_MESSAGE_MAX_BYTES = 16_384;

/** Reason codes of the UploadRows protocol (INVALID_ARGUMENT); part of the contract in payouts.proto. */
export const UPLOAD_BATCH_ID_MISSING = 'UPLOAD_BATCH_ID_MISSING';
export const UPLOAD_BATCH_ID_CHANGED = 'UPLOAD_BATCH_ID_CHANGED';
export const UPLOAD_FILE_BYTES_MISSING = 'UPLOAD_FILE_BYTES_MISSING';
export const UPLOAD_FILE_BYTES_INVALID = 'UPLOAD_FILE_BYTES_INVALID';
export const UPLOAD_SIZE_MISMATCH = 'UPLOAD_SIZE_MISMATCH';

export interface PayoutsGrpcDependencies {
  readonly application: PayoutsApplication;
  readonly verifier: JwtVerifier;
  readonly handlers: ReturnType<typeof createGrpcHandlers>;
}

// ---------------------------------------------------------------------------------------------
// Wire shapes, as @grpc/proto-loader hands them over with PROTO_LOADER_OPTIONS: proto field names
// (keepCase), int64 and Timestamp seconds as strings, enums as their names (or the number when a
// newer client sent a value this proto does not know), bytes as Buffers, absent scalars as their
// zero value, absent messages as null.
// ---------------------------------------------------------------------------------------------

export type ProtoBatchStatus = `BATCH_STATUS_${PayoutBatchStatus}` | 'BATCH_STATUS_UNSPECIFIED';
export type ProtoRowStatus = `ROW_STATUS_${PayoutRowStatus}` | 'ROW_STATUS_UNSPECIFIED';
export type ProtoReservationState = `RESERVATION_STATE_${Uppercase<BatchView['reservation']>}` | 'RESERVATION_STATE_UNSPECIFIED';
export type ProtoCompensationScope = `COMPENSATION_SCOPE_${CompensationScope}` | 'COMPENSATION_SCOPE_UNSPECIFIED';

export interface ProtoRowCounts {
  pending: number;
  processing: number;
  succeeded: number;
  failed: number;
  reversed: number;
  reversal_failed: number;
}

export interface ProtoCompensation {
  compensation_id: string;
  scope: ProtoCompensationScope;
  chunks: number;
  chunks_settled: number;
}

export interface ProtoBatch {
  batch_id: string;
  owner_id: string;
  source_wallet_id: string;
  currency: string;
  description: string;
  status: ProtoBatchStatus;
  paused: boolean;
  created_at: ProtoTimestamp;
  updated_at: ProtoTimestamp;
  rows: number;
  valid_rows: number;
  invalid_rows: number;
  counts: ProtoRowCounts;
  valid_total: string;
  paid_total: string;
  reversed_total: string;
  released_total: string;
  progress: string;
  hold_id: string;
  reservation: ProtoReservationState;
  refusal_reason: string;
  compensation: ProtoCompensation | null;
  revision: string;
}

export interface ProtoInvalidRow { row: number; recipient_id: string; amount: string; reason: string }

export interface ProtoUploadSummary {
  batch_id: string;
  status: ProtoBatchStatus;
  currency: string;
  rows: number;
  valid_rows: number;
  invalid_rows: number;
  valid_total: string;
  file_sha256: string;
  file_bytes: string;
  invalid_sample: ProtoInvalidRow[];
  replayed: boolean;
}

export interface ProtoRow {
  row: number;
  recipient_id: string;
  amount: string;
  reference: string;
  status: ProtoRowStatus;
  reason: string;
  transaction_id: string;
  reversal_attempts: number;
  reversal_transaction_id: string;
}

export interface CreateBatchRequest { source_wallet_id: string; currency: string; description: string; idempotency_key: string }
export interface UploadRowsRequest { batch_id: string; chunk: Buffer; file_bytes: string | number }
export interface BatchIdRequest { batch_id: string }
export interface ExecuteBatchRequest { batch_id: string; transaction_pin: string }
export interface CancelBatchRequest { batch_id: string; reason: string }
export interface CompensateBatchRequest { batch_id: string; rows: number[]; transaction_pin: string }
export interface ListRowsRequest { batch_id: string; status: ProtoRowStatus | string | number; cursor: string; page_size: number }

export interface ProtoCommandResponse { position: string; replayed: boolean; batch: ProtoBatch }
export interface ProtoUploadSummaryResponse { summary: ProtoUploadSummary }
export interface ProtoBatchResponse { batch: ProtoBatch }
export interface ListRowsResponse { rows: ProtoRow[]; next_cursor: string }
export interface GetReportResponse { chunk: Buffer }

/** A type alias (not an interface) so it is assignable to grpc-js' UntypedServiceImplementation. */
export type PayoutsGrpcImplementation = {
  CreateBatch: handleUnaryCall<CreateBatchRequest, ProtoCommandResponse>;
  UploadRows: handleClientStreamingCall<UploadRowsRequest, ProtoUploadSummaryResponse>;
  GetUploadSummary: handleUnaryCall<BatchIdRequest, ProtoUploadSummaryResponse>;
  ExecuteBatch: handleUnaryCall<ExecuteBatchRequest, ProtoCommandResponse>;
  CancelBatch: handleUnaryCall<CancelBatchRequest, ProtoCommandResponse>;
  PauseBatch: handleUnaryCall<BatchIdRequest, ProtoCommandResponse>;
  ResumeBatch: handleUnaryCall<BatchIdRequest, ProtoCommandResponse>;
  CompensateBatch: handleUnaryCall<CompensateBatchRequest, ProtoCommandResponse>;
  GetBatch: handleUnaryCall<BatchIdRequest, ProtoBatchResponse>;
  ListRows: handleUnaryCall<ListRowsRequest, ListRowsResponse>;
  GetReport: handleServerStreamingCall<BatchIdRequest, GetReportResponse>;
  WatchBatch: handleServerStreamingCall<BatchIdRequest, ProtoBatchResponse>;
};

// ---------------------------------------------------------------------------------------------
// Mapping (Records keyed by the domain unions: a new status is a compile error here until mapped)
// ---------------------------------------------------------------------------------------------

const BATCH_STATUS: Readonly<Record<PayoutBatchStatus, ProtoBatchStatus>> = {
  PENDING: 'BATCH_STATUS_PENDING',
  VALIDATED: 'BATCH_STATUS_VALIDATED',
  PROCESSING: 'BATCH_STATUS_PROCESSING',
  COMPLETED: 'BATCH_STATUS_COMPLETED',
  PARTIALLY_FAILED: 'BATCH_STATUS_PARTIALLY_FAILED',
  FAILED: 'BATCH_STATUS_FAILED',
  CANCELLED: 'BATCH_STATUS_CANCELLED',
  COMPENSATING: 'BATCH_STATUS_COMPENSATING',
  COMPENSATED: 'BATCH_STATUS_COMPENSATED',
  PARTIALLY_COMPENSATED: 'BATCH_STATUS_PARTIALLY_COMPENSATED',
};

const ROW_STATUS: Readonly<Record<PayoutRowStatus, ProtoRowStatus>> = {
  PENDING: 'ROW_STATUS_PENDING',
  PROCESSING: 'ROW_STATUS_PROCESSING',
  SUCCEEDED: 'ROW_STATUS_SUCCEEDED',
  FAILED: 'ROW_STATUS_FAILED',
  REVERSED: 'ROW_STATUS_REVERSED',
  REVERSAL_FAILED: 'ROW_STATUS_REVERSAL_FAILED',
};

const RESERVATION: Readonly<Record<BatchView['reservation'], ProtoReservationState>> = {
  none: 'RESERVATION_STATE_NONE',
  requested: 'RESERVATION_STATE_REQUESTED',
  reserved: 'RESERVATION_STATE_RESERVED',
  refused: 'RESERVATION_STATE_REFUSED',
  released: 'RESERVATION_STATE_RELEASED',
};

const COMPENSATION_SCOPE: Readonly<Record<CompensationScope, ProtoCompensationScope>> = {
  ALL_SUCCEEDED: 'COMPENSATION_SCOPE_ALL_SUCCEEDED',
  SELECTED: 'COMPENSATION_SCOPE_SELECTED',
};

function mapped<K extends string, V>(table: Readonly<Record<K, V>>, key: K, what: string): V {
  const value = table[key];
  if (value === undefined) throw new Error(`payouts gRPC mapping: unknown ${what} '${String(key)}'`);
  return value;
}

/** proto3 cannot tell an optional string that was not sent from one sent empty: '' is "absent". */
function optional(value: string | null | undefined): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : value;
}

export function toProtoBatch(view: BatchView): ProtoBatch {
  return {
    batch_id: view.batchId,
    owner_id: view.ownerId,
    source_wallet_id: view.sourceWalletId,
    currency: view.currency,
    description: view.description ?? '',
    status: mapped(BATCH_STATUS, view.status, 'batch status'),
    paused: view.paused,
    created_at: toProtoTimestamp(new Date(view.createdAt)),
    updated_at: toProtoTimestamp(new Date(view.updatedAt)),
    rows: view.rows,
    valid_rows: view.validRows,
    invalid_rows: view.invalidRows,
    counts: {
      pending: view.counts.PENDING,
      processing: view.counts.PROCESSING,
      succeeded: view.counts.SUCCEEDED,
      failed: view.counts.FAILED,
      reversed: view.counts.REVERSED,
      reversal_failed: view.counts.REVERSAL_FAILED,
    },
    valid_total: view.validTotal,
    paid_total: view.paidTotal,
    reversed_total: view.reversedTotal,
    released_total: view.releasedTotal,
    progress: view.progress,
    hold_id: view.holdId ?? '',
    reservation: mapped(RESERVATION, view.reservation, 'reservation state'),
    refusal_reason: view.refusalReason ?? '',
    compensation:
      view.compensation === null
        ? null
        : {
            compensation_id: view.compensation.compensationId,
            scope: mapped(COMPENSATION_SCOPE, view.compensation.scope, 'compensation scope'),
            chunks: view.compensation.chunks,
            chunks_settled: view.compensation.chunksSettled,
          },
    revision: view.revision,
  };
}

export function toProtoCommandResponse(view: CommandView): ProtoCommandResponse {
  return { position: view.position, replayed: view.replayed, batch: toProtoBatch(view.batch) };
}

function toProtoInvalidRow(row: InvalidRowView): ProtoInvalidRow {
  return { row: row.row, recipient_id: row.recipientId, amount: row.amount, reason: row.reason };
}

export function toProtoUploadSummary(view: UploadSummaryView): ProtoUploadSummary {
  return {
    batch_id: view.batchId,
    status: mapped(BATCH_STATUS, view.status, 'batch status'),
    currency: view.currency,
    rows: view.rows,
    valid_rows: view.validRows,
    invalid_rows: view.invalidRows,
    valid_total: view.validTotal,
    file_sha256: view.fileSha256,
    file_bytes: String(view.fileBytes),
    invalid_sample: view.invalidSample.map(toProtoInvalidRow),
    replayed: view.replayed,
  };
}

export function toProtoRow(row: RowView): ProtoRow {
  return {
    row: row.row,
    recipient_id: row.recipientId,
    amount: row.amount,
    reference: row.reference ?? '',
    status: mapped(ROW_STATUS, row.status, 'row status'),
    reason: row.reason ?? '',
    transaction_id: row.transactionId ?? '',
    reversal_attempts: row.reversalAttempts,
    reversal_transaction_id: row.reversalTransactionId ?? '',
  };
}

/**
 * The ListRows filter: UNSPECIFIED (or 0) is "every status"; a known name becomes the service's
 * status; anything else (a newer client's number) goes through as text so the service refuses it
 * by name (INVALID_ROW_STATUS).
 */
function rowStatusFilter(value: ListRowsRequest['status']): string | undefined {
  if (value === 'ROW_STATUS_UNSPECIFIED' || value === 0 || value === '' || value === null || value === undefined) return undefined;
  const name = String(value);
  return name.startsWith('ROW_STATUS_') ? name.slice('ROW_STATUS_'.length) : name;
}

/** page_size 0 is proto3's "absent": the service's default applies. */
function pageSize(value: number): number | undefined {
  return value === 0 ? undefined : value;
}

// ---------------------------------------------------------------------------------------------
// UploadRows: the call's messages → the file's bytes
// ---------------------------------------------------------------------------------------------

/** The largest file_bytes we parse (15 digits: far above any CSV limit, exact as a JS number). */
const FILE_BYTES_PATTERN = /^[0-9]{1,15}$/;

function declaredFileBytes(value: UploadRowsRequest['file_bytes']): number {
  const text = String(value ?? '');
  if (text === '' || text === '0') {
    throw new ValidationError(UPLOAD_FILE_BYTES_MISSING, 'The first UploadRows message must carry file_bytes, the size of the whole file');
  }
  if (!FILE_BYTES_PATTERN.test(text)) throw new ValidationError(UPLOAD_FILE_BYTES_INVALID, 'file_bytes must be a positive byte count');
  return Number(text);
}

/** The batch an upload is for, and its bytes as the application reads them. */
export interface UploadStream {
  readonly batchId: string;
  readonly fileBytes: number;
  readonly file: AsyncIterable<Uint8Array>;
}

/**
 * Reads the first message (batch_id and file_bytes are required there) and returns the file as
 * an iterable that pulls the following messages only as the application reads: nothing is
 * buffered here beyond one message. The iterable throws a named ValidationError when a later
 * message names another batch or when the bytes received differ from file_bytes; the size check
 * is what proves the upload complete (a cancelled call can look half-closed first), so a
 * truncated file never reaches the end of the application's read.
 */
export async function openUploadStream(requests: AsyncIterable<UploadRowsRequest>): Promise<UploadStream> {
  const iterator = requests[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done === true || optional(first.value.batch_id) === undefined) {
    await iterator.return?.();
    throw new ValidationError(UPLOAD_BATCH_ID_MISSING, 'The first UploadRows message must carry batch_id');
  }
  const batchId = first.value.batch_id;
  let fileBytes: number;
  try {
    fileBytes = declaredFileBytes(first.value.file_bytes);
  } catch (error) {
    await iterator.return?.();
    throw error;
  }

  async function* file(): AsyncGenerator<Uint8Array, void, undefined> {
    let received = 0;
    try {
      let message: UploadRowsRequest = first.value as UploadRowsRequest;
      for (;;) {
        const named = optional(message.batch_id);
        if (named !== undefined && named !== batchId) {
          throw new ValidationError(UPLOAD_BATCH_ID_CHANGED, 'Every UploadRows message must be for the batch named in the first one', { batchId });
        }
        const chunk = message.chunk;
        if (chunk !== null && chunk !== undefined && chunk.length > 0) {
          received += chunk.length;
          if (received > fileBytes) throw sizeMismatch(fileBytes, received, 'more');
          yield chunk;
        }
        const next = await iterator.next();
        if (next.done === true) break;
        message = next.value;
      }
      if (received !== fileBytes) throw sizeMismatch(fileBytes, received, 'fewer');
    } finally {
      await iterator.return?.();
    }
  }

  return { batchId, fileBytes, file: file() };
}

function sizeMismatch(declared: number, received: number, direction: 'more' | 'fewer'): ValidationError {
  return new ValidationError(
    UPLOAD_SIZE_MISMATCH,
    `The chunks carried ${direction} bytes than file_bytes (${declared}) declared: the file was not recorded`,
    direction === 'fewer' ? { fileBytes: declared, receivedBytes: received } : { fileBytes: declared },
  );
}

/** Joins and splits the report's text pieces into `bytes` messages of at most `maxBytes`. */
export async function* reportMessages(pieces: AsyncIterable<string>, maxBytes: number = REPORT_MESSAGE_MAX_BYTES): AsyncGenerator<GetReportResponse, void, undefined> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of pieces) {
    if (piece.length === 0) continue;
    const bytes = Buffer.from(piece, 'utf8');
    pending.push(bytes);
    pendingBytes += bytes.length;
    if (pendingBytes < maxBytes) continue;
    let joined = Buffer.concat(pending, pendingBytes);
    while (joined.length >= maxBytes) {
      yield { chunk: joined.subarray(0, maxBytes) };
      joined = joined.subarray(maxBytes);
    }
    pending = joined.length > 0 ? [joined] : [];
    pendingBytes = joined.length;
  }
  if (pendingBytes > 0) yield { chunk: Buffer.concat(pending, pendingBytes) };
}

// ---------------------------------------------------------------------------------------------
// Implementation
// ---------------------------------------------------------------------------------------------

/**
 * The implementation of payouts.v1.PayoutService: every rpc authenticates the call's
 * `authorization` metadata before anything else (no principal, no work: an upload is not read
 * before that), maps the request to the application's raw inputs (which parse and refuse by
 * name), and maps the answer back. Errors leave through the shared wrappers as the gRPC status
 * with the `reason-code` trailer.
 */
export function createPayoutsGrpcImplementation(deps: PayoutsGrpcDependencies): PayoutsGrpcImplementation {
  const { application, verifier, handlers } = deps;

  const authenticate = (context: GrpcCallContext): Promise<Principal> => authenticateGrpcMetadata(context.metadata, verifier);

  function authenticated<Req, Res>(handle: (principal: Principal, request: Req, context: GrpcCallContext) => Promise<Res>): handleUnaryCall<Req, Res> {
    return handlers.unary<Req, Res>(async (request, context) => handle(await authenticate(context), request, context));
  }

  return {
    CreateBatch: authenticated<CreateBatchRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(
        await application.createBatch(principal, {
          sourceWalletId: request.source_wallet_id,
          currency: request.currency,
          description: optional(request.description),
          idempotencyKey: request.idempotency_key,
        }),
      ),
    ),

    UploadRows: handlers.clientStream<UploadRowsRequest, ProtoUploadSummaryResponse>(async (requests, context) => {
      const principal = await authenticate(context);
      const upload = await openUploadStream(requests);
      return { summary: toProtoUploadSummary(await application.uploadRows(principal, upload.batchId, upload.file)) };
    }),

    GetUploadSummary: authenticated<BatchIdRequest, ProtoUploadSummaryResponse>(async (principal, request) => ({
      summary: toProtoUploadSummary(await application.summary(principal, request.batch_id)),
    })),

    ExecuteBatch: authenticated<ExecuteBatchRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(await application.execute(principal, request.batch_id, { pin: optional(request.transaction_pin) })),
    ),

    CancelBatch: authenticated<CancelBatchRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(await application.cancel(principal, request.batch_id, { reason: optional(request.reason) })),
    ),

    PauseBatch: authenticated<BatchIdRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(await application.pause(principal, request.batch_id)),
    ),

    ResumeBatch: authenticated<BatchIdRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(await application.resume(principal, request.batch_id)),
    ),

    CompensateBatch: authenticated<CompensateBatchRequest, ProtoCommandResponse>(async (principal, request) =>
      toProtoCommandResponse(await application.compensate(principal, request.batch_id, { rows: request.rows ?? [], pin: optional(request.transaction_pin) })),
    ),

    GetBatch: authenticated<BatchIdRequest, ProtoBatchResponse>(async (principal, request) => ({
      batch: toProtoBatch(await application.getBatch(principal, request.batch_id)),
    })),

    ListRows: authenticated<ListRowsRequest, ListRowsResponse>(async (principal, request) => {
      const page = await application.listRows(principal, request.batch_id, {
        status: rowStatusFilter(request.status),
        cursor: optional(request.cursor),
        pageSize: pageSize(request.page_size),
      });
      return { rows: page.rows.map(toProtoRow), next_cursor: page.nextCursor ?? '' };
    }),

    GetReport: handlers.serverStream<BatchIdRequest, GetReportResponse>(async function* (request, context) {
      const principal = await authenticate(context);
      yield* reportMessages(await application.report(principal, request.batch_id));
    }),

    WatchBatch: handlers.serverStream<BatchIdRequest, ProtoBatchResponse>(async function* (request, context) {
      const principal = await authenticate(context);
      // The watch ends when the client cancels (the call's signal) and whenever this stream stops
      // for any other reason (a failed write, a server stop): its resources never outlive the call.
      const stop = new AbortController();
      const follow = (): void => stop.abort(context.signal.reason);
      if (context.signal.aborted) follow();
      else context.signal.addEventListener('abort', follow, { once: true });
      try {
        for await (const view of await application.watch(principal, request.batch_id, stop.signal)) {
          yield { batch: toProtoBatch(view) };
        }
      } finally {
        context.signal.removeEventListener('abort', follow);
        stop.abort();
      }
    }),
  };
}
