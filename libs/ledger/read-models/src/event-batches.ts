const NOT_READY = Symbol('not-ready');

/**
 * Groups what an async iterable has ready into arrays of at most `maxBatch`, without waiting for
 * more: a batch ends at `maxBatch` or as soon as the next item is not available in the current
 * turn of the event loop (the subscription went to the database or is waiting for appends). So a
 * catching-up projection gets big batches and a caught-up one applies each event promptly.
 *
 * Ending the source is the caller's job (abort the subscription's signal); returning from the
 * loop early leaves the source's pending read to finish on its own.
 */
export async function* readyBatches<T>(source: AsyncIterable<T>, maxBatch: number): AsyncGenerator<T[]> {
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`readyBatches: maxBatch must be a positive integer; got ${maxBatch}`);
  const iterator = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | undefined;
  for (;;) {
    const first = await (pending ?? iterator.next());
    pending = undefined;
    if (first.done) return;
    const batch: T[] = [first.value];
    while (batch.length < maxBatch) {
      const next = iterator.next();
      const ready = await Promise.race([next, nextTurn()]);
      if (ready === NOT_READY) {
        pending = next;
        break;
      }
      if (ready.done) {
        yield batch;
        return;
      }
      batch.push(ready.value);
    }
    yield batch;
  }
}

function nextTurn(): Promise<typeof NOT_READY> {
  return new Promise((resolve) => setImmediate(() => resolve(NOT_READY)));
}

/** Waits `ms` or until `signal` aborts, whichever comes first (for retry backoff, never in tests). */
export function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
