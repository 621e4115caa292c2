import type { Principal } from '@ledger/auth';
import { ValidationError } from '@ledger/errors';
import { CommandProcessor } from '@ledger/event-sourcing';
import { InMemoryEventStore } from '@ledger/event-store';
import { WalletCommandsService, type PinGate } from './wallet-commands.service';
import { WalletQueriesService } from './wallet-queries.service';

const alice: Principal = { subject: 'alice', kind: 'user', scopes: [] };
const bob: Principal = { subject: 'bob', kind: 'user', scopes: [] };
const operator: Principal = { subject: 'ops', kind: 'user', scopes: ['ledger:admin'] };
const payouts: Principal = { subject: 'payouts', kind: 'service', scopes: ['ledger:service'] };

/** PIN "1234" for everyone; anything else is refused the way the real PinService refuses. */
const pins: PinGate = {
  async confirm(_principal, pin) {
    if (pin === undefined) throw new ValidationError('PIN_REQUIRED', 'PIN required');
    if (pin !== '1234') throw new ValidationError('PIN_INVALID', 'wrong PIN');
  },
};

let keySeq = 0;
const key = (): string => `test-key-${(keySeq += 1).toString().padStart(6, '0')}`;

function setup() {
  const store = new InMemoryEventStore();
  const processor = new CommandProcessor(store, { maxBatchSize: 128, maxConflictRetries: 5, maxQueuedCommands: 10_000, cacheEntries: 10_000 });
  return { store, commands: new WalletCommandsService(processor, pins), queries: new WalletQueriesService(store) };
}

async function openFunded(commands: WalletCommandsService, owner: Principal, amount: string): Promise<string> {
  const opened = await commands.openWallet(owner, { currency: 'USD', idempotencyKey: key() });
  const walletId = opened.wallets[0]!.walletId;
  if (amount !== '0') await commands.deposit(operator, { walletId, amount, currency: 'USD', idempotencyKey: key() });
  return walletId;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(() => undefined, (error: { code?: string }) => error.code);
}

describe('WalletCommandsService', () => {
  it('opens, deposits, transfers and reports balances as exact decimal strings', async () => {
    const { commands, queries } = setup();
    const a = await openFunded(commands, alice, '100.00');
    const b = await openFunded(commands, bob, '0');
    const moved = await commands.transfer(alice, { fromWalletId: a, toWalletId: b, amount: '40.25', currency: 'USD', idempotencyKey: key(), pin: '1234' });
    expect(moved.replayed).toBe(false);
    expect(BigInt(moved.position)).toBeGreaterThan(0n);
    expect(moved.wallets.map((w) => w.balance)).toEqual(['59.75']); // bob's wallet is not alice's to see
    expect((await queries.getWallet(bob, b)).balance).toBe('40.25');
    expect((await queries.getWallet(alice, a)).available).toBe('59.75');
  });

  it('never overdraws a wallet under many concurrent transfers, and conserves the total', async () => {
    const { commands, queries } = setup();
    const source = await openFunded(commands, alice, '10.00');
    const sinks = await Promise.all(Array.from({ length: 5 }, () => openFunded(commands, bob, '0')));
    const attempts = Array.from({ length: 60 }, (_, i) =>
      commands.transfer(alice, { fromWalletId: source, toWalletId: sinks[i % 5]!, amount: '0.30', currency: 'USD', idempotencyKey: key(), pin: '1234' }),
    );
    const results = await Promise.allSettled(attempts);
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toBe(33); // 33 × 0.30 = 9.90; a 34th would overdraw
    expect(new Set(refused.map((r) => (r.reason as { code: string }).code))).toEqual(new Set(['INSUFFICIENT_FUNDS']));
    const sourceBalance = (await queries.getWallet(alice, source)).balance;
    const sinkBalances = await Promise.all(sinks.map(async (s) => (await queries.getWallet(bob, s)).balance));
    expect(sourceBalance).toBe('0.10');
    const totalCents = [sourceBalance, ...sinkBalances].reduce((sum, b) => sum + BigInt(b.replace('.', '')), 0n);
    expect(totalCents).toBe(1000n);
  });

  it('executes a duplicated key once and replays the original result', async () => {
    const { commands, queries } = setup();
    const a = await openFunded(commands, alice, '5.00');
    const b = await openFunded(commands, bob, '0');
    const request = { fromWalletId: a, toWalletId: b, amount: '1.00', currency: 'USD', idempotencyKey: key(), pin: '1234' };
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => commands.transfer(alice, request)));
    expect(outcomes.filter((o) => !o.replayed)).toHaveLength(1);
    expect(new Set(outcomes.map((o) => o.transactionId)).size).toBe(1);
    expect((await queries.getWallet(bob, b)).balance).toBe('1.00');
    expect(await codeOf(commands.transfer(alice, { ...request, amount: '2.00' }))).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('keeps idempotency keys per principal: the same key from two users is two requests', async () => {
    const { commands } = setup();
    const shared = 'shared-key-0001';
    const one = await commands.openWallet(alice, { currency: 'USD', idempotencyKey: shared });
    const two = await commands.openWallet(bob, { currency: 'USD', idempotencyKey: shared });
    expect(one.wallets[0]!.walletId).not.toBe(two.wallets[0]!.walletId);
    expect(two.replayed).toBe(false);
  });

  describe('object-level authorisation on every endpoint that takes a wallet id', () => {
    it.each([
      ['withdraw', (c: WalletCommandsService, w: string) => c.withdraw(bob, { walletId: w, amount: '1.00', currency: 'USD', idempotencyKey: key(), pin: '1234' })],
      ['transfer out', (c: WalletCommandsService, w: string, other: string) => c.transfer(bob, { fromWalletId: w, toWalletId: other, amount: '1.00', currency: 'USD', idempotencyKey: key(), pin: '1234' })],
      ['place hold', (c: WalletCommandsService, w: string) => c.placeHold(bob, { walletId: w, amount: '1.00', currency: 'USD', expiresAt: new Date(Date.now() + 3_600_000).toISOString(), idempotencyKey: key(), pin: '1234' })],
      ['release hold', (c: WalletCommandsService, w: string, _o: string, hold: string) => c.releaseHold(bob, { walletId: w, holdId: hold, idempotencyKey: key() })],
      ['capture hold', (c: WalletCommandsService, w: string, other: string, hold: string) => c.captureHold(bob, { walletId: w, holdId: hold, toWalletId: other, idempotencyKey: key(), pin: '1234' })],
      ['close', (c: WalletCommandsService, w: string) => c.closeWallet(bob, { walletId: w, idempotencyKey: key() })],
      ['deposit (users never deposit)', (c: WalletCommandsService, w: string) => c.deposit(bob, { walletId: w, amount: '1.00', currency: 'USD', idempotencyKey: key() })],
      ['freeze (operators only)', (c: WalletCommandsService, w: string) => c.freezeWallet(bob, { walletId: w, reason: 'x', idempotencyKey: key() })],
    ] as const)("refuses another user's %s", async (_label, act) => {
      const { commands, queries } = setup();
      const alices = await openFunded(commands, alice, '10.00');
      const bobs = await openFunded(commands, bob, '0');
      const hold = await commands.placeHold(alice, { walletId: alices, amount: '2.00', currency: 'USD', expiresAt: new Date(Date.now() + 3_600_000).toISOString(), idempotencyKey: key(), pin: '1234' });
      const before = await queries.getWallet(alice, alices);
      expect(await codeOf(act(commands, alices, bobs, hold.holdId!))).toMatch(/^(WALLET_ACCESS_DENIED|SCOPE_REQUIRED)$/);
      expect(await queries.getWallet(alice, alices)).toEqual(before);
    });

    it("refuses reading another user's wallet, allows admins and services", async () => {
      const { commands, queries } = setup();
      const alices = await openFunded(commands, alice, '1.00');
      expect(await codeOf(queries.getWallet(bob, alices))).toBe('WALLET_ACCESS_DENIED');
      expect((await queries.getWallet(operator, alices)).balance).toBe('1.00');
      expect((await queries.getWallet(payouts, alices)).balance).toBe('1.00');
    });
  });

  it('asks users for the PIN on money movement, but not services with ledger:service', async () => {
    const { commands } = setup();
    const a = await openFunded(commands, alice, '5.00');
    const b = await openFunded(commands, bob, '0');
    const base = { fromWalletId: a, toWalletId: b, amount: '1.00', currency: 'USD' };
    expect(await codeOf(commands.transfer(alice, { ...base, idempotencyKey: key() }))).toBe('PIN_REQUIRED');
    expect(await codeOf(commands.transfer(alice, { ...base, idempotencyKey: key(), pin: '0000' }))).toBe('PIN_INVALID');
    await expect(commands.transfer(payouts, { ...base, idempotencyKey: key() })).resolves.toMatchObject({ replayed: false });
  });

  it.each([
    ['a float amount', { amount: 1.5 }, 'AMOUNT_NOT_A_STRING'],
    ['a negative amount', { amount: '-1.00' }, 'INVALID_AMOUNT'],
    ['zero', { amount: '0.00' }, 'AMOUNT_NOT_POSITIVE'],
    ['too many decimals', { amount: '1.001' }, 'AMOUNT_PRECISION'],
    ['an amount over the maximum', { amount: '10000000000000.01' }, 'AMOUNT_TOO_LARGE'],
    ['an unknown currency', { currency: 'XYZ' }, 'UNKNOWN_CURRENCY'],
    ['a malformed wallet id', { fromWalletId: 'not-a-uuid' }, 'INVALID_WALLET_ID'],
    ['a missing idempotency key', { idempotencyKey: undefined }, 'IDEMPOTENCY_KEY_MISSING'],
    ['a malformed idempotency key', { idempotencyKey: 'short' }, 'IDEMPOTENCY_KEY_INVALID'],
  ] as const)('refuses %s with a named error and appends nothing', async (_label, override, code) => {
    const { commands, store } = setup();
    const a = await openFunded(commands, alice, '5.00');
    const b = await openFunded(commands, bob, '0');
    const before = (await store.readAll({ fromPosition: 0n, maxCount: 1_000 })).events.length;
    const request = { fromWalletId: a, toWalletId: b, amount: '1.00', currency: 'USD', idempotencyKey: key(), pin: '1234', ...override };
    expect(await codeOf(commands.transfer(alice, request as never))).toBe(code);
    expect((await store.readAll({ fromPosition: 0n, maxCount: 1_000 })).events.length).toBe(before);
  });
});
