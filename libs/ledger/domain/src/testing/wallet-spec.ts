import type { CommandContext, WalletCommand } from '../wallet.commands';
import { decideWallet } from '../wallet.decider';
import type { WalletEvent } from '../wallet.events';
import { foldWallet, type WalletState } from '../wallet.state';

/** Given/when/then for the single-wallet decider: given past events, when a command, then events or a named error. */
export function givenWallet(history: readonly WalletEvent[]) {
  return {
    when(command: WalletCommand, context: CommandContext) {
      const run = (): WalletEvent[] => decideWallet(command, foldWallet(history), context);
      return {
        then(expected: readonly WalletEvent[]): void {
          expect(run()).toEqual(expected);
        },
        thenRejects(code: string, details?: Record<string, unknown>): void {
          expectRejection(run, code, details);
        },
      };
    },
  };
}

/** A decider over two wallets (transfer, capture or draw into a wallet): both legs of one append. */
export type TwoWalletDecider<C> = (
  command: C,
  from: WalletState,
  to: WalletState,
  context: CommandContext,
) => { readonly fromEvents: WalletEvent[]; readonly toEvents: WalletEvent[] };

/** Given/when/then for the two-wallet deciders: given each wallet's past events, when a command, then both legs or a named error. */
export function givenWallets(fromHistory: readonly WalletEvent[], toHistory: readonly WalletEvent[]) {
  return {
    when<C>(decide: TwoWalletDecider<C>, command: C, context: CommandContext) {
      const run = () => decide(command, foldWallet(fromHistory), foldWallet(toHistory), context);
      return {
        then(expected: { fromEvents: readonly WalletEvent[]; toEvents: readonly WalletEvent[] }): void {
          expect(run()).toEqual(expected);
        },
        thenRejects(code: string, details?: Record<string, unknown>): void {
          expectRejection(run, code, details);
        },
      };
    },
  };
}

function expectRejection(run: () => unknown, code: string, details: Record<string, unknown> | undefined): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(Error);
  expect((caught as { code?: string }).code).toBe(code);
  if (details !== undefined) expect((caught as { details?: unknown }).details).toMatchObject(details);
}
