import type { NewEvent } from '@ledger/event-store';
import { BENCH_CATEGORY, depositEvent, HOT_CATEGORY, hotStream, NO_EVENT, transferEvents, walletStream } from './append.events';
import type { AppendDriver, AppendOutcome, CellContext } from './append.driver';

/**
 * The baseline: the least work that makes the same append durable, written as raw SQL with `pg`.
 *
 * Same tables (created by the same migration, in another schema), same rows: each event row has
 * the same columns and payload sizes, a position derived from the transaction id like the
 * adapter's, and a 64-character hash column; the stream-head row gets its new revision and hash.
 *
 * Left out on purpose, because they are the adapter's overhead being measured:
 * - request validation and canonical JSON (the baseline sends JSON.stringify output);
 * - SHA-256 hash chaining (the hash column holds a constant of the same length);
 * - reading and locking the stream heads (the upsert) and checking expectations in scenarios
 *   (a) and (b): each writer knows it owns its streams, so it INSERTs a head row on its first
 *   append and UPDATEs it afterwards, blind;
 * - explicit BEGIN/COMMIT: the whole append is ONE statement in autocommit mode, which PostgreSQL
 *   runs as one transaction with one commit (one WAL flush): one round trip per append.
 *
 * Scenario (c) cannot be blind, or there is nothing to conflict on: there the baseline is the
 * cheapest optimistic write, a conditional `UPDATE … WHERE revision = expected` chained to the
 * insert in one statement. On a conflict it reads the head (a second round trip) to learn the
 * current revision, which the adapter gets from its error.
 */
export function baselineDriver(context: CellContext): AppendDriver {
  const s = context.schema;
  const noSetUp = async (): Promise<void> => undefined;
  const writers = Array.from({ length: context.writers }, (_, writer) => writer);

  const appendSql = `
    WITH inserted AS (
      INSERT INTO ${s}.events (position, event_id, stream_id, revision, category, type, data, metadata, hash)
      SELECT pg_current_xact_id()::text::bigint * 65536 + u.ord - 1,
             u.event_id, u.stream_id, u.revision, u.category, u.type, u.data, u.metadata, u.hash
        FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::jsonb[], $7::jsonb[], $8::text[])
             WITH ORDINALITY AS u(event_id, stream_id, revision, category, type, data, metadata, hash, ord)
    ), created AS (
      INSERT INTO ${s}.streams (stream_id, revision, last_hash)
      SELECT * FROM unnest($9::text[], $10::bigint[], $11::text[])
    )
    UPDATE ${s}.streams AS st SET revision = h.revision, last_hash = h.hash
      FROM unnest($12::text[], $13::bigint[], $14::text[]) AS h(stream_id, revision, hash)
     WHERE st.stream_id = h.stream_id`;

  /** One write per stream; `revision` is the stream's revision before this append. */
  const blindAppend = async (writes: readonly { streamId: string; revision: bigint; event: NewEvent }[]): Promise<void> => {
    const events = { id: [] as string[], stream: [] as string[], revision: [] as string[], category: [] as string[],
      type: [] as string[], data: [] as string[], metadata: [] as string[], hash: [] as string[] };
    const created = { stream: [] as string[], revision: [] as string[], hash: [] as string[] };
    const updated = { stream: [] as string[], revision: [] as string[], hash: [] as string[] };
    for (const write of writes) {
      const next = (write.revision + 1n).toString();
      events.id.push(write.event.id!);
      events.stream.push(write.streamId);
      events.revision.push(next);
      events.category.push(BENCH_CATEGORY);
      events.type.push(write.event.type);
      events.data.push(JSON.stringify(write.event.data));
      events.metadata.push(JSON.stringify(write.event.metadata));
      events.hash.push(PLACEHOLDER_HASH);
      const head = write.revision === NO_EVENT ? created : updated;
      head.stream.push(write.streamId);
      head.revision.push(next);
      head.hash.push(PLACEHOLDER_HASH);
    }
    await context.pool.query(appendSql, [events.id, events.stream, events.revision, events.category, events.type, events.data,
      events.metadata, events.hash, created.stream, created.revision, created.hash, updated.stream, updated.revision, updated.hash]);
  };

  switch (context.scenario) {
    case 'single': {
      const streams = writers.map((w) => walletStream(context.cellTag, w));
      const revisions = writers.map(() => NO_EVENT);
      return {
        setUp: noSetUp,
        append: async (w) => {
          await blindAppend([{ streamId: streams[w]!, revision: revisions[w]!, event: depositEvent() }]);
          revisions[w]! += 1n;
          return 'ok';
        },
      };
    }
    case 'transfer':
    case 'batch': {
      // The batch scenario's baseline is the naive limit group commit must beat: one transaction per transfer.
      const from = writers.map((w) => walletStream(context.cellTag, w, '.a'));
      const to = writers.map((w) => walletStream(context.cellTag, w, '.b'));
      const fromRevisions = writers.map(() => NO_EVENT);
      const toRevisions = writers.map(() => NO_EVENT);
      return {
        setUp: noSetUp,
        append: async (w) => {
          const { debit, credit } = transferEvents();
          await blindAppend([
            { streamId: from[w]!, revision: fromRevisions[w]!, event: debit },
            { streamId: to[w]!, revision: toRevisions[w]!, event: credit },
          ]);
          fromRevisions[w]! += 1n;
          toRevisions[w]! += 1n;
          return 'ok';
        },
      };
    }
    case 'hot': {
      const stream = hotStream(context.cellTag);
      const known = writers.map(() => NO_EVENT);
      const conditionalAppendSql = `
        WITH head AS (
          UPDATE ${s}.streams SET revision = revision + 1, last_hash = $2
           WHERE stream_id = $1 AND revision = $3
          RETURNING revision
        )
        INSERT INTO ${s}.events (position, event_id, stream_id, revision, category, type, data, metadata, hash)
        SELECT pg_current_xact_id()::text::bigint * 65536, $4, $1, head.revision, $5, $6, $7::jsonb, $8::jsonb, $2 FROM head`;
      return {
        // The head row exists before the cell (revision -1: no event yet), so every append is an UPDATE.
        setUp: async () => {
          await context.pool.query(`INSERT INTO ${s}.streams (stream_id, revision, last_hash) VALUES ($1, -1, '')`, [stream]);
        },
        append: async (w): Promise<AppendOutcome> => {
          const event = depositEvent();
          const { rowCount } = await context.pool.query(conditionalAppendSql, [stream, PLACEHOLDER_HASH, known[w]!.toString(),
            event.id, HOT_CATEGORY, event.type, JSON.stringify(event.data), JSON.stringify(event.metadata)]);
          if (rowCount === 1) {
            known[w]! += 1n;
            return 'ok';
          }
          const { rows } = await context.pool.query<{ revision: string }>(`SELECT revision::text FROM ${s}.streams WHERE stream_id = $1`, [stream]);
          known[w] = BigInt(rows[0]!.revision);
          return 'conflict';
        },
      };
    }
  }
}

/** Same length as the adapter's hex SHA-256, so rows are the same size. */
const PLACEHOLDER_HASH = 'f'.repeat(64);
