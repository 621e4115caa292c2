import { PostgresEventStore } from '@ledger/event-store-postgres';
import { WrongExpectedVersionError, type ExpectedState } from '@ledger/event-store';
import { depositEvent, hotStream, NO_EVENT, transferEvents, walletStream } from './append.events';
import type { AppendDriver, AppendOutcome, CellContext } from './append.driver';

/** The system under test: PostgresEventStore used exactly as a command handler would use it. */
export function adapterDriver(context: CellContext): AppendDriver {
  const store = new PostgresEventStore({ pool: context.pool, schema: context.schema });
  const noSetUp = async (): Promise<void> => undefined;
  const writers = Array.from({ length: context.writers }, (_, writer) => writer);

  switch (context.scenario) {
    case 'single': {
      const streams = writers.map((w) => walletStream(context.cellTag, w));
      const revisions = writers.map(() => NO_EVENT);
      return {
        setUp: noSetUp,
        append: async (w) => {
          const result = await store.appendToStream(streams[w]!, [depositEvent()], { expectedState: expected(revisions[w]!) });
          revisions[w] = result.streams[0]!.nextExpectedRevision;
          return 'ok';
        },
      };
    }
    case 'transfer': {
      const from = writers.map((w) => walletStream(context.cellTag, w, '.a'));
      const to = writers.map((w) => walletStream(context.cellTag, w, '.b'));
      const fromRevisions = writers.map(() => NO_EVENT);
      const toRevisions = writers.map(() => NO_EVENT);
      return {
        setUp: noSetUp,
        append: async (w) => {
          const { debit, credit } = transferEvents();
          const result = await store.appendToStreams([
            { streamId: from[w]!, expectedState: expected(fromRevisions[w]!), events: [debit] },
            { streamId: to[w]!, expectedState: expected(toRevisions[w]!), events: [credit] },
          ]);
          // Results come back in request order.
          fromRevisions[w] = result.streams[0]!.nextExpectedRevision;
          toRevisions[w] = result.streams[1]!.nextExpectedRevision;
          return 'ok';
        },
      };
    }
    case 'batch': {
      // Every transfer slot of every writer owns its two streams: a group committer's batch of B
      // independent transfers, each with the exact revisions it was decided on. No conflicts.
      const slots = Array.from({ length: context.batchSize }, (_, slot) => slot);
      const from = writers.map((w) => slots.map((t) => walletStream(context.cellTag, w, `.t${t}.a`)));
      const to = writers.map((w) => slots.map((t) => walletStream(context.cellTag, w, `.t${t}.b`)));
      const fromRevisions = writers.map(() => slots.map(() => NO_EVENT));
      const toRevisions = writers.map(() => slots.map(() => NO_EVENT));
      return {
        setUp: noSetUp,
        append: async (w) => {
          const requests = slots.map((t) => {
            const { debit, credit } = transferEvents();
            return [
              { streamId: from[w]![t]!, expectedState: expected(fromRevisions[w]![t]!), events: [debit] },
              { streamId: to[w]![t]!, expectedState: expected(toRevisions[w]![t]!), events: [credit] },
            ];
          });
          const outcomes = await store.appendBatch(requests);
          for (const [t, outcome] of outcomes.entries()) {
            // Nobody else writes these streams: a refused transfer is a bug, and stops the run.
            if (!outcome.ok) throw outcome.error;
            fromRevisions[w]![t] = outcome.result.streams[0]!.nextExpectedRevision;
            toRevisions[w]![t] = outcome.result.streams[1]!.nextExpectedRevision;
          }
          return 'ok';
        },
      };
    }
    case 'hot': {
      const stream = hotStream(context.cellTag);
      const known = writers.map(() => NO_EVENT); // each writer's own view, as separate processes would have
      return {
        setUp: noSetUp,
        append: async (w): Promise<AppendOutcome> => {
          try {
            const result = await store.appendToStream(stream, [depositEvent()], { expectedState: expected(known[w]!) });
            known[w] = result.streams[0]!.nextExpectedRevision;
            return 'ok';
          } catch (error) {
            if (!(error instanceof WrongExpectedVersionError)) throw error;
            known[w] = error.actual === 'no_stream' ? NO_EVENT : error.actual;
            return 'conflict';
          }
        },
      };
    }
  }
}

function expected(revision: bigint): ExpectedState {
  return revision === NO_EVENT ? 'no_stream' : revision;
}
