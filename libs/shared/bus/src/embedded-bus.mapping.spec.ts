import { categoryOf, InMemoryEventStore, parseStreamName, type RecordedEvent } from '@ledger/event-store';
import { BusError, type OutgoingMessage } from './bus.port';
import {
  BUS_MESSAGE_EVENT_TYPE,
  categoryToTopic,
  embeddedConsumerId,
  MAX_ENCODED_TOPIC_LENGTH,
  streamIdFor,
  toIncomingMessage,
  topicToCategory,
  validateOutgoingMessages,
} from './embedded-bus.mapping';

const CATEGORY = /^[a-z][a-zA-Z0-9]{0,62}$/;

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error instanceof BusError ? error.code : `not a BusError: ${String(error)}`;
  }
}

describe('embedded bus mapping: topic → category', () => {
  it('escapes . - _ Z and keeps letters and digits, behind the reserved prefix', () => {
    expect(topicToCategory('ledger.wallet-events.v1')).toBe('busledgerZ0walletZ1eventsZ0v1');
    expect(topicToCategory('payout_rows')).toBe('buspayoutZ2rows');
    expect(topicToCategory('Zeta')).toBe('busZ3eta');
    expect(topicToCategory('9')).toBe('bus9');
  });

  it('is injective and reversible on topics that differ only in the escaped characters', () => {
    const topics = ['a.b', 'a-b', 'a_b', 'aZb', 'aZ0b', 'aZ1b', 'a.Z0b', 'ab', 'AB', 'Ab', 'a..b', 'a.-b', 'Z', 'Z0', 'Z3', '.', '-', '_', 'ZZ'];
    const categories = topics.map(topicToCategory);
    expect(new Set(categories).size).toBe(topics.length);
    for (const [i, category] of categories.entries()) {
      expect(category).toMatch(CATEGORY);
      expect(categoryToTopic(category)).toBe(topics[i]);
    }
  });

  it('answers undefined for categories no topic maps to', () => {
    for (const category of ['wallet', 'bus', 'busZ', 'busZ9x', 'busZ4']) expect(categoryToTopic(category)).toBeUndefined();
  });

  it('refuses malformed topics and topics whose category would be too long with INVALID_TOPIC', () => {
    expect(codeOf(() => topicToCategory('not a topic!'))).toBe('INVALID_TOPIC');
    expect(codeOf(() => topicToCategory(''))).toBe('INVALID_TOPIC');
    expect(topicToCategory('a'.repeat(MAX_ENCODED_TOPIC_LENGTH))).toHaveLength(63);
    expect(codeOf(() => topicToCategory('a'.repeat(MAX_ENCODED_TOPIC_LENGTH + 1)))).toBe('INVALID_TOPIC');
    // Escapes count: 30 dots need 60 characters, 31 need 62.
    expect(codeOf(() => topicToCategory('.'.repeat(30)))).toBeUndefined();
    expect(codeOf(() => topicToCategory('.'.repeat(31)))).toBe('INVALID_TOPIC');
  });
});

describe('embedded bus mapping: key → stream', () => {
  const longCategory = topicToCategory('t'.repeat(MAX_ENCODED_TOPIC_LENGTH));

  it('keeps stream-id keys verbatim, base64url-encodes others, hashes what would not fit', () => {
    expect(streamIdFor('busorders', 'wallet-3f2a:1_x.y')).toBe('busorders-k.wallet-3f2a:1_x.y');
    expect(streamIdFor('busorders', 'ключ ?')).toBe(`busorders-b.${Buffer.from('ключ ?', 'utf8').toString('base64url')}`);
    expect(streamIdFor(longCategory, 'x'.repeat(1_024))).toMatch(new RegExp(`^${longCategory}-h\\.[0-9a-f]{64}$`));
  });

  it('gives valid stream names in the topic’s category, the same stream for the same key, distinct streams for distinct keys', () => {
    const keys = ['a', 'A', 'k.a', 'b.a', 'a b', 'a/b', '-', '.', ':', 'é', 'e\u0301', '😀', 'x'.repeat(130), 'x'.repeat(131), `${'x'.repeat(200)}y`, `${'x'.repeat(200)}z`];
    for (const category of ['busorders', longCategory]) {
      const streams = keys.map((key) => streamIdFor(category, key));
      expect(new Set(streams).size).toBe(keys.length);
      for (const stream of streams) expect(parseStreamName(stream).category).toBe(category);
      expect(keys.map((key) => streamIdFor(category, key))).toEqual(streams);
    }
  });
});

describe('embedded bus mapping: messages', () => {
  it('refuses text the event store cannot hold byte for byte with INVALID_MESSAGE', () => {
    const bad: OutgoingMessage[] = [
      { key: 'k\u0000', value: 'v' },
      { key: 'k', value: 'v\u0000' },
      { key: 'k', value: 'lone \ud800 surrogate' },
      { key: '\udc00', value: 'v' },
      { key: 'k', value: 'v', headers: { h: 'x\u0000' } },
      { key: 'k', value: 'v', headers: { '': 'x' } },
      { key: 'k', value: 'v', headers: { h: 1 as unknown as string } },
      { key: 'x'.repeat(1_025), value: 'v' },
    ];
    for (const message of bad) expect({ message, code: codeOf(() => validateOutgoingMessages([message], 10)) }).toEqual({ message, code: 'INVALID_MESSAGE' });
    expect(codeOf(() => validateOutgoingMessages([{ key: 'k', value: 'v' }, { key: 'k', value: 'v' }], 1))).toBe('INVALID_MESSAGE');
  });

  it('accepts partition 0 or none, and refuses any other partition with INVALID_MESSAGE (one partition per topic)', () => {
    expect(validateOutgoingMessages([{ key: 'k', value: 'v', partition: 0 }, { key: 'k', value: 'v' }], 10)).toHaveLength(2);
    for (const partition of [1, -1, 0.5, Number.NaN, '0' as unknown as number]) {
      expect({ partition, code: codeOf(() => validateOutgoingMessages([{ key: 'k', value: 'v', partition }], 10)) }).toEqual({ partition, code: 'INVALID_MESSAGE' });
    }
  });

  it('keeps a header named __proto__ as a header', () => {
    const headers = JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>;
    const [normalised] = validateOutgoingMessages([{ key: 'k', value: 'v', headers }], 10);
    expect(Object.entries(normalised!.headers)).toEqual([
      ['__proto__', 'x'],
      ['a', 'b'],
    ]);
  });

  it('turns a recorded message event into an IncomingMessage at partition 0 with the position as offset', async () => {
    const store = new InMemoryEventStore();
    const streamId = streamIdFor(topicToCategory('orders.v1'), 'wallet-1');
    await store.appendToStream(streamId, [{ type: 'SomethingElse', data: {}, metadata: { correlationId: 'c', causationId: 'c', principal: 'p', schemaVersion: 1 } }], {
      expectedState: 'any',
    });
    await store.appendToStream(
      streamId,
      [{ type: BUS_MESSAGE_EVENT_TYPE, data: { topic: 'orders.v1', key: 'wallet-1', value: '{}', headers: { h: 'v' } }, metadata: { correlationId: 'c', causationId: 'c', principal: 'p', schemaVersion: 1 } }],
      { expectedState: 'any' },
    );
    const [other, event] = (await store.readAll({ fromPosition: 0n, maxCount: 10 })).events as RecordedEvent[];
    expect(categoryOf(event!.streamId)).toBe('busordersZ0v1');
    expect(toIncomingMessage(event!, 'orders.v1')).toEqual({ topic: 'orders.v1', partition: 0, offset: '2', key: 'wallet-1', value: '{}', headers: { h: 'v' } });
    expect(codeOf(() => toIncomingMessage(other!, 'orders.v1'))).toBe('CONSUMER_FAILED');
    expect(codeOf(() => toIncomingMessage(event!, 'orders.v2'))).toBe('CONSUMER_FAILED');
  });

  it('names checkpoints per group and topic', () => {
    expect(embeddedConsumerId('projection:balances', 'ledger.events')).toBe('bus:projection:balances:ledger.events');
  });
});
