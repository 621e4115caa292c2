/** DI token of the read-model query service (a Symbol, like ../ledger.tokens.ts). */
export const WALLET_READ_MODEL_QUERIES = Symbol('WalletReadModelQueriesService');
