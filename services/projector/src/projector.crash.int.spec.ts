import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { migrateEventStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { walletTables } from '@ledger/read-models';
import { waitFor } from '@ledger/testing';
import { Pool } from 'pg';
import { differencesFromFold, seededRandom, WalletWorkload } from '../../../libs/ledger/read-models/src/testing/wallet-workload';

const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(ROOT, 'services', 'projector', 'src', 'main.ts');
const WAIT_MS = 60_000;

/** The projector as a real child process, so SIGKILL really cuts it off mid-transaction. */
function startProjector(env: Record<string, string>): { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string } {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', MAIN], {
    cwd: ROOT,
    env: { ...process.env, ...env, SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => stderr };
}

describe('the projector killed with SIGKILL mid-stream', () => {
  let pool: Pool;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 4 });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await pool.end();
  });

  it('applies every event exactly once after a restart', async () => {
    const esSchema = `es_${randomBytes(5).toString('hex')}`;
    const schema = `rm_${randomBytes(5).toString('hex')}`;
    await migrateEventStore(pool, esSchema);
    const store = new PostgresEventStore({ pool, schema: esSchema });
    const workload = new WalletWorkload(store, seededRandom(3));
    await workload.open(30);
    await workload.run(2_500);
    const tables = walletTables(schema, 1);
    const total = async (): Promise<number> => Number((await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${tables.history}`)).rows[0]!.n);
    const watermark = async (): Promise<bigint> => BigInt((await pool.query<{ p: string }>(`SELECT position::text AS p FROM ${tables.watermarks} WHERE source = 'store'`)).rows[0]?.p ?? '0');
    const env = { DATABASE_URL: process.env['DATABASE_URL'] as string, EVENT_STORE_SCHEMA: esSchema, READ_MODELS_SCHEMA: schema, HTTP_PORT: '0', PROJECTOR_BATCH_EVENTS: '8', LOG_LEVEL: 'warn' };

    const first = startProjector(env);
    children.push(first.child);
    await waitFor(async () => (await total()) >= 300, WAIT_MS, 'the first projector to apply some events');
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const atKill = await total();
    const streamEvents = Number((await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${esSchema}.events WHERE stream_id LIKE 'wallet-%'`)).rows[0]!.n);
    expect(atKill).toBeLessThan(streamEvents); // killed mid-stream, not after the end

    await workload.run(200); // more arrives while it is down
    const second = startProjector(env);
    children.push(second.child);
    await waitFor(async () => (await watermark()) >= workload.lastPosition, WAIT_MS, 'the restarted projector to reach the last append');
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });

    expect(await differencesFromFold(pool, store, tables, workload.walletIds)).toEqual([]);
    const allEvents = Number((await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${esSchema}.events WHERE stream_id LIKE 'wallet-%'`)).rows[0]!.n);
    const counts = await pool.query<{ rows: string; ids: string }>(`SELECT count(*)::text AS rows, count(DISTINCT event_id)::text AS ids FROM ${tables.history}`);
    expect(counts.rows[0]).toEqual({ rows: String(allEvents), ids: String(allEvents) });
  });
});
