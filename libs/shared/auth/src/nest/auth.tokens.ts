/** DI token for the one JwtVerifier of the process (HTTP and gRPC share it). */
export const JWT_VERIFIER = Symbol('JWT_VERIFIER');

/** The passport strategy name: our own, so no other 'jwt' strategy can be picked up by mistake. */
export const JWT_STRATEGY = 'ledger-jwt';

/** Route metadata key set by @Public(). */
export const IS_PUBLIC_ROUTE = 'ledger-auth:public';
