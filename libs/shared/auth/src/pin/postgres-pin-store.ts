import { TimeoutError } from '@ledger/errors';
import type { Pool } from 'pg';
import { assertPinSchemaName } from './pin-schema';
import type { PinRecord, PinStore, PinUpdate } from './pin-store';

export interface PostgresPinStoreOptions {
  readonly pool: Pool;
  /** Where migratePinStore created `transaction_pins`. */
  readonly schema: string;
  /**
   * Longest wait for one owner's lock. Each holder runs one scrypt verification (~40 ms), so a
   * burst of parallel attempts for one owner queues; past this bound the caller gets PIN_STORE_BUSY.
   */
  readonly lockWaitTimeoutMs: number;
}

export const PIN_STORE_BUSY = 'PIN_STORE_BUSY';
const LOCK_NOT_AVAILABLE_SQLSTATE = '55P03';

interface PinRow {
  owner_id: string;
  pin_hash: Buffer;
  salt: Buffer;
  scrypt_n: number;
  scrypt_r: number;
  scrypt_p: number;
  key_length: number;
  consecutive_failures: number;
  locked_until: Date | null;
  updated_at: Date;
}

/**
 * PIN records in PostgreSQL. `update` runs in one transaction: a transaction-scoped advisory
 * lock on the owner (it also covers an owner with no row yet, so two first sets cannot race),
 * then `SELECT … FOR UPDATE` of the row, the caller's decision (including the scrypt
 * comparison) and the upsert, then COMMIT. Failure counting is therefore exact under any
 * number of parallel attempts.
 */
export class PostgresPinStore implements PinStore {
  private readonly pool: Pool;
  private readonly table: string;
  private readonly schema: string;
  private readonly lockWaitTimeoutMs: number;

  constructor(options: PostgresPinStoreOptions) {
    assertPinSchemaName(options.schema);
    if (!Number.isInteger(options.lockWaitTimeoutMs) || options.lockWaitTimeoutMs < 1) {
      throw new Error('lockWaitTimeoutMs must be a positive integer');
    }
    this.pool = options.pool;
    this.schema = options.schema;
    this.table = `${options.schema}.transaction_pins`;
    this.lockWaitTimeoutMs = options.lockWaitTimeoutMs;
  }

  async update<T>(ownerId: string, decide: (current: PinRecord | undefined) => Promise<PinUpdate<T>>): Promise<T> {
    const client = await this.pool.connect();
    let released = false;
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${this.lockWaitTimeoutMs}ms`]);
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`pin:${this.schema}:${ownerId}`]);
      const { rows } = await client.query<PinRow>(`SELECT * FROM ${this.table} WHERE owner_id = $1 FOR UPDATE`, [ownerId]);
      const row = rows[0];
      const { write, result } = await decide(row === undefined ? undefined : fromRow(row));
      if (write !== undefined) {
        await client.query(
          `INSERT INTO ${this.table} (owner_id, pin_hash, salt, scrypt_n, scrypt_r, scrypt_p, key_length,
                                      consecutive_failures, locked_until, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (owner_id) DO UPDATE SET
             pin_hash = EXCLUDED.pin_hash, salt = EXCLUDED.salt, scrypt_n = EXCLUDED.scrypt_n,
             scrypt_r = EXCLUDED.scrypt_r, scrypt_p = EXCLUDED.scrypt_p, key_length = EXCLUDED.key_length,
             consecutive_failures = EXCLUDED.consecutive_failures, locked_until = EXCLUDED.locked_until,
             updated_at = EXCLUDED.updated_at`,
          [
            ownerId,
            write.hash,
            write.salt,
            write.params.cost,
            write.params.blockSize,
            write.params.parallelization,
            write.params.keyLengthBytes,
            write.consecutiveFailures,
            write.lockedUntil,
            write.updatedAt,
          ],
        );
      }
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A failed ROLLBACK means the connection is unusable: drop it instead of returning it.
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        client.release(rollbackError instanceof Error ? rollbackError : true);
        released = true;
      });
      if ((error as { code?: unknown }).code === LOCK_NOT_AVAILABLE_SQLSTATE) {
        throw new TimeoutError(PIN_STORE_BUSY, 'Too many PIN checks at once for this owner: retry shortly', {
          lockWaitTimeoutMs: this.lockWaitTimeoutMs,
        });
      }
      throw withoutRowData(error);
    } finally {
      if (!released) client.release();
    }
  }
}

/**
 * PostgreSQL errors can carry the failing row in `detail` ("Failing row contains (…)"), which
 * here would include the hash and salt. Driver errors leave this store with code and message only.
 */
function withoutRowData(error: unknown): unknown {
  if (typeof error !== 'object' || error === null || !('severity' in error)) return error;
  const { message, code } = error as { message?: unknown; code?: unknown };
  const sanitized = new Error(`PIN store query failed: ${String(message)}`);
  return Object.assign(sanitized, { name: 'PinStoreError', code });
}

function fromRow(row: PinRow): PinRecord {
  return {
    ownerId: row.owner_id,
    hash: row.pin_hash,
    salt: row.salt,
    params: { cost: row.scrypt_n, blockSize: row.scrypt_r, parallelization: row.scrypt_p, keyLengthBytes: row.key_length },
    consecutiveFailures: row.consecutive_failures,
    lockedUntil: row.locked_until,
    updatedAt: row.updated_at,
  };
}
