export * from './integration-event.errors';
export * from './ledger-message.codec';
export * from './ledger-topics';
