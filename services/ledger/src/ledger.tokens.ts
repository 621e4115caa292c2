/** DI tokens: symbols, so nothing resolves by accident through a string. */
export const EVENT_STORE_RUNTIME = Symbol('EventStoreRuntime');
export const LEDGER_CONFIG = Symbol('LedgerConfig');
