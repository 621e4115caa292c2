export * from './embedded-postgres';
export * from './local-ports';
export * from './kafka-broker';
