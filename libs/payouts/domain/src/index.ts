export * from './payout.events';
export * from './payout.rejections';
export * from './payout-batch.state';
export * from './payout-chunk.state';
export * from './payout-batch.decider';
export * from './payout-saga.decider';
export * from './payout-row.validation';
