import type { Principal } from '@ledger/auth';
import { isApplicationError } from '@ledger/errors';
import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { fixtureTime, WalletReadModelFixture } from './testing/wallet-read-model.fixture';
import { createWalletReadModelQueries } from './wallet-queries.wiring';
import type { WalletReadModelQueriesService } from './wallet-read-model-queries.service';

/**
 * The query service against a real PostgreSQL: read-model rows written by the fixture (the
 * projector is not part of this suite), the event store's head by a one-column stand-in of
 * `<schema>.events` (the only thing the queries read from the store).
 */

function databaseUrl(): string {
  const url = process.env['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is not set: run through jest so the integration global setup starts PostgreSQL');
  return url;
}

const user = (subject: string): Principal => ({ subject, kind: 'user', scopes: [] });
const auditor: Principal = { subject: 'auditor', kind: 'user', scopes: ['ledger:audit'] };
const bareService: Principal = { subject: 'reports', kind: 'service', scopes: [] };

/** The error code a promise rejects with ('OK' when it resolves). */
async function codeOf(pending: Promise<unknown>): Promise<string> {
  try {
    await pending;
    return 'OK';
  } catch (error) {
    if (isApplicationError(error)) return error.code;
    throw error;
  }
}

async function errorOf(pending: Promise<unknown>): Promise<{ code: string; kind: string; details: Record<string, unknown> }> {
  try {
    await pending;
  } catch (error) {
    if (isApplicationError(error)) return { code: error.code, kind: error.kind, details: { ...error.details } };
    throw error;
  }
  throw new Error('expected a rejection');
}

let pool: Pool;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(() => {
  pool = new Pool({ connectionString: databaseUrl(), max: 8, connectionTimeoutMillis: 10_000 });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await pool?.end();
});

/** A fresh read-model schema, a fresh stand-in event store with `head` as its newest position, and the service. */
async function setUp(options: { head?: bigint; maxWaitMs?: number; live?: boolean } = {}) {
  const suffix = randomBytes(5).toString('hex');
  const schema = `rm_q_${suffix}`;
  const eventStoreSchema = `es_q_${suffix}`;
  await pool.query(`CREATE SCHEMA ${eventStoreSchema}; CREATE TABLE ${eventStoreSchema}.events (position bigint PRIMARY KEY)`);
  const setHead = (position: bigint): Promise<unknown> => pool.query(`INSERT INTO ${eventStoreSchema}.events (position) VALUES ($1) ON CONFLICT DO NOTHING`, [position.toString()]);
  await setHead(options.head ?? 1_000_000n);
  const fixture = await WalletReadModelFixture.create(pool, schema, { live: options.live ?? true });
  cleanups.push(() => fixture.drop(), async () => void (await pool.query(`DROP SCHEMA IF EXISTS ${eventStoreSchema} CASCADE`)));
  const queries: WalletReadModelQueriesService = createWalletReadModelQueries(pool, {
    eventStoreSchema,
    queries: { readModelsSchema: schema, maxWaitMs: options.maxWaitMs ?? 2_000, pollMaxIntervalMs: 20, statementTimeoutMs: 5_000 },
  });
  return { fixture, queries, schema, eventStoreSchema, setHead };
}

/** alice's wallet A (100.00 at position 20) and bob's wallet B (0.00), watermark 30. */
async function aliceAndBob(options: Parameters<typeof setUp>[0] = {}) {
  const env = await setUp(options);
  const alice = `alice-${randomUUID()}`;
  const bob = `bob-${randomUUID()}`;
  const a = randomUUID();
  const b = randomUUID();
  await env.fixture.open(a, alice, { position: 10 });
  await env.fixture.open(b, bob, { position: 11 });
  await env.fixture.apply(a, { type: 'FundsDeposited', position: 20, amountMinor: 10_000n, counterparty: 'system:external-funding', transactionId: randomUUID() });
  await env.fixture.setWatermark(30);
  return { ...env, alice, bob, a, b };
}

describe('read-model queries (real PostgreSQL)', () => {
  describe('readiness', () => {
    it('answers READ_MODEL_NOT_READY (unavailable) before any projection has started, on every query', async () => {
      const { queries } = await setUp({ live: false });
      const me = user('u1');
      const wallet = randomUUID();
      // One at a time: a query started early could reject before it is awaited (unhandled).
      for (const query of [
        () => queries.getBalance(me, { walletId: wallet }),
        () => queries.getBalances(me, { walletIds: [wallet] }),
        () => queries.listHistory(me, { walletId: wallet }),
        () => queries.getBalanceAt(me, { walletId: wallet, atPosition: '5' }),
        () => queries.listWallets(me, {}),
      ]) {
        expect(await errorOf(query())).toMatchObject({ code: 'READ_MODEL_NOT_READY', kind: 'unavailable' });
      }
    });

    it('answers READ_MODEL_NOT_READY when the live version names tables that do not exist', async () => {
      const { fixture, queries } = await setUp();
      await fixture.makeLive(7);
      expect(await codeOf(queries.getBalance(user('u1'), { walletId: randomUUID() }))).toBe('READ_MODEL_NOT_READY');
    });

    it('resolves the live version per request: a switch is visible to the next query', async () => {
      const { fixture, queries, schema, alice, a } = await aliceAndBob();
      const v2 = await WalletReadModelFixture.create(pool, schema, { version: 2, live: false });
      await v2.open(a, alice, { position: 10 });
      await v2.apply(a, { type: 'FundsDeposited', position: 20, amountMinor: 777n });
      await v2.setWatermark(40);
      expect(await queries.getBalance(user(alice), { walletId: a })).toMatchObject({ balance: '100.00', watermark: '30' });
      await fixture.makeLive(2);
      expect(await queries.getBalance(user(alice), { walletId: a })).toMatchObject({ balance: '7.77', watermark: '40' });
    });
  });

  describe('one wallet', () => {
    it("returns the owner's balance with revision, position and watermark; others are refused by name", async () => {
      const { fixture, queries, alice, bob, a } = await aliceAndBob();
      await fixture.apply(a, { type: 'HoldPlaced', position: 25, heldDeltaMinor: 2_500n, holdId: randomUUID() });
      expect(await queries.getBalance(user(alice), { walletId: a })).toEqual({
        walletId: a,
        ownerId: alice,
        currency: 'USD',
        status: 'open',
        balance: '100.00',
        available: '75.00',
        held: '25.00',
        revision: '2',
        position: '25',
        asOf: fixtureTime(25).toISOString(),
        watermark: '30',
      });
      expect(await errorOf(queries.getBalance(user(bob), { walletId: a }))).toMatchObject({ code: 'WALLET_ACCESS_DENIED', kind: 'forbidden', details: { action: 'read' } });
      expect(await codeOf(queries.getBalance(bareService, { walletId: a }))).toBe('WALLET_ACCESS_DENIED');
      expect(await codeOf(queries.getBalance(auditor, { walletId: a }))).toBe('OK');
      expect(await codeOf(queries.getBalance(user(alice), { walletId: randomUUID() }))).toBe('WALLET_NOT_FOUND');
    });
  });

  describe('several wallets as of the watermark', () => {
    it('shows a transfer between two wallets whole or not at all', async () => {
      const { fixture, queries, a, b } = await aliceAndBob();
      const transactionId = randomUUID();
      // The transfer's two events: debit at 40, credit at 41 (one append). A's partition has
      // applied the debit, B's has not, so the projection's watermark is still 30.
      await fixture.apply(a, { type: 'TransferDebited', position: 40, amountMinor: -4_025n, counterparty: `wallet:${b}`, transactionId });
      await fixture.setWatermark(40, 'partition-a');
      await fixture.setWatermark(30, 'partition-b');
      await fixture.setWatermark(40, 'store');
      const ops: Principal = { subject: 'ops', kind: 'user', scopes: ['ledger:admin'] };

      const before = await queries.getBalances(ops, { walletIds: [a, b] });
      expect(before.watermark).toBe('30');
      expect(before.balances.map((x) => [x.walletId, x.balance, x.position])).toEqual([
        [a, '100.00', '20'],
        [b, '0.00', '11'],
      ]);
      // The single-wallet read shows the newest applied state (one stream is always consistent).
      expect(await queries.getBalance(ops, { walletId: a })).toMatchObject({ balance: '59.75', position: '40' });

      await fixture.apply(b, { type: 'TransferCredited', position: 41, amountMinor: 4_025n, counterparty: `wallet:${a}`, transactionId });
      await fixture.setWatermark(41, 'partition-b');
      await fixture.setWatermark(41, 'partition-a');
      await fixture.setWatermark(41, 'store');
      const after = await queries.getBalances(ops, { walletIds: `${b},${a}` });
      expect(after.watermark).toBe('41');
      expect(after.balances.map((x) => [x.walletId, x.balance, x.revision])).toEqual([
        [b, '40.25', '1'],
        [a, '59.75', '2'],
      ]);
      const total = after.balances.reduce((sum, x) => sum + Number(x.balance.replace('.', '')), 0);
      expect(total).toBe(10_000);
    });

    it('refuses the whole request when any one wallet is not the caller’s, unknown, or not yet visible at W', async () => {
      const { fixture, queries, alice, a, b } = await aliceAndBob();
      expect(await codeOf(queries.getBalances(user(alice), { walletIds: [a, b] }))).toBe('WALLET_ACCESS_DENIED');
      expect(await codeOf(queries.getBalances(user(alice), { walletIds: [a, randomUUID()] }))).toBe('WALLET_NOT_FOUND');
      const late = randomUUID();
      await fixture.open(late, alice, { position: 50 });
      expect(await errorOf(queries.getBalances(user(alice), { walletIds: [a, late] }))).toMatchObject({ code: 'WALLET_NOT_FOUND', details: { walletId: late, watermark: '30' } });
      expect((await queries.getBalances(user(alice), { walletIds: [a, a] })).balances).toHaveLength(1);
    });

    it('bounds the list: none is WALLET_IDS_REQUIRED, 101 is TOO_MANY_WALLETS, a bad id INVALID_WALLET_ID', async () => {
      const { queries, alice } = await aliceAndBob();
      expect(await codeOf(queries.getBalances(user(alice), { walletIds: [] }))).toBe('WALLET_IDS_REQUIRED');
      expect(await codeOf(queries.getBalances(user(alice), { walletIds: Array.from({ length: 101 }, () => randomUUID()) }))).toBe('TOO_MANY_WALLETS');
      expect(await codeOf(queries.getBalances(user(alice), { walletIds: 'not-a-uuid' }))).toBe('INVALID_WALLET_ID');
    });
  });

  describe('history', () => {
    /** A wallet with `count` deposits of 1.00 at positions 100, 101, …; watermark above them. */
    async function walletWithHistory(count: number) {
      const env = await setUp();
      const owner = `carol-${randomUUID()}`;
      const walletId = randomUUID();
      await env.fixture.open(walletId, owner, { position: 10 });
      for (let i = 0; i < count; i += 1) await env.fixture.apply(walletId, { type: 'FundsDeposited', position: 100 + i, amountMinor: 100n, counterparty: 'system:external-funding' });
      await env.fixture.setWatermark(100 + count);
      return { ...env, owner, walletId, me: user(owner) };
    }

    it('pages newest first by default, with a next cursor until the last page', async () => {
      const { queries, walletId, me } = await walletWithHistory(7);
      const first = await queries.listHistory(me, { walletId, pageSize: '3' });
      expect(first.entries.map((e) => e.revision)).toEqual(['7', '6', '5']);
      expect(first.entries[0]).toMatchObject({ type: 'FundsDeposited', amount: '1.00', balanceAfter: '7.00', heldAfter: '0.00', availableAfter: '7.00', counterparty: 'system:external-funding' });
      expect(first.nextCursor).toMatch(/^c1\./);
      const second = await queries.listHistory(me, { walletId, pageSize: '3', cursor: first.nextCursor });
      expect(second.entries.map((e) => e.revision)).toEqual(['4', '3', '2']);
      const third = await queries.listHistory(me, { walletId, pageSize: '3', cursor: second.nextCursor });
      expect(third.entries.map((e) => e.revision)).toEqual(['1', '0']);
      expect(third.nextCursor).toBeNull();
      expect((await queries.listHistory(me, { walletId, order: 'oldest_first', pageSize: '2' })).entries.map((e) => e.revision)).toEqual(['0', '1']);
    });

    it.each(['newest_first', 'oldest_first'] as const)('%s: never skips or repeats an entry while rows are appended concurrently', async (order) => {
      const { fixture, queries, walletId, me } = await walletWithHistory(120); // revisions 0-120
      const writer = (async () => {
        // Another connection keeps appending while the reader pages.
        for (let i = 0; i < 40; i += 1) await fixture.apply(walletId, { type: 'FundsDeposited', position: 1_000 + i, amountMinor: 1n });
      })();
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<typeof queries.listHistory>> = await queries.listHistory(me, { walletId, order, pageSize: '17', ...(cursor ? { cursor } : {}) });
        seen.push(...page.entries.map((e) => Number(e.revision)));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor && pages < 100);
      await writer;
      expect(new Set(seen).size).toBe(seen.length); // no duplicates
      for (let revision = 0; revision <= 120; revision += 1) expect(seen).toContain(revision); // no gaps
      expect(seen).toEqual([...seen].sort((x, y) => (order === 'newest_first' ? y - x : x - y)));
      // Oldest first reads everything appended before the last page, contiguously from 0.
      if (order === 'oldest_first') expect(seen).toEqual(seen.map((_, i) => i));
    });

    it('filters by event type and by a [from, to) time range, and keeps the filters in the cursor', async () => {
      const { fixture, queries, walletId, me } = await walletWithHistory(4); // revisions 1-4 at positions 100-103
      await fixture.apply(walletId, { type: 'FundsWithdrawn', position: 200, amountMinor: -50n });
      await fixture.apply(walletId, { type: 'WalletFrozen', position: 201, status: 'frozen' });
      const types = await queries.listHistory(me, { walletId, types: 'FundsWithdrawn,WalletFrozen' });
      expect(types.entries.map((e) => [e.type, e.amount])).toEqual([
        ['WalletFrozen', '0.00'],
        ['FundsWithdrawn', '-0.50'],
      ]);
      const repeated = await queries.listHistory(me, { walletId, types: ['WalletOpened', 'FundsWithdrawn'], order: 'oldest_first' });
      expect(repeated.entries.map((e) => e.type)).toEqual(['WalletOpened', 'FundsWithdrawn']);
      const range = await queries.listHistory(me, { walletId, from: fixtureTime(101).toISOString(), to: fixtureTime(103).toISOString(), order: 'oldest_first' });
      expect(range.entries.map((e) => e.position)).toEqual(['101', '102']);
      expect((await queries.listHistory(me, { walletId, from: fixtureTime(101).toISOString(), to: fixtureTime(101).toISOString() })).entries).toEqual([]);

      const page = await queries.listHistory(me, { walletId, types: 'FundsDeposited', pageSize: '2' });
      expect(page.entries.map((e) => e.revision)).toEqual(['4', '3']);
      const next = await queries.listHistory(me, { walletId, types: 'FundsDeposited', pageSize: '2', cursor: page.nextCursor });
      expect(next.entries.map((e) => e.revision)).toEqual(['2', '1']);
      // The same cursor with another filter, order or wallet belongs to another query.
      expect(await codeOf(queries.listHistory(me, { walletId, pageSize: '2', cursor: page.nextCursor }))).toBe('INVALID_CURSOR');
      expect(await codeOf(queries.listHistory(me, { walletId, types: 'FundsDeposited', order: 'oldest_first', cursor: page.nextCursor }))).toBe('INVALID_CURSOR');
    });

    it.each([
      ['a malformed cursor', { cursor: 'garbage' }, 'INVALID_CURSOR'],
      ['a cursor of the wrong shape', { cursor: `c1.${Buffer.from('{"kind":"history"}').toString('base64url')}` }, 'INVALID_CURSOR'],
      ['a cursor that is not base64url JSON', { cursor: 'c1.!!!' }, 'INVALID_CURSOR'],
      ['a directory cursor', { cursor: `c1.${Buffer.from(JSON.stringify({ kind: 'directory', ownerId: 'x', afterWalletId: 'y' })).toString('base64url')}` }, 'INVALID_CURSOR'],
      ['a page size of 501', { pageSize: '501' }, 'PAGE_SIZE_TOO_LARGE'],
      ['a page size of 0', { pageSize: '0' }, 'INVALID_PAGE_SIZE'],
      ['a page size of -1', { pageSize: -1 }, 'INVALID_PAGE_SIZE'],
      ['a page size of 1.5', { pageSize: '1.5' }, 'INVALID_PAGE_SIZE'],
      ['from after to', { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' }, 'INVALID_TIME_RANGE'],
      ['a non-UTC time', { from: '2026-02-01T00:00:00+01:00' }, 'INVALID_TIMESTAMP'],
      ['a date without time', { to: '2026-02-01' }, 'INVALID_TIMESTAMP'],
      ['an unknown event type', { types: 'FundsDeposited,Bogus' }, 'INVALID_EVENT_TYPE'],
      ['an unknown order', { order: 'sideways' }, 'INVALID_ORDER'],
      ['a non-decimal minPosition', { minPosition: '12abc' }, 'INVALID_POSITION'],
      ['a negative minPosition', { minPosition: '-1' }, 'INVALID_POSITION'],
      ['a minPosition beyond bigint', { minPosition: '9223372036854775808' }, 'INVALID_POSITION'],
      ['a malformed wallet id', { walletId: 'nope' }, 'INVALID_WALLET_ID'],
    ])('refuses %s with %s', async (_label, override, code) => {
      const { queries, walletId, me } = await walletWithHistory(1);
      expect(await errorOf(queries.listHistory(me, { walletId, ...override }))).toMatchObject({ code, kind: 'validation' });
    });

    it("refuses another user's history", async () => {
      const { queries, walletId } = await walletWithHistory(1);
      expect(await codeOf(queries.listHistory(user('mallory'), { walletId }))).toBe('WALLET_ACCESS_DENIED');
    });
  });

  describe('balance at a point', () => {
    it('answers the state after the last event at or before a position or a time', async () => {
      const { fixture, queries, alice, a } = await aliceAndBob();
      await fixture.apply(a, { type: 'FundsWithdrawn', position: 25, amountMinor: -1_000n });
      const me = user(alice);
      expect(await queries.getBalanceAt(me, { walletId: a, atPosition: '24' })).toMatchObject({ balance: '100.00', revision: '1', position: '20', watermark: '30' });
      expect(await queries.getBalanceAt(me, { walletId: a, atPosition: '25' })).toMatchObject({ balance: '90.00', revision: '2', position: '25' });
      expect(await queries.getBalanceAt(me, { walletId: a, atPosition: '10' })).toMatchObject({ balance: '0.00', revision: '0' });
      expect(await queries.getBalanceAt(me, { walletId: a, atTime: fixtureTime(24).toISOString() })).toMatchObject({ balance: '100.00', position: '20' });
      expect(await queries.getBalanceAt(me, { walletId: a, atTime: fixtureTime(25).toISOString() })).toMatchObject({ balance: '90.00', position: '25' });
    });

    it('refuses a point before the wallet existed with WALLET_NOT_YET_OPENED', async () => {
      const { queries, alice, a } = await aliceAndBob();
      const me = user(alice);
      expect(await errorOf(queries.getBalanceAt(me, { walletId: a, atPosition: '9' }))).toMatchObject({
        code: 'WALLET_NOT_YET_OPENED',
        kind: 'not_found',
        details: { walletId: a, firstPosition: '10', openedAt: fixtureTime(10).toISOString() },
      });
      expect(await codeOf(queries.getBalanceAt(me, { walletId: a, atTime: fixtureTime(9).toISOString() }))).toBe('WALLET_NOT_YET_OPENED');
    });

    it('refuses neither/both points, a future position, and other owners', async () => {
      const { queries, alice, bob, a } = await aliceAndBob({ head: 1_000n });
      const me = user(alice);
      expect(await codeOf(queries.getBalanceAt(me, { walletId: a }))).toBe('INVALID_BALANCE_POINT');
      expect(await codeOf(queries.getBalanceAt(me, { walletId: a, atPosition: '5', atTime: '2026-01-01T00:00:00Z' }))).toBe('INVALID_BALANCE_POINT');
      expect(await errorOf(queries.getBalanceAt(me, { walletId: a, atPosition: '1001' }))).toMatchObject({
        code: 'POSITION_FROM_FUTURE',
        kind: 'validation',
        details: { field: 'atPosition', position: '1001', head: '1000' },
      });
      expect(await codeOf(queries.getBalanceAt(me, { walletId: a, atPosition: 'x' }))).toBe('INVALID_POSITION');
      expect(await codeOf(queries.getBalanceAt(me, { walletId: a, atTime: 'yesterday' }))).toBe('INVALID_TIMESTAMP');
      expect(await codeOf(queries.getBalanceAt(user(bob), { walletId: a, atPosition: '20' }))).toBe('WALLET_ACCESS_DENIED');
    });
  });

  describe('wallets by owner', () => {
    it("lists the caller's own wallets by default, in pages; another owner's needs a reading scope", async () => {
      const { fixture, queries } = await setUp();
      const owner = `dora-${randomUUID()}`;
      const ids = Array.from({ length: 5 }, () => randomUUID());
      for (const [i, id] of ids.entries()) await fixture.open(id, owner, { position: 10 + i, currency: i === 0 ? 'EUR' : 'USD' });
      await fixture.setWatermark(100);
      const me = user(owner);
      const first = await queries.listWallets(me, { pageSize: '3' });
      expect(first).toMatchObject({ ownerId: owner, watermark: '100' });
      const second = await queries.listWallets(me, { pageSize: '3', cursor: first.nextCursor });
      expect(second.nextCursor).toBeNull();
      expect([...first.wallets, ...second.wallets].map((w) => w.walletId)).toEqual([...ids].sort());
      expect(first.wallets[0]).toMatchObject({ ownerId: owner, status: 'open' });

      expect(await codeOf(queries.listWallets(user('mallory'), { ownerId: owner }))).toBe('WALLET_ACCESS_DENIED');
      expect(await codeOf(queries.listWallets(bareService, { ownerId: owner }))).toBe('WALLET_ACCESS_DENIED');
      expect((await queries.listWallets(auditor, { ownerId: owner, pageSize: '10' })).wallets).toHaveLength(5);
      expect(await codeOf(queries.listWallets(auditor, { ownerId: 'other-owner', cursor: first.nextCursor }))).toBe('INVALID_CURSOR');
      expect(await codeOf(queries.listWallets(me, { ownerId: 'bad owner!' }))).toBe('INVALID_OWNER_ID');
      expect(await codeOf(queries.listWallets(me, { pageSize: '100000' }))).toBe('PAGE_SIZE_TOO_LARGE');
    });
  });

  describe('read your writes (minPosition)', () => {
    it('answers at once when the watermark is already there', async () => {
      const { queries, alice, a } = await aliceAndBob();
      expect(await queries.getBalance(user(alice), { walletId: a, minPosition: '30' })).toMatchObject({ watermark: '30' });
      expect(await queries.getBalance(user(alice), { walletId: a, minPosition: '0' })).toMatchObject({ watermark: '30' });
    });

    it('waits until the watermark advances in another connection, then reflects the write', async () => {
      const { fixture, queries, alice, a } = await aliceAndBob({ maxWaitMs: 10_000 });
      const other = await pool.connect();
      try {
        const started = Date.now();
        const pending = queries.getBalance(user(alice), { walletId: a, minPosition: '45' });
        const history = queries.listHistory(user(alice), { walletId: a, minPosition: '45', pageSize: '1' });
        setTimeout(() => {
          void (async () => {
            await fixture.apply(a, { type: 'FundsDeposited', position: 45, amountMinor: 500n }, other);
            await fixture.setWatermark(45, 'store', other);
          })();
        }, 300);
        expect(await pending).toMatchObject({ balance: '105.00', position: '45', watermark: '45' });
        expect((await history).entries[0]).toMatchObject({ position: '45' });
        expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      } finally {
        other.release();
      }
    });

    it('gives up after QUERY_MAX_WAIT_MS with READ_MODEL_NOT_CAUGHT_UP (timeout), naming both positions', async () => {
      const { queries, alice, a } = await aliceAndBob({ maxWaitMs: 300 });
      const started = Date.now();
      expect(await errorOf(queries.getBalance(user(alice), { walletId: a, minPosition: '500' }))).toMatchObject({
        code: 'READ_MODEL_NOT_CAUGHT_UP',
        kind: 'timeout',
        details: { minPosition: '500', watermark: '30' },
      });
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(280);
      expect(waited).toBeLessThan(3_000);
      expect(await codeOf(queries.getBalances(user(alice), { walletIds: [a], minPosition: '500' }))).toBe('READ_MODEL_NOT_CAUGHT_UP');
      expect(await codeOf(queries.listWallets(user(alice), { minPosition: '500' }))).toBe('READ_MODEL_NOT_CAUGHT_UP');
    });

    it('refuses a position beyond the event store head at once with POSITION_FROM_FUTURE', async () => {
      const { fixture, queries, alice, a, setHead } = await aliceAndBob({ head: 1_000n, maxWaitMs: 10_000 });
      const started = Date.now();
      expect(await errorOf(queries.getBalance(user(alice), { walletId: a, minPosition: '1001' }))).toMatchObject({
        code: 'POSITION_FROM_FUTURE',
        kind: 'validation',
        details: { field: 'minPosition', position: '1001', head: '1000' },
      });
      expect(Date.now() - started).toBeLessThan(2_000);
      for (const pending of [
        queries.getBalances(user(alice), { walletIds: [a], minPosition: '99999' }),
        queries.listHistory(user(alice), { walletId: a, minPosition: '99999' }),
        queries.listWallets(user(alice), { minPosition: '99999' }),
      ]) {
        expect(await codeOf(pending)).toBe('POSITION_FROM_FUTURE');
      }
      // Once the store has the position, the same request is a read-your-writes wait, not an error.
      await setHead(2_000n);
      const waiting = queries.getBalance(user(alice), { walletId: a, minPosition: '1001' });
      await fixture.setWatermark(1_001);
      expect(await waiting).toMatchObject({ watermark: '1001' });
    });
  });
});
