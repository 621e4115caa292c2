import type { EventStore, RecordedEvent } from '@ledger/event-store';
import { WALLET_CATEGORY } from '@ledger/ledger-domain';
import type { Pool } from 'pg';
import { abortableDelay } from '@ledger/async';
import { ProjectionPoisonError } from './projection-poison.error';
import { inTransaction } from '@ledger/infra';
import { advanceStoreWatermark, lockLiveVersion, readSourceWatermark, readStoppedReason, recordStopped, STORE_WATERMARK_SOURCE } from './projection-state';
import type { ProjectionLogger, ProjectionStatusTracker } from './projection-status';
import { liveVersion, walletTables } from './read-models.schema';
import { applyWalletEvents } from './wallet-projection.store';
import type { WalletBatchPlan } from './wallet-projection.plan';

export interface StoreProjectionRunnerOptions {
  readonly pool: Pool;
  readonly store: EventStore;
  readonly schema: string;
  readonly logger: ProjectionLogger;
  /** Events per read and per transaction; 1..the store's maxReadCount. */
  readonly batchSize: number;
  /** Wait before resubscribing after an operating error (database down), milliseconds. */
  readonly retryDelayMs: number;
  readonly signal: AbortSignal;
  readonly status: ProjectionStatusTracker;
}

const CONTEXT = 'WalletProjection';
/** What a read with no wallet events applies: nothing; only the watermark moves. */
const EMPTY_PLAN: WalletBatchPlan = {
  history: [],
  balances: [],
  directoryInserts: [],
  directoryStatus: [],
  holdsToDelete: [],
  holdsToUpsert: [],
  applied: 0,
  duplicates: 0,
  lastHandled: undefined,
  poison: undefined,
};

/**
 * The embedded runner: tails the store's global log (wallet category) from the live version's
 * 'store' watermark and applies what is ready in one transaction per batch, effect and watermark
 * together. Every transaction resolves the live version under a lock (lockLiveVersion), so after
 * a rebuild's switch it simply continues into the new version, whose watermark is at or beyond
 * ours: the events in between are skipped there as duplicates.
 *
 * Resolves when `signal` aborts or a poison event stopped it (recorded in projection_state and
 * logged once). Operating errors are logged and retried from the stored watermark.
 */
export async function runStoreProjection(options: StoreProjectionRunnerOptions): Promise<void> {
  const { pool, schema, logger, signal, status } = options;
  let clearStoppedOnApply = false;
  try {
    while (!signal.aborted) {
      try {
        const previousStop = await readStoppedReason(pool, schema);
        if (previousStop !== undefined) {
          logger.warn({ msg: 'projection restarting after an earlier poison stop', previousStop }, CONTEXT);
          clearStoppedOnApply = true;
        }
        const version = (await liveVersion(pool, schema)) ?? 1;
        const fromPosition = await readSourceWatermark(pool, walletTables(schema, version), STORE_WATERMARK_SOURCE);
        logger.log({ msg: 'projection subscribing to the store', version, fromPosition }, CONTEXT);
        // One read, one transaction: the watermark is the read's checkpoint, which also moves past
        // other categories' events (a command's position may be its idempotency record's).
        const reads = options.store.subscribeToAllBatches({ fromPosition, filter: { categories: [WALLET_CATEGORY] }, batchSize: options.batchSize, signal });
        for await (const read of reads) {
          const { plan, version: applied } = await applyStoreBatch(pool, schema, read.events, read.checkpoint, clearStoppedOnApply);
          if (plan.applied > 0) clearStoppedOnApply = false;
          status.batchApplied({
            version: applied,
            applied: plan.applied,
            duplicates: plan.duplicates,
            last: plan.lastHandled,
            watermark: plan.poison ? plan.lastHandled?.position : read.checkpoint,
            // A read that did not stop at its count found no more: caught up at that moment.
            caughtUp: !read.isEndOfBatch && plan.poison === undefined,
          });
          if (plan.poison) {
            reportPoison(logger, plan.poison);
            status.poisoned(plan.poison);
            return;
          }
        }
        return;
      } catch (error) {
        if (signal.aborted) return;
        logger.warn({ msg: 'projection failed; resubscribing from the stored watermark', error: error instanceof Error ? error.message : String(error), retryDelayMs: options.retryDelayMs }, CONTEXT);
        await abortableDelay(options.retryDelayMs, signal);
      }
    }
  } finally {
    status.ended();
  }
}

async function applyStoreBatch(
  pool: Pool,
  schema: string,
  batch: readonly RecordedEvent[],
  checkpoint: bigint,
  clearStopped: boolean,
): Promise<{ plan: WalletBatchPlan; version: number }> {
  return inTransaction(pool, async (client) => {
    const version = await lockLiveVersion(client, schema);
    const tables = walletTables(schema, version);
    const plan = batch.length > 0 ? await applyWalletEvents(client, tables, batch) : EMPTY_PLAN;
    // Poison: only up to the last event handled before it; else the whole read.
    const watermark = plan.poison ? plan.lastHandled?.position : checkpoint;
    if (watermark !== undefined) await advanceStoreWatermark(client, tables, watermark);
    if (plan.poison) await recordStopped(client, schema, plan.poison.message);
    else if (clearStopped && plan.applied > 0) await recordStopped(client, schema, null);
    return { plan, version };
  });
}

/** The one alert line of a poison stop: names the event, its stream, revision and position. */
export function reportPoison(logger: ProjectionLogger, poison: ProjectionPoisonError): void {
  const where = poison.location;
  logger.error(
    {
      msg: 'projection stopped by a poison event; it will not skip it (see services/projector/README.md, runbook "Poison")',
      alert: 'ProjectionStopped',
      reason: poison.reason,
      eventId: where.eventId,
      streamId: where.streamId,
      revision: where.revision?.toString(),
      position: where.position?.toString(),
      message: where.message,
      detail: poison.message,
    },
    CONTEXT,
  );
}

