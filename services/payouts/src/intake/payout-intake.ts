import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { EventStore, StreamWrite } from '@ledger/event-store';
import { parsePayoutCsv, type PayoutCsvLimits } from '@ledger/payouts-csv';
import {
  isWalletId,
  PAYOUT_ROWS_PER_CHUNK,
  payoutChunkStreamId,
  validatePayoutRow,
  type ExistingBatch,
  type RecordedRow,
  type UploadSummary,
} from '@ledger/payouts-domain';
import type { WalletDirectory } from './recipient-directory';

export interface IntakeConfig {
  readonly csv: PayoutCsvLimits;
  /** Where the validated rows wait between the two passes (a temporary directory per upload). */
  readonly spoolDir: string;
  /** Bytes of canonical JSON per PayoutRowsRecorded event; a chunk's rows are split beyond it. */
  readonly maxRecordedEventBytes: number;
  /** Chunk streams created per store call. */
  readonly chunksPerAppend: number;
}

export const DEFAULT_INTAKE_CONFIG: IntakeConfig = {
  csv: { maxFileBytes: 32 * 1024 * 1024, maxRows: 200_000, maxLineBytes: 1_024 },
  spoolDir: tmpdir(),
  maxRecordedEventBytes: 192 * 1024,
  chunksPerAppend: 16,
};

export interface IntakeResult {
  readonly summary: UploadSummary;
  /** The first invalid rows, in row order (bounded by the caller's sample size). */
  readonly invalidSample: RecordedRow[];
}

export interface Acting {
  readonly principal: string;
  readonly correlationId: string;
}

/**
 * CSV intake in two passes, so that a file is recorded whole or not at all while never being
 * held in memory (ADR 0008):
 *  1. stream → parse (papaparse, limits) → validate each row (recipients looked up in batches of
 *     the parser's size) → spool the rows as they will be recorded to a temporary file, hashing
 *     the bytes on the way. Any file-level error (CSV_*) throws here: nothing was written.
 *  2. read the spool back and append the rows to fresh chunk streams named by a new upload id.
 * The batch learns of the upload only afterwards (PayoutRowsUploaded, decided by the caller), so a
 * crash or a refusal between 2 and that event leaves chunk streams that no batch refers to.
 */
export class PayoutIntake {
  constructor(
    private readonly store: EventStore,
    private readonly directory: WalletDirectory,
    private readonly config: IntakeConfig,
  ) {}

  /** Pass 1 only: validates and spools; `record` (pass 2) is called when the batch accepts the file. */
  async validate(batch: ExistingBatch, file: AsyncIterable<Uint8Array>, sampleSize: number): Promise<ValidatedUpload> {
    const dir = await mkdtemp(join(this.config.spoolDir, 'payout-upload-'));
    const spoolPath = join(dir, 'rows.ndjson');
    const spool = createWriteStream(spoolPath, { encoding: 'utf8' });
    const hash = createHash('sha256');
    let fileBytes = 0;
    const hashed = (async function* (): AsyncGenerator<Uint8Array> {
      for await (const piece of file) {
        hash.update(piece);
        fileBytes += piece.byteLength;
        yield piece;
      }
    })();
    let rows = 0;
    let validRows = 0;
    let validTotalMinor = 0n;
    const invalidSample: RecordedRow[] = [];
    const seen = new Map<string, number>();
    try {
      for await (const parsed of parsePayoutCsv(hashed, { limits: this.config.csv })) {
        const ids = [...new Set(parsed.map((row) => row.recipientId).filter(isWalletId))];
        const recipients = await this.directory.lookup(ids);
        let text = '';
        for (const raw of parsed) {
          const { amountMinorValue, ...recorded } = validatePayoutRow(raw, batch, recipients.get(raw.recipientId), seen);
          rows += 1;
          if (amountMinorValue !== null) {
            validRows += 1;
            validTotalMinor += amountMinorValue;
          } else if (invalidSample.length < sampleSize) {
            invalidSample.push(recorded);
          }
          text += `${JSON.stringify(recorded)}\n`;
        }
        if (!spool.write(text)) await once(spool, 'drain');
      }
      spool.end();
      await once(spool, 'finish');
    } catch (error) {
      spool.destroy();
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    const summary: UploadSummary = {
      uploadId: randomUUID(),
      fileSha256: hash.digest('hex'),
      fileBytes,
      rows,
      validRows,
      invalidRows: rows - validRows,
      validTotalMinor,
      chunks: Math.ceil(rows / PAYOUT_ROWS_PER_CHUNK),
      rowsPerChunk: PAYOUT_ROWS_PER_CHUNK,
    };
    return { summary, invalidSample, spoolPath, discard: () => rm(dir, { recursive: true, force: true }) };
  }

  /** Pass 2: the spooled rows into chunk streams `payoutChunk-<uploadId>.<n>` (each new). */
  async record(batch: ExistingBatch, upload: ValidatedUpload, acting: Acting): Promise<void> {
    const { uploadId } = upload.summary;
    const metadata = { correlationId: acting.correlationId, causationId: uploadId, principal: acting.principal, schemaVersion: 1 };
    const lines = createInterface({ input: createReadStream(upload.spoolPath, { encoding: 'utf8' }), crlfDelay: Infinity });
    let chunkRows: RecordedRow[] = [];
    let chunk = 0;
    let pending: StreamWrite[][] = [];
    const flushAppends = async (): Promise<void> => {
      if (pending.length === 0) return;
      const outcomes = await this.store.appendBatch(pending);
      const refused = outcomes.find((outcome) => !outcome.ok);
      if (refused && !refused.ok) throw refused.error;
      pending = [];
    };
    const closeChunk = async (): Promise<void> => {
      if (chunkRows.length === 0) return;
      pending.push([{ streamId: payoutChunkStreamId(uploadId, chunk), expectedState: 'no_stream', events: this.recordedEvents(batch.batchId, uploadId, chunk, chunkRows, metadata) }]);
      chunk += 1;
      chunkRows = [];
      if (pending.length >= this.config.chunksPerAppend) await flushAppends();
    };
    for await (const line of lines) {
      if (line.length === 0) continue;
      chunkRows.push(JSON.parse(line) as RecordedRow);
      if (chunkRows.length === PAYOUT_ROWS_PER_CHUNK) await closeChunk();
    }
    await closeChunk();
    await flushAppends();
  }

  /** One chunk's rows as PayoutRowsRecorded events, split so each stays under the size bound. */
  private recordedEvents(batchId: string, uploadId: string, chunk: number, rows: RecordedRow[], metadata: StreamWrite['events'][number]['metadata']) {
    const events: StreamWrite['events'][number][] = [];
    let part: RecordedRow[] = [];
    let bytes = 0;
    const push = (): void => {
      if (part.length > 0) events.push({ id: randomUUID(), type: 'PayoutRowsRecorded', data: { batchId, uploadId, chunk, rows: part as never }, metadata });
      part = [];
      bytes = 0;
    };
    for (const row of rows) {
      const size = Buffer.byteLength(JSON.stringify(row)) + 1;
      if (bytes + size > this.config.maxRecordedEventBytes) push();
      part.push(row);
      bytes += size;
    }
    push();
    return events;
  }
}

export interface ValidatedUpload {
  readonly summary: UploadSummary;
  readonly invalidSample: RecordedRow[];
  readonly spoolPath: string;
  /** Removes the spool; always called once the upload is recorded or refused. */
  discard(): Promise<void>;
}
