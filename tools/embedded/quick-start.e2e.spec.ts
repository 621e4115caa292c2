import { findFreePort } from '@ledger/infra';
import { issueDevToken, loadAuthConfig } from '@ledger/auth';
import { waitFor } from '@ledger/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The README quick start, for real: `npm start` (tools/embedded/main.ts) in its own process with
 * its own embedded PostgreSQL, the ledger and the payouts service both ready, a dev token
 * accepted by both, and SIGTERM stopping everything, the database server included.
 */
const MAIN = join(__dirname, 'main.ts');

describe('npm start (embedded platform, real process)', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((child) => child.exitCode === null && child.kill('SIGKILL')));

  it('starts the ledger and the payouts service on one embedded PostgreSQL and stops both on SIGTERM', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'platform-quickstart-')), 'pg');
    chmodSync(join(dataDir, '..'), 0o755);
    const [httpPort, payoutsPort] = [await findFreePort(), await findFreePort()];
    // No KAFKA_BROKERS and no DATABASE_URL: the embedded defaults, as on a newcomer's machine.
    const env: Record<string, string> = { ...(process.env as Record<string, string>), DATABASE_URL: '', KAFKA_BROKERS: '' };
    Object.assign(env, { HTTP_PORT: String(httpPort), GRPC_PORT: '0', PAYOUTS_HTTP_PORT: String(payoutsPort), PAYOUTS_GRPC_PORT: '0', EMBEDDED_PG_DATA_DIR: dataDir, EMBEDDED_PG_PORT: '0' });
    const child = spawn(process.execPath, ['-r', '@swc-node/register', MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

    for (const port of [httpPort, payoutsPort]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200, 90_000, `ready on ${port} (output: ${output.slice(-500)})`);
    }
    // The published development token works on both services (embedded mode only).
    const token = issueDevToken({ subject: 'alice', kind: 'user', scopes: [], ttlSeconds: 60 }, loadAuthConfig({}, { allowDevSecret: true }).jwt);
    const missing = '00000000-0000-4000-8000-000000000000';
    const batch = await fetch(`http://127.0.0.1:${payoutsPort}/v1/payouts/batches/${missing}`, { headers: { authorization: `Bearer ${token}` } });
    expect(batch.status).toBe(404);
    expect(((await batch.json()) as { code: string }).code).toBe('BATCH_NOT_FOUND');

    child.kill('SIGTERM');
    const ended = await exited;
    expect(ended.code === 0 || ended.signal === 'SIGTERM').toBe(true);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
  });
});
