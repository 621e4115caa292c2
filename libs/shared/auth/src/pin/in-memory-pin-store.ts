import type { PinRecord, PinStore, PinUpdate } from './pin-store';

function copy(record: PinRecord): PinRecord {
  return {
    ...record,
    hash: Buffer.from(record.hash),
    salt: Buffer.from(record.salt),
    params: { ...record.params },
    lockedUntil: record.lockedUntil === null ? null : new Date(record.lockedUntil.getTime()),
    updatedAt: new Date(record.updatedAt.getTime()),
  };
}

/** For unit tests: same serialisation per owner as the PostgreSQL store, in one process. */
export class InMemoryPinStore implements PinStore {
  private readonly records = new Map<string, PinRecord>();
  private readonly queues = new Map<string, Promise<unknown>>();

  async update<T>(ownerId: string, decide: (current: PinRecord | undefined) => Promise<PinUpdate<T>>): Promise<T> {
    const previous = this.queues.get(ownerId) ?? Promise.resolve();
    const run = previous.then(async () => {
      const current = this.records.get(ownerId);
      const { write, result } = await decide(current === undefined ? undefined : copy(current));
      if (write !== undefined) this.records.set(ownerId, copy(write));
      return result;
    });
    const settled = run.catch(() => undefined);
    this.queues.set(ownerId, settled);
    try {
      return await run;
    } finally {
      if (this.queues.get(ownerId) === settled) this.queues.delete(ownerId);
    }
  }

  /** Test inspection only. */
  peek(ownerId: string): PinRecord | undefined {
    const record = this.records.get(ownerId);
    return record === undefined ? undefined : copy(record);
  }
}
