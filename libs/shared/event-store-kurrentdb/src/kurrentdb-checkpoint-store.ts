import { jsonEvent } from '@kurrent/kurrentdb-client';
import { assertPosition, EventStoreUnavailableError, type CheckpointStore } from '@ledger/event-store';
import { bounded, readStreamEvents, type CallDeadlines } from './kurrentdb-calls';
import { DEFAULT_KURRENTDB_DEADLINE_MS, type KurrentDbDriver } from './kurrentdb-driver';
import { conflictOf, translateDriverError } from './kurrentdb-errors';
import { checkpointStream, describeRecord } from './kurrentdb-mapping';

/** Attempts of one store() against concurrent writers of the same consumer's checkpoint. */
export const MAX_CHECKPOINT_ATTEMPTS = 8;
/** Event type of a stored checkpoint. */
export const CHECKPOINT_STORED_TYPE = 'CheckpointStored';
/** Checkpoint streams keep only their last event (stream metadata $maxCount). */
export const CHECKPOINT_STREAM_MAX_COUNT = 1;

const DECIMAL = /^(0|[1-9][0-9]{0,18})$/;

interface StoredCheckpoint {
  readonly revision: bigint;
  readonly position: bigint;
}

/**
 * Consumer checkpoints as events: one stream `_ledger.checkpoint-<consumerId>` per consumer, whose
 * last event holds the position (stream metadata maxCount 1, so older ones are scavenged). The
 * `_ledger.` prefix keeps these streams out of readAll and subscriptions: with a plain
 * `checkpoint-<consumerId>` stream, storing a checkpoint would itself be a new event for every
 * unfiltered consumer, which would then store a checkpoint, and so on.
 *
 * Writes use the exact revision read, so the position never moves backwards even with several
 * writers: a smaller or equal position is ignored, a conflict re-reads and decides again.
 */
export class KurrentDbCheckpointStore implements CheckpointStore {
  private readonly deadlines: CallDeadlines;

  constructor(
    private readonly driver: KurrentDbDriver,
    options: { readonly deadlineMs?: number } = {},
  ) {
    this.deadlines = { deadlineMs: options.deadlineMs ?? DEFAULT_KURRENTDB_DEADLINE_MS };
  }

  async load(consumerId: string): Promise<bigint> {
    return (await this.read(checkpointStream(consumerId)))?.position ?? 0n;
  }

  async store(consumerId: string, position: bigint): Promise<void> {
    const streamName = checkpointStream(consumerId);
    assertPosition(position, 'position');
    for (let attempt = 1; attempt <= MAX_CHECKPOINT_ATTEMPTS; attempt += 1) {
      const current = await this.read(streamName);
      if (current && current.position >= position) return;
      try {
        if (!current) {
          await bounded(
            this.driver.setStreamMetadata(
              streamName,
              { maxCount: CHECKPOINT_STREAM_MAX_COUNT },
              { requiresLeader: true, deadline: this.deadlines.deadlineMs },
            ),
            this.deadlines,
            'checkpoint stream metadata',
          );
        }
        const result = await bounded(
          this.driver.appendToStream(streamName, [jsonEvent({ type: CHECKPOINT_STORED_TYPE, data: { position: position.toString() } })], {
            streamState: current ? current.revision : 'no_stream',
            requiresLeader: true,
            deadline: this.deadlines.deadlineMs,
          }),
          this.deadlines,
          'checkpoint store',
        );
        if (result.success) return;
      } catch (error) {
        if (!conflictOf(error)) throw translateDriverError(error, 'checkpoint store');
      }
    }
    throw new EventStoreUnavailableError(
      `Checkpoint of '${consumerId}': ${MAX_CHECKPOINT_ATTEMPTS} attempts lost to concurrent writers of the same consumer`,
    );
  }

  private async read(streamName: string): Promise<StoredCheckpoint | undefined> {
    const [last] = await readStreamEvents(
      this.driver,
      streamName,
      { direction: 'backwards', fromRevision: 'end', maxCount: 1 },
      this.deadlines,
      'checkpoint load',
    );
    if (!last) return undefined;
    const data = last.data as { position?: unknown } | null;
    const text = typeof data === 'object' && data !== null ? data.position : undefined;
    if (typeof text !== 'string' || !DECIMAL.test(text)) {
      throw new EventStoreUnavailableError(`${describeRecord(last)} is not a checkpoint written by the ledger's KurrentDB adapter`);
    }
    return { revision: last.revision, position: BigInt(text) };
  }
}
