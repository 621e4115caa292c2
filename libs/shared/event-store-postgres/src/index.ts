export * from './postgres-checkpoint-store';
export * from './postgres-event-store';
export * from './postgres-schema';
export * from './transactional-consumer';
