import { EventStoreValidationError } from './event-store.errors';

/**
 * Streams are named `<category>-<id>`: a camelCase category (no dash) and an id of letters,
 * digits and `_ . : -`. Category filters in subscriptions and Kafka topics derive from it.
 */
export const MAX_STREAM_NAME_LENGTH = 200;
const STREAM_NAME = /^([a-z][a-zA-Z0-9]{0,62})-([A-Za-z0-9][A-Za-z0-9_.:-]*)$/;
const CATEGORY = /^[a-z][a-zA-Z0-9]{0,62}$/;

export interface StreamName {
  readonly category: string;
  readonly id: string;
}

export function parseStreamName(streamId: unknown): StreamName {
  if (typeof streamId !== 'string' || streamId.length > MAX_STREAM_NAME_LENGTH) {
    throw invalid(streamId, `must be a string of at most ${MAX_STREAM_NAME_LENGTH} characters`);
  }
  const match = STREAM_NAME.exec(streamId);
  if (!match) throw invalid(streamId, "must look like '<category>-<id>', e.g. 'wallet-3f2a…'");
  return { category: match[1] as string, id: match[2] as string };
}

export function streamNameOf(category: string, id: string): string {
  assertCategory(category);
  const streamId = `${category}-${id}`;
  parseStreamName(streamId);
  return streamId;
}

export function categoryOf(streamId: string): string {
  return parseStreamName(streamId).category;
}

export function assertCategory(category: unknown): asserts category is string {
  if (typeof category !== 'string' || !CATEGORY.test(category)) {
    throw new EventStoreValidationError(
      'INVALID_STREAM_NAME',
      `Category '${String(category).slice(0, 80)}' must be camelCase letters and digits, starting with a lower-case letter`,
      { category: String(category).slice(0, 80) },
    );
  }
}

function invalid(streamId: unknown, reason: string): EventStoreValidationError {
  const shown = typeof streamId === 'string' ? streamId.slice(0, 80) : typeof streamId;
  return new EventStoreValidationError('INVALID_STREAM_NAME', `Stream name '${shown}' ${reason}`, {
    streamId: shown,
  });
}
