import { topicToCategory } from '@ledger/bus';
import { PAYOUT_CHUNK_CATEGORY, payoutBatchStreamId } from '@ledger/payouts-domain';
import { PAYOUT_COMMANDS_TOPIC, PAYOUT_RESULTS_TOPIC } from '@ledger/payouts-messages';
import { Client } from 'pg';

/**
 * Where a batch's time went, read after the run from what the batch left in the event store:
 *
 * - intake: the chunk streams' PayoutRowsRecorded events (pass 2 of the intake) and the batch's
 *   PayoutRowsUploaded, against the client's upload start (pass 1 = start → first chunk recorded);
 * - execution: the batch stream's saga facts (started, reserved, chunk dispatched / settled,
 *   released, finished: the saga's own clock, in the events' data), the ledger's commits of each
 *   chunk's rows (the `recorded_at` of the positions the chunk's PayoutRowsSettled lists), and in
 *   embedded mode the bus messages themselves (events of the commands and results topics).
 *
 * `recorded_at` is PostgreSQL's `now()`: the start of the appending transaction, to the
 * millisecond on the same clock as the services. Every figure is derived; nothing is timed twice.
 */

export interface ChunkTimes {
  readonly chunk: number;
  readonly rows: number;
  /** PostgreSQL transactions (group commits) that paid the chunk's rows. */
  readonly transactions: number;
  /** Those transactions in order: when each started, and the rows it paid. */
  readonly commits: ReadonlyArray<{ readonly startedMs: number; readonly rows: number }>;
  readonly dispatchedMs: number;
  /** Embedded bus only: the PayPayoutRows message appended. */
  readonly commandMs: number | undefined;
  /** Start of the first and of the last ledger transaction that paid the chunk's rows. */
  readonly ledgerFirstMs: number | undefined;
  readonly ledgerLastMs: number | undefined;
  /** Embedded bus only: the PayoutRowsProcessed message appended. */
  readonly resultMs: number | undefined;
  readonly settledMs: number | undefined;
}

export interface BatchTimeline {
  readonly uploadStartedMs: number;
  readonly firstChunkRecordedMs: number | undefined;
  readonly lastChunkRecordedMs: number | undefined;
  readonly uploadedMs: number | undefined;
  readonly executeRequestedMs: number;
  readonly startedMs: number | undefined;
  readonly reservedMs: number | undefined;
  readonly releasedMs: number | undefined;
  readonly finishedMs: number | undefined;
  readonly completedSeenMs: number;
  readonly chunks: readonly ChunkTimes[];
  readonly busMessagesInStore: boolean;
}

/** Events per transaction bound of the PostgreSQL store: positions are xid × this + index (ADR 0002). */
const POSITION_SHIFT = 65_536;

const ms = (value: unknown): number | undefined => {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
};

export async function readBatchTimeline(
  databaseUrl: string,
  schema: string,
  batchId: string,
  client: { uploadStartedMs: number; executeRequestedMs: number; completedSeenMs: number },
): Promise<BatchTimeline> {
  const pg = new Client({ connectionString: databaseUrl, application_name: 'bench-payouts-timeline' });
  await pg.connect();
  try {
    const { rows: batchEvents } = await pg.query<{ type: string; data: Record<string, unknown>; recorded_at: Date }>(
      `SELECT type, data, recorded_at FROM ${schema}.events WHERE stream_id = $1 ORDER BY revision`,
      [payoutBatchStreamId(batchId)],
    );
    const uploadId = String(batchEvents.find((e) => e.type === 'PayoutRowsUploaded')?.data['uploadId'] ?? '');
    const first = (type: string, field: string): number | undefined => ms(batchEvents.find((e) => e.type === type)?.data[field]);
    const dispatched = new Map<number, number>();
    const settled = new Map<number, number>();
    for (const event of batchEvents) {
      const chunk = event.data['chunk'];
      if (typeof chunk !== 'number') continue;
      if (event.type === 'PayoutChunkDispatched' && !dispatched.has(chunk)) dispatched.set(chunk, ms(event.data['dispatchedAt']) ?? event.recorded_at.getTime());
      if (event.type === 'PayoutChunkSettled') settled.set(chunk, ms(event.data['settledAt']) ?? event.recorded_at.getTime());
    }

    // Chunk streams: when pass 2 recorded them, and the ledger positions each settled row names.
    const prefix = `${PAYOUT_CHUNK_CATEGORY}-${uploadId}.`;
    const { rows: recorded } = await pg.query<{ first: Date | null; last: Date | null }>(
      `SELECT min(recorded_at) AS first, max(recorded_at) AS last FROM ${schema}.events
        WHERE category = $1 AND type = 'PayoutRowsRecorded' AND left(stream_id, $3) = $2`,
      [PAYOUT_CHUNK_CATEGORY, prefix, prefix.length],
    );
    // The ledger transactions that paid each chunk's rows: a position is the writing transaction's
    // id × 2^16 + the event's index in it (ADR 0002), and recorded_at is that transaction's start.
    const { rows: ledgerCommits } = await pg.query<{ chunk: number; rows: number; started: Date }>(
      `WITH paid AS (
         SELECT substr(stream_id, $3 + 1)::int AS chunk, (r->>'position')::bigint AS position
           FROM ${schema}.events, jsonb_array_elements(data->'results') AS r
          WHERE category = $1 AND type = 'PayoutRowsSettled' AND left(stream_id, $3) = $2 AND r->>'position' IS NOT NULL
       ), tx AS (
         SELECT chunk, position / ${POSITION_SHIFT} AS xid, count(*)::int AS rows, min(position) AS position FROM paid GROUP BY 1, 2
       )
       SELECT tx.chunk, tx.rows, e.recorded_at AS started FROM tx JOIN ${schema}.events e ON e.position = tx.position ORDER BY tx.chunk, e.recorded_at`,
      [PAYOUT_CHUNK_CATEGORY, prefix, prefix.length],
    );
    const ledger = new Map<number, Array<{ startedMs: number; rows: number }>>();
    for (const row of ledgerCommits) {
      const list = ledger.get(row.chunk) ?? [];
      list.push({ startedMs: row.started.getTime(), rows: row.rows });
      ledger.set(row.chunk, list);
    }

    // Embedded bus: the messages are events of the topics' categories, keyed by batch id.
    const message = async (topic: string, type: string): Promise<Map<number, number>> => {
      const { rows } = await pg.query<{ chunk: number; at: Date }>(
        `SELECT ((data->>'value')::jsonb->>'chunk')::int AS chunk, min(recorded_at) AS at FROM ${schema}.events
          WHERE category = $1 AND data->>'key' = $2 AND (data->>'value')::jsonb->>'type' = $3 GROUP BY 1`,
        [topicToCategory(topic), batchId, type],
      );
      return new Map(rows.map((row) => [row.chunk, row.at.getTime()]));
    };
    const commands = await message(PAYOUT_COMMANDS_TOPIC, 'PayPayoutRows');
    const results = await message(PAYOUT_RESULTS_TOPIC, 'PayoutRowsProcessed');

    const chunks: ChunkTimes[] = [...dispatched.keys()]
      .sort((a, b) => a - b)
      .map((chunk) => {
        const txs = ledger.get(chunk) ?? [];
        return {
          chunk,
          rows: txs.reduce((sum, tx) => sum + tx.rows, 0),
          transactions: txs.length,
          commits: txs,
          dispatchedMs: dispatched.get(chunk) as number,
          commandMs: commands.get(chunk),
          ledgerFirstMs: txs[0]?.startedMs,
          ledgerLastMs: txs[txs.length - 1]?.startedMs,
          resultMs: results.get(chunk),
          settledMs: settled.get(chunk),
        };
      });
    return {
      ...client,
      firstChunkRecordedMs: recorded[0]?.first?.getTime(),
      lastChunkRecordedMs: recorded[0]?.last?.getTime(),
      uploadedMs: batchEvents.find((e) => e.type === 'PayoutRowsUploaded')?.recorded_at.getTime(),
      startedMs: first('PayoutExecutionStarted', 'startedAt'),
      reservedMs: first('PayoutFundsReserved', 'reservedAt'),
      releasedMs: first('PayoutReservationReleased', 'releasedAt'),
      finishedMs: first('PayoutBatchFinished', 'finishedAt'),
      chunks,
      busMessagesInStore: commands.size > 0,
    };
  } finally {
    await pg.end();
  }
}

export interface StepStat {
  readonly step: string;
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly maxMs: number;
}

function stat(step: string, values: ReadonlyArray<number | undefined>): StepStat | undefined {
  const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v)).sort((a, b) => a - b);
  if (known.length === 0) return undefined;
  return { step, count: known.length, meanMs: known.reduce((s, v) => s + v, 0) / known.length, p50Ms: known[Math.ceil(known.length / 2) - 1]!, maxMs: known[known.length - 1]! };
}

const diff = (later: number | undefined, earlier: number | undefined): number | undefined => (later === undefined || earlier === undefined ? undefined : later - earlier);

/** Total length of the union of intervals (ms). */
function covered(intervals: ReadonlyArray<readonly [number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [from, to] of sorted) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}

export interface TimelineSummary {
  /** Phases of the intake and the execution, in order, each with its length. */
  readonly phases: ReadonlyArray<{ readonly phase: string; readonly ms: number | undefined }>;
  /** Per chunk, from the saga's dispatch to its settlement. */
  readonly steps: readonly StepStat[];
  /** The ledger's work on one chunk and the hand-over to the next, in the order it paid them. */
  readonly ledgerCycle: readonly StepStat[];
  /** Share of the paying phase (first dispatch → last settlement) in which the ledger was committing some chunk's rows. */
  readonly ledgerBusyShare: number | undefined;
  /** Mean chunks between dispatch and settlement over the paying phase. */
  readonly meanChunksInFlight: number | undefined;
  /** Mean ledger commit window of one chunk, and rows per second inside it. */
  readonly ledgerRowsPerSecondInChunk: number | undefined;
  /** Mean PostgreSQL transactions (group commits) per chunk, and rows per transaction. */
  readonly transactionsPerChunk: number | undefined;
  readonly rowsPerTransaction: number | undefined;
}

export function summariseTimeline(t: BatchTimeline): TimelineSummary {
  const firstDispatch = t.chunks.length > 0 ? Math.min(...t.chunks.map((c) => c.dispatchedMs)) : undefined;
  const settledTimes = t.chunks.map((c) => c.settledMs).filter((v): v is number => v !== undefined);
  const lastSettle = settledTimes.length > 0 ? Math.max(...settledTimes) : undefined;
  const phases = [
    { phase: 'intake pass 1: upload start → first chunk recorded (stream, parse, validate, spool)', ms: diff(t.firstChunkRecordedMs, t.uploadStartedMs) },
    { phase: 'intake pass 2: first → last chunk recorded', ms: diff(t.lastChunkRecordedMs, t.firstChunkRecordedMs) },
    { phase: 'intake: last chunk → PayoutRowsUploaded', ms: diff(t.uploadedMs, t.lastChunkRecordedMs) },
    { phase: 'execute requested → PayoutExecutionStarted', ms: diff(t.startedMs, t.executeRequestedMs) },
    { phase: 'started → funds reserved (hold placed, answer recorded)', ms: diff(t.reservedMs, t.startedMs) },
    { phase: 'reserved → first chunk dispatched', ms: diff(firstDispatch, t.reservedMs) },
    { phase: `paying: first dispatch → last chunk settled (${t.chunks.length} chunks)`, ms: diff(lastSettle, firstDispatch) },
    { phase: 'last chunk settled → reservation released', ms: diff(t.releasedMs, lastSettle) },
    { phase: 'released → PayoutBatchFinished', ms: diff(t.finishedMs, t.releasedMs) },
    { phase: 'finished → COMPLETED seen by the poll', ms: diff(t.completedSeenMs, t.finishedMs) },
  ];
  const steps: Array<StepStat | undefined> = t.busMessagesInStore
    ? [
        stat('saga dispatch → command message appended', t.chunks.map((c) => diff(c.commandMs, c.dispatchedMs))),
        stat('command message → first ledger transaction starts (delivery + waiting behind earlier chunks)', t.chunks.map((c) => diff(c.ledgerFirstMs, c.commandMs))),
        stat('first → last ledger transaction of the chunk starts', t.chunks.map((c) => diff(c.ledgerLastMs, c.ledgerFirstMs))),
        stat('last ledger transaction starts → result message appended', t.chunks.map((c) => diff(c.resultMs, c.ledgerLastMs))),
        stat('result message → chunk settled by the saga (delivery + record)', t.chunks.map((c) => diff(c.settledMs, c.resultMs))),
        stat('whole chunk: dispatch → settled', t.chunks.map((c) => diff(c.settledMs, c.dispatchedMs))),
      ]
    : [
        stat('saga dispatch → first ledger transaction starts (publish, Kafka, waiting behind earlier chunks)', t.chunks.map((c) => diff(c.ledgerFirstMs, c.dispatchedMs))),
        stat('first → last ledger transaction of the chunk starts', t.chunks.map((c) => diff(c.ledgerLastMs, c.ledgerFirstMs))),
        stat('last ledger transaction starts → chunk settled by the saga (commit, publish, Kafka, record)', t.chunks.map((c) => diff(c.settledMs, c.ledgerLastMs))),
        stat('whole chunk: dispatch → settled', t.chunks.map((c) => diff(c.settledMs, c.dispatchedMs))),
      ];

  // The ledger's side, chunk after chunk in the order it paid them: each step's mean adds up to
  // one chunk's share of the paying phase when the ledger handles one chunk at a time.
  const ledgerOrder = t.chunks.filter((c) => c.commits.length > 0).sort((a, b) => (a.ledgerFirstMs as number) - (b.ledgerFirstMs as number));
  const next = (i: number): ChunkTimes | undefined => ledgerOrder[i + 1];
  const cycle: Array<StepStat | undefined> = [];
  const mostCommits = Math.max(0, ...ledgerOrder.map((c) => c.commits.length));
  for (let k = 0; k + 1 < mostCommits; k += 1) {
    const withNext = ledgerOrder.filter((c) => c.commits.length > k + 1);
    const meanRows = withNext.reduce((sum, c) => sum + c.commits[k]!.rows, 0) / Math.max(1, withNext.length);
    cycle.push(stat(`transaction ${k + 1} (mean ${meanRows.toFixed(0)} rows) starts → transaction ${k + 2} starts`, withNext.map((c) => c.commits[k + 1]!.startedMs - c.commits[k]!.startedMs)));
  }
  const lastRows = ledgerOrder.reduce((sum, c) => sum + c.commits[c.commits.length - 1]!.rows, 0) / Math.max(1, ledgerOrder.length);
  if (t.busMessagesInStore) {
    cycle.push(stat(`last transaction (mean ${lastRows.toFixed(0)} rows) starts → result message appended`, ledgerOrder.slice(0, -1).map((c) => diff(c.resultMs, c.ledgerLastMs))));
    cycle.push(stat("result message appended → next chunk's first transaction starts", ledgerOrder.slice(0, -1).map((c, i) => diff(next(i)?.ledgerFirstMs, c.resultMs))));
  } else {
    cycle.push(stat(`last transaction (mean ${lastRows.toFixed(0)} rows) starts → next chunk's first transaction starts`, ledgerOrder.slice(0, -1).map((c, i) => diff(next(i)?.ledgerFirstMs, c.ledgerLastMs))));
  }
  cycle.push(stat("whole cycle: a chunk's first transaction starts → the next chunk's first starts", ledgerOrder.slice(0, -1).map((c, i) => diff(next(i)?.ledgerFirstMs, c.ledgerFirstMs))));
  const paying = diff(lastSettle, firstDispatch);
  const ledgerWindows = t.chunks.filter((c) => c.ledgerFirstMs !== undefined && c.ledgerLastMs !== undefined).map((c) => [c.ledgerFirstMs as number, c.ledgerLastMs as number] as const);
  const inFlight = t.chunks.filter((c) => c.settledMs !== undefined).reduce((sum, c) => sum + ((c.settledMs as number) - c.dispatchedMs), 0);
  const windowMs = ledgerWindows.reduce((sum, [a, b]) => sum + (b - a), 0);
  const transactions = t.chunks.reduce((sum, c) => sum + c.transactions, 0);
  const windowRows = t.chunks.filter((c) => c.ledgerFirstMs !== undefined && c.ledgerLastMs !== undefined).reduce((sum, c) => sum + c.rows, 0);
  return {
    phases,
    steps: steps.filter((s): s is StepStat => s !== undefined),
    ledgerCycle: cycle.filter((s): s is StepStat => s !== undefined),
    ledgerBusyShare: paying ? covered(ledgerWindows) / paying : undefined,
    meanChunksInFlight: paying ? inFlight / paying : undefined,
    ledgerRowsPerSecondInChunk: windowMs > 0 ? (windowRows / windowMs) * 1_000 : undefined,
    transactionsPerChunk: transactions > 0 ? transactions / t.chunks.length : undefined,
    rowsPerTransaction: transactions > 0 ? t.chunks.reduce((sum, c) => sum + c.rows, 0) / transactions : undefined,
  };
}
