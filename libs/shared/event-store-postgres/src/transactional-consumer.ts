import type { EventStore, LogFilter, RecordedEvent } from '@ledger/event-store';
import type { Pool, PoolClient } from 'pg';
import type { PostgresCheckpointStore } from './postgres-checkpoint-store';

export interface TransactionalConsumerOptions {
  readonly consumerId: string;
  readonly store: EventStore;
  /** The database the handler writes to; the checkpoint table must be in it too. */
  readonly pool: Pool;
  readonly checkpoints: PostgresCheckpointStore;
  readonly filter?: LogFilter;
  readonly batchSize?: number;
  readonly signal: AbortSignal;
  /** Applies one event inside the consumer's transaction. Throwing rolls back effect and checkpoint. */
  readonly handle: (client: PoolClient, event: RecordedEvent) => Promise<void>;
}

/**
 * Exactly-once effects from an at-least-once log: each event's effect and the consumer's
 * checkpoint commit in one PostgreSQL transaction, under a lock on the checkpoint row. A crash
 * before COMMIT loses both (the event comes again); a crash after COMMIT keeps both (the event is
 * not handled again); a redelivered or concurrently delivered event at or below the stored
 * checkpoint is recognised under the lock and skipped.
 *
 * Resolves when `signal` aborts; rejects with the handler's error (the consumer stops rather than
 * skipping an event it cannot handle).
 */
export async function runTransactionalConsumer(options: TransactionalConsumerOptions): Promise<void> {
  const fromPosition = await options.checkpoints.load(options.consumerId);
  const events = options.store.subscribeToAll({
    fromPosition,
    signal: options.signal,
    ...(options.filter ? { filter: options.filter } : {}),
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
  });
  for await (const event of events) {
    await applyOnce(options, event);
  }
}

/** Applies one event and advances the checkpoint atomically; returns false if it was already applied. */
export async function applyOnce(
  options: Pick<TransactionalConsumerOptions, 'consumerId' | 'pool' | 'checkpoints' | 'handle'>,
  event: RecordedEvent,
): Promise<boolean> {
  const client = await options.pool.connect();
  try {
    await client.query('BEGIN');
    try {
      const stored = await options.checkpoints.lockInTransaction(client, options.consumerId);
      if (event.position <= stored) {
        await client.query('ROLLBACK');
        return false;
      }
      await options.handle(client, event);
      await options.checkpoints.storeInTransaction(client, options.consumerId, event.position);
      await client.query('COMMIT');
      return true;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    client.release();
  }
}
