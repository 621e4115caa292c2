import { createKafka } from '@ledger/bus-kafka';
import type { RecordedEvent } from '@ledger/event-store';
import { migrateEventStore } from '@ledger/event-store-postgres';
import { decodeLedgerMessage } from '@ledger/integration-events';
import { randomBytes } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { loadRelayConfig, type RelayConfig } from '../config/relay.config';
import { relayLockKey } from '../leadership/leader-lock';

/** Integration tests only: a fresh schema per test, real PostgreSQL and Kafka from the jest global setup. */
export function requiredEnv(name: 'DATABASE_URL' | 'KAFKA_BROKERS'): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through jest --selectProjects integration (the global setup starts the servers)`);
  return value;
}

export const suffix = (): string => randomBytes(5).toString('hex');

export async function freshSchema(pool: Pool): Promise<string> {
  const schema = `relay_${suffix()}`;
  await migrateEventStore(pool, schema);
  return schema;
}

/** Environment of a relay under test: quick retries, 3 partitions, single-broker replication. */
export function relayTestEnv(schema: string, category: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: requiredEnv('DATABASE_URL'),
    KAFKA_BROKERS: requiredEnv('KAFKA_BROKERS'),
    EVENT_STORE_SCHEMA: schema,
    RELAY_CATEGORIES: category,
    RELAY_TOPIC_PARTITIONS: '3',
    RELAY_TOPIC_REPLICATION_FACTOR: '1',
    RELAY_BATCH_SIZE: '50',
    RELAY_POLL_INTERVAL_MS: '20',
    RELAY_IDLE_WATERMARK_MS: '200',
    RELAY_LEADER_RETRY_MS: '100',
    RELAY_ERROR_BACKOFF_MS: '100',
    KAFKA_CLIENT_ID: `relay-test-${suffix()}`,
    HTTP_PORT: '0',
    LOG_LEVEL: 'error',
    ...overrides,
  };
}

export function relayTestConfig(schema: string, category: string, overrides: Record<string, string> = {}): RelayConfig {
  return loadRelayConfig(relayTestEnv(schema, category, overrides));
}

export function testKafka(): Kafka {
  return createKafka({ brokers: requiredEnv('KAFKA_BROKERS'), clientId: `relay-reader-${suffix()}`, log: () => undefined });
}

export interface ReadMessage {
  readonly partition: number;
  readonly key: string;
  readonly decoded: { kind: 'event'; event: RecordedEvent } | { kind: 'watermark'; position: bigint };
}

/** Everything on a topic from its beginning, as it arrives (a fresh consumer group). */
export async function readTopic(kafka: Kafka, topic: string): Promise<{ messages: ReadMessage[]; stop: () => Promise<void> }> {
  const consumer: Consumer = kafka.consumer({ groupId: `relay-test-${suffix()}`, sessionTimeout: 10_000, maxWaitTimeInMs: 100 });
  const messages: ReadMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));
      const key = message.key?.toString() ?? '';
      messages.push({ partition, key, decoded: decodeLedgerMessage({ key, value: message.value?.toString() ?? '', headers }) });
    },
  });
  return { messages, stop: () => consumer.disconnect() };
}

export function eventsOf(messages: readonly ReadMessage[]): Array<ReadMessage & { decoded: { kind: 'event'; event: RecordedEvent } }> {
  return messages.filter((m): m is ReadMessage & { decoded: { kind: 'event'; event: RecordedEvent } } => m.decoded.kind === 'event');
}

/**
 * What a projection does per stream (ADR 0007): apply revision stored+1, skip a duplicate
 * (≤ stored), stop on a gap. Returns the gaps found in partition order; [] means every stream
 * can be applied from the topic as delivered.
 */
export function revisionGaps(messages: readonly ReadMessage[]): string[] {
  const applied = new Map<string, bigint>();
  const gaps: string[] = [];
  for (const { decoded } of messages) {
    if (decoded.kind !== 'event') continue;
    const stored = applied.get(decoded.event.streamId) ?? -1n;
    if (decoded.event.revision <= stored) continue;
    if (decoded.event.revision !== stored + 1n) gaps.push(`${decoded.event.streamId}: ${stored} then ${decoded.event.revision}`);
    applied.set(decoded.event.streamId, decoded.event.revision);
  }
  return gaps;
}

/**
 * Events that arrived on their partition after a watermark claiming them (W ≥ their position):
 * what a consumer trusting watermarks would miss. [] when the watermark promise holds.
 */
export function eventsBehindWatermarks(messages: readonly ReadMessage[]): string[] {
  const highest = new Map<number, bigint>();
  const seen = new Set<string>();
  const late: string[] = [];
  for (const m of messages) {
    const watermark = highest.get(m.partition) ?? -1n;
    if (m.decoded.kind === 'watermark') {
      highest.set(m.partition, m.decoded.position > watermark ? m.decoded.position : watermark);
      continue;
    }
    const id = `${m.decoded.event.streamId}@${m.decoded.event.revision}`;
    // A redelivery after a takeover may follow the watermark that covered its first delivery
    // (at-least-once; consumers skip it by revision). A FIRST delivery after it is the bug.
    if (!seen.has(id) && m.decoded.event.position <= watermark) late.push(`${id} after watermark ${watermark}`);
    seen.add(id);
  }
  return late;
}

/** The backend pid holding a relay's advisory lock, if any, and its application_name. */
export async function lockHolder(pool: Pool, schema: string, consumerId = 'relay:ledger'): Promise<{ pid: number; applicationName: string } | undefined> {
  const key = relayLockKey(schema, consumerId);
  const { rows } = await pool.query<{ pid: number; application_name: string }>(
    `SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objid = $2::bigint::oid AND l.objsubid = 1`,
    [(BigInt.asUintN(64, key) >> 32n).toString(), BigInt.asUintN(32, key).toString()],
  );
  return rows[0] ? { pid: rows[0].pid, applicationName: rows[0].application_name } : undefined;
}

export async function storedCheckpoint(pool: Pool, schema: string, consumerId = 'relay:ledger'): Promise<bigint> {
  const { rows } = await pool.query<{ position: string }>(`SELECT position::text FROM ${schema}.checkpoints WHERE consumer_id = $1`, [consumerId]);
  return rows[0] ? BigInt(rows[0].position) : 0n;
}
