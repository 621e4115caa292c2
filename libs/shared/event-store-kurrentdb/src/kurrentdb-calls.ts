import { EventStoreUnavailableError } from '@ledger/event-store';
import type { KurrentDbDriver } from './kurrentdb-driver';
import { isStreamNotFound, translateDriverError } from './kurrentdb-errors';
import type { DriverEventRecord, DriverPosition } from './kurrentdb-mapping';

/** A local timer backs every driver call: the gRPC deadline plus this margin, in milliseconds. */
export const LOCAL_DEADLINE_MARGIN_MS = 2_000;

/** Deadlines of driver calls, in milliseconds. */
export interface CallDeadlines {
  /** Sent with each call (and set as the client's defaultDeadline). */
  readonly deadlineMs: number;
}

/**
 * Bounds a driver call locally. The server enforces the gRPC deadline, but streaming reads through
 * the driver's native bridge take no per-call deadline, and a lost connection must not hang a
 * caller: after deadline + margin the call fails with EventStoreUnavailableError.
 */
export async function bounded<T>(work: Promise<T>, deadlines: CallDeadlines, operation: string): Promise<T> {
  const limitMs = deadlines.deadlineMs + LOCAL_DEADLINE_MARGIN_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EventStoreUnavailableError(`KurrentDB ${operation}: no answer within ${limitMs} ms`)), limitMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface StreamReadRequest {
  readonly direction: 'forwards' | 'backwards';
  readonly fromRevision: 'start' | 'end' | bigint;
  readonly maxCount: number;
}

/** A stream's events, from the leader; a stream that does not exist reads as empty. Kernel errors only. */
export async function readStreamEvents(
  driver: KurrentDbDriver,
  streamId: string,
  request: StreamReadRequest,
  deadlines: CallDeadlines,
  operation: string,
): Promise<DriverEventRecord[]> {
  const work = async (): Promise<DriverEventRecord[]> => {
    const out: DriverEventRecord[] = [];
    try {
      for await (const resolved of driver.readStream(streamId, { ...request, requiresLeader: true, deadline: deadlines.deadlineMs })) {
        if (resolved.event) out.push(resolved.event);
      }
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      throw error;
    }
    return out;
  };
  try {
    return await bounded(work(), deadlines, operation);
  } catch (error) {
    throw translateDriverError(error, operation);
  }
}

export interface AllReadRequest {
  readonly fromPosition: 'start' | 'end' | DriverPosition;
  readonly maxCount: number;
  readonly direction: 'forwards' | 'backwards';
}

/** A page of $all, from the leader, without link resolution or server-side filter. Kernel errors only. */
export async function readAllEvents(driver: KurrentDbDriver, request: AllReadRequest, deadlines: CallDeadlines): Promise<DriverEventRecord[]> {
  const work = async (): Promise<DriverEventRecord[]> => {
    const out: DriverEventRecord[] = [];
    for await (const resolved of driver.readAll({ ...request, resolveLinkTos: false, requiresLeader: true, deadline: deadlines.deadlineMs })) {
      if (resolved.event) out.push(resolved.event);
    }
    return out;
  };
  try {
    return await bounded(work(), deadlines, 'readAll');
  } catch (error) {
    throw translateDriverError(error, 'readAll');
  }
}
