import type { OutgoingMessage } from '@ledger/bus';
import { categoryOf, type RecordedEvent } from '@ledger/event-store';
import { encodeLedgerEvent, encodeWatermark, topicForCategory } from '@ledger/integration-events';

/** One publish call of a batch: a topic and its messages in log order. */
export interface TopicMessages {
  readonly topic: string;
  readonly messages: readonly OutgoingMessage[];
}

/**
 * A batch's events grouped per topic, each group in log order. Every event of a stream is in one
 * category, so one topic and one publish call: per-stream order is the log's.
 * @throws IntegrationEventError INVALID_EVENT for an event that cannot be encoded (a store bug).
 */
export function eventMessagesByTopic(events: readonly RecordedEvent[]): TopicMessages[] {
  const byTopic = new Map<string, OutgoingMessage[]>();
  for (const event of events) {
    const topic = topicForCategory(categoryOf(event.streamId));
    const messages = byTopic.get(topic) ?? [];
    byTopic.set(topic, messages);
    messages.push(encodeLedgerEvent(event));
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** The watermark `position` once per partition of every topic (partition counts by topic). */
export function watermarkMessages(position: bigint, partitionsByTopic: ReadonlyMap<string, number>): TopicMessages[] {
  const watermark = encodeWatermark(position);
  return [...partitionsByTopic].map(([topic, partitions]) => ({
    topic,
    messages: Array.from({ length: partitions }, (_, partition) => ({ ...watermark, partition })),
  }));
}
