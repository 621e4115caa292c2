import {
  canonicalJson,
  EVENT_TYPE_PATTERN,
  parseStreamName,
  type EventMetadata,
  type JsonObject,
  type RecordedEvent,
} from '@ledger/event-store';
import { IntegrationEventError } from './integration-event.errors';

/**
 * The Kafka form of `integration.ledger.v1.LedgerEvent` and `Watermark`
 * (proto/integration/ledger/v1/ledger_events.proto, ADR 0007): value = proto3 JSON mapping,
 * headers say the content type and which message the value holds, events are keyed by stream id.
 *
 * Decoding is strict about everything the contract fixes (types, ranges, the event being
 * consistent with its own stream id and key, data_json being the canonical text the hash chain
 * covers) and lenient only where proto3 JSON says readers must be (unknown fields ignored,
 * snake_case names accepted besides lowerCamelCase).
 */

export const LEDGER_CONTRACT_VERSION = 1;
export const CONTENT_TYPE_HEADER = 'content-type';
export const LEDGER_MESSAGE_HEADER = 'ledger-message';
export const JSON_CONTENT_TYPE = 'application/json';
/** Key of watermark messages: the relay sends them to explicit partitions, so the key picks nothing. */
export const WATERMARK_KEY = 'ledger-watermark';
/**
 * Bound on a message value, characters. An event is at most 256 KiB of canonical JSON (the
 * store's maxEventBytes); escaping it inside data_json at worst multiplies it by 6 (`\u0001`).
 */
export const MAX_LEDGER_MESSAGE_CHARS = 2 * 1024 * 1024;

export type LedgerMessageKind = 'event' | 'watermark';

/** What the encoders return: structurally a bus OutgoingMessage. */
export interface EncodedLedgerMessage {
  readonly key: string;
  readonly value: string;
  readonly headers: Record<string, string>;
}

export type DecodedLedgerMessage = { kind: 'event'; event: RecordedEvent } | { kind: 'watermark'; position: bigint };

/** The event store's bound on metadata texts (append-request.ts keeps it private). */
const MAX_METADATA_TEXT_LENGTH = 256;
const MAX_POSITION = 2n ** 63n - 1n;
const MAX_REVISION = 2n ** 62n - 1n;
const MAX_SCHEMA_VERSION_VALUE = 2 ** 31 - 1;
const DECIMAL = /^(0|[1-9][0-9]{0,18})$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** proto3 JSON names (lowerCamelCase) of LedgerEvent, and the proto names readers also accept. */
const EVENT_FIELDS = {
  contractVersion: 'contract_version',
  eventId: 'event_id',
  streamId: 'stream_id',
  category: 'category',
  revision: 'revision',
  globalPosition: 'global_position',
  type: 'type',
  dataJson: 'data_json',
  correlationId: 'correlation_id',
  causationId: 'causation_id',
  principal: 'principal',
  idempotencyKey: 'idempotency_key',
  schemaVersion: 'schema_version',
  recordedAt: 'recorded_at',
  hash: 'hash',
} as const;
const WATERMARK_FIELDS = { contractVersion: 'contract_version', position: 'position' } as const;

/** The JSON object of a LedgerEvent, keys in proto field order (what encodeLedgerEvent writes). */
export interface LedgerEventJson {
  readonly contractVersion: number;
  readonly eventId: string;
  readonly streamId: string;
  readonly category: string;
  readonly revision: string;
  readonly globalPosition: string;
  readonly type: string;
  readonly dataJson: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly principal: string;
  readonly idempotencyKey?: string;
  readonly schemaVersion: number;
  readonly recordedAt: string;
  readonly hash: string;
}

export interface WatermarkJson {
  readonly contractVersion: number;
  readonly position: string;
}

/**
 * One recorded event as a Kafka message: key = stream id (one stream, one partition, one order).
 * @throws IntegrationEventError INVALID_EVENT when the event is not what a store records
 *   (bad stream id, revision, position, time or data); nothing is encoded.
 */
export function encodeLedgerEvent(event: RecordedEvent): EncodedLedgerMessage {
  const invalid = (reason: string): IntegrationEventError =>
    new IntegrationEventError('INVALID_EVENT', `Cannot encode event ${String(event?.id).slice(0, 40)}: ${reason}`);
  if (typeof event !== 'object' || event === null) throw invalid('not an object');
  let category: string;
  try {
    category = parseStreamName(event.streamId).category;
  } catch (error) {
    throw invalid((error as Error).message);
  }
  if (typeof event.revision !== 'bigint' || event.revision < 0n || event.revision > MAX_REVISION) throw invalid('revision must be a bigint in [0, 2^62)');
  if (typeof event.position !== 'bigint' || event.position < 1n || event.position > MAX_POSITION) throw invalid('position must be a bigint in [1, 2^63)');
  if (!(event.recordedAt instanceof Date) || Number.isNaN(event.recordedAt.getTime())) throw invalid('recordedAt must be a valid Date');
  let dataJson: string;
  try {
    dataJson = canonicalJson(event.data);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  const metadata = event.metadata;
  const json: LedgerEventJson = {
    contractVersion: LEDGER_CONTRACT_VERSION,
    eventId: event.id,
    streamId: event.streamId,
    category,
    revision: event.revision.toString(),
    globalPosition: event.position.toString(),
    type: event.type,
    dataJson,
    correlationId: metadata.correlationId,
    causationId: metadata.causationId,
    principal: metadata.principal,
    ...(metadata.idempotencyKey === undefined ? {} : { idempotencyKey: metadata.idempotencyKey }),
    schemaVersion: metadata.schemaVersion,
    recordedAt: event.recordedAt.toISOString(),
    hash: event.hash,
  };
  return { key: event.streamId, value: JSON.stringify(json), headers: headersFor('event') };
}

/**
 * A watermark: every event at or below `position` has been published. The relay sets the
 * partition itself when it sends one to each partition.
 * @throws IntegrationEventError INVALID_POSITION unless 0 ≤ position < 2^63.
 */
export function encodeWatermark(position: bigint): EncodedLedgerMessage {
  if (typeof position !== 'bigint' || position < 0n || position > MAX_POSITION) {
    throw new IntegrationEventError('INVALID_POSITION', `A watermark position must be a bigint in [0, 2^63); got ${String(position).slice(0, 40)}`);
  }
  const json: WatermarkJson = { contractVersion: LEDGER_CONTRACT_VERSION, position: position.toString() };
  return { key: WATERMARK_KEY, value: JSON.stringify(json), headers: headersFor('watermark') };
}

/**
 * A Kafka message of a ledger topic back into what it carries. The decoded event deep-equals
 * the RecordedEvent the relay encoded.
 * @throws IntegrationEventError MALFORMED_MESSAGE (names the header or field that is wrong),
 *   UNSUPPORTED_CONTRACT_VERSION (contract_version other than 1), UNKNOWN_MESSAGE_KIND (a
 *   `ledger-message` header this version does not know).
 */
export function decodeLedgerMessage(message: {
  key: string;
  value: string;
  headers: Readonly<Record<string, string>>;
}): { kind: 'event'; event: RecordedEvent } | { kind: 'watermark'; position: bigint } {
  if (typeof message !== 'object' || message === null) throw malformed('the message is not an object');
  const headers = message.headers;
  if (typeof headers !== 'object' || headers === null) throw malformed('headers are missing');
  const contentType = headers[CONTENT_TYPE_HEADER];
  if (typeof contentType !== 'string' || contentType.split(';')[0]?.trim().toLowerCase() !== JSON_CONTENT_TYPE) {
    throw malformed(`header '${CONTENT_TYPE_HEADER}' must be '${JSON_CONTENT_TYPE}'; got '${String(contentType).slice(0, 60)}'`);
  }
  const kind = headers[LEDGER_MESSAGE_HEADER];
  if (kind !== 'event' && kind !== 'watermark') {
    if (kind === undefined) throw malformed(`header '${LEDGER_MESSAGE_HEADER}' is missing`);
    throw new IntegrationEventError('UNKNOWN_MESSAGE_KIND', `Header '${LEDGER_MESSAGE_HEADER}' is '${String(kind).slice(0, 60)}'; this reader knows 'event' and 'watermark'`, {
      kind: String(kind).slice(0, 60),
    });
  }
  if (typeof message.value !== 'string') throw malformed('the value must be text');
  if (message.value.length > MAX_LEDGER_MESSAGE_CHARS) throw malformed(`the value has ${message.value.length} characters; at most ${MAX_LEDGER_MESSAGE_CHARS}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.value);
  } catch (error) {
    throw malformed(`the value is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('the value must be a JSON object');
  if (kind === 'watermark') {
    const fields = new FieldReader(parsed as Record<string, unknown>, WATERMARK_FIELDS, 'Watermark');
    fields.contractVersion();
    return { kind: 'watermark', position: fields.decimal('position', 0n, MAX_POSITION) };
  }
  return { kind: 'event', event: decodeEvent(parsed as Record<string, unknown>, message.key) };
}

function decodeEvent(object: Record<string, unknown>, key: unknown): RecordedEvent {
  const fields = new FieldReader(object, EVENT_FIELDS, 'LedgerEvent');
  fields.contractVersion();
  const id = fields.text('eventId');
  if (!UUID.test(id)) throw malformed(`LedgerEvent.event_id '${id.slice(0, 60)}' is not a UUID`);
  const streamId = fields.text('streamId');
  let category: string;
  try {
    category = parseStreamName(streamId).category;
  } catch (error) {
    throw malformed(`LedgerEvent.stream_id: ${(error as Error).message}`);
  }
  if (fields.text('category') !== category) throw malformed(`LedgerEvent.category '${fields.text('category').slice(0, 60)}' is not the category of stream '${streamId}'`);
  if (key !== streamId) throw malformed(`the key '${String(key).slice(0, 80)}' is not the event's stream id '${streamId}'`);
  const type = fields.text('type');
  if (!EVENT_TYPE_PATTERN.test(type)) throw malformed(`LedgerEvent.type '${type.slice(0, 60)}' is not an event type`);
  const hash = fields.text('hash');
  if (!SHA256_HEX.test(hash)) throw malformed('LedgerEvent.hash must be 64 lower-case hex digits');
  const idempotencyKey = fields.optionalText('idempotencyKey');
  const metadata: EventMetadata = {
    correlationId: fields.metadataText('correlationId'),
    causationId: fields.metadataText('causationId'),
    principal: fields.metadataText('principal'),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    schemaVersion: fields.integer('schemaVersion', 1, MAX_SCHEMA_VERSION_VALUE),
  };
  if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > MAX_METADATA_TEXT_LENGTH)) {
    throw malformed(`LedgerEvent.idempotency_key must have 1 to ${MAX_METADATA_TEXT_LENGTH} characters when present`);
  }
  return {
    id,
    type,
    data: decodeData(fields.text('dataJson')),
    metadata,
    streamId,
    revision: fields.decimal('revision', 0n, MAX_REVISION),
    position: fields.decimal('globalPosition', 1n, MAX_POSITION),
    recordedAt: fields.timestamp('recordedAt'),
    hash,
  };
}

/** data_json must be the canonical text of a JSON object: the exact bytes the hash chain covers. */
function decodeData(dataJson: string): JsonObject {
  let data: unknown;
  try {
    data = JSON.parse(dataJson);
  } catch (error) {
    throw malformed(`LedgerEvent.data_json is not JSON: ${(error as Error).message}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw malformed('LedgerEvent.data_json must hold a JSON object');
  let canonical: string;
  try {
    canonical = canonicalJson(data, 'data_json');
  } catch (error) {
    throw malformed(`LedgerEvent.${(error as Error).message}`);
  }
  if (canonical !== dataJson) throw malformed('LedgerEvent.data_json is not canonical JSON (keys sorted, no whitespace)');
  return data as JsonObject;
}

/** Reads proto3-JSON fields by their lowerCamelCase name or their proto name, never both. */
class FieldReader<Names extends Record<string, string>> {
  constructor(
    private readonly object: Record<string, unknown>,
    private readonly names: Names,
    private readonly message: string,
  ) {}

  private raw(name: keyof Names & string): unknown {
    const protoName = this.names[name] as string;
    const has = (key: string): boolean => Object.prototype.hasOwnProperty.call(this.object, key);
    if (protoName !== name && has(name) && has(protoName)) throw malformed(`${this.where(name)} appears twice (as ${name} and ${protoName})`);
    return has(name) ? this.object[name] : has(protoName) ? this.object[protoName] : undefined;
  }

  private where(name: keyof Names & string): string {
    return `${this.message}.${this.names[name]}`;
  }

  contractVersion(): void {
    // proto3 JSON omits default values, so an absent contract_version reads as 0: unsupported too.
    const version = this.raw('contractVersion' as keyof Names & string) ?? 0;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) throw malformed(`${this.where('contractVersion' as keyof Names & string)} must be a non-negative integer`);
    if (version !== LEDGER_CONTRACT_VERSION) {
      throw new IntegrationEventError('UNSUPPORTED_CONTRACT_VERSION', `${this.message} has contract_version ${version}; this reader understands ${LEDGER_CONTRACT_VERSION}`, {
        contractVersion: version,
      });
    }
  }

  text(name: keyof Names & string): string {
    const value = this.raw(name);
    if (typeof value !== 'string' || value.length === 0) throw malformed(`${this.where(name)} must be a non-empty string`);
    return value;
  }

  optionalText(name: keyof Names & string): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw malformed(`${this.where(name)} must be a string`);
    return value;
  }

  metadataText(name: keyof Names & string): string {
    const value = this.text(name);
    if (value.length > MAX_METADATA_TEXT_LENGTH) throw malformed(`${this.where(name)} has more than ${MAX_METADATA_TEXT_LENGTH} characters`);
    return value;
  }

  integer(name: keyof Names & string, min: number, max: number): number {
    const value = this.raw(name);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw malformed(`${this.where(name)} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)?.slice(0, 40)}`);
    }
    return value;
  }

  /** 64-bit counters travel as decimal strings (proto3 JSON for int64, and our convention for positions). */
  decimal(name: keyof Names & string, min: bigint, max: bigint): bigint {
    const value = this.raw(name);
    if (typeof value !== 'string' || !DECIMAL.test(value)) throw malformed(`${this.where(name)} must be a decimal string; got ${JSON.stringify(value)?.slice(0, 40)}`);
    const parsed = BigInt(value);
    if (parsed < min || parsed > max) throw malformed(`${this.where(name)} must be from ${min} to ${max}; got ${value}`);
    return parsed;
  }

  timestamp(name: keyof Names & string): Date {
    const value = this.text(name);
    const time = RFC3339.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(time)) throw malformed(`${this.where(name)} must be an RFC 3339 time; got '${value.slice(0, 40)}'`);
    return new Date(time);
  }
}

function headersFor(kind: LedgerMessageKind): Record<string, string> {
  return { [CONTENT_TYPE_HEADER]: JSON_CONTENT_TYPE, [LEDGER_MESSAGE_HEADER]: kind };
}

function malformed(reason: string): IntegrationEventError {
  return new IntegrationEventError('MALFORMED_MESSAGE', `Malformed ledger message: ${reason}`);
}
