import { randomBytes } from 'node:crypto';
import { migrateEventStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { waitFor } from '@ledger/testing';
import { Pool } from 'pg';
import { liveVersion, walletTables } from './read-models.schema';
import { startWalletProjection } from './start-wallet-projection';
import { differencesFromFold, seededRandom, WalletWorkload } from './testing/wallet-workload';
import { rebuildWalletProjection, type RebuildProgress } from './wallet-rebuild';

const WAIT_MS = 60_000;
const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('rebuilding the wallet projection into a new version', () => {
  let pool: Pool;

  beforeAll(() => {
    pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 10 });
  });
  afterAll(() => pool.end());

  it('switches while events keep coming and the live projection keeps serving; nothing missing or doubled', async () => {
    const esSchema = `es_${randomBytes(5).toString('hex')}`;
    const schema = `rm_${randomBytes(5).toString('hex')}`;
    await migrateEventStore(pool, esSchema);
    const store = new PostgresEventStore({ pool, schema: esSchema, pollIntervalMs: 20 });
    const workload = new WalletWorkload(store, seededRandom(11));
    await workload.open(20);
    await workload.run(1_500);
    const live = await startWalletProjection({ pool, store, schema, source: 'store', logger: silent, batchSize: 64 });
    try {
      await waitFor(() => live.status().watermarkPosition >= workload.lastPosition, WAIT_MS, 'the live projection to catch up');

      // Keep appending while the rebuild runs, until it has switched.
      let switched = false;
      let appendedDuringRebuild = 0;
      const appender = (async () => {
        while (!switched) {
          await workload.step();
          appendedDuringRebuild += 1;
        }
        // A few more after the switch: the live runner must carry on into the new version.
        await workload.run(50);
      })();
      const progress: RebuildProgress[] = [];
      const appliedBefore = live.status().eventsApplied;
      let appliedBySwitch = 0;
      const result = await rebuildWalletProjection({
        pool,
        store,
        schema,
        readBatchSize: 500,
        eventsPerTransaction: 1_000,
        switchLockTimeoutMs: 5_000,
        onProgress: (p) => {
          progress.push(p);
          if (p.phase === 'switching') appliedBySwitch = live.status().eventsApplied;
        },
      }).finally(() => (switched = true));
      await appender;

      expect(result).toMatchObject({ previousVersion: 1, version: 2 });
      expect(await liveVersion(pool, schema)).toBe(2);
      expect(appendedDuringRebuild).toBeGreaterThan(0);
      // The live runner kept applying into version 1 while version 2 was built.
      expect(appliedBySwitch).toBeGreaterThan(appliedBefore);
      expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['replaying', 'switching', 'switched']));
      const state = await pool.query(`SELECT building_version, build_events::int AS events FROM ${schema}.projection_state`);
      expect(state.rows[0]).toMatchObject({ building_version: null, events: result.events });

      await waitFor(() => live.status().watermarkPosition >= workload.lastPosition && live.status().liveVersion === 2, WAIT_MS, 'the live runner to apply the last append into version 2');
      expect(await differencesFromFold(pool, store, walletTables(schema, 2), workload.walletIds)).toEqual([]);
      const counts = await pool.query<{ rows: string; ids: string }>(`SELECT count(*)::text AS rows, count(DISTINCT event_id)::text AS ids FROM ${walletTables(schema, 2).history}`);
      expect(counts.rows[0]!.rows).toBe(counts.rows[0]!.ids);
      expect(live.status()).toMatchObject({ stoppedReason: undefined, running: true });

      // A second rebuild drops version 1 (kept after the switch for in-flight queries) and builds 3.
      const second = await rebuildWalletProjection({ pool, store, schema, readBatchSize: 4_096, eventsPerTransaction: 16_384, switchLockTimeoutMs: 5_000 });
      expect(second).toMatchObject({ version: 3, droppedVersions: [1] });
      expect(await differencesFromFold(pool, store, walletTables(schema, 3), workload.walletIds)).toEqual([]);
    } finally {
      await live.stop();
    }
  });
});
