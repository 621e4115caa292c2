import type { BusSubscriber, IncomingMessage, RunningConsumer } from '@ledger/bus';
import type { RecordedEvent } from '@ledger/event-store';
import { decodeLedgerMessage } from '@ledger/integration-events';
import type { Pool } from 'pg';
import { ProjectionPoisonError } from './projection-poison.error';
import { inTransaction } from '@ledger/infra';
import { kafkaWatermarkSource, lockLiveVersion, readStoppedReason, readWatermark, recordSourceWatermark, recordStopped, seedWatermarkSources } from './projection-state';
import type { ProjectionLogger, ProjectionStatusTracker } from './projection-status';
import { liveVersion, walletTables } from './read-models.schema';
import { reportPoison } from './store-projection.runner';
import { applyWalletEvents } from './wallet-projection.store';

/** decodeLedgerMessage's contract (@ledger/integration-events); injectable for tests. */
export type LedgerMessageDecoder = (message: { key: string; value: string; headers: Readonly<Record<string, string>> }) =>
  | { kind: 'event'; event: RecordedEvent }
  | { kind: 'watermark'; position: bigint };

export interface KafkaProjectionRunnerOptions {
  readonly pool: Pool;
  readonly schema: string;
  readonly logger: ProjectionLogger;
  readonly subscriber: BusSubscriber;
  readonly groupId: string;
  /** e.g. ['ledger.wallet.v1']. */
  readonly topics: readonly string[];
  /** Partition count of a topic (Kafka metadata): every partition gets a watermark row up front. */
  readonly partitionsOf: (topic: string) => Promise<number>;
  readonly decode?: LedgerMessageDecoder;
  readonly status: ProjectionStatusTracker;
}

export interface RunningKafkaProjection {
  /** Resolves once the consumer stopped (shutdown or poison). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

const CONTEXT = 'WalletProjection';

/**
 * The cluster runner: consumes the category topics with the bus subscriber (at-least-once, one
 * message at a time per partition) and applies each message in its own transaction with the
 * watermark of its partition:
 *
 * - an event: applied iff its revision follows the stored one (a redelivery is a duplicate and
 *   changes nothing), in the live version resolved under lock (so a rebuild's switch is safe);
 * - a Watermark: its partition's row `<topic>:<partition>` moves up to it (never down). The
 *   projection's watermark is the minimum over the rows of every partition of the consumed
 *   topics. Rows are seeded at 0 for every partition at start, so a newly assigned or empty
 *   partition holds the watermark at 0 until its first Watermark message (the relay sends one
 *   to every partition after each batch), never lets it overstate what was applied.
 *
 * A message that cannot be decoded, or an event that cannot be applied, is poison: the stop is
 * recorded, logged once, the handler throws (the offset is not committed, the message is never
 * skipped) and the consumer stops.
 */
export async function startKafkaProjection(options: KafkaProjectionRunnerOptions): Promise<RunningKafkaProjection> {
  const { pool, schema, logger, status } = options;
  const decode = options.decode ?? decodeLedgerMessage;
  const sources: string[] = [];
  for (const topic of options.topics) {
    const partitions = await options.partitionsOf(topic);
    for (let partition = 0; partition < partitions; partition += 1) sources.push(kafkaWatermarkSource(topic, partition));
  }
  const version = (await liveVersion(pool, schema)) ?? 1;
  await seedWatermarkSources(pool, walletTables(schema, version), sources);
  let clearStoppedOnApply = (await readStoppedReason(pool, schema)) !== undefined;
  let lastEventPosition = 0n;

  let poisoned: ProjectionPoisonError | undefined;
  // Set once start() resolved; the handler may run before that.
  const consumer: { running?: RunningConsumer } = {};
  let stopping: Promise<void> | undefined;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        await consumer.running?.stop();
      } finally {
        status.ended();
        resolveDone();
      }
    })();
    return stopping;
  };
  const stopForPoison = async (poison: ProjectionPoisonError): Promise<never> => {
    if (!poisoned) {
      poisoned = poison;
      await recordStopped(pool, schema, poison.message).catch((error: unknown) =>
        logger.error({ msg: 'could not record the poison stop in projection_state', error: error instanceof Error ? error.message : String(error) }, CONTEXT),
      );
      reportPoison(logger, poison);
      status.poisoned(poison);
      // After start() returned: stopping from inside the handler would wait for itself.
      setImmediate(() => void (consumer.running ? stop() : undefined));
    }
    throw poison;
  };

  const handle = async (message: IncomingMessage): Promise<void> => {
    if (poisoned) throw poisoned;
    let decoded: ReturnType<LedgerMessageDecoder>;
    try {
      decoded = decode(message);
    } catch (error) {
      const where = `${message.topic}:${message.partition}@${message.offset}`;
      return stopForPoison(new ProjectionPoisonError('UNDECODABLE_MESSAGE', { message: where }, error instanceof Error ? error.message : String(error), { cause: error }));
    }
    if (decoded.kind === 'watermark') {
      const source = kafkaWatermarkSource(message.topic, message.partition);
      const position = decoded.position;
      const { version, watermark } = await inTransaction(pool, async (client) => {
        const version = await lockLiveVersion(client, schema);
        const tables = walletTables(schema, version);
        await recordSourceWatermark(client, tables, source, position);
        return { version, watermark: await readWatermark(client, tables) };
      });
      status.watermarkSeen(version, watermark, watermark >= lastEventPosition);
      return;
    }
    const event = decoded.event;
    const { plan, version } = await inTransaction(pool, async (client) => {
      const version = await lockLiveVersion(client, schema);
      const plan = await applyWalletEvents(client, walletTables(schema, version), [event]);
      if (!plan.poison && clearStoppedOnApply && plan.applied > 0) await recordStopped(client, schema, null);
      return { plan, version };
    });
    if (plan.poison) return stopForPoison(plan.poison);
    if (plan.applied > 0) clearStoppedOnApply = false;
    if (event.position > lastEventPosition) lastEventPosition = event.position;
    status.batchApplied({ version, applied: plan.applied, duplicates: plan.duplicates, last: plan.applied > 0 ? event : undefined, watermark: undefined, caughtUp: false });
  };

  consumer.running = await options.subscriber.start({ groupId: options.groupId, topics: [...options.topics], fromBeginning: true, handle });
  logger.log({ msg: 'projection consuming', groupId: options.groupId, topics: options.topics, partitions: sources.length, version }, CONTEXT);
  if (poisoned) void stop();
  return { done, stop };
}
