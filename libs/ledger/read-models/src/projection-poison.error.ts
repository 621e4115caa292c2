/** What made an event impossible to apply; stable values for alerts and tests. */
export type PoisonReason =
  | 'REVISION_GAP'
  | 'CANNOT_FOLLOW'
  | 'NOT_A_WALLET_EVENT'
  | 'UNDECODABLE_MESSAGE';

/** Where the poison sits in the log; absent fields are unknown (e.g. an undecodable Kafka message). */
export interface PoisonLocation {
  readonly eventId?: string;
  readonly streamId?: string;
  readonly revision?: bigint;
  readonly position?: bigint;
  /** Kafka only: `<topic>:<partition>@<offset>` of the message. */
  readonly message?: string;
}

/**
 * An event the projection cannot apply: a revision gap, or an event that cannot follow the
 * wallet's state (unknown type, hold not open, event before WalletOpened, malformed data). The
 * projection stops at it and never skips it: skipping would silently corrupt every balance after
 * it. Operating errors (database down, lock timeouts) are not poison: they are retried.
 */
export class ProjectionPoisonError extends Error {
  readonly code = 'PROJECTION_POISON' as const;

  constructor(
    readonly reason: PoisonReason,
    readonly location: PoisonLocation,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`Projection stopped at ${describeLocation(location)}: ${reason}: ${detail}`, options);
    this.name = 'ProjectionPoisonError';
  }
}

export function describeLocation(location: PoisonLocation): string {
  const parts: string[] = [];
  if (location.eventId !== undefined) parts.push(`event ${location.eventId}`);
  if (location.streamId !== undefined) parts.push(`stream ${location.streamId}`);
  if (location.revision !== undefined) parts.push(`revision ${location.revision}`);
  if (location.position !== undefined) parts.push(`position ${location.position}`);
  if (location.message !== undefined) parts.push(`message ${location.message}`);
  return parts.length > 0 ? parts.join(', ') : 'an unidentified message';
}
