import { EventStoreValidationError } from './event-store.errors';
import type { EventStoreLimits } from './event-store.limits';
import type { LogFilter, ReadAllOptions, ReadStreamOptions } from './event-store.port';
import { EVENT_TYPE_PATTERN } from './append-request';
import { assertCategory } from './stream-name';

/** Entries in one filter list; a longer filter is a sign of a design problem, not a use case. */
export const MAX_FILTER_ENTRIES = 64;

/** Validates a read count against the limit. */
export function assertReadCount(maxCount: unknown, limits: EventStoreLimits): asserts maxCount is number {
  if (typeof maxCount !== 'number' || !Number.isInteger(maxCount) || maxCount < 1 || maxCount > limits.maxReadCount) {
    throw new EventStoreValidationError(
      'INVALID_READ_REQUEST',
      `maxCount must be an integer from 1 to ${limits.maxReadCount}; got ${String(maxCount)}`,
      { limit: limits.maxReadCount },
    );
  }
}

export function assertPosition(position: unknown, what = 'fromPosition'): asserts position is bigint {
  if (typeof position !== 'bigint' || position < 0n || position >= 2n ** 63n) {
    throw new EventStoreValidationError('INVALID_READ_REQUEST', `${what} must be a bigint in [0, 2^63)`);
  }
}

export function assertRevision(revision: unknown, what = 'fromRevision'): asserts revision is bigint {
  if (typeof revision !== 'bigint' || revision < 0n || revision >= 2n ** 62n) {
    throw new EventStoreValidationError('INVALID_READ_REQUEST', `${what} must be a bigint in [0, 2^62)`);
  }
}

export function validateReadStream(options: ReadStreamOptions, limits: EventStoreLimits): void {
  if (options?.direction !== 'forwards' && options?.direction !== 'backwards') {
    throw new EventStoreValidationError('INVALID_READ_REQUEST', "direction must be 'forwards' or 'backwards'");
  }
  assertReadCount(options.maxCount, limits);
  if (options.fromRevision !== undefined) assertRevision(options.fromRevision);
}

export function validateReadAll(options: ReadAllOptions, limits: EventStoreLimits): void {
  assertPosition(options?.fromPosition);
  assertReadCount(options.maxCount, limits);
  validateFilter(options.filter);
}

export function validateFilter(filter: LogFilter | undefined): void {
  if (filter === undefined) return;
  for (const [name, list] of [
    ['categories', filter.categories],
    ['eventTypes', filter.eventTypes],
  ] as const) {
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_FILTER_ENTRIES) {
      throw new EventStoreValidationError(
        'INVALID_READ_REQUEST',
        `filter.${name} must be a non-empty list of at most ${MAX_FILTER_ENTRIES} entries`,
      );
    }
  }
  filter.categories?.forEach((category) => assertCategory(category));
  filter.eventTypes?.forEach((type) => {
    if (typeof type !== 'string' || !EVENT_TYPE_PATTERN.test(type)) {
      throw new EventStoreValidationError('INVALID_READ_REQUEST', `filter.eventTypes: '${String(type).slice(0, 80)}' is not an event type`);
    }
  });
}

/** Whether an event passes a filter; adapters that filter in memory use exactly this. */
export function matchesFilter(event: { streamId: string; type: string }, filter: LogFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (filter.categories) {
    const dash = event.streamId.indexOf('-');
    if (!filter.categories.includes(event.streamId.slice(0, dash))) return false;
  }
  return true;
}
