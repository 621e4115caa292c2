import { describeEventStoreContract } from '@ledger/testing';
import { KurrentDbCheckpointStore } from './kurrentdb-checkpoint-store';
import { createKurrentDbDriver, DEFAULT_KURRENTDB_DEADLINE_MS } from './kurrentdb-driver';
import { KurrentDbEventStore } from './kurrentdb-event-store';

/**
 * The shared EventStore contract against a real KurrentDB server (25.1 or later: atomic
 * multi-stream appends), e.g. KURRENTDB_URL=kurrentdb://localhost:2113?tls=false. The connection's
 * user must be allowed to read $all (an admin, or an insecure dev node).
 */
const KURRENTDB_URL = process.env['KURRENTDB_URL'];
const SKIP_REASON = 'KurrentDB contract suite skipped: KURRENTDB_URL is not set (no KurrentDB server on this machine)';

const maybe = KURRENTDB_URL ? describe : describe.skip; // skipped unless KURRENTDB_URL is set: no KurrentDB server can be obtained on this machine (not on npm, Maven Central or Debian)

maybe('KurrentDB adapter on a real server (KURRENTDB_URL)', () => {
  describeEventStoreContract(
    'kurrentdb',
    async () => {
      const url = KURRENTDB_URL as string;
      const deadlineMs = DEFAULT_KURRENTDB_DEADLINE_MS;
      const driver = createKurrentDbDriver(url, { deadlineMs });
      const store = new KurrentDbEventStore({ driver, ownsDriver: true, deadlineMs, pollIntervalMs: 50 });
      const others: KurrentDbEventStore[] = [];
      return {
        store,
        checkpoints: new KurrentDbCheckpointStore(driver, { deadlineMs }),
        reopen: async () => {
          const other = KurrentDbEventStore.connect(url, { deadlineMs });
          others.push(other);
          return other;
        },
        teardown: async () => {
          await Promise.all(others.map((other) => other.close()));
          await store.close();
        },
      };
    },
    // Caller-supplied event ids are claimed in guard streams, so duplicates are refused (README.md).
    { rejectsDuplicateEventIds: true },
  );
});

if (!KURRENTDB_URL) {
  describe('KurrentDB contract suite', () => {
    it('reports why it did not run', () => {
      console.warn(SKIP_REASON);
      expect(SKIP_REASON).toContain('KURRENTDB_URL is not set');
    });
  });
}
