import type { WalletEventType } from '@ledger/ledger-domain';
import { createWalletTables, migrateReadModels, WALLETS_PROJECTION, type WalletReadModelTables } from '@ledger/read-models';
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

/** Fixture events are recorded at FIXTURE_EPOCH + position seconds unless told otherwise. */
export const FIXTURE_EPOCH_MS = Date.parse('2026-01-01T00:00:00.000Z');

export function fixtureTime(position: bigint | number): Date {
  return new Date(FIXTURE_EPOCH_MS + Number(position) * 1_000);
}

export interface FixtureEvent {
  readonly type: WalletEventType;
  readonly position: bigint | number;
  /** Signed effect on the balance, minor units (default 0). */
  readonly amountMinor?: bigint;
  /** Change of the held amount, minor units (default 0). */
  readonly heldDeltaMinor?: bigint;
  readonly recordedAt?: Date;
  readonly counterparty?: string;
  readonly transactionId?: string;
  readonly holdId?: string;
  readonly reference?: string;
  readonly status?: 'open' | 'frozen' | 'closed';
}

interface WalletFixtureState {
  ownerId: string;
  currency: string;
  status: string;
  revision: number;
  balanceMinor: bigint;
  heldMinor: bigint;
}

/**
 * Writes read-model rows the way ADR 0007 describes the projector's output (one history row per
 * event, the balances row updated with it, the directory row on open, watermarks per source),
 * so the queries can be tested before the projector exists. Each apply is one transaction, like
 * the projector's "effect and watermark commit together" (the watermark is a separate call so
 * tests can hold it back).
 */
export class WalletReadModelFixture {
  private readonly wallets = new Map<string, WalletFixtureState>();

  private constructor(
    private readonly pool: Pool,
    readonly schema: string,
    readonly tables: WalletReadModelTables,
  ) {}

  /** Migrates the schema and creates one version's tables; `live` also makes that version live. */
  static async create(pool: Pool, schema: string, options: { version?: number; live?: boolean } = {}): Promise<WalletReadModelFixture> {
    const version = options.version ?? 1;
    await migrateReadModels(pool, schema);
    const tables = await createWalletTables(pool, schema, version);
    const fixture = new WalletReadModelFixture(pool, schema, tables);
    if (options.live ?? true) await fixture.makeLive(version);
    return fixture;
  }

  async makeLive(version: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.schema}.projection_state (projection, live_version) VALUES ($1, $2)
       ON CONFLICT (projection) DO UPDATE SET live_version = EXCLUDED.live_version, updated_at = now()`,
      [WALLETS_PROJECTION, version],
    );
  }

  async open(walletId: string, ownerId: string, options: { position: bigint | number; currency?: string; recordedAt?: Date }): Promise<void> {
    const currency = options.currency ?? 'USD';
    const at = options.recordedAt ?? fixtureTime(options.position);
    this.wallets.set(walletId, { ownerId, currency, status: 'open', revision: -1, balanceMinor: 0n, heldMinor: 0n });
    await this.pool.query(`INSERT INTO ${this.tables.directory} (wallet_id, owner_id, currency, status, opened_at) VALUES ($1, $2, $3, 'open', $4)`, [walletId, ownerId, currency, at]);
    await this.apply(walletId, { type: 'WalletOpened', position: options.position, recordedAt: at });
  }

  /** Appends the wallet's next history row and updates its balances row, in one transaction. */
  async apply(walletId: string, event: FixtureEvent, client?: PoolClient): Promise<void> {
    const state = this.wallets.get(walletId);
    if (!state) throw new Error(`fixture: open ${walletId} first`);
    const revision = state.revision + 1;
    const balance = state.balanceMinor + (event.amountMinor ?? 0n);
    const held = state.heldMinor + (event.heldDeltaMinor ?? 0n);
    const status = event.status ?? state.status;
    const at = event.recordedAt ?? fixtureTime(event.position);
    const db = client ?? (await this.pool.connect());
    try {
      await db.query('BEGIN');
      await db.query(
        `INSERT INTO ${this.tables.history} (wallet_id, stream_revision, event_id, global_position, recorded_at, type, amount_minor, balance_after, held_after,
           currency, counterparty, transaction_id, hold_id, reference, idempotency_key, correlation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, NULL, $15)`,
        [
          walletId, revision, randomUUID(), event.position.toString(), at, event.type, (event.amountMinor ?? 0n).toString(), balance.toString(), held.toString(),
          state.currency, event.counterparty ?? null, event.transactionId ?? null, event.holdId ?? null, event.reference ?? null, `corr-${revision}`,
        ],
      );
      await db.query(
        `INSERT INTO ${this.tables.balances} (wallet_id, owner_id, currency, status, balance_minor, held_minor, stream_revision, global_position, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (wallet_id) DO UPDATE SET status = EXCLUDED.status, balance_minor = EXCLUDED.balance_minor, held_minor = EXCLUDED.held_minor,
           stream_revision = EXCLUDED.stream_revision, global_position = EXCLUDED.global_position, updated_at = EXCLUDED.updated_at`,
        [walletId, state.ownerId, state.currency, status, balance.toString(), held.toString(), revision, event.position.toString(), at],
      );
      if (status !== state.status) await db.query(`UPDATE ${this.tables.directory} SET status = $2 WHERE wallet_id = $1`, [walletId, status]);
      await db.query('COMMIT');
      Object.assign(state, { revision, balanceMinor: balance, heldMinor: held, status });
    } catch (error) {
      await db.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      if (!client) (db as PoolClient).release();
    }
  }

  /** Sets one source's watermark (the projection's is the minimum over sources). */
  async setWatermark(position: bigint | number, source = 'store', client?: Pool | PoolClient): Promise<void> {
    await (client ?? this.pool).query(
      `INSERT INTO ${this.tables.watermarks} (source, position) VALUES ($1, $2)
       ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, updated_at = now()`,
      [source, position.toString()],
    );
  }

  async drop(): Promise<void> {
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }
}
