import { categoryOf, MAX_STREAM_NAME_LENGTH, type JsonObject, type RecordedEvent } from '@ledger/event-store';
import { createHash } from 'node:crypto';
import { assertTopic, BusError, type IncomingMessage, type OutgoingMessage } from './bus.port';

/**
 * How the embedded bus keeps messages in the event store (see README.md, "Embedded adapter"):
 *
 * - topic → category: `bus` + the topic with `.` `-` `_` `Z` escaped as `Z0` `Z1` `Z2` `Z3`
 *   (`ledger.wallet-events.v1` → `busledgerZ0walletZ1eventsZ0v1`). Injective and reversible;
 *   a topic whose category would exceed 63 characters is refused with INVALID_TOPIC.
 * - key → stream `<category>-<id>`: `k.<key>` when the key is made of stream-id characters and
 *   fits, else `b.<base64url of its UTF-8>` when that fits, else `h.<sha-256 hex>`. Same key, same
 *   stream, so per-key order is per-stream order; the key itself travels in the event's data.
 * - one message → one `BusMessagePublished` event, data `{ topic, key, value, headers }`.
 */

export const BUS_MESSAGE_EVENT_TYPE = 'BusMessagePublished';
export const BUS_MESSAGE_SCHEMA_VERSION = 1;

/** Every category starting with this is reserved for bus topics: domain categories must not. */
export const BUS_CATEGORY_PREFIX = 'bus';
/** The category pattern's own bound (`^[a-z][a-zA-Z0-9]{0,62}$`). */
const MAX_CATEGORY_LENGTH = 63;
/** Characters an escaped topic may use after the prefix. */
export const MAX_ENCODED_TOPIC_LENGTH = MAX_CATEGORY_LENGTH - BUS_CATEGORY_PREFIX.length;

/** The escape letter and what follows it. Letters and digits other than `Z` stand for themselves. */
const TOPIC_ESCAPES: Readonly<Record<string, string>> = { '.': 'Z0', '-': 'Z1', _: 'Z2', Z: 'Z3' };
const TOPIC_UNESCAPES: Readonly<Record<string, string>> = { '0': '.', '1': '-', '2': '_', '3': 'Z' };

/** Keys are identifiers (normally a stream id); one this long is a bug. Same bound as the Kafka adapter. */
export const MAX_KEY_LENGTH = 1_024;
export const MAX_HEADERS_PER_MESSAGE = 64;
/** Keys made only of these characters are kept verbatim in the stream name. */
const VERBATIM_KEY = /^[A-Za-z0-9_.:-]+$/;
/** A lone UTF-16 surrogate: PostgreSQL jsonb refuses it and UTF-8 cannot encode it faithfully. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Consumer group ids; the bound keeps `bus:<group>:<topic>` within 128 characters (KurrentDB checkpoint ids). */
export const EMBEDDED_GROUP_ID_PATTERN = /^[A-Za-z0-9._:-]{1,63}$/;

/**
 * The event-store category holding a topic's messages.
 * @throws BusError INVALID_TOPIC when the topic is malformed or its category would be too long.
 */
export function topicToCategory(topic: string): string {
  assertTopic(topic);
  let encoded = '';
  for (const character of topic) encoded += TOPIC_ESCAPES[character] ?? character;
  if (encoded.length > MAX_ENCODED_TOPIC_LENGTH) {
    throw new BusError(
      'INVALID_TOPIC',
      `Topic '${topic.slice(0, 80)}' is too long for the embedded bus: escaped it needs ${encoded.length} characters, at most ${MAX_ENCODED_TOPIC_LENGTH} fit in an event-store category`,
    );
  }
  return `${BUS_CATEGORY_PREFIX}${encoded}`;
}

/** The inverse of topicToCategory; undefined for a category no topic maps to. */
export function categoryToTopic(category: string): string | undefined {
  if (!category.startsWith(BUS_CATEGORY_PREFIX)) return undefined;
  const encoded = category.slice(BUS_CATEGORY_PREFIX.length);
  let topic = '';
  for (let i = 0; i < encoded.length; i++) {
    const character = encoded[i] as string;
    if (character !== 'Z') {
      topic += character;
      continue;
    }
    const decoded = TOPIC_UNESCAPES[encoded[i + 1] ?? ''];
    if (decoded === undefined) return undefined;
    topic += decoded;
    i += 1;
  }
  try {
    return topicToCategory(topic) === category ? topic : undefined;
  } catch {
    return undefined;
  }
}

/** The stream a key's messages go to in a topic's category. Deterministic: one key, one stream. */
export function streamIdFor(category: string, key: string): string {
  const budget = MAX_STREAM_NAME_LENGTH - category.length - 1;
  if (VERBATIM_KEY.test(key) && key.length + 2 <= budget) return `${category}-k.${key}`;
  const base64url = Buffer.from(key, 'utf8').toString('base64url');
  if (base64url.length + 2 <= budget) return `${category}-b.${base64url}`;
  // Collisions (practically impossible) would only share a stream: the key travels in the data.
  return `${category}-h.${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** Checkpoint id of one topic within one consumer group. Topics contain no ':', so this is injective. */
export function embeddedConsumerId(groupId: string, topic: string): string {
  return `bus:${groupId}:${topic}`;
}

/** The data of a `BusMessagePublished` event. */
export interface BusMessageData extends JsonObject {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Validates a publish call's messages, all before anything is written, and normalises them
 * (headers always present, as own data properties).
 * @throws BusError INVALID_MESSAGE naming the first bad message.
 */
export function validateOutgoingMessages(messages: readonly OutgoingMessage[], maxMessages: number): OutgoingMessageNormalised[] {
  if (!Array.isArray(messages)) throw new BusError('INVALID_MESSAGE', 'messages must be an array');
  if (messages.length > maxMessages) {
    throw new BusError('INVALID_MESSAGE', `At most ${maxMessages} messages per publish; got ${messages.length}`);
  }
  return messages.map((message: OutgoingMessage, index) => {
    const where = `message ${index}`;
    if (typeof message !== 'object' || message === null) throw new BusError('INVALID_MESSAGE', `${where} must be an object`);
    if (typeof message.key !== 'string' || message.key.length === 0 || message.key.length > MAX_KEY_LENGTH) {
      throw new BusError('INVALID_MESSAGE', `${where}: key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`);
    }
    assertStorableText(message.key, `${where}: key`);
    if (typeof message.value !== 'string') throw new BusError('INVALID_MESSAGE', `${where}: value must be a string`);
    assertStorableText(message.value, `${where}: value`);
    if (message.partition !== undefined && message.partition !== 0) {
      throw new BusError('INVALID_MESSAGE', `${where}: partition must be 0 or absent (the embedded bus has one partition per topic); got ${String(message.partition).slice(0, 40)}`);
    }
    const entries: Array<[string, string]> = [];
    if (message.headers !== undefined) {
      if (typeof message.headers !== 'object' || message.headers === null || Array.isArray(message.headers)) {
        throw new BusError('INVALID_MESSAGE', `${where}: headers must be an object of strings`);
      }
      for (const [name, value] of Object.entries(message.headers)) {
        if (name.length === 0 || typeof value !== 'string') {
          throw new BusError('INVALID_MESSAGE', `${where}: header '${name.slice(0, 40)}' must have a non-empty name and a string value`);
        }
        assertStorableText(name, `${where}: header name`);
        assertStorableText(value, `${where}: header '${name.slice(0, 40)}'`);
        entries.push([name, value]);
      }
      if (entries.length > MAX_HEADERS_PER_MESSAGE) {
        throw new BusError('INVALID_MESSAGE', `${where}: at most ${MAX_HEADERS_PER_MESSAGE} headers`);
      }
    }
    // fromEntries defines own properties, so a header named `__proto__` stays a header.
    return { key: message.key, value: message.value, headers: Object.fromEntries(entries) };
  });
}

export interface OutgoingMessageNormalised {
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Text the event store can hold byte for byte: no U+0000 (PostgreSQL), no lone surrogate. */
function assertStorableText(text: string, what: string): void {
  if (text.includes('\u0000')) throw new BusError('INVALID_MESSAGE', `${what} contains U+0000, which the event store cannot hold`);
  if (LONE_SURROGATE.test(text)) throw new BusError('INVALID_MESSAGE', `${what} contains a lone UTF-16 surrogate (not valid Unicode text)`);
}

export function busMessageData(topic: string, message: OutgoingMessageNormalised): BusMessageData {
  return { topic, key: message.key, value: message.value, headers: message.headers };
}

/**
 * The message a consumer receives for a recorded `BusMessagePublished` event: partition 0 (one
 * partition per topic), offset = the event's global position.
 * @throws BusError CONSUMER_FAILED when the event is not a bus message of `topic` (written by
 *   something other than the embedded publisher).
 */
export function toIncomingMessage(event: RecordedEvent, topic: string): IncomingMessage {
  const data = event.data as Partial<Record<keyof BusMessageData, unknown>>;
  const malformed = (reason: string): BusError =>
    new BusError('CONSUMER_FAILED', `Event ${event.id} at position ${event.position} in '${event.streamId}' is not a bus message: ${reason}`);
  if (event.type !== BUS_MESSAGE_EVENT_TYPE) throw malformed(`type is '${event.type}'`);
  if (categoryOf(event.streamId) !== topicToCategory(topic)) throw malformed(`its category is not topic '${topic}'`);
  if (typeof data.key !== 'string' || typeof data.value !== 'string') throw malformed('key and value must be strings');
  const headers = data.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) throw malformed('headers must be an object');
  const entries = Object.entries(headers as Record<string, unknown>);
  if (!entries.every(([, value]) => typeof value === 'string')) throw malformed('header values must be strings');
  return {
    topic,
    partition: 0,
    offset: event.position.toString(),
    key: data.key,
    value: data.value,
    headers: Object.fromEntries(entries) as Record<string, string>,
  };
}
