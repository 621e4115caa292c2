import { findFreePort } from '@ledger/infra';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { waitFor } from '@ledger/testing';
import { loadLedgerConfig } from './config/ledger.config';
import { startLedgerApp, type LedgerApp } from './ledger.app';
import { JsonLogger } from '@ledger/nest';
import { testJwtEnv } from './testing/ledger-test-env';

const MAIN = join(__dirname, 'main.ts');
const quietLogger = (): JsonLogger => new JsonLogger('ledger-test', 'error', () => undefined);

describe('ledger service: health', () => {
  let ledger: LedgerApp;

  beforeAll(async () => {
    const config = loadLedgerConfig({
      DATABASE_URL: process.env['DATABASE_URL'],
      ...testJwtEnv(),
      HTTP_PORT: '0',
      GRPC_PORT: '0',
      EVENT_STORE_SCHEMA: `es_${randomBytes(5).toString('hex')}`,
    });
    ledger = await startLedgerApp(config, quietLogger());
  });
  afterAll(() => ledger?.app.close());

  it('answers liveness and readiness once the event store is migrated', async () => {
    const live = await fetch(`${ledger.url}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${ledger.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { eventStore: { status: 'up' } } });
  });

  it('refuses to boot against a database that does not answer, with the cause', async () => {
    const port = await findFreePort();
    const config = loadLedgerConfig({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/ledger`, ...testJwtEnv(), HTTP_PORT: '0', GRPC_PORT: '0' });
    await expect(startLedgerApp(config, quietLogger())).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});

describe('ledger service: the README quick start (embedded PostgreSQL, real process)', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((child) => child.exitCode === null && child.kill('SIGKILL')));

  function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<{ code: number | null; signal: string | null }> } {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', MAIN], {
      env: { ...process.env, DATABASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    return { child, output: () => output, exited };
  }

  it('starts its own PostgreSQL, becomes ready, and stops both cleanly on SIGTERM', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'ledger-quickstart-')), 'pg');
    chmodSync(join(dataDir, '..'), 0o755);
    const httpPort = await findFreePort();
    const run = start({ HTTP_PORT: String(httpPort), GRPC_PORT: '0', EMBEDDED_PG_DATA_DIR: dataDir, EMBEDDED_PG_PORT: '0' });
    await waitFor(async () => {
      const response = await fetch(`http://127.0.0.1:${httpPort}/health/ready`).catch(() => undefined);
      return response?.status === 200;
    }, 60_000, `ledger ready on ${httpPort} (output: ${run.output().slice(-500)})`);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(true);
    const lines = run.output().split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => typeof JSON.parse(line).level === 'string')).toBe(true);

    run.child.kill('SIGTERM');
    const ended = await run.exited;
    expect(ended.code === 0 || ended.signal === 'SIGTERM').toBe(true);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false); // the embedded server stopped too
  });

  it('exits 1 listing every bad variable when the configuration is invalid', async () => {
    const run = start({ HTTP_PORT: 'eighty', DB_POOL_MAX: '0' });
    const ended = await run.exited;
    expect(ended.code).toBe(1);
    expect(run.output()).toMatch(/HTTP_PORT must be an integer/);
    expect(run.output()).toMatch(/DB_POOL_MAX must be from 1 to 500/);
  });
});
