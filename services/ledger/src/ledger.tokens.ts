/** DI tokens: symbols, so nothing resolves by accident through a string. */
export const EVENT_STORE_RUNTIME = Symbol('EventStoreRuntime');
export const LEDGER_CONFIG = Symbol('LedgerConfig');
export const WALLET_COMMANDS = Symbol('WalletCommandsService');
export const WALLET_QUERIES = Symbol('WalletQueriesService');
export const PIN_SERVICE = Symbol('PinService');
export const LEDGER_CLOCK = Symbol('LedgerClock');
