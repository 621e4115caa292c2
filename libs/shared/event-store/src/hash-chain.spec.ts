import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from './event-envelope';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { chainBodyParts, chainHash, GENESIS_HASH, verifyChain } from './hash-chain';
import { canonicalJson } from './json';

function chain(streamId: string, count: number): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  let previous = GENESIS_HASH;
  for (let i = 0; i < count; i += 1) {
    const base = {
      id: randomUUID(),
      type: 'Happened',
      data: { i },
      metadata: { correlationId: 'c', causationId: 'c', principal: 'p', schemaVersion: 1 },
      streamId,
      revision: BigInt(i),
    };
    previous = chainHash(previous, base);
    events.push({ ...base, position: BigInt(i + 1), recordedAt: new Date(0), hash: previous });
  }
  return events;
}

describe('hash chain', () => {
  it('does not depend on what the store assigns at commit (position, time)', () => {
    const [event] = chain('wallet-a', 1);
    expect(chainHash(GENESIS_HASH, { ...event!, position: 99n, recordedAt: new Date() } as RecordedEvent)).toBe(event!.hash);
  });

  it('reports the first break: changed data, metadata, order, gaps or a foreign event', () => {
    const events = chain('wallet-a', 4);
    expect(verifyChain(events)).toEqual({ ok: true, lastHash: events[3]!.hash, checked: 4 });
    const changedMetadata = events.map((e, i) => (i === 1 ? { ...e, metadata: { ...e.metadata, principal: 'mallory' } } : e));
    expect(verifyChain(changedMetadata)).toMatchObject({ ok: false, revision: 1n, reason: 'HASH_MISMATCH' });
    expect(verifyChain([events[0]!, events[2]!])).toMatchObject({ ok: false, revision: 2n, reason: 'REVISION_GAP' });
    expect(verifyChain([events[0]!, chain('wallet-b', 2)[1]!])).toMatchObject({ ok: false, reason: 'WRONG_STREAM' });
    const swapped = [events[0]!, { ...events[2]!, revision: 1n }, { ...events[1]!, revision: 2n }];
    expect(verifyChain(swapped)).toMatchObject({ ok: false, revision: 1n, reason: 'HASH_MISMATCH' });
  });

  it('changes every later hash when one event changes (tamper evidence)', () => {
    const events = chain('wallet-a', 3);
    const forged = chainHash(GENESIS_HASH, { ...events[0]!, data: { i: 1000 } });
    expect(forged).not.toBe(events[0]!.hash);
    expect(chainHash(forged, events[1]!)).not.toBe(events[1]!.hash);
  });
});

describe('chainBodyParts', () => {
  it('splits exactly the body chainHash hashes, so a store can insert the revision itself', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string().filter((k) => !k.includes('\u0000') && k !== '__proto__'), fc.oneof(fc.string().filter((v) => !v.includes('\u0000')), fc.integer(), fc.boolean())),
        fc.string({ minLength: 1 }).filter((v) => !v.includes('\u0000')),
        fc.bigInt({ min: 0n, max: 2n ** 62n - 1n }),
        (data, principal, revision) => {
          const metadata = { correlationId: 'c"1', causationId: 'é', principal, schemaVersion: 3 };
          const event = { streamId: 'wallet-a:b', id: randomUUID(), type: 'FundsDeposited', data, metadata, revision };
          const parts = chainBodyParts({ ...event, dataJson: canonicalJson(data), metadataJson: canonicalJson(metadata) });
          const body = `${parts.beforeRevision}${revision}${parts.afterRevision}`;
          const expected = createHash('sha256').update('prev').update('\n').update(body).digest('hex');
          expect(chainHash('prev', event)).toBe(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
