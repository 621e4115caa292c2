import { EmbeddedBusPublisher, EmbeddedBusSubscriber, type EmbeddedBusLogEntry } from '@ledger/bus';
import { InMemoryCheckpointStore, InMemoryEventStore } from '@ledger/event-store';
import { randomBytes } from 'node:crypto';
import { describeBusContract } from './bus-contract';
import { describeEmbeddedBusRestart } from './embedded-bus-restart';

const MAX_KEPT_LOG_ENTRIES = 1_000;

/** Adapter logs kept in memory (bounded) instead of on the console. */
function memoryLog(): (entry: EmbeddedBusLogEntry) => void {
  const entries: EmbeddedBusLogEntry[] = [];
  return (entry) => {
    entries.push(entry);
    if (entries.length > MAX_KEPT_LOG_ENTRIES) entries.splice(0, entries.length - MAX_KEPT_LOG_ENTRIES);
  };
}

describeBusContract(
  'embedded (in-memory event store)',
  async () => {
    const store = new InMemoryEventStore({ pollIntervalMs: 20 });
    const checkpoints = new InMemoryCheckpointStore();
    const publisher = new EmbeddedBusPublisher(store);
    return {
      publisher,
      subscriber: new EmbeddedBusSubscriber(store, checkpoints, { log: memoryLog() }),
      // One partition per topic whatever is asked; topics need no creation.
      newTopic: async () => `contract.${randomBytes(5).toString('hex')}`,
      teardown: async () => {
        await publisher.close();
        await store.close();
      },
    };
  },
  { spreadsKeysOverPartitions: false, splitsPartitionsAcrossMembers: false },
);

describeEmbeddedBusRestart('in-memory event store', async () => {
  const store = new InMemoryEventStore({ pollIntervalMs: 20 });
  const checkpoints = new InMemoryCheckpointStore();
  return {
    store,
    checkpoints,
    // Another object on the same storage, as a restarted process would open.
    reopenCheckpoints: () => ({ load: (id) => checkpoints.load(id), store: (id, position) => checkpoints.store(id, position) }),
    teardown: () => store.close(),
  };
});
