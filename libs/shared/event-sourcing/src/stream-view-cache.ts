import type { StreamView } from './stream-view';

/**
 * The latest known view of recently used streams, so a hot path decides without reading the
 * store. It may be stale (another process appended): the append's expected revision then fails,
 * the entry is dropped and the command retried on a fresh read. Bounded: least recently used
 * entries go first.
 */
export class StreamViewCache {
  private readonly entries = new Map<string, StreamView>();

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  get(streamId: string): StreamView | undefined {
    const view = this.entries.get(streamId);
    if (view) {
      this.entries.delete(streamId);
      this.entries.set(streamId, view);
    }
    return view;
  }

  set(view: StreamView): void {
    this.entries.delete(view.streamId);
    this.entries.set(view.streamId, view);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(streamId: string): void {
    this.entries.delete(streamId);
  }

  get size(): number {
    return this.entries.size;
  }
}
