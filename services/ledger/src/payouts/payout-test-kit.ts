import type { Principal } from '@ledger/auth';
import type { BusPublisher, IncomingMessage, OutgoingMessage } from '@ledger/bus';
import { loadStreamView, type CommandProcessor } from '@ledger/event-sourcing';
import type { EventStore } from '@ledger/event-store';
import { walletStreamId, type ExistingWallet, type WalletState } from '@ledger/ledger-domain';
import type { CurrencyCode } from '@ledger/money';
import { encodePayoutCommand, PAYOUT_COMMANDS_TOPIC, type PayoutCommand } from '@ledger/payouts-messages';
import { WalletCommandsService, type PinGate } from '../wallets/wallet-commands.service';
import { walletStreamModel } from '../wallets/wallet.stream-model';

/** Test support for the payout command consumer: wallets through the real command service. */

/** A clock tests move by hand: the `now` of every payout decision (hold deadlines). */
export class ManualClock {
  constructor(private nowMs: number) {}
  readonly now = (): Date => new Date(this.nowMs);
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

export const operator: Principal = { subject: 'ops', kind: 'user', scopes: ['ledger:admin'] };
const acceptingPins: PinGate = { confirm: async () => undefined };

/** A BusPublisher that keeps what it was given; `failNext` makes the next publishes fail. */
export class RecordingPublisher implements BusPublisher {
  readonly published: Array<{ topic: string; message: OutgoingMessage }> = [];
  failNext = 0;
  async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('simulated broker outage');
    }
    for (const message of messages) this.published.push({ topic, message });
  }
  async close(): Promise<void> {
    // Nothing to release: messages live in `published`.
  }
}

/** A command as the bus delivers it (key = batchId, as the contract requires). */
export function delivery(command: PayoutCommand, offset: number, overrides: Partial<IncomingMessage> = {}): IncomingMessage {
  return { topic: PAYOUT_COMMANDS_TOPIC, partition: 0, offset: String(offset), key: command.batchId, value: encodePayoutCommand(command), headers: {}, ...overrides };
}

export class PayoutWallets {
  readonly commands: WalletCommandsService;
  private keys = 0;

  constructor(
    private readonly store: EventStore,
    processor: CommandProcessor,
    clock: () => Date,
  ) {
    this.commands = new WalletCommandsService(processor, acceptingPins, clock);
  }

  private key(): string {
    this.keys += 1;
    return `payout-kit-${this.keys}`;
  }

  /** Opens a wallet for `owner` and deposits `depositMinor` (0: none). */
  async open(currency: CurrencyCode = 'USD', depositMinor = 0n, owner = 'owner'): Promise<string> {
    const opened = await this.commands.openWallet(operator, { ownerId: owner, currency, idempotencyKey: this.key() });
    const walletId = (opened.wallets[0] as { walletId: string }).walletId;
    if (depositMinor > 0n) await this.deposit(walletId, depositMinor, currency);
    return walletId;
  }

  async deposit(walletId: string, amountMinor: bigint, currency: CurrencyCode = 'USD'): Promise<void> {
    await this.commands.deposit(operator, { walletId, amount: major(amountMinor), currency, idempotencyKey: this.key() });
  }

  async withdraw(walletId: string, amountMinor: bigint): Promise<void> {
    await this.commands.withdraw(operator, { walletId, amount: major(amountMinor), currency: 'USD', idempotencyKey: this.key() });
  }

  async freeze(walletId: string): Promise<void> {
    await this.commands.freezeWallet(operator, { walletId, reason: 'test', idempotencyKey: this.key() });
  }

  async unfreeze(walletId: string): Promise<void> {
    await this.commands.unfreezeWallet(operator, { walletId, idempotencyKey: this.key() });
  }

  async state(walletId: string): Promise<ExistingWallet> {
    const view = await loadStreamView<WalletState>(this.store, walletStreamModel, walletStreamId(walletId));
    if (view.state.status === 'none') throw new Error(`wallet ${walletId} does not exist`);
    return view.state;
  }

  async balance(walletId: string): Promise<bigint> {
    return (await this.state(walletId)).balanceMinor;
  }

  async held(walletId: string): Promise<bigint> {
    return (await this.state(walletId)).heldMinor;
  }
}

/** Minor units of a two-decimal currency as the REST-style amount the command service parses. */
function major(amountMinor: bigint): string {
  const text = amountMinor.toString().padStart(3, '0');
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}
