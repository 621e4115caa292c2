import type { RecordedEvent } from '@ledger/event-store';
import { decodeLedgerMessage } from '@ledger/integration-events';
import { eventMessagesByTopic, watermarkMessages } from './relay-batch';

function event(streamId: string, revision: bigint, position: bigint): RecordedEvent {
  return {
    id: `00000000-0000-4000-8000-${position.toString().padStart(12, '0')}`,
    type: 'SomethingHappened',
    data: { n: Number(revision) },
    metadata: { correlationId: 'c', causationId: 'c', principal: 'service:test', schemaVersion: 1 },
    streamId,
    revision,
    position,
    recordedAt: new Date('2026-11-21T10:00:00.000Z'),
    hash: 'b'.repeat(64),
  };
}

describe('relay batch', () => {
  it('groups events per topic keeping log order, keyed by stream id', () => {
    const events = [event('wallet-a', 0n, 10n), event('payout-x', 0n, 11n), event('wallet-b', 0n, 12n), event('wallet-a', 1n, 13n)];
    const groups = eventMessagesByTopic(events);
    expect(groups.map((g) => g.topic)).toEqual(['ledger.wallet.v1', 'ledger.payout.v1']);
    const wallet = groups[0]!.messages;
    expect(wallet.map((m) => m.key)).toEqual(['wallet-a', 'wallet-b', 'wallet-a']);
    expect(wallet.map((m) => decodeLedgerMessage({ ...m, headers: m.headers ?? {} }))).toEqual([events[0], events[2], events[3]].map((e) => ({ kind: 'event', event: e })));
    expect(wallet.every((m) => m.partition === undefined)).toBe(true);
  });

  it('addresses one watermark to every partition of every topic', () => {
    const groups = watermarkMessages(
      99n,
      new Map([
        ['ledger.wallet.v1', 3],
        ['ledger.payout.v1', 1],
      ]),
    );
    expect(groups.map((g) => [g.topic, g.messages.map((m) => m.partition)])).toEqual([
      ['ledger.wallet.v1', [0, 1, 2]],
      ['ledger.payout.v1', [0]],
    ]);
    for (const m of groups.flatMap((g) => g.messages)) expect(decodeLedgerMessage({ ...m, headers: m.headers ?? {} })).toEqual({ kind: 'watermark', position: 99n });
  });
});
