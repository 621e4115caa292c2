import { EmbeddedBusPublisher, EmbeddedBusSubscriber, type BusPublisher, type BusSubscriber } from '@ledger/bus';
import type { CheckpointStore, EventStore } from '@ledger/event-store';
import { createKafka } from './kafka-client.factory';
import { KafkaBusPublisher } from './kafka-bus.publisher';
import { KafkaBusSubscriber } from './kafka-bus.subscriber';
import { ensureTopics } from './kafka-topics.admin';

/** Kafka settings of a service that sends and receives bus messages (cluster mode). */
export interface KafkaBusConfig {
  /** Comma-separated 'host:port' list. */
  readonly brokers: string;
  readonly clientId: string;
  /** How long a publish waits for the in-sync replicas, milliseconds. */
  readonly ackTimeoutMs: number;
  /** Producer retries of a failed publish. */
  readonly publishRetries: number;
  /** Partitions of the topics when this service creates them. */
  readonly topicPartitions: number;
  /** -1: the broker's default.replication.factor. */
  readonly topicReplicationFactor: number;
  /** Partitions one member handles at once (still one message at a time per partition). */
  readonly concurrentPartitions: number;
}

export interface BusLogEntry {
  readonly level: 'error' | 'warn';
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface OpenBusOptions {
  /** Kafka when given (cluster mode), else the embedded bus on `store` (embedded mode). */
  readonly kafka: KafkaBusConfig | undefined;
  /** Topics this service uses; on Kafka they are created if missing, with topicPartitions. */
  readonly topics: readonly string[];
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  /** Acting principal of embedded messages (recorded in their events' metadata). */
  readonly embeddedPrincipal: string;
  readonly retryInitialDelayMs: number;
  readonly retryMaxDelayMs: number;
  /** Bound on a consumer's stop (in-flight handler, group leave), milliseconds. */
  readonly stopTimeoutMs: number;
  readonly log: (entry: BusLogEntry) => void;
}

export interface OpenedBus {
  readonly transport: 'kafka' | 'embedded';
  readonly publisher: BusPublisher;
  readonly subscriber: BusSubscriber;
}

/**
 * The bus a service runs on, chosen by configuration: Kafka (topics ensured first) or the
 * embedded bus on the service's own event store. Both are the same ports, so nothing else in the
 * service knows which one runs.
 * @throws when Kafka cannot be reached (bounded by the client's retries) or a topic exists with
 *   another partition count.
 */
export async function openBus(options: OpenBusOptions): Promise<OpenedBus> {
  const { kafka, log } = options;
  if (!kafka) {
    return {
      transport: 'embedded',
      publisher: new EmbeddedBusPublisher(options.store, { principal: options.embeddedPrincipal }),
      subscriber: new EmbeddedBusSubscriber(options.store, options.checkpoints, {
        retryInitialDelayMs: options.retryInitialDelayMs,
        retryMaxDelayMs: options.retryMaxDelayMs,
        stopTimeoutMs: options.stopTimeoutMs,
        log: ({ level, message, ...fields }) => log({ level, msg: message, ...fields }),
      }),
    };
  }
  const client = createKafka({
    brokers: kafka.brokers,
    clientId: kafka.clientId,
    log: (entry) => {
      if (entry.level === 'error' || entry.level === 'warn') log({ level: entry.level, msg: entry.message, namespace: entry.namespace, ...entry.fields });
    },
  });
  const admin = client.admin();
  try {
    await admin.connect();
    await ensureTopics(admin, options.topics, kafka.topicPartitions, { replicationFactor: kafka.topicReplicationFactor });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  return {
    transport: 'kafka',
    publisher: new KafkaBusPublisher(client, { ackTimeoutMs: kafka.ackTimeoutMs, retries: kafka.publishRetries }),
    subscriber: new KafkaBusSubscriber(client, { partitionsConsumedConcurrently: kafka.concurrentPartitions, stopTimeoutMs: options.stopTimeoutMs }),
  };
}
