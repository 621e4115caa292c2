import { describeEventStoreContract } from '@ledger/testing';
import { InMemoryCheckpointStore, InMemoryEventStore } from './in-memory-event-store';

describeEventStoreContract('in-memory', async () => {
  const store = new InMemoryEventStore({ pollIntervalMs: 20 });
  return { store, checkpoints: new InMemoryCheckpointStore(), teardown: () => store.close() };
});
