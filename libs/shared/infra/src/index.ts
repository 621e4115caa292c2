export * from './embedded-postgres';
export * from './local-ports';
export * from './kafka-broker';
export * from './postgres-migrations';
export * from './postgres-transaction';
export * from './service-pool';
export * from './postgres-arrays';
