export * from './application-errors';
