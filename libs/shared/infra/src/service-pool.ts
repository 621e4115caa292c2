import { Pool } from 'pg';

export interface ServicePoolOptions {
  readonly url: string;
  /** Connections at most. */
  readonly max: number;
  /** Shown in pg_stat_activity. */
  readonly applicationName: string;
  /** An idle client failed (e.g. the server ended it) while the pool is not being closed. */
  readonly onIdleError: (error: Error) => void;
}

export interface ServicePool {
  readonly pool: Pool;
  /** From now on idle-client errors are expected (shutdown began), not reported. */
  shuttingDown(): void;
  /** Ends every connection (shuttingDown first). Idempotent. */
  close(): Promise<void>;
}

/**
 * The PostgreSQL pool of a long-running service, with the bounds every service uses: connects
 * within 5 s, drops idle connections after 30 s, and lets the server end a session left idle in a
 * transaction for 10 s (a writer stuck inside a transaction would hold every subscriber's read
 * horizon back, ADR 0002).
 */
export function openServicePool(options: ServicePoolOptions): ServicePool {
  const pool = new Pool({
    connectionString: options.url,
    max: options.max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    idle_in_transaction_session_timeout: 10_000,
    application_name: options.applicationName,
  });
  let closing = false;
  pool.on('error', (error) => {
    if (!closing) options.onIdleError(error);
  });
  let closed: Promise<void> | undefined;
  return {
    pool,
    shuttingDown: () => {
      closing = true;
    },
    close: () => {
      closing = true;
      closed ??= pool.end();
      return closed;
    },
  };
}
