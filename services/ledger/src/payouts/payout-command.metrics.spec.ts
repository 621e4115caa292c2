import { Registry } from 'prom-client';
import type { PayoutCommandConsumerStatus } from './payout-command.consumer';
import { registerPayoutCommandMetrics } from './payout-command.metrics';

describe('registerPayoutCommandMetrics', () => {
  it('exposes the consumer counters as they are at scrape time', async () => {
    const registry = new Registry();
    let status: PayoutCommandConsumerStatus = {
      state: 'running', transport: 'embedded', messagesHandled: 3, poisonMessages: 1, failedAttempts: 0, rowsSucceeded: 10, rowsFailed: 2, rowsReversed: 0, reversalsFailed: 0,
    };
    registerPayoutCommandMetrics(registry, () => status);
    expect(await registry.metrics()).toMatch(/^ledger_payout_command_poison_messages_total 1$/m);
    status = { ...status, poisonMessages: 4, rowsFailed: 5 };
    const text = await registry.metrics();
    expect(text).toMatch(/^ledger_payout_command_poison_messages_total 4$/m);
    expect(text).toMatch(/^ledger_payout_rows_failed_total 5$/m);
    expect(text).toMatch(/^ledger_payout_rows_succeeded_total 10$/m);
  });
});
