import type { BusSubscriber } from '@ledger/bus';
import type { EventStore } from '@ledger/event-store';
import type { Pool } from 'pg';
import { startKafkaProjection, type LedgerMessageDecoder } from './kafka-projection.runner';
import { ProjectionStatusTracker, type ProjectionLogger, type ProjectionStatus } from './projection-status';
import { DEFAULT_READ_MODELS_SCHEMA, ensureWalletProjection } from './read-models.schema';
import { runStoreProjection } from './store-projection.runner';

interface CommonOptions {
  readonly pool: Pool;
  /** Read-models schema; default `read_models`. */
  readonly schema?: string;
  readonly logger: ProjectionLogger;
  /** Aborting it stops the projection like stop(). */
  readonly signal?: AbortSignal;
}

export interface StoreSourceOptions extends CommonOptions {
  readonly source: 'store';
  readonly store: EventStore;
  /** Events per read and per transaction, default 256 (at most the store's maxReadCount). */
  readonly batchSize?: number;
  /** Wait before resubscribing after a database error, default 1000 ms. */
  readonly retryDelayMs?: number;
}

export interface KafkaSourceOptions extends CommonOptions {
  readonly source: 'kafka';
  readonly subscriber: BusSubscriber;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly partitionsOf: (topic: string) => Promise<number>;
  readonly decode?: LedgerMessageDecoder;
}

export type WalletProjectionOptions = StoreSourceOptions | KafkaSourceOptions;

export interface RunningWalletProjection {
  status(): ProjectionStatus;
  /** Resolves when the projection ended: stop(), the signal, or a poison stop. */
  readonly done: Promise<void>;
  /** Stops applying; the in-flight transaction commits or rolls back whole. Idempotent. */
  stop(): Promise<void>;
}

export const DEFAULT_PROJECTION_BATCH_SIZE = 256;
export const DEFAULT_PROJECTION_RETRY_DELAY_MS = 1_000;

/**
 * Starts the wallet projection (ADR 0007) and returns at once; it runs until stopped or stopped
 * by a poison event (status().stoppedReason). Creates the read-model schema and the live
 * version's tables on first use. Embedded use in the ledger's process:
 * `startWalletProjection({ pool, store, source: 'store', logger })`.
 */
export async function startWalletProjection(options: WalletProjectionOptions): Promise<RunningWalletProjection> {
  const schema = options.schema ?? DEFAULT_READ_MODELS_SCHEMA;
  await ensureWalletProjection(options.pool, schema);
  const status = new ProjectionStatusTracker(options.source);
  if (options.source === 'store') {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) controller.abort();
    const done = runStoreProjection({
      pool: options.pool,
      store: options.store,
      schema,
      logger: options.logger,
      batchSize: options.batchSize ?? DEFAULT_PROJECTION_BATCH_SIZE,
      retryDelayMs: options.retryDelayMs ?? DEFAULT_PROJECTION_RETRY_DELAY_MS,
      signal: controller.signal,
      status,
    }).finally(() => options.signal?.removeEventListener('abort', onAbort));
    return {
      status: () => status.snapshot(),
      done,
      stop: async () => {
        controller.abort();
        await done;
      },
    };
  }
  const running = await startKafkaProjection({
    pool: options.pool,
    schema,
    logger: options.logger,
    subscriber: options.subscriber,
    groupId: options.groupId,
    topics: options.topics,
    partitionsOf: options.partitionsOf,
    ...(options.decode ? { decode: options.decode } : {}),
    status,
  });
  options.signal?.addEventListener('abort', () => void running.stop(), { once: true });
  return { status: () => status.snapshot(), done: running.done, stop: () => running.stop() };
}
