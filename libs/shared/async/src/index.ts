export * from './abortable-delay';
