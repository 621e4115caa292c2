/**
 * Stable codes for everything the integration-event codec refuses. Consumers switch on `code`:
 * UNSUPPORTED_CONTRACT_VERSION and UNKNOWN_MESSAGE_KIND may mean "upgrade me" (a newer producer),
 * MALFORMED_MESSAGE means a broken or foreign message; INVALID_EVENT / INVALID_POSITION /
 * INVALID_CATEGORY are
 * programmer errors on the producing side (nothing was encoded).
 */
export type IntegrationEventErrorCode =
  | 'MALFORMED_MESSAGE'
  | 'UNSUPPORTED_CONTRACT_VERSION'
  | 'UNKNOWN_MESSAGE_KIND'
  | 'INVALID_EVENT'
  | 'INVALID_POSITION'
  | 'INVALID_CATEGORY';

export class IntegrationEventError extends Error {
  constructor(
    readonly code: IntegrationEventErrorCode,
    message: string,
    readonly details: Readonly<Record<string, string | number | boolean>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IntegrationEventError';
  }
}
