import type { RecordedEvent } from '@ledger/event-store';
import { PostgresEventStore } from '@ledger/event-store-postgres';
import { testEvents, uniqueCategory, uniqueStream, waitFor } from '@ledger/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { eventsBehindWatermarks, eventsOf, freshSchema, lockHolder, readTopic, relayTestEnv, requiredEnv, revisionGaps, testKafka } from './testing/relay-test-kit';

const MAIN = join(__dirname, 'main.ts');
const ROOT = join(__dirname, '..', '..', '..');
/** Booting a relay process (swc compiles on the fly) on a loaded two-core machine. */
const BOOT_TIMEOUT_MS = 90_000;
const DELIVERY_TIMEOUT_MS = 60_000;

interface RelayProcess {
  readonly child: ChildProcess;
  output(): string;
}

function spawnRelay(env: Record<string, string>): RelayProcess {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', MAIN], {
    cwd: ROOT,
    env: { ...process.env, ...env, SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  return { child, output: () => output };
}

describe('relay failover: kill -9 of the active relay process under load', () => {
  let pool: Pool;
  let kafka: Kafka;
  let admin: Admin;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    pool = new Pool({ connectionString: requiredEnv('DATABASE_URL'), max: 6 });
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await admin.disconnect();
    await pool.end();
  });

  it('a standby takes over and every event reaches the topic (duplicates allowed, never a gap)', async () => {
    const schema = await freshSchema(pool);
    const category = uniqueCategory('wallet');
    const topic = `ledger.${category}.v1`;
    const env = relayTestEnv(schema, category, { LOG_LEVEL: 'log', RELAY_BATCH_SIZE: '20' });
    const store = new PostgresEventStore({ pool, schema });
    const holderIs = async (child: ChildProcess): Promise<boolean> => (await lockHolder(pool, schema))?.applicationName.endsWith(`:${child.pid}`) === true;

    const a = spawnRelay(env);
    children.push(a.child);
    await waitFor(() => holderIs(a.child), BOOT_TIMEOUT_MS, `relay A to lead (output: ${a.output().slice(-1_000)})`);
    const b = spawnRelay(env);
    children.push(b.child);
    await waitFor(() => /standby: another relay holds the lock/.test(b.output()), BOOT_TIMEOUT_MS, `relay B in standby (output: ${b.output().slice(-1_000)})`);

    await waitFor(async () => (await admin.listTopics()).includes(topic), DELIVERY_TIMEOUT_MS, `topic ${topic}`);
    const reader = await readTopic(kafka, topic);
    try {
      // Load: 12 writers append to their own streams until told to stop.
      const streams = Array.from({ length: 12 }, () => uniqueStream(category));
      let appending = true;
      let appended = 0;
      const writers = streams.map(async (stream) => {
        let revision = -1n;
        while (appending) {
          const result = await store.appendToStream(stream, testEvents(2), { expectedState: revision < 0n ? 'no_stream' : revision });
          revision = result.streams[0]!.nextExpectedRevision;
          appended += 2;
        }
      });
      try {
        await waitFor(() => eventsOf(reader.messages).length >= 60, DELIVERY_TIMEOUT_MS, 'A publishing under load');
        a.child.kill('SIGKILL');
        const killedAt = appended;
        await waitFor(() => holderIs(b.child), DELIVERY_TIMEOUT_MS, `relay B to take over (output: ${b.output().slice(-1_000)})`);
        await waitFor(() => appended >= killedAt + 60, DELIVERY_TIMEOUT_MS, 'more appends after the takeover');
      } finally {
        appending = false;
        await Promise.all(writers);
      }

      // readAll returns only events below the read horizon: another suite's open transaction on
      // the shared server can hold committed appends back for a moment (ADR 0002), so wait for them.
      let log: RecordedEvent[] = [];
      await waitFor(
        async () => {
          log = [...(await store.readAll({ fromPosition: 0n, maxCount: 4_096, filter: { categories: [category] } })).events];
          return log.length >= appended;
        },
        DELIVERY_TIMEOUT_MS,
        `all ${appended} appended events below the read horizon`,
      );
      expect(log).toHaveLength(appended);
      const expected = new Set(log.map((e) => `${e.streamId}@${e.revision}`));
      const received = (): string[] => eventsOf(reader.messages).map((m) => `${m.decoded.event.streamId}@${m.decoded.event.revision}`);
      await waitFor(() => new Set(received()).size === expected.size, DELIVERY_TIMEOUT_MS, `all ${expected.size} events on the topic`);
      expect(new Set(received())).toEqual(expected);
      const duplicates = received().length - expected.size;
      process.stdout.write(`relay failover: ${expected.size} events, ${duplicates} duplicate(s) after kill -9 and takeover\n`);
      expect(duplicates).toBeGreaterThanOrEqual(0);
      // Every copy is the event as logged, keyed by its stream, and a projection applying by revision never meets a gap.
      const byKey = new Map(log.map((e) => [`${e.streamId}@${e.revision}`, e]));
      for (const m of eventsOf(reader.messages)) {
        expect(m.key).toBe(m.decoded.event.streamId);
        expect(m.decoded.event).toEqual(byKey.get(`${m.decoded.event.streamId}@${m.decoded.event.revision}`));
      }
      expect(revisionGaps(reader.messages)).toEqual([]);
      expect(eventsBehindWatermarks(reader.messages)).toEqual([]);

      // B shuts down cleanly on SIGTERM and frees the lock.
      const exited = new Promise<number | null>((resolve) => b.child.once('exit', (code) => resolve(code)));
      b.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await lockHolder(pool, schema)).toBeUndefined();
    } finally {
      await reader.stop();
    }
  }, 240_000);
});
