import type { KafkaBusConfig } from '@ledger/bus-kafka';
import type { EnvReader } from './env-config';

/**
 * Reads a service's Kafka bus settings (cluster mode); undefined without KAFKA_BROKERS (the
 * embedded bus then runs on the service's own event store). Variables, units and bounds:
 *
 * | variable                        | default       | bounds                     |
 * |---------------------------------|---------------|----------------------------|
 * | KAFKA_BROKERS                   | (none)        | comma-separated host:port  |
 * | KAFKA_CLIENT_ID                 | service name  | [A-Za-z0-9._-]{1,128}      |
 * | BUS_PUBLISH_ACK_TIMEOUT_MS      | 30000         | 100..300000                |
 * | BUS_PUBLISH_RETRIES             | 5             | 0..100                     |
 * | BUS_TOPIC_PARTITIONS            | 6             | 1..1000                    |
 * | BUS_TOPIC_REPLICATION_FACTOR    | -1 (broker's) | -1 or 1..16                |
 * | BUS_CONCURRENT_PARTITIONS       | 2             | 1..64                      |
 */
export function readKafkaBusConfig(read: EnvReader, defaultClientId: string): KafkaBusConfig | undefined {
  const brokers = read.optionalString('KAFKA_BROKERS');
  if (brokers === undefined) return undefined;
  read.check('KAFKA_BROKERS', brokers.split(',').every((b) => /^[A-Za-z0-9.-]{1,253}:\d{1,5}$/.test(b.trim())), "must be a comma-separated list of 'host:port'");
  const clientId = read.string('KAFKA_CLIENT_ID', defaultClientId);
  read.check('KAFKA_CLIENT_ID', /^[A-Za-z0-9._-]{1,128}$/.test(clientId), 'must be 1 to 128 characters of letters, digits and . _ -');
  const topicReplicationFactor = read.integer('BUS_TOPIC_REPLICATION_FACTOR', -1, -1, 16);
  read.check('BUS_TOPIC_REPLICATION_FACTOR', topicReplicationFactor !== 0, 'must be -1 (broker default) or 1 to 16');
  return {
    brokers,
    clientId,
    ackTimeoutMs: read.integer('BUS_PUBLISH_ACK_TIMEOUT_MS', 30_000, 100, 300_000),
    publishRetries: read.integer('BUS_PUBLISH_RETRIES', 5, 0, 100),
    topicPartitions: read.integer('BUS_TOPIC_PARTITIONS', 6, 1, 1_000),
    topicReplicationFactor,
    concurrentPartitions: read.integer('BUS_CONCURRENT_PARTITIONS', 2, 1, 64),
  };
}
