import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Client } from 'pg';

/** The lock connection is gone, or this session no longer holds the lock: stop leading at once. */
export class LeadershipLostError extends Error {
  readonly code = 'LEADERSHIP_LOST' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LeadershipLostError';
  }
}

export interface LeaderLockOptions {
  readonly databaseUrl: string;
  /** Event-store schema: holds the checkpoints table, and scopes the lock. */
  readonly schema: string;
  /** Checkpoint row id; scopes the lock too, so relays of different stores never exclude each other. */
  readonly consumerId: string;
  /** Bound on each statement on this connection (pg query_timeout). */
  readonly statementTimeoutMs: number;
  /** Shown in pg_stat_activity, so an operator (or a test) can find the leader's session. */
  readonly applicationName?: string;
}

/**
 * The 64-bit advisory-lock key of one relay deployment: SHA-256 of schema and consumer id, first
 * 8 bytes as a signed bigint (what pg_try_advisory_lock(bigint) takes).
 */
export function relayLockKey(schema: string, consumerId: string): bigint {
  return createHash('sha256').update(`ledger-relay\u0000${schema}\u0000${consumerId}`).digest().readBigInt64BE(0);
}

/**
 * Leadership and the checkpoint on ONE dedicated PostgreSQL session (ADR 0007).
 *
 * - `pg_try_advisory_lock` is a session lock: it lives exactly as long as this connection. A
 *   killed relay's connection closes and the lock is free for a standby.
 * - The checkpoint is read and written through this same connection, and the write only
 *   happens if pg_locks says this very session still holds the lock (checked in the statement).
 *   A relay whose connection was lost cannot write at all (this client is never reconnected); one
 *   whose lock was released by other means writes nothing and learns it lost leadership.
 * - Any failure on this connection (error, end, statement timeout) counts as lost leadership:
 *   `lost` aborts, and the relay must stop publishing at once and go back to standby with a new
 *   LeaderLock. TCP keepalives on both sides bound how long a silently dead peer keeps the lock.
 */
export class LeaderLock {
  private readonly lostController = new AbortController();
  private readonly key: bigint;
  private held = false;
  private closing = false;

  private constructor(
    private readonly client: Client,
    private readonly options: LeaderLockOptions,
  ) {
    this.key = relayLockKey(options.schema, options.consumerId);
    client.on('error', (error) => this.markLost(`lock connection failed: ${error.message}`));
    client.on('end', () => this.markLost('lock connection ended'));
  }

  /** Opens the dedicated session. */
  static async connect(options: LeaderLockOptions): Promise<LeaderLock> {
    const client = new Client({
      connectionString: options.databaseUrl,
      application_name: options.applicationName ?? `ledger-relay:${hostname()}:${process.pid}`,
      query_timeout: options.statementTimeoutMs,
      connectionTimeoutMillis: options.statementTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // The server notices a vanished relay within about 25 s and frees its lock.
      options: '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3',
    });
    const lock = new LeaderLock(client, options);
    try {
      await client.connect();
    } catch (error) {
      lock.closing = true;
      await client.end().catch(() => undefined);
      throw error;
    }
    return lock;
  }

  /** Aborts when leadership is lost: the connection failed or ended, or a checkpoint write found the lock gone. */
  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  get isLeader(): boolean {
    return this.held && !this.lost.aborted;
  }

  /** The backend pid of this session (for operators and tests: pg_terminate_backend). */
  async backendPid(): Promise<number> {
    const { rows } = await this.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', []);
    return (rows[0] as { pid: number }).pid;
  }

  /** One non-blocking attempt; true when this session now holds the lock. */
  async tryAcquire(): Promise<boolean> {
    if (this.held) return !this.lost.aborted;
    const { rows } = await this.query<{ acquired: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS acquired', [this.key.toString()]);
    this.held = rows[0]?.acquired === true;
    return this.held;
  }

  /** The stored checkpoint (0n when none), read on the lock's connection. */
  async loadCheckpoint(): Promise<bigint> {
    const { rows } = await this.query<{ position: string }>(
      `SELECT position::text FROM ${this.options.schema}.checkpoints WHERE consumer_id = $1`,
      [this.options.consumerId],
    );
    return rows[0] ? BigInt(rows[0].position) : 0n;
  }

  /**
   * Moves the checkpoint up (never back, like PostgresCheckpointStore) if and only if this
   * session holds the lock, in one statement.
   * @throws LeadershipLostError when the lock is not held or the connection is gone.
   */
  async storeCheckpoint(position: bigint): Promise<void> {
    if (!this.isLeader) throw new LeadershipLostError(`Not the leader: checkpoint ${position} not stored`);
    const classId = BigInt.asUintN(64, this.key) >> 32n;
    const objId = BigInt.asUintN(32, this.key);
    const { rows } = await this.query<{ held: boolean }>(
      `WITH lock AS (
         SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
                          AND classid = $3::bigint::oid AND objid = $4::bigint::oid AND objsubid = 1) AS held
       ), upsert AS (
         INSERT INTO ${this.options.schema}.checkpoints AS c (consumer_id, position)
         SELECT $1, $2::bigint FROM lock WHERE lock.held
         ON CONFLICT (consumer_id) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
          WHERE c.position < EXCLUDED.position
         RETURNING 1
       )
       SELECT held FROM lock`,
      [this.options.consumerId, position.toString(), classId.toString(), objId.toString()],
    );
    if (rows[0]?.held !== true) {
      this.markLost('the advisory lock is no longer held by this session');
      throw new LeadershipLostError(`This session no longer holds the relay lock: checkpoint ${position} not stored`);
    }
  }

  /** Releases the lock (if held and the connection still works) and closes the session. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.held && !this.lost.aborted) {
      await this.client.query('SELECT pg_advisory_unlock($1::bigint)', [this.key.toString()]).catch(() => undefined);
    }
    this.held = false;
    await this.client.end().catch(() => undefined);
  }

  private async query<Row extends object>(text: string, values: unknown[]): Promise<{ rows: Row[] }> {
    if (this.lost.aborted) throw new LeadershipLostError(`Lock connection unusable: ${String(this.lost.reason)}`);
    try {
      return await this.client.query<Row>(text, values);
    } catch (error) {
      // A failed statement on the lock session (timeout included) leaves its state unknown: give it up.
      this.markLost(`statement on the lock connection failed: ${(error as Error).message}`);
      throw new LeadershipLostError(`Lock connection failed: ${(error as Error).message}`, { cause: error });
    }
  }

  private markLost(reason: string): void {
    if (this.closing || this.lost.aborted) return;
    this.lostController.abort(reason);
    // A session we no longer trust is closed, so the server frees whatever it still holds.
    this.client.end().catch(() => undefined);
  }
}
