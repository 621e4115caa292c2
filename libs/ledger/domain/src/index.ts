export * from './accounts';
export * from './ledger.rejections';
export * from './wallet.commands';
export * from './wallet.decider';
export * from './wallet.events';
export * from './wallet.state';
export * from './wallet.snapshot';
