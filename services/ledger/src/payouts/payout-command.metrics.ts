import { Counter, type Registry } from 'prom-client';
import type { PayoutCommandConsumerStatus } from './payout-command.consumer';

/** Counters of the consumer's status, read at scrape time: what each one counts is in PayoutCommandHandlerStatus. */
const COUNTERS: ReadonlyArray<[name: string, help: string, read: (status: PayoutCommandConsumerStatus) => number]> = [
  ['ledger_payout_command_messages_total', 'Payout command messages answered with a result (replays included)', (s) => s.messagesHandled],
  ['ledger_payout_command_poison_messages_total', 'Payout command messages skipped because they broke the message contract', (s) => s.poisonMessages],
  ['ledger_payout_command_failed_attempts_total', 'Attempts at a payout command that failed for an infrastructure reason (retried or redelivered)', (s) => s.failedAttempts],
  ['ledger_payout_rows_succeeded_total', 'Payout rows answered SUCCEEDED (replays included)', (s) => s.rowsSucceeded],
  ['ledger_payout_rows_failed_total', 'Payout rows answered FAILED (replays included)', (s) => s.rowsFailed],
  ['ledger_payout_rows_reversed_total', 'Payout reversals answered REVERSED (replays included)', (s) => s.rowsReversed],
  ['ledger_payout_reversals_failed_total', 'Payout reversals answered REVERSAL_FAILED (replays included)', (s) => s.reversalsFailed],
];

/**
 * Exposes the payout command consumer's counters on `registry` (read from `status` at each
 * scrape). Wire it where the service builds its registry, e.g. in ledger.app.ts:
 * `if (runtime.payoutCommands) registerPayoutCommandMetrics(registry, () => runtime.payoutCommands.status())`.
 */
export function registerPayoutCommandMetrics(registry: Registry, status: () => PayoutCommandConsumerStatus): void {
  for (const [name, help, read] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(status()));
      },
    });
  }
}
