export * from './env-config';
export * from './json-logger';
