import { TimeoutError } from '@ledger/errors';
import { Pool } from 'pg';
import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { caught } from '../auth-spec-kit';
import { PIN_SCRYPT_PARAMS, ScryptPinHasher } from './pin-hasher';
import { migratePinStore } from './pin-schema';
import { PinService } from './pin.service';
import { PostgresPinStore } from './postgres-pin-store';

function databaseUrl(): string {
  const url = process.env['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is not set: run through jest so the integration global setup starts PostgreSQL');
  return url;
}

const POLICY = { maxAttempts: 5, lockSeconds: 900 };
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

interface StoredRow {
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

const schema = `auth_${randomBytes(5).toString('hex')}`;
let pool: Pool;
let store: PostgresPinStore;
let pins: PinService;

async function row(ownerId: string): Promise<StoredRow> {
  const { rows } = await pool.query<StoredRow>(`SELECT * FROM ${schema}.transaction_pins WHERE owner_id = $1`, [ownerId]);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

async function codeOf(action: () => Promise<unknown>): Promise<string> {
  return (await caught(action)).code;
}

beforeAll(async () => {
  pool = new Pool({ connectionString: databaseUrl(), max: 20 });
  expect(await migratePinStore(pool, schema)).toEqual([1]);
  store = new PostgresPinStore({ pool, schema, lockWaitTimeoutMs: 30_000 });
  // The production parameters: these tests also show the real cost is affordable.
  pins = new PinService(store, POLICY, new ScryptPinHasher(PIN_SCRYPT_PARAMS));
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
});

describe('migratePinStore', () => {
  it('is idempotent, also when instances boot together', async () => {
    expect(await Promise.all([migratePinStore(pool, schema), migratePinStore(pool, schema)])).toEqual([[], []]);
  });

  it('refuses unsafe schema names', async () => {
    await expect(migratePinStore(pool, 'x; DROP TABLE y')).rejects.toThrow(/Invalid PostgreSQL schema name/);
  });
});

describe('PostgresPinStore with PinService', () => {
  it('stores only a salted scrypt hash: no PIN digits, a new salt on every set', async () => {
    const owner = `owner-${randomUUID()}`;
    const other = `owner-${randomUUID()}`;
    await pins.setPin(owner, '7391', T0);
    await pins.setPin(other, '7391', T0);
    const first = await row(owner);
    const second = await row(other);
    expect(first).toMatchObject({ scrypt_n: 16_384, scrypt_r: 8, scrypt_p: 1, key_length: 32, consecutive_failures: 0, locked_until: null });
    expect(first.updated_at).toEqual(T0);
    expect(first.pin_hash).toHaveLength(32);
    expect(first.pin_hash.equals(Buffer.from('7391'))).toBe(false);
    expect(first.pin_hash.includes(Buffer.from('7391'))).toBe(false);
    expect(first.salt).toHaveLength(16);
    expect(first.salt.equals(second.salt)).toBe(false);
    expect(first.pin_hash.equals(second.pin_hash)).toBe(false);
    // It is the scrypt of the PIN with that salt and those parameters, nothing reversible.
    const recomputed = scryptSync('7391', first.salt, first.key_length, { N: first.scrypt_n, r: first.scrypt_r, p: first.scrypt_p, maxmem: 64 * 1024 * 1024 });
    expect(first.pin_hash.equals(recomputed)).toBe(true);

    await pins.setPin(owner, '7391', at(1), '7391');
    const changed = await row(owner);
    expect(changed.salt.equals(first.salt)).toBe(false);
    expect(changed.pin_hash.equals(first.pin_hash)).toBe(false);
    // No text column holds the PIN either.
    const { rows } = await pool.query(`SELECT owner_id, updated_at::text, locked_until::text FROM ${schema}.transaction_pins WHERE owner_id = $1`, [owner]);
    expect(JSON.stringify(rows)).not.toContain('7391');
  });

  it('PIN_NOT_SET before the first set', async () => {
    expect(await codeOf(() => pins.verifyPin(`owner-${randomUUID()}`, '1234', T0))).toBe('PIN_NOT_SET');
  });

  it('locks after exactly 5 consecutive failures and unlocks when the injected time passes the lock', async () => {
    const owner = `owner-${randomUUID()}`;
    await pins.setPin(owner, '2468', T0);
    for (const remaining of [4, 3, 2, 1]) {
      expect(await caught(() => pins.verifyPin(owner, '0000', at(1)))).toMatchObject({ code: 'PIN_INVALID', details: { attemptsRemaining: remaining } });
    }
    expect(await caught(() => pins.verifyPin(owner, '0000', at(2)))).toMatchObject({ code: 'PIN_LOCKED', details: { lockedUntil: at(902).toISOString() } });
    expect(await row(owner)).toMatchObject({ consecutive_failures: 5, locked_until: at(902) });
    expect(await codeOf(() => pins.verifyPin(owner, '2468', at(901)))).toBe('PIN_LOCKED');
    await expect(pins.verifyPin(owner, '2468', at(902))).resolves.toBeUndefined();
    expect(await row(owner)).toMatchObject({ consecutive_failures: 0, locked_until: null });
  });

  it('a success resets the count', async () => {
    const owner = `owner-${randomUUID()}`;
    await pins.setPin(owner, '1357', T0);
    for (let i = 0; i < 4; i += 1) await codeOf(() => pins.verifyPin(owner, '0000', T0));
    expect((await row(owner)).consecutive_failures).toBe(4);
    await pins.verifyPin(owner, '1357', T0);
    expect((await row(owner)).consecutive_failures).toBe(0);
  });

  it('counts every one of N parallel wrong guesses: locked with exactly the right count', async () => {
    const owner = `owner-${randomUUID()}`;
    await pins.setPin(owner, '5555', T0);
    const codes = await Promise.all(Array.from({ length: 12 }, () => codeOf(() => pins.verifyPin(owner, '0000', at(1)))));
    expect(codes.filter((code) => code === 'PIN_INVALID')).toHaveLength(4);
    expect(codes.filter((code) => code === 'PIN_LOCKED')).toHaveLength(8);
    expect(await row(owner)).toMatchObject({ consecutive_failures: 5, locked_until: at(901) });
  });

  it('N parallel wrong guesses below the limit: the count equals N and each remaining-count is seen once', async () => {
    const owner = `owner-${randomUUID()}`;
    await pins.setPin(owner, '5555', T0);
    const errors = await Promise.all(Array.from({ length: 4 }, () => caught(() => pins.verifyPin(owner, '0000', T0))));
    expect(errors.map((error) => error.details['attemptsRemaining']).sort()).toEqual([1, 2, 3, 4]);
    expect(await row(owner)).toMatchObject({ consecutive_failures: 4, locked_until: null });
  });

  it('two parallel first sets: exactly one wins', async () => {
    const owner = `owner-${randomUUID()}`;
    const results = await Promise.allSettled([pins.setPin(owner, '1111', T0), pins.setPin(owner, '2222', T0)]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((result): result is PromiseRejectedResult => result.status === 'rejected')?.reason).toMatchObject({
      code: 'PIN_CURRENT_REQUIRED',
    });
  });

  it('gives up with PIN_STORE_BUSY when the owner stays locked longer than the bound', async () => {
    const owner = `owner-${randomUUID()}`;
    await pins.setPin(owner, '1234', T0);
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`pin:${schema}:${owner}`]);
      const impatient = new PinService(new PostgresPinStore({ pool, schema, lockWaitTimeoutMs: 200 }), POLICY);
      const error = await caught(() => impatient.verifyPin(owner, '0000', T0));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error.code).toBe('PIN_STORE_BUSY');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    // The refused attempt was not counted.
    expect((await row(owner)).consecutive_failures).toBe(0);
  });

  it('keeps row data out of driver errors', async () => {
    const owner = `owner-${randomUUID()}`;
    const hash = Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9', 'hex');
    let thrown: unknown;
    try {
      await store.update(owner, async () => ({
        write: {
          ownerId: owner,
          hash,
          salt: Buffer.alloc(4), // violates the salt length check
          params: PIN_SCRYPT_PARAMS,
          consecutiveFailures: 0,
          lockedUntil: null,
          updatedAt: T0,
        },
        result: undefined,
      }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).toMatchObject({ name: 'PinStoreError', code: '23514' });
    expect(JSON.stringify(thrown)).not.toContain('a1b2c3');
    expect(String((thrown as Error).message)).not.toContain('a1b2c3');
    expect((thrown as { detail?: unknown }).detail).toBeUndefined();
  });
});
