export * from './kafka-client.factory';
export * from './kafka-bus.publisher';
export * from './kafka-bus.subscriber';
export * from './kafka-topics.admin';
export * from './open-bus';
