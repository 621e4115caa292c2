export * from './event-fixtures';
export * from './event-store-contract';
