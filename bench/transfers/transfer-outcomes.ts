/**
 * What became of one transfer request, by reason code. The named outcomes get their own column
 * or counter in every cell (even when zero); any other code is counted under OTHER and also kept
 * by its raw name, so nothing unexpected is hidden.
 *
 * - INSUFFICIENT_FUNDS means the bench's setup is wrong (every source is funded for the whole run).
 * - OVERLOADED (the service's queue bound), CONCURRENCY_CONFLICT (bounded retries ran out) and
 *   TIMEOUT (the request's own deadline) are real failures under load.
 */
export const TRANSFER_OUTCOMES = ['ok', 'INSUFFICIENT_FUNDS', 'OVERLOADED', 'CONCURRENCY_CONFLICT', 'TIMEOUT', 'UNAVAILABLE', 'OTHER'] as const;
export type TransferOutcome = (typeof TRANSFER_OUTCOMES)[number];

/** gRPC status codes the classification needs (@grpc/grpc-js `status`). */
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/** SQLSTATE of RAISE EXCEPTION without an explicit code (raise_exception). */
const RAISED_BY_BASELINE = 'P0001';

const NAMED = new Set<string>(TRANSFER_OUTCOMES);

/** Counts raw reason codes that are not named outcomes. */
export class ReasonTally {
  private readonly others = new Map<string, number>();

  /** The outcome for a reason code; an unnamed one is OTHER and its raw code is counted. */
  outcomeOf(reason: string): TransferOutcome {
    if (NAMED.has(reason) && reason !== 'OTHER') return reason as TransferOutcome;
    this.others.set(reason, (this.others.get(reason) ?? 0) + 1);
    return 'OTHER';
  }

  /** Raw codes counted under OTHER (warm-up included), most frequent first. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.others].sort((a, b) => b[1] - a[1]));
  }

  reset(): void {
    this.others.clear();
  }
}

/** The reason code of a failed gRPC call: the `reason-code` trailer, else a name for the status. */
export function grpcReason(error: { readonly code?: number; readonly metadata?: { get(key: string): unknown[] } }): string {
  const [reasonCode] = error.metadata?.get('reason-code') ?? [];
  return grpcStatusReason(error.code, reasonCode);
}

/** The same from a status code and a `reason-code` value read off the wire (the lean client). */
export function grpcStatusReason(code: number | undefined, reasonCode: unknown): string {
  if (reasonCode !== undefined && String(reasonCode) !== '') return String(reasonCode);
  if (code === GRPC_DEADLINE_EXCEEDED) return 'TIMEOUT';
  if (code === GRPC_UNAVAILABLE) return 'UNAVAILABLE';
  return `GRPC_STATUS_${code === undefined || Number.isNaN(code) ? 'UNKNOWN' : code}`;
}

/** The reason code of a failed HTTP call: the problem document's `code`, else the status. */
export function httpReason(status: number, body: string): string {
  try {
    const problem = JSON.parse(body) as unknown;
    if (typeof problem === 'object' && problem !== null && typeof (problem as { code?: unknown }).code === 'string') {
      return (problem as { code: string }).code;
    }
  } catch {
    // not JSON: fall through to the status
  }
  return `HTTP_${status}`;
}

/**
 * The reason code of a failed baseline transaction. The baseline raises its refusals itself
 * (`RAISE EXCEPTION 'INSUFFICIENT_FUNDS'`, SQLSTATE P0001), with the reason code as the message.
 */
export function sqlReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (code === RAISED_BY_BASELINE && /^[A-Z_]{1,64}$/.test(message)) return message;
  // pg: query_timeout ("Query read timeout"), connectionTimeoutMillis while waiting for a connection.
  if (/timeout/i.test(message)) return 'TIMEOUT';
  return typeof code === 'string' ? `PG_${code}` : 'PG_ERROR';
}
