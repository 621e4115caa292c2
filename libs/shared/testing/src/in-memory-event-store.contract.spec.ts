import { describeEventStoreContract } from './event-store-contract';
import { InMemoryCheckpointStore, InMemoryEventStore } from '@ledger/event-store';

describeEventStoreContract('in-memory', async () => {
  const store = new InMemoryEventStore({ pollIntervalMs: 20 });
  return { store, checkpoints: new InMemoryCheckpointStore(), teardown: () => store.close() };
});
