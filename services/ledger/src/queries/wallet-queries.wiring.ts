import type { Pool } from 'pg';
import type { LedgerConfig } from '../config/ledger.config';
import { WalletReadModelQueriesService } from './wallet-read-model-queries.service';
import { WalletReadModelStore } from './wallet-read-model.store';
import { WatermarkWaiter } from './watermark.waiter';

/**
 * Queries waiting for `minPosition` at once, per process. Each costs a timer and a closure; the
 * bound keeps a burst of clients from holding memory until their waits run out.
 */
export const MAX_WAITING_QUERIES = 10_000;

/** Builds the read-model query service on the process's pool (the read models live beside the event store). */
export function createWalletReadModelQueries(pool: Pool, config: Pick<LedgerConfig, 'queries' | 'eventStoreSchema'>): WalletReadModelQueriesService {
  const store = new WalletReadModelStore({
    pool,
    readModelsSchema: config.queries.readModelsSchema,
    eventStoreSchema: config.eventStoreSchema,
    statementTimeoutMs: config.queries.statementTimeoutMs,
  });
  const waiter = new WatermarkWaiter({ readWatermark: () => store.currentWatermark(), pollMaxIntervalMs: config.queries.pollMaxIntervalMs, maxWaiters: MAX_WAITING_QUERIES });
  return new WalletReadModelQueriesService(store, waiter, { maxWaitMs: config.queries.maxWaitMs });
}
