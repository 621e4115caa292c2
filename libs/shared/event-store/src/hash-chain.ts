import { createHash } from 'node:crypto';
import type { EventMetadata, RecordedEvent } from './event-envelope';
import { canonicalJson } from './json';

/** The hash before a stream's first event. */
export const GENESIS_HASH = '';

/**
 * hash(n) = SHA-256( hash(n-1) "\n" canonicalJson({ streamId, revision, id, type, data, metadata }) ).
 *
 * Covers everything a writer decides; leaves out what the store assigns at commit (global
 * position, recorded time), so every adapter can compute it before the write and an auditor can
 * recompute it from any copy of the stream.
 */
export function chainHash(
  previousHash: string,
  event: {
    streamId: string;
    revision: bigint;
    id: string;
    type: string;
    data: unknown;
    metadata: EventMetadata;
  },
): string {
  const body = canonicalJson({
    streamId: event.streamId,
    revision: event.revision.toString(),
    id: event.id,
    type: event.type,
    data: event.data,
    metadata: event.metadata,
  });
  return createHash('sha256').update(previousHash).update('\n').update(body).digest('hex');
}

/**
 * The hashed body split around the revision, for stores that assign the revision themselves
 * (the PostgreSQL append function): `beforeRevision + revision + afterRevision` is exactly the
 * canonical body chainHash hashes (keys sorted: data, id, metadata, revision, streamId, type).
 * `dataJson` and `metadataJson` must be canonicalJson output.
 */
export function chainBodyParts(event: {
  streamId: string;
  id: string;
  type: string;
  dataJson: string;
  metadataJson: string;
}): { readonly beforeRevision: string; readonly afterRevision: string } {
  return {
    beforeRevision: `{"data":${event.dataJson},"id":${JSON.stringify(event.id)},"metadata":${event.metadataJson},"revision":"`,
    afterRevision: `","streamId":${JSON.stringify(event.streamId)},"type":${JSON.stringify(event.type)}}`,
  };
}

export type ChainVerdict =
  | { readonly ok: true; readonly lastHash: string; readonly checked: number }
  | {
      readonly ok: false;
      readonly revision: bigint;
      readonly reason: 'REVISION_GAP' | 'HASH_MISMATCH' | 'WRONG_STREAM';
      readonly expected: string;
      readonly actual: string;
    };

/**
 * Recomputes the chain of consecutive events of one stream, starting after `previousHash` (the
 * genesis hash when starting at revision 0). Reports the first break: a missing or reordered
 * revision, an event of another stream, or a hash that does not match its contents.
 */
export function verifyChain(
  events: readonly RecordedEvent[],
  previousHash: string = GENESIS_HASH,
): ChainVerdict {
  let last = previousHash;
  let expectedRevision = events[0]?.revision ?? 0n;
  const streamId = events[0]?.streamId;
  for (const event of events) {
    if (event.streamId !== streamId) {
      return { ok: false, revision: event.revision, reason: 'WRONG_STREAM', expected: String(streamId), actual: event.streamId };
    }
    if (event.revision !== expectedRevision) {
      return {
        ok: false,
        revision: event.revision,
        reason: 'REVISION_GAP',
        expected: expectedRevision.toString(),
        actual: event.revision.toString(),
      };
    }
    const recomputed = chainHash(last, event);
    if (recomputed !== event.hash) {
      return { ok: false, revision: event.revision, reason: 'HASH_MISMATCH', expected: recomputed, actual: event.hash };
    }
    last = event.hash;
    expectedRevision += 1n;
  }
  return { ok: true, lastHash: last, checked: events.length };
}
