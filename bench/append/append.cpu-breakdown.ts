import { chainBodyParts, DEFAULT_EVENT_STORE_LIMITS, prepareAppend, type NewEvent, type StreamWrite } from '@ledger/event-store';
import { depositEvent, transferEvents } from './append.events';

/**
 * In-process CPU of one append, without I/O: what the adapter computes before it talks to
 * PostgreSQL (validation + canonical JSON via prepareAppend, then the hash body split around the
 * revision per event; the SHA-256 itself runs inside PostgreSQL's append function) against what the baseline computes (JSON.stringify of data and metadata). Printed next
 * to the per-append CPU the cells measure, it tells how much of the adapter's client-side cost is
 * its own logic and how much is driver work per statement.
 */

const WARMUP_ITERATIONS = 2_000;
const ITERATIONS = 20_000;

export interface CpuBreakdown {
  readonly scenario: 'single' | 'transfer';
  readonly adapterPrepareAndHashUs: number;
  readonly baselineSerialiseUs: number;
}

export function measureCpuBreakdown(): CpuBreakdown[] {
  const single = (): StreamWrite[] => [{ streamId: 'benchWallet-cpu.w0', expectedState: 41n, events: [depositEvent()] }];
  const transfer = (): StreamWrite[] => {
    const { debit, credit } = transferEvents();
    return [
      { streamId: 'benchWallet-cpu.w0.a', expectedState: 41n, events: [debit] },
      { streamId: 'benchWallet-cpu.w0.b', expectedState: 17n, events: [credit] },
    ];
  };
  return [
    { scenario: 'single', ...measureScenario(single) },
    { scenario: 'transfer', ...measureScenario(transfer) },
  ];
}

function measureScenario(build: () => StreamWrite[]): Omit<CpuBreakdown, 'scenario'> {
  // Requests are built up front so that building them (random UUIDs) is not part of either figure.
  const requests = Array.from({ length: WARMUP_ITERATIONS + ITERATIONS }, build);
  const adapterWork = (writes: StreamWrite[]): void => {
    for (const write of prepareAppend(writes, DEFAULT_EVENT_STORE_LIMITS)) {
      for (const event of write.events) chainBodyParts({ ...event, streamId: write.streamId });
    }
  };
  const baselineWork = (writes: StreamWrite[]): void => {
    for (const write of writes) {
      for (const event of write.events as NewEvent[]) {
        JSON.stringify(event.data);
        JSON.stringify(event.metadata);
      }
    }
  };
  return { adapterPrepareAndHashUs: timePerCallUs(requests, adapterWork), baselineSerialiseUs: timePerCallUs(requests, baselineWork) };
}

function timePerCallUs(requests: readonly StreamWrite[][], work: (writes: StreamWrite[]) => void): number {
  for (let i = 0; i < WARMUP_ITERATIONS; i++) work(requests[i]!);
  const start = process.hrtime.bigint();
  for (let i = WARMUP_ITERATIONS; i < requests.length; i++) work(requests[i]!);
  return Number(process.hrtime.bigint() - start) / 1_000 / ITERATIONS;
}
