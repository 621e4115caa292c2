import { testEvents, uniqueCategory, uniqueStream, waitFor } from '@ledger/testing';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import { PostgresEventStore } from './postgres-event-store';
import { migrateEventStore } from './postgres-schema';

const FIXTURE = join(__dirname, 'fixtures', 'crashing-consumer.fixture.ts');
const CHILD_TIMEOUT_MS = 60_000;

/** Runs the consumer in a real child process; resolves with how it ended. */
function runConsumer(env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', FIXTURE], {
      env: { ...process.env, ...env, SWC_NODE_PROJECT: join(__dirname, '..', '..', '..', '..', 'tsconfig.json') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`consumer did not finish within ${CHILD_TIMEOUT_MS} ms: ${stderr}`));
    }, CHILD_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

describe('a consumer killed with SIGKILL between handling and checkpoint', () => {
  let pool: Pool;
  let schema: string;
  let store: PostgresEventStore;

  beforeAll(async () => {
    pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 4 });
    schema = `es_${randomBytes(5).toString('hex')}`;
    await migrateEventStore(pool, schema);
    await pool.query(`CREATE TABLE ${schema}.effects (event_id uuid NOT NULL, position bigint NOT NULL)`);
    store = new PostgresEventStore({ pool, schema });
  });
  afterAll(() => pool.end());

  it.each([
    ['before its transaction commits', 'CRASH_BEFORE_COMMIT_AT'],
    ['the moment the transaction holding its effect commits', 'CRASH_AFTER_COMMIT_AT'],
  ])('neither skips nor double-applies an event when killed %s', async (_when, crashVariable) => {
    const category = uniqueCategory('crash');
    let last = 0n;
    for (let i = 0; i < 10; i += 1) {
      last = (await store.appendToStream(uniqueStream(category), testEvents(3), { expectedState: 'no_stream' })).position;
    }
    const base = { DATABASE_URL: process.env['DATABASE_URL'] as string, SCHEMA: schema, CATEGORY: category, STOP_AFTER_POSITION: last.toString() };
    const effects = async (): Promise<Array<{ event_id: string }>> =>
      (await pool.query<{ event_id: string }>(`SELECT event_id FROM ${schema}.effects WHERE event_id = ANY($1::uuid[])`, [ids])).rows;
    // The global log may trail a commit while another test's transaction is open (ADR 0002).
    let ids: string[] = [];
    await waitFor(async () => {
      ids = (await store.readAll({ fromPosition: 0n, maxCount: 100, filter: { categories: [category] } })).events.map((e) => e.id);
      return ids.length === 30;
    }, 20_000, 'the 30 appended events in the global log');

    const first = await runConsumer({ ...base, [crashVariable]: '7' });
    expect(first.signal).toBe('SIGKILL');
    expect((await effects()).length).toBe(crashVariable === 'CRASH_BEFORE_COMMIT_AT' ? 6 : 7);

    const second = await runConsumer({ ...base, [crashVariable]: '11' });
    expect(second.signal).toBe('SIGKILL');

    const third = await runConsumer(base);
    expect(third).toMatchObject({ code: 0, signal: null });
    const applied = (await effects()).map((row) => row.event_id);
    expect(applied).toHaveLength(30);
    expect(new Set(applied)).toEqual(new Set(ids));
  });
});
