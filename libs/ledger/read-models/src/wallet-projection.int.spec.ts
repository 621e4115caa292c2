import { randomBytes } from 'node:crypto';
import type { RecordedEvent } from '@ledger/event-store';
import { migrateEventStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { walletStreamId } from '@ledger/ledger-domain';
import { waitFor } from '@ledger/testing';
import { Pool } from 'pg';
import { ProjectionPoisonError } from './projection-poison.error';
import { inTransaction } from '@ledger/infra';
import { readWatermark } from './projection-state';
import { ensureWalletProjection, walletTables } from './read-models.schema';
import { startWalletProjection } from './start-wallet-projection';
import { differencesFromFold, seededRandom, WalletWorkload } from './testing/wallet-workload';
import { applyWalletEvents } from './wallet-projection.store';

const WAIT_MS = 30_000;
const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('wallet projection on PostgreSQL', () => {
  let pool: Pool;

  beforeAll(() => {
    pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 8 });
  });
  afterAll(() => pool.end());

  async function freshStore(): Promise<{ store: PostgresEventStore; schema: string }> {
    const esSchema = `es_${randomBytes(5).toString('hex')}`;
    await migrateEventStore(pool, esSchema);
    return { store: new PostgresEventStore({ pool, schema: esSchema, pollIntervalMs: 20 }), schema: `rm_${randomBytes(5).toString('hex')}` };
  }

  async function allWalletEvents(store: PostgresEventStore, upTo: bigint): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    let from = 0n;
    await waitFor(async () => {
      for (;;) {
        const page = await store.readAll({ fromPosition: from, maxCount: 1_000, filter: { categories: ['wallet'] } });
        events.push(...page.events);
        from = page.checkpoint;
        if (!page.isEndOfBatch) return from >= upTo;
      }
    }, WAIT_MS, 'the workload in the global log');
    return events;
  }

  it.each([1, 2, 3])('equals the domain fold of every wallet over a random history with holds (seed %i)', async (seed) => {
    const { store, schema } = await freshStore();
    const workload = new WalletWorkload(store, seededRandom(seed));
    await workload.open(6);
    await workload.run(400);
    const projection = await startWalletProjection({ pool, store, schema, source: 'store', logger: silent, batchSize: 1 + seed * 20 });
    try {
      await waitFor(() => projection.status().watermarkPosition >= workload.lastPosition, WAIT_MS, 'the projection to reach the last append');
      expect(await differencesFromFold(pool, store, walletTables(schema, 1), workload.walletIds)).toEqual([]);
      const types = await pool.query<{ type: string }>(`SELECT DISTINCT type FROM ${walletTables(schema, 1).history}`);
      expect(types.rows.map((r) => r.type)).toEqual(expect.arrayContaining(['HoldPlaced', 'HoldCaptured', 'HoldDrawn', 'TransferDebited', 'TransferCredited']));
      expect(projection.status()).toMatchObject({ stoppedReason: undefined, running: true });
    } finally {
      await projection.stop();
    }
  });

  it('changes nothing when events are redelivered and replayed in Kafka-like order', async () => {
    const { store, schema } = await freshStore();
    const workload = new WalletWorkload(store, seededRandom(42));
    await workload.open(8);
    await workload.run(300);
    const events = await allWalletEvents(store, workload.lastPosition);
    await ensureWalletProjection(pool, schema);
    const tables = walletTables(schema, 1);
    const random = seededRandom(7);

    // Three "partitions" by stream; each delivers in order but a consumer that crashed before
    // committing starts that partition again a few messages back.
    const partitions: RecordedEvent[][] = [[], [], []];
    for (const event of events) partitions[event.streamId.charCodeAt(event.streamId.length - 1) % 3]!.push(event);
    const offsets = [0, 0, 0];
    let delivered = 0;
    while (offsets.some((offset, p) => offset < partitions[p]!.length)) {
      const p = Math.floor(random() * 3);
      const list = partitions[p]!;
      if (offsets[p]! >= list.length) continue;
      const event = list[offsets[p]!]!;
      const plan = await inTransaction(pool, (client) => applyWalletEvents(client, tables, [event]));
      expect(plan.poison).toBeUndefined();
      delivered += 1;
      offsets[p] = random() < 0.1 ? Math.max(0, offsets[p]! - 1 - Math.floor(random() * 5)) : offsets[p]! + 1;
    }
    expect(delivered).toBeGreaterThan(events.length);
    expect(await differencesFromFold(pool, store, tables, workload.walletIds)).toEqual([]);

    const contents = async (): Promise<string> =>
      (await pool.query<{ digest: string }>(
        `SELECT md5(string_agg(h::text, '|' ORDER BY wallet_id, stream_revision)) || md5((SELECT string_agg(b::text, '|' ORDER BY wallet_id) FROM ${tables.balances} b))
           || md5((SELECT coalesce(string_agg(o::text, '|' ORDER BY wallet_id, hold_id), '') FROM ${tables.openHolds} o)) AS digest FROM ${tables.history} h`,
      )).rows[0]!.digest;
    const before = await contents();
    // The whole log again, in big batches and in single events: all duplicates.
    const again = await inTransaction(pool, (client) => applyWalletEvents(client, tables, events));
    expect(again).toMatchObject({ applied: 0, duplicates: events.length, poison: undefined });
    for (const event of events.slice(0, 50)) await inTransaction(pool, (client) => applyWalletEvents(client, tables, [event]));
    expect(await contents()).toBe(before);
  });

  it('stops at a gap, naming the event, and applies nothing from it on', async () => {
    const { store, schema } = await freshStore();
    const workload = new WalletWorkload(store, seededRandom(5));
    await workload.open(2);
    await workload.run(40);
    const events = await allWalletEvents(store, workload.lastPosition);
    await ensureWalletProjection(pool, schema);
    const tables = walletTables(schema, 1);
    const stream = walletStreamId(workload.walletIds[0]!);
    const ofStream = events.filter((e) => e.streamId === stream);
    const missing = ofStream[2]!;
    const batch = events.filter((e) => e !== missing);
    const gapAt = batch.indexOf(ofStream[3]!);
    const plan = await inTransaction(pool, (client) => applyWalletEvents(client, tables, batch));
    expect(plan.poison).toBeInstanceOf(ProjectionPoisonError);
    expect(plan.poison).toMatchObject({ reason: 'REVISION_GAP', location: { eventId: ofStream[3]!.id, streamId: stream, revision: 3n, position: ofStream[3]!.position } });
    expect(plan.applied).toBe(gapAt);
    const { rows } = await pool.query<{ n: string; max: string | null }>(`SELECT count(*)::text AS n, max(global_position)::text AS max FROM ${tables.history}`);
    expect(Number(rows[0]!.n)).toBe(gapAt);
    expect(BigInt(rows[0]!.max ?? '0')).toBeLessThan(ofStream[3]!.position);
  });

  it('stops the running projection at a poison event, records and reports it, and applies nothing after it', async () => {
    const { store, schema } = await freshStore();
    const workload = new WalletWorkload(store, seededRandom(9));
    await workload.open(3);
    await workload.run(30);
    const victim = workload.wallets[0]!;
    // A release of a hold that was never placed: evolveWallet refuses it ("hold … is not open").
    const poison = await store.appendToStream(
      walletStreamId(victim.id),
      [{ type: 'HoldReleased', data: { walletId: victim.id, holdId: 'never-placed', releasedMinor: '5', currency: 'USD', releasedAt: new Date().toISOString() }, metadata: { correlationId: 'c', causationId: 'c', principal: 'service:test', schemaVersion: 1 } }],
      { expectedState: victim.revision },
    );
    victim.revision += 1n;
    await workload.open(1);
    const afterPoison = workload.lastPosition;
    const errors: unknown[] = [];
    const projection = await startWalletProjection({ pool, store, schema, source: 'store', logger: { ...silent, error: (m) => errors.push(m) }, batchSize: 7 });
    await projection.done;
    const [event] = await store.readStream(walletStreamId(victim.id), { direction: 'forwards', fromRevision: victim.revision, maxCount: 1 });
    expect(projection.status()).toMatchObject({ running: false, stoppedReason: expect.stringContaining(event!.id) });
    expect(projection.status().stoppedReason).toContain(`revision ${victim.revision}`);
    expect(errors).toEqual([expect.objectContaining({ alert: 'ProjectionStopped', eventId: event!.id, streamId: walletStreamId(victim.id), position: poison.position.toString() })]);
    const state = await pool.query<{ stopped_reason: string }>(`SELECT stopped_reason FROM ${schema}.projection_state`);
    expect(state.rows[0]!.stopped_reason).toContain(event!.id);
    const tables = walletTables(schema, 1);
    const { rows } = await pool.query<{ max: string }>(`SELECT max(global_position)::text AS max FROM ${tables.history}`);
    expect(BigInt(rows[0]!.max)).toBeLessThan(poison.position);
    expect(await readWatermark(pool, tables)).toBeLessThan(poison.position);
    expect(afterPoison).toBeGreaterThan(poison.position);
  });
});
