import { randomUUID } from 'node:crypto';
import type { Principal } from '@ledger/auth';
import { ValidationError } from '@ledger/errors';
import { requestHash, type CommandProcessor, type DomainEvent, type StreamView } from '@ledger/event-sourcing';
import type { EventStore, RecordedEvent } from '@ledger/event-store';
import { decideDrawFromHold, WALLET_CATEGORY, walletStreamId, type WalletState } from '@ledger/ledger-domain';
import { parseAmount } from '@ledger/money';
import { WalletCommandsService, type PinGate } from '../wallets/wallet-commands.service';
import { WalletQueriesService } from '../wallets/wallet-queries.service';
import { walletStreamModel } from '../wallets/wallet.stream-model';

/** A clock tests move by hand: the worker's only notion of "now". */
export class TestClock {
  constructor(private nowMs: number) {}
  readonly now = (): Date => new Date(this.nowMs);
  set(at: Date | number): void {
    this.nowMs = typeof at === 'number' ? at : at.getTime();
  }
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

export const alice: Principal = { subject: 'alice', kind: 'user', scopes: [] };
const operator: Principal = { subject: 'ops', kind: 'user', scopes: ['ledger:admin'] };
const PIN = '1234';
const pins: PinGate = {
  async confirm(_principal, pin) {
    if (pin !== PIN) throw new ValidationError('PIN_INVALID', 'wrong PIN');
  },
};

export interface PlacedHold {
  readonly walletId: string;
  readonly holdId: string;
  readonly expiresAt: Date;
  /** Global position of the HoldPlaced event (the append's position is its idempotency record's). */
  readonly position: bigint;
}

const RESOLUTIONS = ['HoldCaptured', 'HoldReleased', 'HoldExpired'];
/** Resolutions, and draws (a draw that leaves nothing resolves its hold). */
const HOLD_OUTCOMES = [...RESOLUTIONS, 'HoldDrawn'];

/** Wallets and holds through the real command service, on whatever store and processor the test uses. */
export class HoldExpiryKit {
  readonly commands: WalletCommandsService;
  readonly queries: WalletQueriesService;
  private keys = 0;

  constructor(
    readonly store: EventStore,
    private readonly processor: CommandProcessor,
    readonly clock: TestClock,
  ) {
    this.commands = new WalletCommandsService(processor, pins, clock.now);
    this.queries = new WalletQueriesService(store);
  }

  private key(): string {
    this.keys += 1;
    return `kit-${process.pid}-${Date.now()}-${this.keys}`;
  }

  async fundedWallet(amount = '100.00'): Promise<string> {
    const opened = await this.commands.openWallet(alice, { currency: 'USD', idempotencyKey: this.key() });
    const walletId = (opened.wallets[0] as { walletId: string }).walletId;
    await this.commands.deposit(operator, { walletId, amount, currency: 'USD', idempotencyKey: this.key() });
    return walletId;
  }

  async placeHold(walletId: string, amount: string, expiresInMs: number): Promise<PlacedHold> {
    const expiresAt = new Date(this.clock.now().getTime() + expiresInMs);
    const placed = await this.commands.placeHold(alice, { walletId, amount, currency: 'USD', expiresAt: expiresAt.toISOString(), idempotencyKey: this.key(), pin: PIN });
    const holdId = placed.holdId as string;
    const recent = await this.store.readStream(walletStreamId(walletId), { direction: 'backwards', maxCount: 100 });
    const event = recent.find((e) => e.type === 'HoldPlaced' && (e.data as { holdId: string }).holdId === holdId);
    if (!event) throw new Error(`HoldPlaced for ${holdId} not found`);
    return { walletId, holdId, expiresAt, position: event.position };
  }

  async capture(hold: PlacedHold): Promise<void> {
    await this.commands.captureHold(alice, { walletId: hold.walletId, holdId: hold.holdId, toSystemAccount: 'payout-settlement', idempotencyKey: this.key(), pin: PIN });
  }

  /**
   * Draws `amount` of a hold into another wallet (as a batch payout row does) straight through
   * the processor: the command service has no draw use case yet. Returns the global position of
   * the HoldDrawn event (the append's position is the destination's credit's).
   */
  async draw(hold: PlacedHold, toWalletId: string, amount: string): Promise<bigint> {
    const now = this.clock.now();
    const transactionId = randomUUID();
    await this.processor.execute({
      streams: [hold.walletId, toWalletId].map((walletId) => ({ streamId: walletStreamId(walletId), model: walletStreamModel as never })),
      decide: (views) => {
        const [from, to] = views as [StreamView<WalletState>, StreamView<WalletState>];
        const command = { type: 'DrawFromHold' as const, walletId: hold.walletId, holdId: hold.holdId, transactionId, toWalletId, amount: parseAmount(amount, 'USD') };
        const { fromEvents, toEvents } = decideDrawFromHold(command, from.state, to.state, { now });
        return { events: [fromEvents as unknown as DomainEvent[], toEvents as unknown as DomainEvent[]], result: { transactionId } };
      },
      idempotency: { scope: 'service:hold-expiry-kit', key: this.key(), requestHash: requestHash({ op: 'DrawFromHold', holdId: hold.holdId, toWalletId, amount }) },
      metadata: { correlationId: randomUUID(), causationId: randomUUID(), principal: 'service:hold-expiry-kit' },
    });
    const recent = await this.store.readStream(walletStreamId(hold.walletId), { direction: 'backwards', maxCount: 100 });
    const event = recent.find((e) => e.type === 'HoldDrawn' && (e.data as { transactionId: string }).transactionId === transactionId);
    if (!event) throw new Error(`HoldDrawn ${transactionId} not found`);
    return event.position;
  }

  async release(hold: PlacedHold): Promise<void> {
    await this.commands.releaseHold(alice, { walletId: hold.walletId, holdId: hold.holdId, idempotencyKey: this.key() });
  }

  async available(walletId: string): Promise<string> {
    return (await this.queries.getWallet(alice, walletId)).available;
  }

  /** Every HoldCaptured / HoldReleased / HoldExpired in the log, by hold id. */
  resolutions(): Promise<Map<string, RecordedEvent[]>> {
    return this.holdEvents(RESOLUTIONS);
  }

  /** The resolutions and draws of one hold (types only), in log order, e.g. ['HoldDrawn', 'HoldExpired']. */
  async outcomeTypes(holdId: string): Promise<string[]> {
    return ((await this.holdEvents(HOLD_OUTCOMES)).get(holdId) ?? []).map((event) => event.type);
  }

  private async holdEvents(eventTypes: readonly string[]): Promise<Map<string, RecordedEvent[]>> {
    const byHold = new Map<string, RecordedEvent[]>();
    let from = 0n;
    for (;;) {
      const page = await this.store.readAll({ fromPosition: from, maxCount: 1_000, filter: { categories: [WALLET_CATEGORY], eventTypes } });
      for (const event of page.events) {
        const holdId = (event.data as { holdId: string }).holdId;
        byHold.set(holdId, [...(byHold.get(holdId) ?? []), event]);
      }
      from = page.checkpoint;
      if (!page.isEndOfBatch) return byHold;
    }
  }

  /** The resolution events of one hold (types only), e.g. ['HoldExpired']. */
  async resolutionTypes(holdId: string): Promise<string[]> {
    return ((await this.resolutions()).get(holdId) ?? []).map((event) => event.type);
  }
}
