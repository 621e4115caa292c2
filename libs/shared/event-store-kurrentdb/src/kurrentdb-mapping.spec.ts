import { chainHash, EventStoreUnavailableError, GENESIS_HASH, type EventMetadata } from '@ledger/event-store';
import { applyClientOptions } from './kurrentdb-driver';
import {
  caseInsensitiveDuplicate,
  checkpointStream,
  decodeMetadata,
  encodeMetadata,
  eventIdGuardStream,
  eventIdOfGuardStream,
  fromDriverStreamState,
  isLedgerStream,
  LEDGER_HASH_KEY,
  NUMERIC_METADATA_KEYS,
  revisionAfter,
  toGlobalPosition,
  toReadAllStart,
  toRecordedEvent,
  type DriverEventRecord,
} from './kurrentdb-mapping';

const HASH = 'a'.repeat(64);
const metadata: EventMetadata = {
  correlationId: 'corr-1',
  causationId: 'cause-1',
  principal: 'user:42',
  idempotencyKey: '0042',
  schemaVersion: 3,
};

function record(overrides: Partial<DriverEventRecord> = {}): DriverEventRecord {
  return {
    streamId: 'wallet-1',
    id: '0b6f1e9e-5d1c-4e1a-9a51-8f7c3f2b1a00',
    revision: 4n,
    type: 'FundsDeposited',
    isJson: true,
    created: new Date('2025-01-02T03:04:05.678Z'),
    data: { amount: '10.00' },
    metadata: encodeMetadata(metadata, HASH),
    position: { commit: 1234n, prepare: 1234n },
    ...overrides,
  };
}

describe('positions and revisions', () => {
  it('takes the commit position as the global position and refuses a missing or non-positive one', () => {
    expect(toGlobalPosition({ commit: 987n, prepare: 987n }, 'e')).toBe(987n);
    expect(() => toGlobalPosition(undefined, 'e')).toThrow(EventStoreUnavailableError);
    expect(() => toGlobalPosition({ commit: 0n, prepare: 0n }, 'e')).toThrow(/no log position/);
  });

  it('starts an exclusive read at the log start for 0n, else at the record {p, p}', () => {
    expect(toReadAllStart(0n)).toBe('start');
    expect(toReadAllStart(4242n)).toEqual({ commit: 4242n, prepare: 4242n });
  });

  it('numbers appended events from the head that was read', () => {
    expect(revisionAfter('no_stream', 0)).toBe(0n);
    expect(revisionAfter('no_stream', 2)).toBe(2n);
    expect(revisionAfter(7n, 0)).toBe(8n);
    expect(revisionAfter(7n, 3)).toBe(11n);
  });

  it("reads the driver's stream states, including -1 for no stream", () => {
    expect(fromDriverStreamState('no_stream')).toBe('no_stream');
    expect(fromDriverStreamState(5n)).toBe(5n);
    expect(fromDriverStreamState(-1n)).toBe('no_stream');
    expect(fromDriverStreamState(-5n)).toBeUndefined();
    expect(fromDriverStreamState('any')).toBeUndefined();
    expect(fromDriverStreamState(undefined)).toBeUndefined();
  });
});

describe('metadata', () => {
  it('stores every value as a string (multiStreamAppend accepts nothing else) plus the hash', () => {
    const stored = encodeMetadata(metadata, HASH);
    expect(stored).toEqual({
      correlationId: 'corr-1',
      causationId: 'cause-1',
      principal: 'user:42',
      idempotencyKey: '0042',
      schemaVersion: '3',
      [LEDGER_HASH_KEY]: HASH,
    });
  });

  it('round-trips exactly, so the recomputed hash chain matches', () => {
    const decoded = decodeMetadata(JSON.parse(JSON.stringify(encodeMetadata(metadata, HASH))), 'e');
    expect(decoded).toEqual({ metadata, hash: HASH });
    const event = { streamId: 'wallet-1', revision: 0n, id: 'x', type: 'T', data: {} };
    expect(chainHash(GENESIS_HASH, { ...event, metadata: decoded.metadata })).toBe(chainHash(GENESIS_HASH, { ...event, metadata }));
    const { idempotencyKey: _omitted, ...withoutKey } = metadata;
    expect(decodeMetadata(encodeMetadata(withoutKey, HASH), 'e').metadata).toEqual(withoutKey);
  });

  it('strips every $-key: its own and the $schema.* keys the server adds to v2 appends', () => {
    const stored = { ...encodeMetadata(metadata, HASH), '$schema.data-format': 'Json', '$schema.name': 'FundsDeposited', $correlationId: 'x' };
    expect(decodeMetadata(stored, 'e').metadata).toEqual(metadata);
  });

  it('still reads numeric values written as JSON numbers', () => {
    expect(decodeMetadata({ ...encodeMetadata(metadata, HASH), schemaVersion: 3 }, 'e').metadata.schemaVersion).toBe(3);
  });

  it('covers every numeric field of EventMetadata', () => {
    const numeric = Object.entries(metadata).filter(([, v]) => typeof v === 'number').map(([k]) => k);
    expect(numeric.every((k) => NUMERIC_METADATA_KEYS.has(k))).toBe(true);
  });

  it('refuses metadata this adapter did not write', () => {
    expect(() => decodeMetadata(undefined, 'e')).toThrow(/not written by the ledger/);
    expect(() => decodeMetadata(new Uint8Array([1]), 'e')).toThrow(/not a JSON object/);
    expect(() => decodeMetadata({ correlationId: 'c' }, 'e')).toThrow(LEDGER_HASH_KEY);
    expect(() => decodeMetadata({ ...encodeMetadata(metadata, HASH), schemaVersion: 'three' }, 'e')).toThrow(/decimal/);
    expect(() => decodeMetadata({ ...encodeMetadata(metadata, HASH), principal: 42 }, 'e')).toThrow(/not a string/);
  });

  it('refuses to store what it could not read back', () => {
    expect(() => encodeMetadata(metadata, 'nope')).toThrow();
    expect(() => encodeMetadata({ ...metadata, principal: 5 } as unknown as EventMetadata, HASH)).toThrow(/cannot be stored/);
    expect(() => encodeMetadata({ ...metadata, $x: 'y' } as unknown as EventMetadata, HASH)).toThrow(/reserved/);
  });
});

describe('recorded events', () => {
  it('maps id, type, data, metadata, revision, position, recordedAt and hash', () => {
    expect(toRecordedEvent(record())).toEqual({
      id: '0b6f1e9e-5d1c-4e1a-9a51-8f7c3f2b1a00',
      type: 'FundsDeposited',
      data: { amount: '10.00' },
      metadata,
      streamId: 'wallet-1',
      revision: 4n,
      position: 1234n,
      recordedAt: new Date('2025-01-02T03:04:05.678Z'),
      hash: HASH,
    });
  });

  it('refuses binary or non-object data', () => {
    expect(() => toRecordedEvent(record({ isJson: false, data: new Uint8Array() }))).toThrow(/not JSON/);
    expect(() => toRecordedEvent(record({ data: [1, 2] }))).toThrow(/not a JSON object/);
    expect(() => toRecordedEvent(record({ data: 'malformed {' }))).toThrow(/not a JSON object/);
  });
});

describe('stream names', () => {
  it('hands only ledger streams to consumers', () => {
    expect(isLedgerStream('wallet-1')).toBe(true);
    expect(isLedgerStream('$streams')).toBe(false);
    expect(isLedgerStream('$ce-wallet')).toBe(false);
    expect(isLedgerStream('$$wallet-1')).toBe(false);
    expect(isLedgerStream(eventIdGuardStream('0b6f1e9e-5d1c-4e1a-9a51-8f7c3f2b1a00'))).toBe(false);
    expect(isLedgerStream(checkpointStream('projector'))).toBe(false);
    expect(isLedgerStream('NoCategory')).toBe(false);
  });

  it('maps event ids to guard streams and back', () => {
    const id = '0b6f1e9e-5d1c-4e1a-9a51-8f7c3f2b1a00';
    expect(eventIdOfGuardStream(eventIdGuardStream(id))).toBe(id);
    expect(eventIdOfGuardStream('wallet-1')).toBeUndefined();
  });

  it('validates consumer ids of checkpoint streams', () => {
    expect(checkpointStream('consumer-1')).toBe('_ledger.checkpoint-consumer-1');
    expect(() => checkpointStream('')).toThrow(/Consumer id/);
    expect(() => checkpointStream('a b')).toThrow(/Consumer id/);
    expect(() => checkpointStream('x'.repeat(129))).toThrow(/Consumer id/);
  });

  it('finds stream names that one append session would fold together', () => {
    expect(caseInsensitiveDuplicate(['wallet-A', 'wallet-b'])).toBeUndefined();
    expect(caseInsensitiveDuplicate(['wallet-A', 'wallet-b', 'wallet-a'])).toEqual(['wallet-A', 'wallet-a']);
  });
});

describe('client options in the connection string', () => {
  it('sets defaultDeadline explicitly, replacing any value already given', () => {
    expect(applyClientOptions('kurrentdb://localhost:2113', { deadlineMs: 5_000 })).toBe('kurrentdb://localhost:2113?defaultDeadline=5000');
    expect(applyClientOptions('kurrentdb://admin:changeit@h1:2113,h2:2113?tls=false&default_deadline=99&nodePreference=leader', { deadlineMs: 7_000 })).toBe(
      'kurrentdb://admin:changeit@h1:2113,h2:2113?tls=false&nodePreference=leader&defaultDeadline=7000',
    );
    expect(() => applyClientOptions('kurrentdb://h', { deadlineMs: 0 })).toThrow(RangeError);
  });
});
