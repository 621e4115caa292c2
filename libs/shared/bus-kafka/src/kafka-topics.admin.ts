import { assertTopic, BusError } from '@ledger/bus';
import type { Admin } from 'kafkajs';

export interface EnsureTopicsOptions {
  /** -1 (default): the cluster's default.replication.factor, so each environment sets its own policy. */
  readonly replicationFactor?: number;
  /** Bound on the broker's topic creation, default 30000. */
  readonly timeoutMs?: number;
}

export const MAX_PARTITIONS = 1_000;

/**
 * Creates the topics that do not exist yet with `partitions` partitions and waits until every
 * partition has a leader. Idempotent. An existing topic with a different partition count is an
 * operating error, reported rather than repaired: adding partitions moves keys to other
 * partitions and so breaks per-key order.
 *
 * @throws BusError INVALID_TOPIC for a malformed name, or a topic that exists with another
 *   partition count or has leaderless partitions; RangeError for bad counts; kafkajs errors
 *   as raised when the broker cannot be reached (retried first with the client's policy).
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  partitions: number,
  options: EnsureTopicsOptions = {},
): Promise<void> {
  for (const topic of topics) assertTopic(topic);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RangeError(`ensureTopics: partitions must be an integer from 1 to ${MAX_PARTITIONS}; got ${partitions}`);
  }
  const replicationFactor = options.replicationFactor ?? -1;
  if (!Number.isInteger(replicationFactor) || replicationFactor === 0 || replicationFactor < -1 || replicationFactor > 16) {
    throw new RangeError(`ensureTopics: replicationFactor must be -1 or 1 to 16; got ${replicationFactor}`);
  }
  const unique = [...new Set(topics)];
  if (unique.length === 0) return;

  await admin.createTopics({
    topics: unique.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
    waitForLeaders: true,
    validateOnly: false,
    timeout: options.timeoutMs ?? 30_000,
  });
  // createTopics skips its leader wait when some topics already existed; metadata answers both
  // "are the leaders there" and "does an existing topic have the partition count we rely on".
  const metadata = await admin.fetchTopicMetadata({ topics: unique });
  for (const topic of unique) {
    const found = metadata.topics.find((t) => t.name === topic);
    const count = found?.partitions.length ?? 0;
    if (count !== partitions) {
      throw new BusError('INVALID_TOPIC', `Topic '${topic}' exists with ${count} partition(s); this service needs ${partitions}`);
    }
    const leaderless = found?.partitions.filter((p) => p.leader < 0) ?? [];
    if (leaderless.length > 0) {
      throw new BusError('INVALID_TOPIC', `Topic '${topic}' has ${leaderless.length} partition(s) without a leader`);
    }
  }
}

/**
 * How many partitions a topic has, from fresh cluster metadata: what a producer needs to send
 * one message to every partition (the relay's watermarks).
 * @throws BusError INVALID_TOPIC for a malformed name or a topic that does not exist; kafkajs
 *   errors as raised when the broker cannot be reached.
 */
export async function topicPartitionCount(admin: Admin, topic: string): Promise<number> {
  assertTopic(topic);
  let metadata: Awaited<ReturnType<Admin['fetchTopicMetadata']>>;
  try {
    metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  } catch (error) {
    if ((error as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION') {
      throw new BusError('INVALID_TOPIC', `Topic '${topic}' does not exist`, { cause: error });
    }
    throw error;
  }
  const count = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
  if (count === 0) throw new BusError('INVALID_TOPIC', `Topic '${topic}' does not exist`);
  return count;
}
