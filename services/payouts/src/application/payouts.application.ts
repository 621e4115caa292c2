import type { Principal } from '@ledger/auth';
import type { CompensationScope, PayoutBatchStatus, PayoutRowStatus } from '@ledger/payouts-domain';

/**
 * What the payouts service offers, whatever the transport (REST and gRPC call exactly these).
 * Inputs arrive as `unknown` from the edge; every bad one is a named ValidationError before
 * anything is recorded. Amounts leave as decimal strings in major units of the batch currency.
 */
export interface PayoutsApplication {
  createBatch(principal: Principal, input: { sourceWalletId: unknown; currency: unknown; description?: unknown; idempotencyKey: unknown }): Promise<CommandView>;
  /** Streams the CSV through validation; records every row or nothing. */
  uploadRows(principal: Principal, batchId: unknown, file: AsyncIterable<Uint8Array>): Promise<UploadSummaryView>;
  summary(principal: Principal, batchId: unknown): Promise<UploadSummaryView>;
  /** Needs the transaction PIN for user principals. */
  execute(principal: Principal, batchId: unknown, input: { pin?: unknown }): Promise<CommandView>;
  cancel(principal: Principal, batchId: unknown, input: { reason?: unknown }): Promise<CommandView>;
  pause(principal: Principal, batchId: unknown): Promise<CommandView>;
  resume(principal: Principal, batchId: unknown): Promise<CommandView>;
  /** `rows` absent or empty = every paid row (ALL_SUCCEEDED). Needs the PIN for user principals. */
  compensate(principal: Principal, batchId: unknown, input: { rows?: unknown; pin?: unknown }): Promise<CommandView>;
  getBatch(principal: Principal, batchId: unknown): Promise<BatchView>;
  listRows(principal: Principal, batchId: unknown, input: { status?: unknown; cursor?: unknown; pageSize?: unknown }): Promise<RowsPage>;
  /** The outcome report: CSV text in pieces (header first), cells neutralised against formulas. */
  report(principal: Principal, batchId: unknown): Promise<AsyncIterable<string>>;
  /**
   * The progress feed: the batch now, then every change (at most one view per
   * `PAYOUT_PROGRESS_INTERVAL_MS`), ending after a terminal status or when `signal` aborts.
   */
  watch(principal: Principal, batchId: unknown, signal: AbortSignal): Promise<AsyncIterable<BatchView>>;
}

export type RowCountsView = Record<PayoutRowStatus, number>;

export interface BatchView {
  batchId: string;
  ownerId: string;
  sourceWalletId: string;
  currency: string;
  description: string | null;
  status: PayoutBatchStatus;
  paused: boolean;
  createdAt: string;
  updatedAt: string;
  rows: number;
  validRows: number;
  invalidRows: number;
  counts: RowCountsView;
  /** Decimal strings in major units of `currency`. */
  validTotal: string;
  paidTotal: string;
  reversedTotal: string;
  releasedTotal: string;
  /** 0..1, four decimals, as text (never a float near money, and stable on the wire). */
  progress: string;
  holdId: string | null;
  reservation: 'none' | 'requested' | 'reserved' | 'refused' | 'released';
  refusalReason: string | null;
  compensation: { compensationId: string; scope: CompensationScope; chunks: number; chunksSettled: number } | null;
  /** Revision of the batch stream this view was folded from. */
  revision: string;
}

export interface CommandView {
  batch: BatchView;
  /** Global position of the append ("0" for a no-op). */
  position: string;
  replayed: boolean;
}

export interface InvalidRowView {
  row: number;
  recipientId: string;
  amount: string;
  reason: string;
}

export interface UploadSummaryView {
  batchId: string;
  status: PayoutBatchStatus;
  currency: string;
  rows: number;
  validRows: number;
  invalidRows: number;
  validTotal: string;
  fileSha256: string;
  fileBytes: number;
  /** The first invalid rows (at most PAYOUT_SUMMARY_INVALID_ROWS), in row order; all are in listRows(status FAILED). */
  invalidSample: InvalidRowView[];
  /** True when this exact file had already been recorded for the batch. */
  replayed: boolean;
}

export interface RowView {
  row: number;
  recipientId: string;
  amount: string;
  reference: string | null;
  status: PayoutRowStatus;
  reason: string | null;
  transactionId: string | null;
  reversalAttempts: number;
  reversalTransactionId: string | null;
}

export interface RowsPage {
  rows: RowView[];
  /** Opaque; pass it back to get the next page. Null at the end. */
  nextCursor: string | null;
}

/** Limits the edge enforces (named, with units; see services/payouts/README.md). */
export const MAX_ROWS_PAGE_SIZE = 500;
export const DEFAULT_ROWS_PAGE_SIZE = 100;
