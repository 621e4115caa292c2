import { CurrentPrincipal, type Principal } from '@ledger/auth';
import { ApiProblemResponses } from '@ledger/nest';
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Put, Query, Req, Res, type Type } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { DEFAULT_ROWS_PAGE_SIZE, MAX_ROWS_PAGE_SIZE, type CommandView, type PayoutsApplication, type UploadSummaryView } from '../application/payouts.application';
import { PAYOUTS_APPLICATION } from '../payouts.tokens';
import {
  BatchDto,
  CancelBatchBody,
  CompensateBatchBody,
  CreateBatchBody,
  ExecuteBatchBody,
  PayoutCommandResponseDto,
  ROW_STATUSES,
  RowsPageDto,
  UploadSummaryDto,
} from './payouts.http.dto';
import { abortOnClose, csvUploadBody, jsonFields, sendCsvAttachment, sendServerSentEvents, SSE_HEARTBEAT_INTERVAL_MS } from './payouts.http.streams';

type QueryString = Record<string, unknown>;

const IdempotencyHeader = ApiHeader({ name: 'Idempotency-Key', required: true, description: '8-128 chars of [A-Za-z0-9_.:-], unique per batch you mean to create' });
const BatchIdParam = 'batchId';

/** A replay (idempotency key, or the same file again) is marked as the ledger marks it. */
function replayHeader<T extends CommandView | UploadSummaryView>(response: Response, outcome: T): T {
  if (outcome.replayed) response.setHeader('Idempotent-Replayed', 'true');
  return outcome;
}

/**
 * REST for batch payouts: the same use cases as payouts.v1.PayoutService (PayoutsApplication),
 * the same authentication (global JWT guard) and object-level rules. Values reach the
 * application as they came and are refused there by name.
 */
@ApiTags('payouts')
@ApiBearerAuth('bearer')
@ApiProblemResponses(400, 401, 403, 404, 409, 415, 422, 429, 503)
@Controller('v1/payouts')
export class PayoutBatchesHttpController {
  constructor(@Inject(PAYOUTS_APPLICATION) private readonly payouts: PayoutsApplication) {}

  @Post('batches')
  @HttpCode(201)
  @ApiOperation({ summary: 'Creates an empty batch (PENDING) paying from one of your wallets' })
  @IdempotencyHeader
  @ApiBody({ type: CreateBatchBody })
  @ApiCreatedResponse({ type: PayoutCommandResponseDto })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Headers('idempotency-key') key: string | undefined,
    @Req() request: Request,
    @Body() body: unknown,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CommandView> {
    const b = jsonFields(request, body, true);
    return replayHeader(response, await this.payouts.createBatch(principal, { sourceWalletId: b['sourceWalletId'], currency: b['currency'], description: b['description'], idempotencyKey: key }));
  }

  @Put(`batches/:${BatchIdParam}/rows`)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Uploads the batch file (recipient_id,amount[,reference]); every row is recorded, or nothing',
    description:
      'Send the file as the raw body with `Content-Type: text/csv` (UTF-8, uncompressed). It is validated while it streams; ' +
      'a file-level problem (CSV_TOO_LARGE, CSV_HEADER_INVALID, ...) ends the request at once. The same file again answers the same summary with `Idempotent-Replayed: true`.',
  })
  @ApiConsumes('text/csv')
  @ApiBody({ schema: { type: 'string', format: 'binary', example: 'recipient_id,amount,reference\n3f2a…,12.50,March payout\n' } })
  @ApiOkResponse({ type: UploadSummaryDto })
  async upload(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Req() request: Request, @Res({ passthrough: true }) response: Response): Promise<UploadSummaryView> {
    return replayHeader(response, await this.payouts.uploadRows(principal, batchId, csvUploadBody(request)));
  }

  @Post(`batches/:${BatchIdParam}/execute`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Starts paying a VALIDATED batch: reserves the valid total, then pays the rows' })
  @ApiBody({ type: ExecuteBatchBody, required: false })
  @ApiOkResponse({ type: PayoutCommandResponseDto })
  async execute(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Req() request: Request, @Body() body: unknown, @Res({ passthrough: true }) response: Response): Promise<CommandView> {
    const b = jsonFields(request, body, false);
    return replayHeader(response, await this.payouts.execute(principal, batchId, { pin: b['pin'] }));
  }

  @Post(`batches/:${BatchIdParam}/cancel`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancels a batch that has not finished; paid rows stay paid' })
  @ApiBody({ type: CancelBatchBody, required: false })
  @ApiOkResponse({ type: PayoutCommandResponseDto })
  async cancel(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Req() request: Request, @Body() body: unknown, @Res({ passthrough: true }) response: Response): Promise<CommandView> {
    const b = jsonFields(request, body, false);
    return replayHeader(response, await this.payouts.cancel(principal, batchId, { reason: b['reason'] }));
  }

  @Post(`batches/:${BatchIdParam}/pause`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Stops paying further rows of a PROCESSING batch' })
  @ApiOkResponse({ type: PayoutCommandResponseDto })
  async pause(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Res({ passthrough: true }) response: Response): Promise<CommandView> {
    return replayHeader(response, await this.payouts.pause(principal, batchId));
  }

  @Post(`batches/:${BatchIdParam}/resume`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Continues a paused batch' })
  @ApiOkResponse({ type: PayoutCommandResponseDto })
  async resume(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Res({ passthrough: true }) response: Response): Promise<CommandView> {
    return replayHeader(response, await this.payouts.resume(principal, batchId));
  }

  @Post(`batches/:${BatchIdParam}/compensate`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Reverses paid rows: the listed ones, or every SUCCEEDED row' })
  @ApiBody({ type: CompensateBatchBody, required: false })
  @ApiOkResponse({ type: PayoutCommandResponseDto })
  async compensate(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Req() request: Request, @Body() body: unknown, @Res({ passthrough: true }) response: Response): Promise<CommandView> {
    const b = jsonFields(request, body, false);
    return replayHeader(response, await this.payouts.compensate(principal, batchId, { rows: b['rows'], pin: b['pin'] }));
  }
}

/** Reads of a batch: its view, upload summary, rows, the CSV report, and the live progress feed. */
@ApiTags('payouts')
@ApiBearerAuth('bearer')
@ApiProblemResponses(400, 401, 403, 404, 429, 503)
@Controller('v1/payouts')
export class PayoutBatchReadsHttpController {
  constructor(@Inject(PAYOUTS_APPLICATION) private readonly payouts: PayoutsApplication) {}

  @Get(`batches/:${BatchIdParam}`)
  @ApiOperation({ summary: 'The batch now' })
  @ApiOkResponse({ type: BatchDto })
  getBatch(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string) {
    return this.payouts.getBatch(principal, batchId);
  }

  @Get(`batches/:${BatchIdParam}/summary`)
  @ApiOperation({ summary: 'The summary of the uploaded file (BATCH_NOT_UPLOADED before the upload)' })
  @ApiOkResponse({ type: UploadSummaryDto })
  summary(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string) {
    return this.payouts.summary(principal, batchId);
  }

  @Get(`batches/:${BatchIdParam}/rows`)
  @ApiOperation({ summary: 'A page of the batch rows in row order' })
  @ApiQuery({ name: 'status', required: false, enum: ROW_STATUSES, description: 'Only rows in this status (INVALID_ROW_STATUS otherwise)' })
  @ApiQuery({ name: 'pageSize', required: false, description: `1 to ${MAX_ROWS_PAGE_SIZE} (PAGE_SIZE_TOO_LARGE above), default ${DEFAULT_ROWS_PAGE_SIZE}` })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page, with the same status filter (INVALID_CURSOR otherwise)' })
  @ApiOkResponse({ type: RowsPageDto })
  rows(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Query() q: QueryString) {
    return this.payouts.listRows(principal, batchId, { status: q['status'], cursor: q['cursor'], pageSize: q['pageSize'] });
  }

  @Get(`batches/:${BatchIdParam}/report`)
  @ApiOperation({ summary: 'The outcome report as a CSV attachment, streamed (cells neutralised against spreadsheet formulas)' })
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'text/csv; charset=utf-8, `Content-Disposition: attachment; filename="payout-<batchId>.csv"`', schema: { type: 'string' } })
  async report(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Res() response: Response): Promise<void> {
    const connection = abortOnClose(response);
    try {
      const pieces = await this.payouts.report(principal, batchId);
      await sendCsvAttachment(response, pieces, reportFilename(batchId), connection.signal);
    } finally {
      connection.release();
    }
  }

  @Get(`batches/:${BatchIdParam}/progress`)
  @ApiOperation({
    summary: 'Live progress as Server-Sent Events',
    description:
      '`event: progress` with `data:` the batch (as GET /v1/payouts/batches/{batchId}) now and at every change, at most one per PAYOUT_PROGRESS_INTERVAL_MS; ' +
      '`event: end` after the batch reached a terminal status; `event: problem` (problem details) if the feed fails midway. ' +
      `Comment lines every ${SSE_HEARTBEAT_INTERVAL_MS / 1000} s keep idle connections open. Close the connection to stop.`,
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'text/event-stream', schema: { type: 'string' } })
  async progress(@CurrentPrincipal() principal: Principal, @Param(BatchIdParam) batchId: string, @Res() response: Response): Promise<void> {
    const connection = abortOnClose(response);
    try {
      const views = await this.payouts.watch(principal, batchId, connection.signal);
      await sendServerSentEvents(response, views, connection.signal, { heartbeatMs: SSE_HEARTBEAT_INTERVAL_MS });
    } finally {
      // Stops the watch whatever ended the response (the client leaving, the end, a failure).
      connection.release();
    }
  }
}

/** The application has validated the id by now; the filename keeps only safe characters all the same. */
function reportFilename(batchId: string): string {
  return `payout-${batchId.replace(/[^A-Za-z0-9-]/g, '_')}.csv`;
}

/** What the lead's module registers (`controllers: [...PAYOUTS_HTTP_CONTROLLERS]`). */
export const PAYOUTS_HTTP_CONTROLLERS: readonly Type[] = [PayoutBatchesHttpController, PayoutBatchReadsHttpController];
