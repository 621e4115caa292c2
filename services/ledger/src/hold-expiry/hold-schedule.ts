/** One open hold the expiry worker knows about: what it needs to expire it, and where it was placed. */
export interface TrackedHold {
  readonly holdId: string;
  readonly walletId: string;
  /** The hold's deadline (HoldPlaced.expiresAt), epoch milliseconds. */
  readonly expiresAtMs: number;
  /** Global position of the HoldPlaced event: bounds the checkpoint (see HoldExpiryWorker). */
  readonly placedPosition: bigint;
  /** Carried into the HoldExpired event's metadata: the placement's correlation id ... */
  readonly correlationId: string;
  /** ... and the HoldPlaced event's id as its cause. */
  readonly placedEventId: string;
}

interface Entry {
  readonly hold: TrackedHold;
  /** When to try to expire it next: the deadline, or later after a failed attempt. */
  dueAtMs: number;
  /** Index in the due-heap; -1 while an expiry attempt is in flight. */
  heapIndex: number;
  /** Failed attempts so far (for backoff). */
  failures: number;
}

/**
 * The open holds the worker tracks, bounded by `capacity`:
 * - a Map by hold id whose insertion order is placement order (the worker adds holds in log
 *   order only; see HoldExpiryWorker), so the first entry is the oldest open placement: O(1);
 * - a binary min-heap by (dueAt, holdId) with removal by id, so the next deadline is O(1) and
 *   adding, resolving and taking due holds are O(log n).
 * A hold taken for an expiry attempt leaves the heap but stays in the Map until it is resolved or
 * given back, so it keeps holding the checkpoint back while its command is in flight.
 */
export class HoldSchedule {
  private readonly entries = new Map<string, Entry>();
  private readonly heap: Entry[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`HoldSchedule: capacity must be a positive integer; got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get isFull(): boolean {
    return this.entries.size >= this.capacity;
  }

  has(holdId: string): boolean {
    return this.entries.has(holdId);
  }

  /** Tracks a hold placed after every hold already tracked. False when full or already tracked. */
  add(hold: TrackedHold): boolean {
    if (this.entries.has(hold.holdId) || this.isFull) return false;
    const entry: Entry = { hold, dueAtMs: hold.expiresAtMs, heapIndex: -1, failures: 0 };
    this.entries.set(hold.holdId, entry);
    this.push(entry);
    return true;
  }

  /** Forgets a hold (resolved, or expired by the worker). False when it was not tracked. */
  remove(holdId: string): boolean {
    const entry = this.entries.get(holdId);
    if (!entry) return false;
    this.entries.delete(holdId);
    if (entry.heapIndex >= 0) this.removeAt(entry.heapIndex);
    return true;
  }

  /** Earliest time something is due, if anything waits in the heap. */
  nextDueAtMs(): number | undefined {
    return this.heap[0]?.dueAtMs;
  }

  /** Position of the oldest tracked HoldPlaced (in flight or not). */
  oldestPlacement(): bigint | undefined {
    for (const entry of this.entries.values()) return entry.hold.placedPosition;
    return undefined;
  }

  /** Takes up to `max` holds due at `nowMs` out of the heap; they stay tracked until removed or given back. */
  takeDue(nowMs: number, max: number): TrackedHold[] {
    const due: TrackedHold[] = [];
    while (due.length < max) {
      const top = this.heap[0];
      if (!top || top.dueAtMs > nowMs) break;
      this.removeAt(0);
      due.push(top.hold);
    }
    return due;
  }

  /** Counts a failed expiry attempt; the failures so far, or undefined when no longer tracked. */
  recordFailure(holdId: string): number | undefined {
    const entry = this.entries.get(holdId);
    if (!entry) return undefined;
    entry.failures += 1;
    return entry.failures;
  }

  /** Puts a taken hold back, due at `dueAtMs`. False when it was resolved meanwhile (nothing to give back). */
  giveBack(holdId: string, dueAtMs: number): boolean {
    const entry = this.entries.get(holdId);
    if (!entry) return false;
    if (entry.heapIndex >= 0) this.removeAt(entry.heapIndex);
    entry.dueAtMs = dueAtMs;
    this.push(entry);
    return true;
  }

  private push(entry: Entry): void {
    entry.heapIndex = this.heap.length;
    this.heap.push(entry);
    this.siftUp(entry.heapIndex);
  }

  private removeAt(index: number): void {
    const removed = this.heap[index] as Entry;
    const last = this.heap.pop() as Entry;
    removed.heapIndex = -1;
    if (last === removed) return;
    this.heap[index] = last;
    last.heapIndex = index;
    this.siftDown(index);
    this.siftUp(last.heapIndex);
  }

  private siftUp(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(this.heap[i] as Entry, this.heap[parent] as Entry)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(index: number): void {
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.heap.length && before(this.heap[left] as Entry, this.heap[smallest] as Entry)) smallest = left;
      if (right < this.heap.length && before(this.heap[right] as Entry, this.heap[smallest] as Entry)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const first = this.heap[a] as Entry;
    const second = this.heap[b] as Entry;
    this.heap[a] = second;
    this.heap[b] = first;
    first.heapIndex = b;
    second.heapIndex = a;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.dueAtMs < b.dueAtMs || (a.dueAtMs === b.dueAtMs && a.hold.holdId < b.hold.holdId);
}
