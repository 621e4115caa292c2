/**
 * Stable codes for authentication failures (UnauthenticatedError, 401 / UNAUTHENTICATED). Part
 * of the API contract: never renamed. Messages and details never contain the token.
 */
export const TokenErrorCodes = {
  /** No Authorization header / `authorization` metadata, or an empty one. */
  missing: 'TOKEN_MISSING',
  /** Not `Bearer <jwt>`, not three base64url parts, unparsable header or payload, too long. */
  malformed: 'TOKEN_MALFORMED',
  /** The header's `alg` is not the one algorithm this deployment accepts (incl. `none`). */
  algorithmNotAllowed: 'TOKEN_ALGORITHM_NOT_ALLOWED',
  /** The signature does not verify with the configured key. */
  invalidSignature: 'TOKEN_INVALID_SIGNATURE',
  /** JWKS mode: no key with the token's `kid` at the configured JWKS URI. */
  keyUnknown: 'TOKEN_KEY_UNKNOWN',
  /** `exp` has passed, or the token is older than the configured maximum age (`iat`). */
  expired: 'TOKEN_EXPIRED',
  /** `nbf` is still in the future. */
  notYetValid: 'TOKEN_NOT_YET_VALID',
  wrongIssuer: 'TOKEN_WRONG_ISSUER',
  wrongAudience: 'TOKEN_WRONG_AUDIENCE',
  /** A required claim is missing or has the wrong shape (exp, iat, sub, principal_kind, scope...). */
  claimsInvalid: 'TOKEN_CLAIMS_INVALID',
} as const;

export type TokenErrorCode = (typeof TokenErrorCodes)[keyof typeof TokenErrorCodes];

/** JWKS endpoint unreachable or rate-limited (UnavailableError, 503): not the caller's fault. */
export const AUTH_KEYS_UNAVAILABLE = 'AUTH_KEYS_UNAVAILABLE';
