import type { BusPublisher } from '@ledger/bus';
import type { EventStore } from '@ledger/event-store';
import type { LoggerService } from '@nestjs/common';
import { LeadershipLostError } from '../leadership/leader-lock';
import type { RelayMetrics } from '../observability/relay.metrics';
import { eventMessagesByTopic, watermarkMessages, type TopicMessages } from './relay-batch';
import { abortableDelay } from '@ledger/async';

/** What the loop needs of the leader lock: the checkpoint on the lock's own connection. */
export interface CheckpointLease {
  readonly lost: AbortSignal;
  loadCheckpoint(): Promise<bigint>;
  /** @throws LeadershipLostError when the lock is gone: nothing stored. */
  storeCheckpoint(position: bigint): Promise<void>;
}

export interface RelayLoopOptions {
  readonly store: EventStore;
  readonly publisher: BusPublisher;
  readonly lease: CheckpointLease;
  readonly categories: readonly string[];
  /** Partition count of every published topic: watermarks go to each partition. */
  readonly partitionsByTopic: ReadonlyMap<string, number>;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
  readonly idleWatermarkMs: number;
  readonly metrics: RelayMetrics;
  readonly logger: LoggerService;
  /** Graceful stop: the batch in flight is finished (published, watermarked, checkpointed) first. */
  readonly stop: AbortSignal;
  readonly now?: () => number;
}

/**
 * One leader term: from the stored checkpoint, read the log in batches, publish each batch's
 * events per topic (key = stream id), after the broker's acks send the batch's watermark to every
 * partition of every topic, then store the checkpoint through the lock's connection. Returns on
 * `stop` (after the batch in flight); throws LeadershipLostError the moment the lease is lost
 * (nothing more is published) and whatever a read or publish threw (the caller backs off and
 * starts a new term from the stored checkpoint: at-least-once).
 *
 * Why readAll rather than subscribeToAll: the same ordering guarantee (ADR 0002: nothing can
 * appear at or below a returned checkpoint), plus the checkpoint itself. The watermark and the
 * stored checkpoint are that read horizon, not just the last published event's position, so
 * they also move past events of unpublished categories (an append's position may be an
 * idempotency record's) and through quiet periods, and batch boundaries are explicit.
 */
export async function runRelayLoop(options: RelayLoopOptions): Promise<void> {
  const { store, lease, metrics, stop } = options;
  const now = options.now ?? Date.now;
  const filter = { categories: [...options.categories] };
  let readFrom = await lease.loadCheckpoint();
  let lastWatermark = -1n;
  let lastWatermarkAtMs = Number.NEGATIVE_INFINITY;
  options.logger.log({ msg: 'relay term started', checkpoint: readFrom }, 'Relay');

  while (!stop.aborted) {
    assertLeader(lease);
    const read = await store.readAll({ fromPosition: readFrom, maxCount: options.batchSize, filter });
    assertLeader(lease);
    const hasEvents = read.events.length > 0;
    const heartbeatDue = read.checkpoint > lastWatermark && now() - lastWatermarkAtMs >= options.idleWatermarkMs;
    if (hasEvents || heartbeatDue) {
      if (hasEvents) metrics.pending((read.events[0] as { recordedAt: Date }).recordedAt);
      for (const group of eventMessagesByTopic(read.events)) {
        await publish(options, group);
        metrics.publishedEvents(group.topic, group.messages.length);
      }
      for (const group of watermarkMessages(read.checkpoint, options.partitionsByTopic)) {
        await publish(options, group);
        metrics.watermarksSent(group.topic, group.messages.length);
      }
      await lease.storeCheckpoint(read.checkpoint);
      lastWatermark = read.checkpoint;
      lastWatermarkAtMs = now();
      metrics.batchDone(read.events[read.events.length - 1]?.recordedAt, read.isEndOfBatch);
      if (hasEvents) options.logger.debug?.({ msg: 'batch published', events: read.events.length, checkpoint: read.checkpoint }, 'Relay');
    } else {
      metrics.caughtUp();
    }
    readFrom = read.checkpoint;
    if (!read.isEndOfBatch) await abortableDelay(options.pollIntervalMs, [stop, lease.lost]);
  }
  options.logger.log({ msg: 'relay term stopped', checkpoint: lastWatermark < 0n ? readFrom : lastWatermark }, 'Relay');
}

async function publish(options: RelayLoopOptions, group: TopicMessages): Promise<void> {
  assertLeader(options.lease);
  await options.publisher.publish(group.topic, group.messages);
}

function assertLeader(lease: CheckpointLease): void {
  if (lease.lost.aborted) throw new LeadershipLostError(`Leadership lost: ${String(lease.lost.reason)}`);
}
