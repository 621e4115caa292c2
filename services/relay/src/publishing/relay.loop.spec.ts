import type { BusPublisher, OutgoingMessage } from '@ledger/bus';
import { InMemoryEventStore } from '@ledger/event-store';
import { decodeLedgerMessage } from '@ledger/integration-events';
import { testEvents } from '@ledger/testing';
import { Registry } from 'prom-client';
import { LeadershipLostError } from '../leadership/leader-lock';
import { RelayMetrics } from '../observability/relay.metrics';
import { runRelayLoop, type CheckpointLease } from './relay.loop';

type Step = { kind: 'publish'; topic: string; messages: readonly OutgoingMessage[] } | { kind: 'checkpoint'; position: bigint };

const quiet = { log: () => undefined, error: () => undefined, warn: () => undefined, debug: () => undefined };

function fakes(onPublish: (topic: string) => void = () => undefined) {
  const steps: Step[] = [];
  const lost = new AbortController();
  let stored = 0n;
  const lease: CheckpointLease = {
    lost: lost.signal,
    loadCheckpoint: async () => stored,
    storeCheckpoint: async (position) => {
      if (lost.signal.aborted) throw new LeadershipLostError('lost');
      steps.push({ kind: 'checkpoint', position });
      stored = position;
    },
  };
  const publisher: BusPublisher = {
    publish: async (topic, messages) => {
      steps.push({ kind: 'publish', topic, messages });
      onPublish(topic);
    },
    close: async () => undefined,
  };
  return { steps, lost, lease, publisher, stored: () => stored };
}

describe('relay loop', () => {
  it('publishes a batch per topic keyed by stream, then one watermark per partition, then stores the checkpoint', async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream('wallet-a', testEvents(2), { expectedState: 'no_stream' });
    await store.appendToStream('idempotency-x', testEvents(1), { expectedState: 'no_stream' });
    await store.appendToStream('wallet-b', testEvents(1), { expectedState: 'no_stream' });
    const head = (await store.readAll({ fromPosition: 0n, maxCount: 100 })).checkpoint;
    const stop = new AbortController();
    const { steps, lease, publisher } = fakes();
    const running = runRelayLoop({
      store, publisher, lease, categories: ['wallet'], partitionsByTopic: new Map([['ledger.wallet.v1', 2]]),
      batchSize: 10, pollIntervalMs: 5, idleWatermarkMs: 60_000, metrics: new RelayMetrics(new Registry()), logger: quiet, stop: stop.signal,
    });
    await new Promise<void>((resolve) => {
      const check = (): void => (steps.some((s) => s.kind === 'checkpoint') ? resolve() : void setTimeout(check, 5));
      check();
    });
    stop.abort();
    await running;
    expect(steps.map((s) => (s.kind === 'publish' ? `${s.topic}:${s.messages.length}` : 'checkpoint'))).toEqual(['ledger.wallet.v1:3', 'ledger.wallet.v1:2', 'checkpoint']);
    const [events, watermarks, checkpoint] = steps as [Extract<Step, { kind: 'publish' }>, Extract<Step, { kind: 'publish' }>, Extract<Step, { kind: 'checkpoint' }>];
    expect(events.messages.map((m) => m.key)).toEqual(['wallet-a', 'wallet-a', 'wallet-b']);
    expect(watermarks.messages.map((m) => m.partition)).toEqual([0, 1]);
    // The watermark is the read horizon: past the unpublished idempotency event too.
    expect(checkpoint.position).toBe(head);
    expect(watermarks.messages.map((m) => decodeLedgerMessage({ ...m, headers: m.headers ?? {} }))).toEqual([
      { kind: 'watermark', position: head },
      { kind: 'watermark', position: head },
    ]);
  });

  it('stops publishing the moment the lease is lost, and stores no checkpoint', async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream('wallet-a', testEvents(1), { expectedState: 'no_stream' });
    await store.appendToStream('payout-a', testEvents(1), { expectedState: 'no_stream' });
    const holder: { lost?: AbortController } = {};
    const f = fakes(() => holder.lost?.abort('terminated'));
    holder.lost = f.lost;
    const run = runRelayLoop({
      store, publisher: f.publisher, lease: f.lease, categories: ['wallet', 'payout'],
      partitionsByTopic: new Map([['ledger.wallet.v1', 1], ['ledger.payout.v1', 1]]),
      batchSize: 10, pollIntervalMs: 5, idleWatermarkMs: 60_000, metrics: new RelayMetrics(new Registry()), logger: quiet, stop: new AbortController().signal,
    });
    await expect(run).rejects.toBeInstanceOf(LeadershipLostError);
    expect(f.steps).toHaveLength(1); // the first topic's publish was in flight; nothing after it
    expect(f.stored()).toBe(0n);
  });
});
