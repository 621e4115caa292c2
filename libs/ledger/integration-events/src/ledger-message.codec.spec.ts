import { canonicalJson, type JsonObject, type RecordedEvent } from '@ledger/event-store';
import { decideDrawFromHold, foldWallet, type WalletEvent } from '@ledger/ledger-domain';
import fc from 'fast-check';
import { join } from 'node:path';
import { loadSync } from 'protobufjs';
import { IntegrationEventError } from './integration-event.errors';
import { decodeLedgerMessage, encodeLedgerEvent, encodeWatermark, WATERMARK_KEY, type EncodedLedgerMessage } from './ledger-message.codec';
import { isInternalCategory, PUBLISHED_CATEGORIES_DEFAULT, topicForCategory } from './ledger-topics';

const PROTO = join(__dirname, '..', '..', '..', '..', 'proto', 'integration', 'ledger', 'v1', 'ledger_events.proto');

const category = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,20}$/);
const streamIdPart = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,60}$/);
/** JSON objects as a store returns them: whatever canonicalJson accepts, read back from its text. */
const data: fc.Arbitrary<JsonObject> = fc
  .dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 })
  .filter((value) => {
    try {
      canonicalJson(value);
      return true;
    } catch {
      return false;
    }
  })
  .map((value) => JSON.parse(canonicalJson(value)) as JsonObject);
const metadataText = fc.string({ minLength: 1, maxLength: 40 }).filter((text) => !text.includes('\u0000'));

const recordedEvent: fc.Arbitrary<RecordedEvent> = fc.record({
  id: fc.uuid(),
  type: fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,30}$/),
  data,
  metadata: fc.record(
    {
      correlationId: metadataText,
      causationId: metadataText,
      principal: metadataText,
      idempotencyKey: metadataText,
      schemaVersion: fc.integer({ min: 1, max: 1_000 }),
    },
    { requiredKeys: ['correlationId', 'causationId', 'principal', 'schemaVersion'] },
  ),
  streamId: fc.tuple(category, streamIdPart).map(([c, id]) => `${c}-${id}`),
  revision: fc.bigInt(0n, 2n ** 62n - 1n),
  position: fc.bigInt(1n, 2n ** 63n - 1n),
  recordedAt: fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }),
  hash: fc.stringMatching(/^[0-9a-f]{64}$/),
}).map((event) => ({ ...event, metadata: { ...event.metadata } })); // plain prototypes, as a store returns

function sampleEvent(overrides: Partial<RecordedEvent> = {}): RecordedEvent {
  return {
    id: '0f8fad5b-d9cb-469f-a165-70867728950e',
    type: 'FundsDeposited',
    data: { walletId: 'w1', amountMinor: '1250', currency: 'USD' },
    metadata: { correlationId: 'c-1', causationId: 'c-1', principal: 'user:alice', idempotencyKey: 'key-00000001', schemaVersion: 1 },
    streamId: 'wallet-3f2a',
    revision: 7n,
    position: 51_539_607_552n,
    recordedAt: new Date('2026-11-21T10:00:00.123Z'),
    hash: 'a'.repeat(64),
    ...overrides,
  };
}

function errorOf(action: () => unknown): IntegrationEventError {
  try {
    action();
  } catch (error) {
    if (error instanceof IntegrationEventError) return error;
    throw new Error(`expected an IntegrationEventError, got ${String(error)}`);
  }
  throw new Error('expected an IntegrationEventError, nothing was thrown');
}

/** The encoded event with its JSON value edited. */
function withValue(edit: (json: Record<string, unknown>) => void, message: EncodedLedgerMessage = encodeLedgerEvent(sampleEvent())): EncodedLedgerMessage {
  const json = JSON.parse(message.value) as Record<string, unknown>;
  edit(json);
  return { ...message, value: JSON.stringify(json) };
}

describe('integration events: topics', () => {
  it('maps a category to ledger.<category>.v1 and publishes wallet by default', () => {
    expect(topicForCategory('wallet')).toBe('ledger.wallet.v1');
    expect(PUBLISHED_CATEGORIES_DEFAULT).toEqual(['wallet']);
    expect(['idempotency', 'walletSnapshot', 'busledgerZ0x'].every(isInternalCategory)).toBe(true);
    expect(isInternalCategory('wallet')).toBe(false);
  });

  it('refuses what is not a category with INVALID_CATEGORY', () => {
    for (const bad of ['', 'Wallet', 'wallet-1', 'a.b', 'x'.repeat(64)]) {
      expect(errorOf(() => topicForCategory(bad)).code).toBe('INVALID_CATEGORY');
    }
  });
});

describe('integration events: LedgerEvent codec', () => {
  it('round-trips every recorded event: the decoded event deep-equals the original', () => {
    fc.assert(
      fc.property(recordedEvent, (event) => {
        const decoded = decodeLedgerMessage(encodeLedgerEvent(event));
        expect(decoded).toStrictEqual({ kind: 'event', event });
      }),
      { numRuns: 500 },
    );
  });

  it('keys by stream id, sets the headers, and writes the proto3 JSON names of integration.ledger.v1.LedgerEvent', () => {
    const event = sampleEvent();
    const message = encodeLedgerEvent(event);
    expect(message.key).toBe('wallet-3f2a');
    expect(message.headers).toEqual({ 'content-type': 'application/json', 'ledger-message': 'event' });
    expect(JSON.parse(message.value)).toEqual({
      contractVersion: 1,
      eventId: event.id,
      streamId: 'wallet-3f2a',
      category: 'wallet',
      revision: '7',
      globalPosition: '51539607552',
      type: 'FundsDeposited',
      dataJson: '{"amountMinor":"1250","currency":"USD","walletId":"w1"}',
      correlationId: 'c-1',
      causationId: 'c-1',
      principal: 'user:alice',
      idempotencyKey: 'key-00000001',
      schemaVersion: 1,
      recordedAt: '2026-11-21T10:00:00.123Z',
      hash: 'a'.repeat(64),
    });
    // Drift check against the .proto: every JSON key is a field of the message (lowerCamelCase).
    const root = loadSync(PROTO);
    const fieldNames = root.lookupType('integration.ledger.v1.LedgerEvent').fieldsArray.map((field) => field.name);
    expect(fieldNames.sort()).toEqual(Object.keys(JSON.parse(message.value)).sort());
    const watermarkFields = root.lookupType('integration.ledger.v1.Watermark').fieldsArray.map((field) => field.name);
    expect(watermarkFields.sort()).toEqual(Object.keys(JSON.parse(encodeWatermark(1n).value)).sort());
  });

  it('omits idempotency_key when the event has none, and decodes it back as absent', () => {
    const { idempotencyKey: _key, ...metadata } = sampleEvent().metadata;
    const message = encodeLedgerEvent(sampleEvent({ metadata }));
    expect(JSON.parse(message.value)).not.toHaveProperty('idempotencyKey');
    const decoded = decodeLedgerMessage(message);
    expect(decoded.kind === 'event' && decoded.event.metadata).toStrictEqual(metadata);
  });

  it('accepts the proto field names (snake_case) and ignores unknown fields, as proto3 JSON readers must', () => {
    const camel = JSON.parse(encodeLedgerEvent(sampleEvent()).value) as Record<string, unknown>;
    const snake = Object.fromEntries(Object.entries(camel).map(([name, value]) => [name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), value]));
    const message = { ...encodeLedgerEvent(sampleEvent()), value: JSON.stringify({ ...snake, addedInAMinorVersion: 'x' }) };
    expect(decodeLedgerMessage(message)).toStrictEqual({ kind: 'event', event: sampleEvent() });
    expect(decodeLedgerMessage({ ...message, headers: { 'content-type': 'application/json; charset=utf-8', 'ledger-message': 'event' } }).kind).toBe('event');
  });

  it('reads an RFC 3339 time with an offset or nanoseconds', () => {
    const decoded = decodeLedgerMessage(withValue((json) => (json['recordedAt'] = '2026-11-21T12:00:00.123456789+02:00')));
    expect(decoded.kind === 'event' && decoded.event.recordedAt).toEqual(new Date('2026-11-21T10:00:00.123Z'));
  });

  it.each<[string, (json: Record<string, unknown>) => void, RegExp]>([
    ['revision as a number', (j) => (j['revision'] = 7), /LedgerEvent\.revision must be a decimal string/],
    ['a negative revision', (j) => (j['revision'] = '-1'), /LedgerEvent\.revision must be a decimal string/],
    ['a revision with a leading zero', (j) => (j['revision'] = '07'), /LedgerEvent\.revision/],
    ['a revision beyond 2^62', (j) => (j['revision'] = (2n ** 62n).toString()), /LedgerEvent\.revision must be from 0/],
    ['position 0', (j) => (j['globalPosition'] = '0'), /LedgerEvent\.global_position must be from 1/],
    ['a position beyond 2^63', (j) => (j['globalPosition'] = '9223372036854775808'), /global_position/],
    ['no event id', (j) => delete j['eventId'], /LedgerEvent\.event_id must be a non-empty string/],
    ['an event id that is no UUID', (j) => (j['eventId'] = 'abc'), /event_id 'abc' is not a UUID/],
    ['a malformed stream id', (j) => (j['streamId'] = 'no dash'), /LedgerEvent\.stream_id/],
    ['a category that is not the stream\'s', (j) => (j['category'] = 'other'), /category 'other' is not the category of stream/],
    ['a type that is no event type', (j) => (j['type'] = 'lower'), /LedgerEvent\.type 'lower'/],
    ['data_json that is not JSON', (j) => (j['dataJson'] = '{'), /data_json is not JSON/],
    ['data_json that is an array', (j) => (j['dataJson'] = '[1]'), /data_json must hold a JSON object/],
    ['data_json that is not canonical', (j) => (j['dataJson'] = '{"b":1,"a":2}'), /not canonical/],
    ['data_json with an unsafe integer', (j) => (j['dataJson'] = '{"a":9007199254740993}'), /beyond 2\^53/],
    ['no principal', (j) => delete j['principal'], /LedgerEvent\.principal must be a non-empty string/],
    ['an over-long correlation id', (j) => (j['correlationId'] = 'x'.repeat(257)), /correlation_id has more than 256/],
    ['an empty idempotency key', (j) => (j['idempotencyKey'] = ''), /idempotency_key must have 1 to 256/],
    ['schema version 0', (j) => (j['schemaVersion'] = 0), /schema_version must be an integer from 1/],
    ['schema version as text', (j) => (j['schemaVersion'] = '1'), /schema_version must be an integer/],
    ['a time that is not RFC 3339', (j) => (j['recordedAt'] = '21/11/2026'), /recorded_at must be an RFC 3339 time/],
    ['a hash that is not hex', (j) => (j['hash'] = 'zz'), /hash must be 64 lower-case hex digits/],
    ['a field under both names', (j) => (j['event_id'] = j['eventId']), /event_id appears twice/],
  ])('refuses %s with MALFORMED_MESSAGE naming the field', (_case, edit, reason) => {
    const error = errorOf(() => decodeLedgerMessage(withValue(edit)));
    expect(error.code).toBe('MALFORMED_MESSAGE');
    expect(error.message).toMatch(reason);
  });

  it('refuses a message whose key is not the stream id', () => {
    const error = errorOf(() => decodeLedgerMessage({ ...encodeLedgerEvent(sampleEvent()), key: 'wallet-other' }));
    expect(error).toMatchObject({ code: 'MALFORMED_MESSAGE' });
    expect(error.message).toMatch(/key 'wallet-other' is not the event's stream id/);
  });

  it.each<[string, Partial<EncodedLedgerMessage>, string, RegExp]>([
    ['no ledger-message header', { headers: { 'content-type': 'application/json' } }, 'MALFORMED_MESSAGE', /'ledger-message' is missing/],
    ['an unknown message kind', { headers: { 'content-type': 'application/json', 'ledger-message': 'snapshot' } }, 'UNKNOWN_MESSAGE_KIND', /'snapshot'/],
    ['another content type', { headers: { 'content-type': 'application/protobuf', 'ledger-message': 'event' } }, 'MALFORMED_MESSAGE', /content-type/],
    ['a value that is not JSON', { value: 'not json' }, 'MALFORMED_MESSAGE', /not JSON/],
    ['a JSON array', { value: '[]' }, 'MALFORMED_MESSAGE', /must be a JSON object/],
    ['an over-long value', { value: ' '.repeat(2 * 1024 * 1024 + 1) }, 'MALFORMED_MESSAGE', /characters; at most/],
  ])('refuses %s', (_case, change, code, reason) => {
    const error = errorOf(() => decodeLedgerMessage({ ...encodeLedgerEvent(sampleEvent()), ...change }));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(reason);
  });

  it('refuses another contract version, or none (proto3 omits defaults: absent is 0), with UNSUPPORTED_CONTRACT_VERSION', () => {
    expect(errorOf(() => decodeLedgerMessage(withValue((j) => (j['contractVersion'] = 2))))).toMatchObject({
      code: 'UNSUPPORTED_CONTRACT_VERSION',
      details: { contractVersion: 2 },
    });
    expect(errorOf(() => decodeLedgerMessage(withValue((j) => delete j['contractVersion']))).code).toBe('UNSUPPORTED_CONTRACT_VERSION');
    expect(errorOf(() => decodeLedgerMessage(withValue((j) => (j['contractVersion'] = '1')))).code).toBe('MALFORMED_MESSAGE');
  });

  it.each<[string, Partial<RecordedEvent>]>([
    ['a malformed stream id', { streamId: 'nodash' }],
    ['a negative revision', { revision: -1n }],
    ['position 0', { position: 0n }],
    ['a number as position', { position: 5 as unknown as bigint }],
    ['an invalid date', { recordedAt: new Date(Number.NaN) }],
    ['data that is not plain JSON', { data: { at: new Date() } as unknown as JsonObject }],
  ])('refuses to encode an event with %s (INVALID_EVENT)', (_case, overrides) => {
    expect(errorOf(() => encodeLedgerEvent(sampleEvent(overrides))).code).toBe('INVALID_EVENT');
  });
});

describe('integration events: the contract is additive', () => {
  const root = loadSync(PROTO);
  const numbers = (message: string): Record<string, number> =>
    Object.fromEntries(root.lookupType(`integration.ledger.v1.${message}`).fieldsArray.map((field) => [field.name, field.id]));

  it('never renumbers a field of a shipped message', () => {
    expect(numbers('LedgerEvent')).toEqual({
      contractVersion: 1, eventId: 2, streamId: 3, category: 4, revision: 5, globalPosition: 6, type: 7, dataJson: 8,
      correlationId: 9, causationId: 10, principal: 11, idempotencyKey: 12, schemaVersion: 13, recordedAt: 14, hash: 15,
    });
    expect(numbers('Watermark')).toEqual({ contractVersion: 1, position: 2 });
    expect(numbers('HoldDrawnData')).toEqual({
      walletId: 1, holdId: 2, transactionId: 3, drawnMinor: 4, remainingMinor: 5, currency: 6, to: 7, drawnAt: 8, reference: 9,
    });
    expect(numbers('WalletCounterparty')).toEqual({ kind: 1, walletId: 2 });
  });
});

describe('integration events: HoldDrawn', () => {
  const at = '2026-11-21T10:00:00.000Z';
  const holder = foldWallet([
    { type: 'WalletOpened', data: { walletId: 'w1', ownerId: 'payer', currency: 'USD', openedAt: at } },
    { type: 'FundsDeposited', data: { walletId: 'w1', transactionId: 't0', amountMinor: '100000', currency: 'USD', occurredAt: at, from: 'system:external-funding:USD' } },
    { type: 'HoldPlaced', data: { walletId: 'w1', holdId: 'h1', amountMinor: '50000', currency: 'USD', expiresAt: '2026-11-22T10:00:00.000Z', placedAt: at } },
  ]);
  const recipient = foldWallet([{ type: 'WalletOpened', data: { walletId: 'w2', ownerId: 'payee', currency: 'USD', openedAt: at } }]);
  /** The holder's event of one draw, as the decider makes it and a store records it. */
  function drawnEvent(reference?: string): RecordedEvent {
    const { fromEvents } = decideDrawFromHold(
      { type: 'DrawFromHold', walletId: 'w1', holdId: 'h1', transactionId: 'row-1', toWalletId: 'w2', amount: { amountMinor: 1_250n, currency: 'USD' }, ...(reference ? { reference } : {}) },
      holder,
      recipient,
      { now: new Date(at) },
    );
    const [event] = fromEvents as [WalletEvent];
    return sampleEvent({ type: event.type, data: JSON.parse(JSON.stringify(event.data)) as JsonObject, streamId: 'wallet-w1' });
  }

  it('round-trips the HoldDrawn the decider makes, with and without a reference', () => {
    for (const event of [drawnEvent('payout 7, row 1'), drawnEvent()]) {
      const message = encodeLedgerEvent(event);
      expect(message.key).toBe('wallet-w1');
      expect(decodeLedgerMessage(message)).toStrictEqual({ kind: 'event', event });
    }
    expect(JSON.parse(encodeLedgerEvent(drawnEvent()).value)).toMatchObject({
      type: 'HoldDrawn',
      dataJson: '{"currency":"USD","drawnAt":"2026-11-21T10:00:00.000Z","drawnMinor":"1250","holdId":"h1","remainingMinor":"48750","to":{"kind":"wallet","walletId":"w2"},"transactionId":"row-1","walletId":"w1"}',
    });
  });

  it('carries exactly the fields of integration.ledger.v1.HoldDrawnData in data_json (reference only when given)', () => {
    const root = loadSync(PROTO);
    const fields = (message: string): string[] => root.lookupType(`integration.ledger.v1.${message}`).fieldsArray.map((field) => field.name).sort();
    const data = (event: RecordedEvent): Record<string, unknown> => {
      const decoded = decodeLedgerMessage(encodeLedgerEvent(event));
      return decoded.kind === 'event' ? decoded.event.data : {};
    };
    expect(Object.keys(data(drawnEvent('r'))).sort()).toEqual(fields('HoldDrawnData'));
    expect(Object.keys(data(drawnEvent())).sort()).toEqual(fields('HoldDrawnData').filter((name) => name !== 'reference'));
    expect(Object.keys(data(drawnEvent())['to'] as object).sort()).toEqual(fields('WalletCounterparty'));
  });
});

describe('integration events: Watermark codec', () => {
  it('round-trips every position from 0 to 2^63 - 1', () => {
    fc.assert(
      fc.property(fc.bigInt(0n, 2n ** 63n - 1n), (position) => {
        const message = encodeWatermark(position);
        expect(message.key).toBe(WATERMARK_KEY);
        expect(message.headers).toEqual({ 'content-type': 'application/json', 'ledger-message': 'watermark' });
        expect(decodeLedgerMessage(message)).toStrictEqual({ kind: 'watermark', position });
      }),
    );
    expect(JSON.parse(encodeWatermark(51_539_607_552n).value)).toEqual({ contractVersion: 1, position: '51539607552' });
  });

  it('refuses bad positions on both sides', () => {
    expect(errorOf(() => encodeWatermark(-1n)).code).toBe('INVALID_POSITION');
    expect(errorOf(() => encodeWatermark(2n ** 63n)).code).toBe('INVALID_POSITION');
    expect(errorOf(() => encodeWatermark(1 as unknown as bigint)).code).toBe('INVALID_POSITION');
    const bad = { ...encodeWatermark(1n), value: JSON.stringify({ contractVersion: 1, position: 1 }) };
    expect(errorOf(() => decodeLedgerMessage(bad)).message).toMatch(/Watermark\.position must be a decimal string/);
    const future = { ...encodeWatermark(1n), value: JSON.stringify({ contract_version: 3, position: '1' }) };
    expect(errorOf(() => decodeLedgerMessage(future)).code).toBe('UNSUPPORTED_CONTRACT_VERSION');
  });
});
