import {
  EmbeddedBusPublisher,
  EmbeddedBusSubscriber,
  embeddedConsumerId,
  topicToCategory,
  type EmbeddedBusLogEntry,
  type IncomingMessage,
  type OutgoingMessage,
  type RunningConsumer,
} from '@ledger/bus';
import type { CheckpointStore, EventStore } from '@ledger/event-store';
import { randomBytes } from 'node:crypto';
import { waitFor } from './wait-for';

export interface EmbeddedBusStoresUnderTest {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore;
  /** The same checkpoints opened again, as a restarted process would (a new object on the same storage). */
  reopenCheckpoints(): CheckpointStore;
  teardown(): Promise<void>;
}

const DELIVERY_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 90_000;

interface Payload {
  readonly id: string;
  readonly key: string;
  readonly seq: number;
}

function message(key: string, seq: number): OutgoingMessage {
  return { key, value: JSON.stringify({ id: `${key}#${seq}`, key, seq }) };
}

function payload(incoming: IncomingMessage): Payload {
  return JSON.parse(incoming.value) as Payload;
}

/**
 * Crash and restart of an embedded-bus consumer on a given pair of stores: the message in flight
 * when the consumer went away has no checkpoint and comes again; nothing else is skipped or
 * delivered twice. Runs on the in-memory stores (unit) and on PostgreSQL (integration).
 */
export function describeEmbeddedBusRestart(adapterName: string, makeStores: () => Promise<EmbeddedBusStoresUnderTest>): void {
  describe(`embedded bus restart: ${adapterName}`, () => {
    let stores: EmbeddedBusStoresUnderTest | undefined;
    const running: RunningConsumer[] = [];
    const logs: EmbeddedBusLogEntry[] = [];
    const the = (): EmbeddedBusStoresUnderTest => {
      if (!stores) throw new Error('makeStores did not complete');
      return stores;
    };
    const subscriber = (checkpoints: CheckpointStore): EmbeddedBusSubscriber =>
      new EmbeddedBusSubscriber(the().store, checkpoints, { retryInitialDelayMs: 10, retryMaxDelayMs: 100, log: (entry) => logs.push(entry) });

    beforeAll(async () => {
      stores = await makeStores();
    }, TEST_TIMEOUT_MS);
    afterEach(async () => {
      await Promise.allSettled(running.splice(0).map((c) => c.stop()));
    }, TEST_TIMEOUT_MS);
    afterAll(async () => {
      await stores?.teardown();
    }, TEST_TIMEOUT_MS);

    it(
      'redelivers the message in flight when the consumer stopped without its checkpoint; nothing else is skipped or handled twice',
      async () => {
        const topic = `restart.${randomBytes(5).toString('hex')}`;
        const groupId = `restart-${randomBytes(4).toString('hex')}`;
        const keys = ['wallet-a', 'wallet-b', 'wallet-c', 'wallet-d', 'wallet-e'];
        const perKey = 12;
        const outgoing: OutgoingMessage[] = [];
        for (let seq = 0; seq < perKey; seq++) for (const key of keys) outgoing.push(message(key, seq));
        const publisher = new EmbeddedBusPublisher(the().store);
        for (let i = 0; i < outgoing.length; i += 17) await publisher.publish(topic, outgoing.slice(i, i + 17));

        // An idempotent handler: its effect is keyed by message id, so a redelivery changes nothing.
        const applied = new Map<string, number>();
        const deliveries: Array<{ readonly run: 1 | 2; readonly message: IncomingMessage }> = [];
        const applyOnce = (m: IncomingMessage): void => {
          if (!applied.has(payload(m).id)) applied.set(payload(m).id, deliveries.length);
        };
        const crashAfter = 25;
        let release!: (error: Error) => void;
        const blocked = new Promise<void>((_, reject) => (release = reject));
        blocked.catch(() => undefined);

        const first = await subscriber(the().checkpoints).start({
          groupId,
          topics: [topic],
          fromBeginning: true,
          handle: async (m) => {
            deliveries.push({ run: 1, message: m });
            applyOnce(m);
            // Effect done, then the process "dies" before the handler resolves: no checkpoint for it.
            if (deliveries.length === crashAfter) await blocked;
          },
        });
        running.push(first);
        await waitFor(() => deliveries.length === crashAfter, DELIVERY_TIMEOUT_MS, `${crashAfter} deliveries in the first run`);
        const stopping = first.stop();
        release(new Error('simulated crash between effect and checkpoint'));
        await stopping;

        const inFlight = deliveries[crashAfter - 1]!.message;
        const lastCommitted = deliveries[crashAfter - 2]!.message;
        expect(deliveries).toHaveLength(crashAfter);
        expect(await the().checkpoints.load(embeddedConsumerId(groupId, topic))).toBe(BigInt(lastCommitted.offset));

        // A new process: new subscriber, checkpoints opened again.
        const second = await subscriber(the().reopenCheckpoints()).start({
          groupId,
          topics: [topic],
          fromBeginning: true,
          handle: async (m) => {
            deliveries.push({ run: 2, message: m });
            applyOnce(m);
          },
        });
        running.push(second);
        await waitFor(() => applied.size === outgoing.length && deliveries.length >= outgoing.length + 1, DELIVERY_TIMEOUT_MS, 'every message applied');
        await second.stop();

        const secondRun = deliveries.filter((d) => d.run === 2).map((d) => d.message);
        expect(secondRun[0]?.offset).toBe(inFlight.offset);
        expect(payload(secondRun[0]!).id).toBe(payload(inFlight).id);
        // Exactly one redelivery (the in-flight message), no gap: every message was applied.
        expect(deliveries).toHaveLength(outgoing.length + 1);
        const timesDelivered = new Map<string, number>();
        for (const d of deliveries) timesDelivered.set(payload(d.message).id, (timesDelivered.get(payload(d.message).id) ?? 0) + 1);
        expect([...timesDelivered].filter(([, n]) => n !== 1)).toEqual([[payload(inFlight).id, 2]]);
        expect(applied.size).toBe(outgoing.length);
        // Offsets rise strictly across both runs once the redelivered message is dropped.
        const offsets = [...deliveries.slice(0, crashAfter), ...deliveries.slice(crashAfter + 1)].map((d) => BigInt(d.message.offset));
        for (let i = 1; i < offsets.length; i++) expect(offsets[i]! > offsets[i - 1]!).toBe(true);
        // Per key, the first handling of each message follows publish order across the restart.
        for (const key of keys) {
          const seqs: number[] = [];
          for (const d of deliveries) {
            const p = payload(d.message);
            if (p.key === key && !seqs.includes(p.seq)) seqs.push(p.seq);
          }
          expect({ key, seqs }).toEqual({ key, seqs: Array.from({ length: perKey }, (_, i) => i) });
        }
        expect(await the().checkpoints.load(embeddedConsumerId(groupId, topic))).toBe(BigInt(deliveries[deliveries.length - 1]!.message.offset));
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'resumes a restarted group from its checkpoint, with what was published while it was down, whatever fromBeginning says',
      async () => {
        const topic = `resume.${randomBytes(5).toString('hex')}`;
        const groupId = `resume-${randomBytes(4).toString('hex')}`;
        const publisher = new EmbeddedBusPublisher(the().store);
        const seen: string[] = [];
        const options = (fromBeginning: boolean) => ({
          groupId,
          topics: [topic],
          fromBeginning,
          handle: async (m: IncomingMessage) => {
            seen.push(payload(m).id);
          },
        });

        await publisher.publish(topic, [message('before-start', 0)]);
        // "The end of the log" is what readers can see: a commit may stay invisible while an older
        // transaction runs (PostgreSQL, ADR 0002). Start once the message is visible, so it is
        // before the end by any reading.
        await waitFor(async () => (await the().store.readAll({ fromPosition: 0n, maxCount: 10, filter: { categories: [topicToCategory(topic)] } })).events.length === 1, DELIVERY_TIMEOUT_MS, 'the first message to be visible');
        const first = await subscriber(the().checkpoints).start(options(false));
        running.push(first);
        await publisher.publish(topic, [message('k', 0), message('k', 1)]);
        await waitFor(() => seen.length === 2, DELIVERY_TIMEOUT_MS, 'the two live messages');
        await first.stop();

        await publisher.publish(topic, [message('k', 2), message('k', 3)]); // while no member runs
        const second = await subscriber(the().reopenCheckpoints()).start(options(false));
        running.push(second);
        await publisher.publish(topic, [message('k', 4)]);
        await waitFor(() => seen.includes('k#4'), DELIVERY_TIMEOUT_MS, 'the message published after the restart');
        expect(seen).toEqual(['k#0', 'k#1', 'k#2', 'k#3', 'k#4']);
      },
      TEST_TIMEOUT_MS,
    );
  });
}
