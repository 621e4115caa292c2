import type { CommandContext, WalletCommand } from '../wallet.commands';
import { decideWallet } from '../wallet.decider';
import type { WalletEvent } from '../wallet.events';
import { foldWallet } from '../wallet.state';

/** Given/when/then for the single-wallet decider: given past events, when a command, then events or a named error. */
export function givenWallet(history: readonly WalletEvent[]) {
  return {
    when(command: WalletCommand, context: CommandContext) {
      const run = (): WalletEvent[] => decideWallet(command, foldWallet(history), context);
      return {
        then(expected: readonly WalletEvent[]): void {
          expect(run()).toEqual(expected);
        },
        thenRejects(code: string): void {
          let caught: unknown;
          try {
            run();
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(Error);
          expect((caught as { code?: string }).code).toBe(code);
        },
      };
    },
  };
}
