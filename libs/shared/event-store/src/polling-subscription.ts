import type { RecordedEvent } from './event-envelope';
import type { ReadAllOptions, ReadAllResult, SubscribeToAllOptions } from './event-store.port';
import type { AppendSignal } from './append-signal';

export const DEFAULT_SUBSCRIPTION_BATCH_SIZE = 256;

/**
 * A catch-up subscription built on readAll, one read at a time: yields each read that returned
 * events or moved the checkpoint (the checkpoint moves past events the filter leaves out, and
 * past quiet stretches of the log), and when caught up waits for a local append or the poll
 * interval. Correctness rests on readAll's promise that nothing can appear at or below a
 * checkpoint, so a consumer that stores a batch's checkpoint with its effects never skips.
 */
export async function* pollingBatches(
  readAll: (options: ReadAllOptions) => Promise<ReadAllResult>,
  appendSignal: AppendSignal,
  options: SubscribeToAllOptions,
  pollIntervalMs: number,
): AsyncGenerator<ReadAllResult> {
  const { signal, filter } = options;
  const maxCount = options.batchSize ?? DEFAULT_SUBSCRIPTION_BATCH_SIZE;
  let fromPosition = options.fromPosition;
  while (!signal?.aborted) {
    const seenVersion = appendSignal.version;
    const batch = await readAll({ fromPosition, maxCount, ...(filter ? { filter } : {}) });
    if (batch.events.length > 0 || batch.checkpoint > fromPosition) {
      if (signal?.aborted) return;
      yield batch;
    }
    fromPosition = batch.checkpoint > fromPosition ? batch.checkpoint : fromPosition;
    if (!batch.isEndOfBatch) await appendSignal.waitForChange(seenVersion, pollIntervalMs, signal);
  }
}

/** A batch subscription, event by event (what subscribeToAll is, for every adapter). */
export async function* eventsOf(batches: AsyncIterable<ReadAllResult>, signal?: AbortSignal): AsyncGenerator<RecordedEvent> {
  for await (const batch of batches) {
    for (const event of batch.events) {
      if (signal?.aborted) return;
      yield event;
    }
  }
}
