import { randomUUID } from 'node:crypto';
import { loadStreamView, type CommandProcessor, type DomainEvent, type IdempotencyKey, type StreamView } from '@ledger/event-sourcing';
import type { EventStore, JsonObject } from '@ledger/event-store';
import {
  payoutBatchStreamId,
  payoutChunkStreamId,
  requireBatch,
  type ExistingBatch,
  type ExistingChunk,
  type PayoutBatchEvent,
  type PayoutBatchState,
  type PayoutChunkEvent,
  type PayoutChunkState,
} from '@ledger/payouts-domain';
import { InvariantViolationError } from '@ledger/errors';
import { payoutBatchStreamModel, payoutChunkStreamModel } from './payout.stream-models';

export interface BatchOutcome<Result extends JsonObject> {
  /** The batch as decided (after the events), and its stream revision. */
  readonly batch: PayoutBatchState;
  readonly revision: bigint;
  readonly position: bigint;
  readonly replayed: boolean;
  readonly result: Result;
}

/** Who acts and why, recorded in every event's metadata. */
export interface Acting {
  readonly principal: string;
  readonly correlationId: string;
  readonly causationId?: string;
}

/**
 * Reads and decides over payout streams through the group-committing CommandProcessor: one
 * batch stream alone, or the batch with one chunk stream (one atomic append, each stream at the
 * revision it was decided on; conflicts are retried on fresh state by the processor).
 */
export class PayoutStreams {
  /** Batch views read before, most recently used last: a load reads only the events after them. */
  private readonly batchViews = new Map<string, StreamView<PayoutBatchState>>();

  constructor(
    private readonly store: EventStore,
    private readonly processor: CommandProcessor,
    private readonly cachedBatches = 1_000,
  ) {}

  /** The batch as of now (strongly consistent: reads its stream, from the last view it kept). */
  async loadBatch(batchId: string): Promise<StreamView<PayoutBatchState>> {
    const streamId = payoutBatchStreamId(batchId);
    const earlier = this.batchViews.get(streamId);
    const view = await loadStreamView(this.store, payoutBatchStreamModel, streamId, earlier);
    this.batchViews.delete(streamId);
    if (view.revision !== 'no_stream') this.batchViews.set(streamId, view);
    if (this.batchViews.size > this.cachedBatches) this.batchViews.delete(this.batchViews.keys().next().value as string);
    return view;
  }

  async loadChunk(uploadId: string, chunk: number): Promise<ExistingChunk> {
    const view = await loadStreamView(this.store, payoutChunkStreamModel, payoutChunkStreamId(uploadId, chunk));
    if (view.state.status === 'none') throw new InvariantViolationError('PAYOUT_CHUNK_MISSING', `Chunk ${chunk} of upload ${uploadId} is missing`, { uploadId, chunk });
    return view.state;
  }

  /** Decides on the batch alone. `decide` returns the events (empty = no-op) and a JSON result. */
  async onBatch<Result extends JsonObject>(
    batchId: string,
    acting: Acting,
    decide: (batch: PayoutBatchState) => { events: PayoutBatchEvent[]; result: Result },
    idempotency?: IdempotencyKey,
  ): Promise<BatchOutcome<Result>> {
    const outcome = await this.processor.execute<Result>({
      streams: [{ streamId: payoutBatchStreamId(batchId), model: payoutBatchStreamModel as never }],
      decide: (views) => {
        const { events, result } = decide((views[0] as StreamView<PayoutBatchState>).state);
        return { events: [events as unknown as DomainEvent[]], result };
      },
      ...(idempotency ? { idempotency } : {}),
      metadata: metadataOf(acting),
    });
    // The state is read back (cheap: a batch stream is small) so a replay also answers with the batch now.
    const view = await this.loadBatch(batchId);
    return { batch: view.state, revision: revisionOf(view), position: outcome.position, replayed: outcome.replayed, result: outcome.result };
  }

  /** Decides one saga step over the batch and one of its chunks, appended together. */
  async onBatchAndChunk<Result extends JsonObject>(
    batchId: string,
    uploadId: string,
    chunk: number,
    acting: Acting,
    decide: (batch: ExistingBatch, chunk: ExistingChunk) => { batchEvents: PayoutBatchEvent[]; chunkEvents: PayoutChunkEvent[]; result: Result },
  ): Promise<{ result: Result; position: bigint }> {
    const outcome = await this.processor.execute<Result>({
      streams: [
        { streamId: payoutBatchStreamId(batchId), model: payoutBatchStreamModel as never },
        { streamId: payoutChunkStreamId(uploadId, chunk), model: payoutChunkStreamModel as never },
      ],
      decide: (views) => {
        const batch = requireBatch((views[0] as StreamView<PayoutBatchState>).state, batchId);
        const chunkState = (views[1] as StreamView<PayoutChunkState>).state;
        if (chunkState.status === 'none') throw new InvariantViolationError('PAYOUT_CHUNK_MISSING', `Chunk ${chunk} of upload ${uploadId} is missing`, { uploadId, chunk });
        const step = decide(batch, chunkState);
        return { events: [step.batchEvents as unknown as DomainEvent[], step.chunkEvents as unknown as DomainEvent[]], result: step.result };
      },
      metadata: metadataOf(acting),
    });
    return { result: outcome.result, position: outcome.position };
  }
}

export function revisionOf(view: StreamView): bigint {
  return view.revision === 'no_stream' ? -1n : view.revision;
}

function metadataOf(acting: Acting): { correlationId: string; causationId: string; principal: string } {
  return { correlationId: acting.correlationId, causationId: acting.causationId ?? randomUUID(), principal: acting.principal };
}
