import { EventStoreValidationError, assertCategory } from '@ledger/event-store';
import { IntegrationEventError } from './integration-event.errors';

/**
 * Categories the relay publishes when not configured otherwise (ADR 0007). Snapshots
 * (`walletSnapshot`), idempotency records (`idempotency`) and bus traffic (`bus*`) are internal
 * to the ledger and never published.
 */
export const PUBLISHED_CATEGORIES_DEFAULT: readonly string[] = Object.freeze(['wallet']);

/** Categories that must never leave the ledger, whatever an allow-list says. */
export function isInternalCategory(category: string): boolean {
  return category === 'idempotency' || category === 'walletSnapshot' || category.startsWith('bus');
}

/**
 * The Kafka topic of one event-store category: `ledger.<category>.v1`. The `v1` is the
 * integration contract's version (proto/integration/ledger/v1), not the event schema's.
 * @throws IntegrationEventError INVALID_CATEGORY for something that is not a category.
 */
export function topicForCategory(category: string): string {
  try {
    assertCategory(category);
  } catch (error) {
    if (!(error instanceof EventStoreValidationError)) throw error;
    throw new IntegrationEventError('INVALID_CATEGORY', error.message, {}, { cause: error });
  }
  return `ledger.${category}.v1`;
}
