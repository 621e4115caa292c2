import { TimeoutError, UnavailableError, isApplicationError } from '@ledger/errors';
import { liveVersion, walletTables, WALLETS_PROJECTION, type WalletReadModelTables } from '@ledger/read-models';
import type { Pool, PoolClient } from 'pg';
import { readModelNotReady } from './query.errors';

export interface WalletReadModelStoreOptions {
  readonly pool: Pool;
  /** Schema of the read models (READ_MODELS_SCHEMA). */
  readonly readModelsSchema: string;
  /** Schema of the event store (EVENT_STORE_SCHEMA): its head bounds every position a caller may name. */
  readonly eventStoreSchema: string;
  /** Bound on each statement (SET LOCAL statement_timeout). */
  readonly statementTimeoutMs: number;
}

/** One consistent view of the live read-model version, inside a REPEATABLE READ transaction. */
export interface ReadModelSnapshot {
  readonly client: PoolClient;
  readonly tables: WalletReadModelTables;
  /** Every event at or below this global position is reflected in `tables`, in this snapshot. */
  readonly watermark: bigint;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Access to the wallet read models (ADR 0007) for queries: the live version is resolved on every
 * call (a rebuild may switch it at any moment), and its watermark is the minimum over its
 * watermark rows. Read only: the projector owns every write.
 */
export class WalletReadModelStore {
  constructor(private readonly options: WalletReadModelStoreOptions) {
    if (!SCHEMA_NAME.test(options.eventStoreSchema)) throw new Error(`Invalid event store schema '${options.eventStoreSchema.slice(0, 80)}'`);
    if (!Number.isSafeInteger(options.statementTimeoutMs) || options.statementTimeoutMs < 1) throw new RangeError('statementTimeoutMs must be a positive integer');
  }

  /**
   * The live version's watermark right now (no transaction): what the read-your-writes wait polls.
   * @throws UnavailableError READ_MODEL_NOT_READY
   */
  async currentWatermark(): Promise<bigint> {
    return this.guard(async () => {
      const tables = await this.liveTables(this.options.pool);
      return this.watermarkOf(this.options.pool, tables);
    });
  }

  /** The newest global position in the event store (0 when empty): a position above it was never handed out. */
  async eventStoreHead(): Promise<bigint> {
    return this.guard(async () => {
      const { rows } = await this.options.pool.query<{ head: string | null }>(`SELECT max(position)::text AS head FROM ${this.options.eventStoreSchema}.events`);
      return BigInt(rows[0]?.head ?? '0');
    });
  }

  /**
   * Runs `read` in one REPEATABLE READ READ ONLY transaction: the live version, its watermark and
   * every row read come from the same snapshot, so a multi-wallet read never mixes two moments.
   *
   * @throws UnavailableError READ_MODEL_NOT_READY / READ_MODEL_UNAVAILABLE, TimeoutError READ_MODEL_QUERY_TIMEOUT
   */
  async inSnapshot<T>(read: (snapshot: ReadModelSnapshot) => Promise<T>): Promise<T> {
    return this.guard(async () => {
      const client = await this.options.pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        // SET LOCAL takes no bind parameters; the value is a validated integer.
        await client.query(`SET LOCAL statement_timeout = ${this.options.statementTimeoutMs}`);
        const tables = await this.liveTables(client);
        const watermark = await this.watermarkOf(client, tables);
        const result = await read({ client, tables, watermark });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        // A connection whose ROLLBACK failed is destroyed, never handed to the next request.
        client.release(broken);
      }
    });
  }

  private async liveTables(client: Pool | PoolClient): Promise<WalletReadModelTables> {
    const version = await liveVersion(client, this.options.readModelsSchema, WALLETS_PROJECTION);
    if (version === undefined) throw readModelNotReady('no projection has started (no live version)');
    return walletTables(this.options.readModelsSchema, version);
  }

  /** No watermark row yet: nothing applied, 0. */
  private async watermarkOf(client: Pool | PoolClient, tables: WalletReadModelTables): Promise<bigint> {
    const { rows } = await client.query<{ watermark: string | null }>(`SELECT min(position)::text AS watermark FROM ${tables.watermarks}`);
    return BigInt(rows[0]?.watermark ?? '0');
  }

  /** Driver failures become named errors; application errors pass through. */
  private async guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw translateDriverError(error);
    }
  }
}

/** SQLSTATE classes and node errors that mean "the database is not there right now". */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

export function translateDriverError(error: unknown): unknown {
  if (isApplicationError(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  if (code === '42P01' || code === '3F000') return readModelNotReady(`missing table or schema (${message.slice(0, 200)})`);
  if (code === '57014') return new TimeoutError('READ_MODEL_QUERY_TIMEOUT', 'The read-model query took too long; narrow it or retry', {}, { cause: error });
  const connectionLost =
    (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P'))) ||
    (typeof code === 'string' && CONNECTION_ERRNOS.has(code)) ||
    /Connection terminated|timeout exceeded when trying to connect/i.test(message);
  if (connectionLost) return new UnavailableError('READ_MODEL_UNAVAILABLE', `The read-model database is unavailable: ${message.slice(0, 200)}`, {}, { cause: error });
  return error;
}
