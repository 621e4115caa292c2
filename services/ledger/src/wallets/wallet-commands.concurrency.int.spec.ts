import type { Principal } from '@ledger/auth';
import { CommandProcessor } from '@ledger/event-sourcing';
import { migrateEventStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { WalletCommandsService, type PinGate } from './wallet-commands.service';
import { WalletQueriesService } from './wallet-queries.service';

/**
 * No double spend on the real store: two service instances (two processors, two caches, two
 * pools) drain one wallet concurrently. Only the expected revisions in PostgreSQL stand between
 * them and an overdraft.
 */
describe('concurrent transfers from one wallet across two service instances (PostgreSQL)', () => {
  const service: Principal = { subject: 'payouts', kind: 'service', scopes: ['ledger:service'] };
  const noPin: PinGate = { confirm: async () => undefined };
  const pools: Pool[] = [];
  let schema: string;

  beforeAll(async () => {
    schema = `es_${randomBytes(5).toString('hex')}`;
    const pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 4 });
    pools.push(pool);
    await migrateEventStore(pool, schema);
  });
  afterAll(() => Promise.all(pools.map((pool) => pool.end())));

  function instance(): { commands: WalletCommandsService; queries: WalletQueriesService } {
    const pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 8 });
    pools.push(pool);
    const store = new PostgresEventStore({ pool, schema });
    const processor = new CommandProcessor(store, { maxBatchSize: 32, maxConflictRetries: 20, maxQueuedCommands: 10_000, cacheEntries: 10_000 });
    return { commands: new WalletCommandsService(processor, noPin), queries: new WalletQueriesService(store) };
  }

  it('never overdraws the source and conserves the total', async () => {
    const one = instance();
    const two = instance();
    const key = (): string => `k-${randomUUID()}`;
    const open = async (): Promise<string> => (await one.commands.openWallet(service, { ownerId: `owner-${randomUUID()}`, currency: 'EUR', idempotencyKey: key() })).wallets[0]!.walletId;
    const source = await open();
    const sinks = [await open(), await open(), await open()];
    await one.commands.deposit(service, { walletId: source, amount: '20.00', currency: 'EUR', idempotencyKey: key() });

    const attempts = Array.from({ length: 120 }, (_, i) =>
      (i % 2 ? one : two).commands.transfer(service, { fromWalletId: source, toWalletId: sinks[i % 3]!, amount: '0.25', currency: 'EUR', idempotencyKey: key() }),
    );
    const results = await Promise.allSettled(attempts);
    const accepted = results.filter((r) => r.status === 'fulfilled').length;
    const reasons = new Set(results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as { code: string }).code));
    expect(accepted).toBe(80); // 80 × 0.25 = 20.00 exactly
    expect([...reasons]).toEqual(['INSUFFICIENT_FUNDS']);
    const balances = await Promise.all([source, ...sinks].map(async (id) => (await one.queries.getWallet(service, id)).balance));
    expect(balances[0]).toBe('0.00');
    expect(balances.reduce((sum, b) => sum + BigInt(b.replace('.', '')), 0n)).toBe(2_000n);
  });

  it('executes one idempotency key once when 20 copies race across both instances', async () => {
    const one = instance();
    const two = instance();
    const open = async (): Promise<string> => (await one.commands.openWallet(service, { ownerId: `owner-${randomUUID()}`, currency: 'EUR', idempotencyKey: `k-${randomUUID()}` })).wallets[0]!.walletId;
    const source = await open();
    const sink = await open();
    await one.commands.deposit(service, { walletId: source, amount: '5.00', currency: 'EUR', idempotencyKey: `k-${randomUUID()}` });
    const request = { fromWalletId: source, toWalletId: sink, amount: '1.00', currency: 'EUR', idempotencyKey: `k-${randomUUID()}` };
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).commands.transfer(service, request)));
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    expect(new Set(outcomes.map((o) => o.transactionId)).size).toBe(1);
    expect(new Set(outcomes.map((o) => o.position)).size).toBe(1);
    expect((await one.queries.getWallet(service, sink)).balance).toBe('1.00');
  });
});
