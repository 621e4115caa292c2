export * from './payout-messages';
export * from './payout-message.codec';
export * from './payout-idempotency';
