export * from './event-fixtures';
export * from './event-store-contract';
export * from './bus-contract';
export * from './wait-for';
export * from './embedded-bus-restart';
