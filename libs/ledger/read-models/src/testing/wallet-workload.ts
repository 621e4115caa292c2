import { randomUUID } from 'node:crypto';
import { isApplicationError } from '@ledger/errors';
import type { EventStore, NewEvent, RecordedEvent, StreamWrite } from '@ledger/event-store';
import {
  decideCaptureHoldToWallet,
  decideDrawFromHold,
  decideTransfer,
  decideWallet,
  evolveWallet,
  foldWallet,
  initialWalletState,
  walletStreamId,
  type WalletCommand,
  type WalletEvent,
  type WalletState,
} from '@ledger/ledger-domain';
import type { Pool } from 'pg';
import type { WalletReadModelTables } from '../read-models.schema';

/** A small seeded PRNG (mulberry32), so a failing workload can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Wallet {
  readonly id: string;
  state: WalletState;
  revision: bigint;
  holds: string[];
}

/**
 * Random wallet command histories written to a real event store through the domain deciders:
 * deposits, withdrawals, transfers, holds (placed, captured to a system account or a wallet,
 * drawn into a wallet several times, released, expired), freezes. Refused commands change
 * nothing, as in the service. One writer.
 */
export class WalletWorkload {
  readonly wallets: Wallet[] = [];
  private steps = 0;
  lastPosition = 0n;

  constructor(
    private readonly store: EventStore,
    private readonly random: () => number,
    private readonly prefix = randomUUID().slice(0, 8),
  ) {}

  get walletIds(): string[] {
    return this.wallets.map((w) => w.id);
  }

  async open(count: number): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      const wallet: Wallet = { id: `${this.prefix}-${this.wallets.length}`, state: initialWalletState, revision: -1n, holds: [] };
      this.wallets.push(wallet);
      await this.decideAndAppend(wallet, { type: 'OpenWallet', walletId: wallet.id, ownerId: `owner-${this.wallets.length % 3}`, currency: 'USD' });
    }
  }

  async run(steps: number): Promise<void> {
    for (let i = 0; i < steps; i += 1) await this.step();
  }

  async step(): Promise<void> {
    this.steps += 1;
    const now = new Date(Date.UTC(2026, 10, 21) + this.steps * 1_000);
    const wallet = this.pick();
    const other = this.pick();
    const amount = { amountMinor: BigInt(1 + Math.floor(this.random() * 500)), currency: 'USD' as const };
    const transactionId = randomUUID();
    const roll = this.random();
    try {
      if (roll < 0.3) {
        await this.decideAndAppend(wallet, { type: 'Deposit', walletId: wallet.id, transactionId, amount: { ...amount, amountMinor: amount.amountMinor * 3n }, reference: `dep ${this.steps}` }, now);
      } else if (roll < 0.4) {
        await this.decideAndAppend(wallet, { type: 'Withdraw', walletId: wallet.id, transactionId, amount }, now);
      } else if (roll < 0.6 && wallet !== other) {
        const decided = decideTransfer({ type: 'Transfer', transactionId, fromWalletId: wallet.id, toWalletId: other.id, amount }, wallet.state, other.state, { now });
        await this.appendTwo(wallet, decided.fromEvents, other, decided.toEvents);
      } else if (roll < 0.72) {
        const holdId = randomUUID();
        await this.decideAndAppend(wallet, { type: 'PlaceHold', walletId: wallet.id, holdId, amount, expiresAt: new Date(now.getTime() + 3_600_000) }, now);
        wallet.holds.push(holdId);
      } else if (roll < 0.95) {
        // Not a freeze when the wallet has no hold: frozen wallets refuse most of the workload.
        if (wallet.holds.length > 0) await this.useHold(wallet, other, transactionId, now);
      } else if (roll < 0.96) {
        await this.decideAndAppend(wallet, { type: 'FreezeWallet', walletId: wallet.id, reason: 'review' }, now);
      } else {
        await this.decideAndAppend(wallet, { type: 'UnfreezeWallet', walletId: wallet.id }, now);
      }
    } catch (error) {
      if (!isApplicationError(error) || error.kind === 'invariant_violation') throw error;
      // A business refusal (insufficient funds, frozen, …): nothing written, as in the service.
    }
  }

  /** Captures, draws from, releases or expires one of the wallet's listed holds; a hold drawn in part stays listed. */
  private async useHold(wallet: Wallet, other: Wallet, transactionId: string, now: Date): Promise<void> {
    const holdId = wallet.holds.splice(Math.floor(this.random() * wallet.holds.length), 1)[0] as string;
    const how = this.random();
    if (how < 0.2) {
      await this.decideAndAppend(wallet, { type: 'CaptureHoldToSystem', walletId: wallet.id, holdId, transactionId, account: 'payout-settlement', ...(how < 0.1 ? { amount: { amountMinor: 1n, currency: 'USD' } } : {}) }, now);
    } else if (how < 0.4 && wallet !== other) {
      const decided = decideCaptureHoldToWallet({ type: 'CaptureHoldToWallet', walletId: wallet.id, holdId, transactionId, toWalletId: other.id }, wallet.state, other.state, { now });
      await this.appendTwo(wallet, decided.fromEvents, other, decided.toEvents);
    } else if (how < 0.8 && wallet !== other) {
      // Part of what the hold still reserves, or at times all of it.
      const left = wallet.state.status === 'none' ? 1n : (wallet.state.openHolds.get(holdId)?.amountMinor ?? 1n);
      const amountMinor = this.random() < 0.25 ? left : 1n + BigInt(Math.floor(this.random() * Number(left)));
      const draw = { type: 'DrawFromHold' as const, walletId: wallet.id, holdId, transactionId, toWalletId: other.id, amount: { amountMinor, currency: 'USD' as const }, reference: `row ${this.steps}` };
      const decided = decideDrawFromHold(draw, wallet.state, other.state, { now });
      await this.appendTwo(wallet, decided.fromEvents, other, decided.toEvents);
      if (wallet.state.status !== 'none' && wallet.state.openHolds.has(holdId)) wallet.holds.push(holdId);
    } else if (how < 0.9) {
      await this.decideAndAppend(wallet, { type: 'ReleaseHold', walletId: wallet.id, holdId }, now);
    } else {
      await this.decideAndAppend(wallet, { type: 'ExpireHold', walletId: wallet.id, holdId }, now);
    }
  }

  private pick(): Wallet {
    return this.wallets[Math.floor(this.random() * this.wallets.length)] as Wallet;
  }

  private async decideAndAppend(wallet: Wallet, command: WalletCommand, now = new Date(Date.UTC(2026, 10, 21))): Promise<void> {
    const events = decideWallet(command, wallet.state, { now });
    if (events.length === 0) return;
    const result = await this.store.appendToStream(walletStreamId(wallet.id), events.map(toNew), { expectedState: wallet.revision < 0n ? 'no_stream' : wallet.revision });
    this.applied(wallet, events);
    this.lastPosition = result.position;
  }

  private async appendTwo(a: Wallet, aEvents: WalletEvent[], b: Wallet, bEvents: WalletEvent[]): Promise<void> {
    const writes: StreamWrite[] = [
      { streamId: walletStreamId(a.id), expectedState: a.revision, events: aEvents.map(toNew) },
      { streamId: walletStreamId(b.id), expectedState: b.revision, events: bEvents.map(toNew) },
    ];
    const result = await this.store.appendToStreams(writes);
    this.applied(a, aEvents);
    this.applied(b, bEvents);
    this.lastPosition = result.position;
  }

  private applied(wallet: Wallet, events: readonly WalletEvent[]): void {
    wallet.state = events.reduce(evolveWallet, wallet.state);
    wallet.revision += BigInt(events.length);
  }
}

function toNew(event: WalletEvent): NewEvent {
  return {
    type: event.type,
    data: event.data as unknown as NewEvent['data'],
    metadata: { correlationId: randomUUID(), causationId: randomUUID(), principal: 'service:test', idempotencyKey: `idem-${randomUUID()}`, schemaVersion: 1 },
  };
}

/** Every wallet event of the store's log of these wallets, in position order (waits for nothing). */
export async function readWalletStream(store: EventStore, walletId: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readStream(walletStreamId(walletId), { direction: 'forwards', fromRevision: BigInt(events.length), maxCount: 1_000 });
    events.push(...page);
    if (page.length < 1_000) return events;
  }
}

/**
 * Differences between one version of the read model and the domain fold of each wallet's
 * stream: balances row (status, balance, held, revision), per history row the event id and the
 * balances after it, in revision order with exactly one row per event, and the open-holds rows
 * (what each open hold still reserves). Empty = equal.
 */
export async function differencesFromFold(pool: Pool, store: EventStore, tables: WalletReadModelTables, walletIds: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const walletId of walletIds) {
    const events = await readWalletStream(store, walletId);
    const { rows: balance } = await pool.query<{ status: string; balance_minor: string; held_minor: string; stream_revision: string }>(
      `SELECT status, balance_minor::text, held_minor::text, stream_revision::text FROM ${tables.balances} WHERE wallet_id = $1`,
      [walletId],
    );
    const { rows: history } = await pool.query<{ revision: string; event_id: string; balance_after: string; held_after: string }>(
      `SELECT stream_revision::text AS revision, event_id, balance_after::text, held_after::text FROM ${tables.history} WHERE wallet_id = $1 ORDER BY stream_revision`,
      [walletId],
    );
    if (history.length !== events.length) problems.push(`${walletId}: ${history.length} history rows for ${events.length} events`);
    let state: WalletState = initialWalletState;
    events.forEach((event, index) => {
      state = evolveWallet(state, { type: event.type, data: event.data } as unknown as WalletEvent);
      const row = history[index];
      if (state.status === 'none') return;
      const expected = `${event.revision}:${event.id}:${state.balanceMinor}:${state.heldMinor}`;
      const actual = row ? `${row.revision}:${row.event_id}:${row.balance_after}:${row.held_after}` : 'missing';
      if (expected !== actual) problems.push(`${walletId} history ${index}: expected ${expected}, got ${actual}`);
    });
    const folded = foldWallet(events.map((e) => ({ type: e.type, data: e.data }) as unknown as WalletEvent));
    if (folded.status === 'none') continue;
    const expected = `${folded.status}:${folded.balanceMinor}:${folded.heldMinor}:${events.length - 1}`;
    const row = balance[0];
    const actual = row ? `${row.status}:${row.balance_minor}:${row.held_minor}:${row.stream_revision}` : 'missing';
    if (expected !== actual) problems.push(`${walletId} balance: expected ${expected}, got ${actual}`);
    const { rows: holds } = await pool.query<{ hold_id: string; amount_minor: string }>(
      `SELECT hold_id, amount_minor::text FROM ${tables.openHolds} WHERE wallet_id = $1`,
      [walletId],
    );
    const expectedHolds = [...folded.openHolds.values()].map((hold) => `${hold.holdId}:${hold.amountMinor}`).sort().join(',');
    const actualHolds = holds.map((hold) => `${hold.hold_id}:${hold.amount_minor}`).sort().join(',');
    if (expectedHolds !== actualHolds) problems.push(`${walletId} open holds: expected [${expectedHolds}], got [${actualHolds}]`);
  }
  return problems;
}
