import { chmodSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { EmbeddedPostgresError, startEmbeddedPostgres, type RunningPostgres } from './embedded-postgres';
import { findFreePort, PortInUseError } from './local-ports';

function freshFolder(mode = 0o755): string {
  const folder = mkdtempSync(join(tmpdir(), 'embedded-pg-'));
  chmodSync(folder, mode);
  return folder;
}

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('startEmbeddedPostgres', () => {
  const running: RunningPostgres[] = [];
  afterAll(() => Promise.all(running.map((pg) => pg.stop())));

  it('initialises a cluster once, keeps its data across restarts, and refuses a second server on the same folder', async () => {
    const dataDir = join(freshFolder(), 'pg');
    const first = await startEmbeddedPostgres({ dataDir, port: 0, fsync: false });
    running.push(first);
    await query(first.url, 'CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
    const second = startEmbeddedPostgres({ dataDir, port: 0, fsync: false });
    await expect(second).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' });
    await first.stop();
    running.splice(0);

    const again = await startEmbeddedPostgres({ dataDir, port: 0, fsync: false });
    running.push(again);
    expect(await query(again.url, 'SELECT n FROM kept')).toEqual([{ n: 7 }]);
    expect(await query(again.url, 'SHOW fsync')).toEqual([{ fsync: 'off' }]);
  });

  it('checks the port before starting and names it when it is taken', async () => {
    const port = await findFreePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const error = await startEmbeddedPostgres({ dataDir: join(freshFolder(), 'pg'), port }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PortInUseError);
      expect((error as PortInUseError).port).toBe(port);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('explains a data folder the postgres user cannot reach instead of failing inside initdb', async () => {
    if (process.getuid?.() !== 0) return; // only root runs the server as another user
    const error = await startEmbeddedPostgres({ dataDir: join(freshFolder(0o700), 'pg'), port: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddedPostgresError);
    expect((error as EmbeddedPostgresError).code).toBe('DATA_DIR_NOT_ACCESSIBLE');
  });
});
