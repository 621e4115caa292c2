import type { Pool, PoolClient } from 'pg';
import { assertReadModelsSchema, WALLETS_PROJECTION, type WalletReadModelTables } from './read-models.schema';

/** The embedded source's single watermark row. */
export const STORE_WATERMARK_SOURCE = 'store';

/** A Kafka source row: `<topic>:<partition>`. */
export function kafkaWatermarkSource(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/**
 * Reads the live version under a KEY SHARE lock on its projection_state row, for the rest of the
 * caller's transaction. A rebuild's switch takes FOR UPDATE on that row, so it waits for every
 * applying transaction to end and blocks new ones until live_version has moved; a blocked applier
 * then reads the new version (READ COMMITTED re-reads the locked row). KEY SHARE, not SHARE: the
 * rebuild's progress updates of the same row (non-key columns) must not block the live appliers.
 */
export async function lockLiveVersion(client: PoolClient, schema: string, projection = WALLETS_PROJECTION): Promise<number> {
  assertReadModelsSchema(schema);
  const { rows } = await client.query<{ live_version: number }>(
    `SELECT live_version FROM ${schema}.projection_state WHERE projection = $1 FOR KEY SHARE`,
    [projection],
  );
  const version = rows[0]?.live_version;
  if (version === undefined) throw new Error(`Projection '${projection}' has no projection_state row in ${schema}: run ensureWalletProjection first`);
  return version;
}

/** Moves the embedded watermark forward (never back: a rebuilt version may already be ahead). */
export async function advanceStoreWatermark(client: PoolClient, tables: WalletReadModelTables, position: bigint): Promise<void> {
  await recordSourceWatermark(client, tables, STORE_WATERMARK_SOURCE, position);
}

/** Moves one source row forward; a smaller position (a redelivered Kafka watermark) changes nothing. */
export async function recordSourceWatermark(client: PoolClient | Pool, tables: WalletReadModelTables, source: string, position: bigint): Promise<void> {
  await client.query(
    `INSERT INTO ${tables.watermarks} AS w (source, position) VALUES ($1, $2)
     ON CONFLICT (source) DO UPDATE SET position = GREATEST(w.position, EXCLUDED.position), updated_at = now()
      WHERE w.position < EXCLUDED.position`,
    [source, position.toString()],
  );
}

/**
 * Creates rows at position 0 for sources that have none. A Kafka partition counts from the start
 * as "nothing seen" (0): until its first Watermark message arrives it holds the projection's
 * watermark at 0, because a partition we never heard from cannot vouch for any position. The
 * relay sends a watermark to every partition after each batch, so an empty or newly assigned
 * partition catches up with the first one.
 */
export async function seedWatermarkSources(client: PoolClient | Pool, tables: WalletReadModelTables, sources: readonly string[]): Promise<void> {
  if (sources.length === 0) return;
  await client.query(`INSERT INTO ${tables.watermarks} (source, position) SELECT unnest($1::text[]), 0 ON CONFLICT (source) DO NOTHING`, [[...sources]]);
}

/** The projection's watermark: the minimum over its source rows; 0 when it has none yet. */
export async function readWatermark(client: PoolClient | Pool, tables: WalletReadModelTables): Promise<bigint> {
  const { rows } = await client.query<{ position: string | null }>(`SELECT min(position)::text AS position FROM ${tables.watermarks}`);
  return BigInt(rows[0]?.position ?? '0');
}

export async function readSourceWatermark(client: PoolClient | Pool, tables: WalletReadModelTables, source: string): Promise<bigint> {
  const { rows } = await client.query<{ position: string }>(`SELECT position::text FROM ${tables.watermarks} WHERE source = $1`, [source]);
  return BigInt(rows[0]?.position ?? '0');
}

/** Records why the live projection stopped (null clears it after a successful restart). */
export async function recordStopped(client: PoolClient | Pool, schema: string, reason: string | null, projection = WALLETS_PROJECTION): Promise<void> {
  assertReadModelsSchema(schema);
  await client.query(`UPDATE ${schema}.projection_state SET stopped_reason = $2, updated_at = now() WHERE projection = $1`, [projection, reason]);
}

export async function readStoppedReason(client: PoolClient | Pool, schema: string, projection = WALLETS_PROJECTION): Promise<string | undefined> {
  assertReadModelsSchema(schema);
  const { rows } = await client.query<{ stopped_reason: string | null }>(`SELECT stopped_reason FROM ${schema}.projection_state WHERE projection = $1`, [projection]);
  return rows[0]?.stopped_reason ?? undefined;
}
