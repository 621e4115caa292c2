export * from './embedded-postgres';
export * from './local-ports';
