export * from './kurrentdb-calls';
export * from './kurrentdb-checkpoint-store';
export * from './kurrentdb-driver';
export * from './kurrentdb-errors';
export * from './kurrentdb-event-store';
export * from './kurrentdb-mapping';
