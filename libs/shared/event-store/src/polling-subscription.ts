import type { RecordedEvent } from './event-envelope';
import type { ReadAllOptions, ReadAllResult, SubscribeToAllOptions } from './event-store.port';
import type { AppendSignal } from './append-signal';

export const DEFAULT_SUBSCRIPTION_BATCH_SIZE = 256;

/**
 * A catch-up subscription built on readAll: read a batch, hand its events over one by one, move
 * to the batch's checkpoint, and when caught up wait for a local append or the poll interval.
 * Correctness rests on readAll's promise that nothing can appear at or below a checkpoint.
 */
export async function* pollingSubscription(
  readAll: (options: ReadAllOptions) => Promise<ReadAllResult>,
  appendSignal: AppendSignal,
  options: SubscribeToAllOptions,
  pollIntervalMs: number,
): AsyncGenerator<RecordedEvent> {
  const { signal, filter } = options;
  const maxCount = options.batchSize ?? DEFAULT_SUBSCRIPTION_BATCH_SIZE;
  let fromPosition = options.fromPosition;
  while (!signal?.aborted) {
    const seenVersion = appendSignal.version;
    const batch = await readAll({ fromPosition, maxCount, ...(filter ? { filter } : {}) });
    for (const event of batch.events) {
      if (signal?.aborted) return;
      yield event;
    }
    fromPosition = batch.checkpoint > fromPosition ? batch.checkpoint : fromPosition;
    if (!batch.isEndOfBatch) await appendSignal.waitForChange(seenVersion, pollIntervalMs, signal);
  }
}
