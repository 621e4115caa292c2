import { randomBytes, randomUUID } from 'node:crypto';
import type { EventMetadata, NewEvent } from '@ledger/event-store';

/** A category no other test uses, so global-log assertions ignore everyone else's events. */
export function uniqueCategory(prefix = 'test'): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

export function uniqueStream(category = uniqueCategory()): string {
  return `${category}-${randomUUID()}`;
}

export function testMetadata(overrides: Partial<EventMetadata> = {}): EventMetadata {
  return {
    correlationId: randomUUID(),
    causationId: randomUUID(),
    principal: 'service:test',
    schemaVersion: 1,
    ...overrides,
  };
}

export function testEvent(type = 'SomethingHappened', data: Record<string, unknown> = {}, id?: string): NewEvent {
  return { ...(id ? { id } : {}), type, data: { value: randomUUID(), ...data } as NewEvent['data'], metadata: testMetadata() };
}

export function testEvents(count: number, type = 'SomethingHappened'): NewEvent[] {
  return Array.from({ length: count }, (_, index) => testEvent(type, { index }));
}
