/* Test-only helpers shared by the specs of this library (not exported from index.ts). */
import { parsePayoutCsv, type ParsePayoutCsvOptions, type RawPayoutRow } from './parse-payout-csv';
import { PayoutCsvError } from './payout-csv-error';

const encoder = new TextEncoder();

export function bytesOf(...parts: readonly (string | readonly number[])[]): Uint8Array {
  const pieces = parts.map((part) => (typeof part === 'string' ? encoder.encode(part) : Uint8Array.from(part)));
  const bytes = new Uint8Array(pieces.reduce((total, piece) => total + piece.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    bytes.set(piece, offset);
    offset += piece.length;
  }
  return bytes;
}

/** Splits `bytes` at the given cut offsets; each chunk is a fresh copy (as a socket would give). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const sorted = [...new Set(cuts.filter((cut) => cut > 0 && cut < bytes.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...sorted, bytes.length]) {
    chunks.push(bytes.slice(start, cut));
    start = cut;
  }
  return chunks;
}

export function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const cuts: number[] = [];
  for (let cut = size; cut < bytes.length; cut += size) cuts.push(cut);
  return splitAt(bytes, cuts);
}

export async function* sourceOf(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

export async function collectBatches(
  chunks: readonly Uint8Array[] | AsyncIterable<Uint8Array>,
  options?: ParsePayoutCsvOptions,
): Promise<RawPayoutRow[][]> {
  const batches: RawPayoutRow[][] = [];
  const source = Array.isArray(chunks) ? sourceOf(chunks) : (chunks as AsyncIterable<Uint8Array>);
  for await (const batch of parsePayoutCsv(source, options)) batches.push(batch);
  return batches;
}

export async function parseText(text: string | Uint8Array, options?: ParsePayoutCsvOptions): Promise<RawPayoutRow[]> {
  const bytes = typeof text === 'string' ? bytesOf(text) : text;
  return (await collectBatches([bytes], options)).flat();
}

export async function errorOf(promise: Promise<unknown>): Promise<PayoutCsvError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PayoutCsvError) return error;
    throw error;
  }
  throw new Error('expected a PayoutCsvError, but parsing succeeded');
}

export type Outcome =
  | { readonly rows: readonly RawPayoutRow[] }
  | { readonly error: { readonly code: string; readonly line: number | undefined; readonly row: number | undefined } };

/** Rows, or the error's code and position: what must not depend on how the bytes are chunked. */
export async function outcomeOf(chunks: readonly Uint8Array[], options?: ParsePayoutCsvOptions): Promise<Outcome> {
  try {
    return { rows: (await collectBatches(chunks, options)).flat() };
  } catch (error) {
    if (!(error instanceof PayoutCsvError)) throw error;
    return { error: { code: error.code, line: error.line, row: error.row } };
  }
}

/** A lazily generated source that records how far it has been pulled and whether it was closed. */
export class InstrumentedSource implements AsyncIterable<Uint8Array> {
  pulled = 0;
  closed = false;

  constructor(private readonly chunkAt: (index: number) => Uint8Array | undefined) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const chunk = this.chunkAt(this.pulled);
        if (chunk === undefined) return;
        this.pulled += 1;
        yield chunk;
      }
    } finally {
      this.closed = true;
    }
  }
}
