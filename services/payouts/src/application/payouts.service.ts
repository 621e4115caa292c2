import { randomUUID } from 'node:crypto';
import { assertCanActOnWallet, requiresPin, type PinService, type Principal } from '@ledger/auth';
import { IllegalStateError, NotFoundError, ValidationError } from '@ledger/errors';
import { NOTHING_APPENDED, parseIdempotencyKey, requestHash } from '@ledger/event-sourcing';
import { csvCell, csvLine, csvNumberCell } from '@ledger/payouts-csv';
import {
  chunkOfRow,
  decideCancel,
  decideCreateBatch,
  decidePause,
  decideRecordUpload,
  decideRequestCompensation,
  decideResume,
  decideStartExecution,
  isCompensable,
  isRestingBatchStatus,
  MAX_BATCH_TEXT_LENGTH,
  MAX_ROWS_PER_COMPENSATION,
  PAYOUT_ROW_STATUSES,
  PayoutRejection,
  requireBatch,
  rowNotFound,
  type ExistingBatch,
  type PayoutBatchEvent,
  type PayoutBatchState,
  type PayoutRowStatus,
  type RecordedRow,
  type RowState,
} from '@ledger/payouts-domain';
import { formatAmount, parseCurrency, type CurrencyCode } from '@ledger/money';
import type { PayoutIntake } from '../intake/payout-intake';
import type { WalletDirectory } from '../intake/recipient-directory';
import type { PayoutSaga } from '../saga/payout-saga';
import { decodeRowsCursor, encodeRowsCursor } from './rows-cursor';
import { revisionOf, type PayoutStreams } from './payout-streams';
import {
  DEFAULT_ROWS_PAGE_SIZE,
  MAX_ROWS_PAGE_SIZE,
  type BatchView,
  type CommandView,
  type InvalidRowView,
  type PayoutsApplication,
  type RowsPage,
  type RowView,
  type UploadSummaryView,
} from './payouts.application';
import { abortableDelay } from '@ledger/async';

export interface PayoutsServiceConfig {
  /** How long a batch's reservation hold may last (the saga must finish within it), milliseconds. */
  readonly reservationTtlMs: number;
  /** Invalid rows listed in an upload summary. */
  readonly summaryInvalidRows: number;
  /** Least time between two views of the progress feed, milliseconds. */
  readonly progressIntervalMs: number;
  /** Longest a progress feed stays open, milliseconds. */
  readonly progressMaxMs: number;
}

export interface PayoutsServiceDeps {
  readonly streams: PayoutStreams;
  readonly intake: PayoutIntake;
  readonly directory: WalletDirectory;
  readonly saga: Pick<PayoutSaga, 'track' | 'kick'>;
  readonly pins: Pick<PinService, 'verifyPin'>;
  readonly clock: () => Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const REPORT_HEADER = ['row', 'recipient_id', 'amount', 'currency', 'reference', 'status', 'reason', 'transaction_id', 'reversal_transaction_id'];

/** The payouts use cases (PayoutsApplication) over the payout streams, the intake and the saga. */
export class PayoutsService implements PayoutsApplication {
  constructor(
    private readonly deps: PayoutsServiceDeps,
    private readonly config: PayoutsServiceConfig,
  ) {}

  async createBatch(principal: Principal, input: { sourceWalletId: unknown; currency: unknown; description?: unknown; idempotencyKey: unknown }): Promise<CommandView> {
    const key = parseIdempotencyKey(input.idempotencyKey);
    const sourceWalletId = parseUuid(input.sourceWalletId, 'INVALID_WALLET_ID', 'sourceWalletId');
    const currency = parseCurrency(input.currency);
    const description = parseText(input.description, 'description');
    const wallet = (await this.deps.directory.lookup([sourceWalletId])).get(sourceWalletId);
    if (!wallet) throw new NotFoundError('WALLET_NOT_FOUND', `Wallet ${sourceWalletId} does not exist (or is not yet visible to queries)`, { walletId: sourceWalletId });
    assertCanActOnWallet(principal, wallet.ownerId, 'move');
    if (wallet.currency !== currency) {
      throw new IllegalStateError('CURRENCY_MISMATCH', `Wallet ${sourceWalletId} is in ${wallet.currency}, the batch in ${currency}`, { walletCurrency: wallet.currency, batchCurrency: currency });
    }
    const batchId = randomUUID();
    const outcome = await this.deps.streams.onBatch<{ batchId: string }>(
      batchId,
      this.acting(principal, batchId),
      (state) => ({
        events: decideCreateBatch({ batchId, ownerId: wallet.ownerId, sourceWalletId, currency, description, by: principalId(principal) }, state, this.deps.clock()),
        result: { batchId },
      }),
      { scope: principal.subject, key, requestHash: requestHash({ op: 'CreatePayoutBatch', sourceWalletId, currency, description }) },
    );
    // A replay answers with the batch the key created first.
    const created = outcome.replayed ? (await this.deps.streams.loadBatch(outcome.result.batchId)) : undefined;
    const batch = requireBatch(created ? created.state : outcome.batch, outcome.result.batchId);
    return { batch: toBatchView(batch, created ? revisionOf(created) : outcome.revision), position: positionText(outcome.position), replayed: outcome.replayed };
  }

  async uploadRows(principal: Principal, batchIdInput: unknown, file: AsyncIterable<Uint8Array>): Promise<UploadSummaryView> {
    const batchId = parseBatchId(batchIdInput);
    const batch = await this.authorised(principal, batchId, 'move');
    if (!batch.upload && batch.status !== 'PENDING') {
      throw new PayoutRejection('BATCH_NOT_EXECUTABLE', `Payout batch ${batchId} is ${batch.status}; rows can only be uploaded to a PENDING batch`, { status: batch.status });
    }
    const validated = await this.deps.intake.validate(batch, file, this.config.summaryInvalidRows);
    try {
      const now = this.deps.clock();
      // Decide first on the state we have (same file again → replay without writing anything).
      const events = decideRecordUpload(batch, batchId, validated.summary, principalId(principal), now);
      if (events.length === 0) return this.summaryOf(batch, true);
      await this.deps.intake.record(batch, validated, this.acting(principal, batchId));
      const outcome = await this.deps.streams.onBatch(batchId, this.acting(principal, batchId), (state) => ({
        events: decideRecordUpload(state, batchId, validated.summary, principalId(principal), now),
        result: {},
      }));
      const recorded = requireBatch(outcome.batch, batchId);
      // A concurrent upload of the same file won: ours are orphan chunks; answer with the recorded one.
      if (recorded.upload?.uploadId !== validated.summary.uploadId) return this.summaryOf(recorded, true);
      return viewOfSummary(recorded, validated.invalidSample, false);
    } finally {
      await validated.discard();
    }
  }

  async summary(principal: Principal, batchIdInput: unknown): Promise<UploadSummaryView> {
    const batch = await this.authorised(principal, parseBatchId(batchIdInput), 'read');
    return this.summaryOf(batch, false);
  }

  async execute(principal: Principal, batchIdInput: unknown, input: { pin?: unknown }): Promise<CommandView> {
    const batchId = parseBatchId(batchIdInput);
    const { batch, revision } = await this.authorisedView(principal, batchId, 'move');
    await this.confirmPin(principal, input.pin);
    // Refuse early without touching the saga's index, then index before the starting event.
    decideStartExecution(batch, batchId, { holdId: batchId, by: principalId(principal), reservationTtlMs: this.config.reservationTtlMs }, this.deps.clock());
    await this.deps.saga.track(batchId, revision);
    const view = await this.onBatch(principal, batchId, (state) =>
      decideStartExecution(state, batchId, { holdId: batchId, by: principalId(principal), reservationTtlMs: this.config.reservationTtlMs }, this.deps.clock()),
    );
    void this.deps.saga.kick(batchId);
    return view;
  }

  async cancel(principal: Principal, batchIdInput: unknown, input: { reason?: unknown }): Promise<CommandView> {
    const batchId = parseBatchId(batchIdInput);
    await this.authorised(principal, batchId, 'move');
    const reason = parseText(input.reason, 'reason');
    return this.onBatch(principal, batchId, (state) => decideCancel(state, batchId, principalId(principal), reason, this.deps.clock()));
  }

  async pause(principal: Principal, batchIdInput: unknown): Promise<CommandView> {
    const batchId = parseBatchId(batchIdInput);
    await this.authorised(principal, batchId, 'move');
    return this.onBatch(principal, batchId, (state) => decidePause(state, batchId, principalId(principal), this.deps.clock()));
  }

  async resume(principal: Principal, batchIdInput: unknown): Promise<CommandView> {
    const batchId = parseBatchId(batchIdInput);
    await this.authorised(principal, batchId, 'move');
    const view = await this.onBatch(principal, batchId, (state) => decideResume(state, batchId, principalId(principal), this.deps.clock()));
    void this.deps.saga.kick(batchId);
    return view;
  }

  async compensate(principal: Principal, batchIdInput: unknown, input: { rows?: unknown; pin?: unknown }): Promise<CommandView> {
    const batchId = parseBatchId(batchIdInput);
    const { batch, revision } = await this.authorisedView(principal, batchId, 'move');
    const rows = parseRowList(input.rows, batch.upload?.rows ?? 0);
    await this.confirmPin(principal, input.pin);
    if (rows.length > 0) await this.assertCompensable(batch, rows);
    const command = { compensationId: randomUUID(), scope: rows.length > 0 ? ('SELECTED' as const) : ('ALL_SUCCEEDED' as const), rows, by: principalId(principal) };
    decideRequestCompensation(batch, batchId, command, this.deps.clock());
    await this.deps.saga.track(batchId, revision);
    const view = await this.onBatch(principal, batchId, (state) => decideRequestCompensation(state, batchId, command, this.deps.clock()));
    void this.deps.saga.kick(batchId);
    return view;
  }

  async getBatch(principal: Principal, batchIdInput: unknown): Promise<BatchView> {
    const batchId = parseBatchId(batchIdInput);
    const view = await this.deps.streams.loadBatch(batchId);
    const batch = requireBatch(view.state, batchId);
    assertCanActOnWallet(principal, batch.ownerId, 'read');
    return toBatchView(batch, revisionOf(view));
  }

  async listRows(principal: Principal, batchIdInput: unknown, input: { status?: unknown; cursor?: unknown; pageSize?: unknown }): Promise<RowsPage> {
    const batchId = parseBatchId(batchIdInput);
    const batch = await this.authorised(principal, batchId, 'read');
    const status = parseRowStatus(input.status);
    const pageSize = parsePageSize(input.pageSize);
    const after = input.cursor === undefined || input.cursor === '' ? 0 : decodeRowsCursor(input.cursor, batchId, status);
    const upload = batch.upload;
    if (!upload) return { rows: [], nextCursor: null };
    const rows: RowView[] = [];
    let lastRow = after;
    for (let chunk = chunkOfRow(after + 1, upload.rowsPerChunk); chunk < upload.chunks && rows.length < pageSize; chunk += 1) {
      const state = await this.deps.streams.loadChunk(upload.uploadId, chunk);
      for (const row of state.rows.values()) {
        if (row.row <= after) continue;
        lastRow = row.row;
        if (status === undefined || row.status === status) rows.push(toRowView(row, batch.currency));
        if (rows.length === pageSize) break;
      }
    }
    const more = lastRow < upload.rows && rows.length === pageSize;
    return { rows, nextCursor: more ? encodeRowsCursor(lastRow, batchId, status) : null };
  }

  async report(principal: Principal, batchIdInput: unknown): Promise<AsyncIterable<string>> {
    const batchId = parseBatchId(batchIdInput);
    const batch = await this.authorised(principal, batchId, 'read');
    const streams = this.deps.streams;
    return (async function* (): AsyncGenerator<string> {
      yield csvLine(REPORT_HEADER.map(csvCell));
      const upload = batch.upload;
      if (!upload) return;
      for (let chunk = 0; chunk < upload.chunks; chunk += 1) {
        const state = await streams.loadChunk(upload.uploadId, chunk);
        let text = '';
        for (const row of state.rows.values()) text += reportLine(row, batch.currency);
        yield text;
      }
    })();
  }

  async watch(principal: Principal, batchIdInput: unknown, signal: AbortSignal): Promise<AsyncIterable<BatchView>> {
    const first = await this.getBatch(principal, batchIdInput);
    const batchId = first.batchId;
    const { streams, clock } = this.deps;
    const { progressIntervalMs, progressMaxMs } = this.config;
    return (async function* (): AsyncGenerator<BatchView> {
      yield first;
      let last = first.revision;
      let status = first.status;
      const endAt = clock().getTime() + progressMaxMs;
      while (!signal.aborted && !isRestingBatchStatus(status) && clock().getTime() < endAt) {
        await abortableDelay(progressIntervalMs, signal);
        if (signal.aborted) return;
        const view = await streams.loadBatch(batchId);
        if (view.state.status === 'none' || revisionOf(view).toString() === last) continue;
        const next = toBatchView(view.state, revisionOf(view));
        last = next.revision;
        status = next.status;
        yield next;
      }
    })();
  }

  private async onBatch(principal: Principal, batchId: string, decide: (state: PayoutBatchState) => PayoutBatchEvent[]): Promise<CommandView> {
    const outcome = await this.deps.streams.onBatch(batchId, this.acting(principal, batchId), (state) => ({ events: decide(state), result: {} }));
    return { batch: toBatchView(requireBatch(outcome.batch, batchId), outcome.revision), position: positionText(outcome.position), replayed: false };
  }

  private async authorised(principal: Principal, batchId: string, action: 'read' | 'move'): Promise<ExistingBatch> {
    return (await this.authorisedView(principal, batchId, action)).batch;
  }

  private async authorisedView(principal: Principal, batchId: string, action: 'read' | 'move'): Promise<{ batch: ExistingBatch; revision: bigint }> {
    const view = await this.deps.streams.loadBatch(batchId);
    const batch = requireBatch(view.state, batchId);
    assertCanActOnWallet(principal, batch.ownerId, action);
    return { batch, revision: revisionOf(view) };
  }

  private async confirmPin(principal: Principal, pin: unknown): Promise<void> {
    if (!requiresPin(principal, 'move')) return;
    if (pin === undefined || pin === null || pin === '') throw new ValidationError('PIN_REQUIRED', 'Executing or compensating a batch needs your 4-digit transaction PIN');
    if (typeof pin !== 'string') throw new ValidationError('PIN_FORMAT_INVALID', 'The transaction PIN is a string of 4 digits');
    await this.deps.pins.verifyPin(principal.subject, pin, this.deps.clock());
  }

  /** Every selected row must be paid (or its last reversal failed) and not being reversed. */
  private async assertCompensable(batch: ExistingBatch, rows: readonly number[]): Promise<void> {
    const upload = batch.upload;
    if (!upload) throw new PayoutRejection('BATCH_NOT_COMPENSABLE', `Payout batch ${batch.batchId} has no rows`);
    let loaded: { chunk: number; rows: ReadonlyMap<number, RowState> } | undefined;
    for (const row of rows) {
      const chunk = chunkOfRow(row, upload.rowsPerChunk);
      if (loaded?.chunk !== chunk) loaded = { chunk, rows: (await this.deps.streams.loadChunk(upload.uploadId, chunk)).rows };
      const state = loaded.rows.get(row);
      if (!state) throw rowNotFound(batch.batchId, row);
      if (!isCompensable(state)) {
        throw new PayoutRejection('ROW_NOT_COMPENSABLE', `Row ${row} is ${state.status}; only SUCCEEDED or REVERSAL_FAILED rows can be reversed`, { row, status: state.status });
      }
    }
  }

  private async summaryOf(batch: ExistingBatch, replayed: boolean): Promise<UploadSummaryView> {
    const upload = batch.upload;
    if (!upload) throw new PayoutRejection('BATCH_NOT_UPLOADED', `Payout batch ${batch.batchId} has no rows yet`);
    const sample: RecordedRow[] = [];
    for (let chunk = 0; chunk < upload.chunks && sample.length < this.config.summaryInvalidRows && upload.invalidRows > 0; chunk += 1) {
      for (const row of (await this.deps.streams.loadChunk(upload.uploadId, chunk)).rows.values()) {
        if (row.amountMinor === null && sample.length < this.config.summaryInvalidRows) {
          sample.push({ row: row.row, recipientId: row.recipientId, amount: row.amount, amountMinor: null, reference: row.reference, reason: row.reason });
        }
      }
    }
    return viewOfSummary(batch, sample, replayed);
  }

  private acting(principal: Principal, batchId: string): { principal: string; correlationId: string } {
    return { principal: principalId(principal), correlationId: batchId };
  }
}

export function toBatchView(batch: ExistingBatch, revision: bigint): BatchView {
  const upload = batch.upload;
  const money = (minor: bigint): string => formatAmount(minor, batch.currency);
  const done = upload && upload.validRows > 0 ? upload.validRows - batch.counts.PENDING - batch.counts.PROCESSING : 0;
  const progress = batch.compensation
    ? ratio(batch.compensation.settled.size, batch.compensation.chunks.length)
    : upload && upload.validRows > 0 ? ratio(done, upload.validRows) : batch.status === 'PENDING' || batch.status === 'VALIDATED' ? '0.0000' : '1.0000';
  return {
    batchId: batch.batchId,
    ownerId: batch.ownerId,
    sourceWalletId: batch.sourceWalletId,
    currency: batch.currency,
    description: batch.description,
    status: batch.status,
    paused: batch.paused,
    createdAt: batch.createdAt,
    updatedAt: batch.updatedAt,
    rows: upload?.rows ?? 0,
    validRows: upload?.validRows ?? 0,
    invalidRows: upload?.invalidRows ?? 0,
    counts: Object.fromEntries(PAYOUT_ROW_STATUSES.map((status) => [status, batch.counts[status]])) as BatchView['counts'],
    validTotal: money(upload?.validTotalMinor ?? 0n),
    paidTotal: money(batch.paidMinor),
    reversedTotal: money(batch.reversedMinor),
    releasedTotal: money(batch.releasedMinor),
    progress,
    holdId: batch.holdId ?? null,
    reservation: batch.reservation,
    refusalReason: batch.refusalReason ?? null,
    compensation: batch.compensation
      ? { compensationId: batch.compensation.compensationId, scope: batch.compensation.scope, chunks: batch.compensation.chunks.length, chunksSettled: batch.compensation.settled.size }
      : null,
    revision: revision.toString(),
  };
}

/** done/total with four decimals, computed in integers. */
function ratio(done: number, total: number): string {
  if (total <= 0) return '1.0000';
  const scaled = Math.floor((Math.max(0, Math.min(done, total)) * 10_000) / total);
  return `${Math.floor(scaled / 10_000)}.${String(scaled % 10_000).padStart(4, '0')}`;
}

function viewOfSummary(batch: ExistingBatch, sample: readonly RecordedRow[], replayed: boolean): UploadSummaryView {
  const upload = batch.upload;
  if (!upload) throw new PayoutRejection('BATCH_NOT_UPLOADED', `Payout batch ${batch.batchId} has no rows yet`);
  return {
    batchId: batch.batchId,
    status: batch.status,
    currency: batch.currency,
    rows: upload.rows,
    validRows: upload.validRows,
    invalidRows: upload.invalidRows,
    validTotal: formatAmount(upload.validTotalMinor, batch.currency),
    fileSha256: upload.fileSha256,
    fileBytes: upload.fileBytes,
    invalidSample: sample.map((row): InvalidRowView => ({ row: row.row, recipientId: row.recipientId, amount: row.amount, reason: row.reason ?? 'UNKNOWN' })),
    replayed,
  };
}

function toRowView(row: RowState, currency: CurrencyCode): RowView {
  return {
    row: row.row,
    recipientId: row.recipientId,
    amount: row.amountMinor === null ? row.amount : formatAmount(row.amountMinor, currency),
    reference: row.reference,
    status: row.status,
    reason: row.reason,
    transactionId: row.transactionId,
    reversalAttempts: row.reversalAttempts,
    reversalTransactionId: row.reversalTransactionId,
  };
}

function reportLine(row: RowState, currency: CurrencyCode): string {
  return csvLine([
    csvNumberCell(String(row.row)),
    csvCell(row.recipientId),
    row.amountMinor === null ? csvCell(row.amount) : csvNumberCell(formatAmount(row.amountMinor, currency)),
    csvCell(currency),
    csvCell(row.reference ?? ''),
    csvCell(row.status),
    csvCell(row.reason ?? ''),
    csvCell(row.transactionId ?? ''),
    csvCell(row.reversalTransactionId ?? ''),
  ]);
}

function positionText(position: bigint): string {
  return position === NOTHING_APPENDED ? '0' : position.toString();
}

export function principalId(principal: Principal): string {
  return `${principal.kind}:${principal.subject}`;
}

function parseBatchId(value: unknown): string {
  return parseUuid(value, 'INVALID_BATCH_ID', 'batchId');
}

function parseUuid(value: unknown, code: string, field: string): string {
  if (typeof value !== 'string' || !UUID.test(value)) throw new ValidationError(code, `${field} must be a lower-case UUID`, { field });
  return value;
}

function parseText(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value.length > MAX_BATCH_TEXT_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new ValidationError('TEXT_INVALID', `${field} must be at most ${MAX_BATCH_TEXT_LENGTH} characters without control characters`, { field });
  }
  return value;
}

function parseRowStatus(value: unknown): PayoutRowStatus | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !(PAYOUT_ROW_STATUSES as readonly string[]).includes(value)) {
    throw new ValidationError('INVALID_ROW_STATUS', `status must be one of ${PAYOUT_ROW_STATUSES.join(', ')}`);
  }
  return value as PayoutRowStatus;
}

function parsePageSize(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_ROWS_PAGE_SIZE;
  const size = typeof value === 'number' ? value : typeof value === 'string' && /^[0-9]{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(size) || size < 1) throw new ValidationError('INVALID_PAGE_SIZE', `pageSize must be an integer from 1 to ${MAX_ROWS_PAGE_SIZE}`);
  if (size > MAX_ROWS_PAGE_SIZE) throw new ValidationError('PAGE_SIZE_TOO_LARGE', `pageSize may be at most ${MAX_ROWS_PAGE_SIZE}`, { limit: MAX_ROWS_PAGE_SIZE });
  return size;
}

/** Row numbers to reverse: absent/empty = all paid rows; else distinct integers within the batch, bounded. */
function parseRowList(value: unknown, rowCount: number): number[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError('INVALID_ROWS', 'rows must be an array of row numbers');
  if (value.length > MAX_ROWS_PER_COMPENSATION) {
    throw new ValidationError('TOO_MANY_ROWS', `A compensation lists at most ${MAX_ROWS_PER_COMPENSATION} rows; leave rows out to reverse every paid row`, { limit: MAX_ROWS_PER_COMPENSATION });
  }
  const rows = new Set<number>();
  for (const item of value) {
    if (typeof item !== 'number' || !Number.isInteger(item) || item < 1 || item > rowCount) {
      throw new ValidationError('INVALID_ROWS', `rows must be row numbers from 1 to ${rowCount}`, { rows: rowCount });
    }
    rows.add(item);
  }
  return [...rows].sort((a, b) => a - b);
}
