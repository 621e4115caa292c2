export * from './command-processor';
export * from './idempotency';
export * from './stream-view';
export * from './stream-view-cache';
