export * from './bus.port';
export * from './embedded-bus.mapping';
export * from './embedded-bus.publisher';
export * from './embedded-bus.subscriber';
