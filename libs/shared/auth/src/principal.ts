/**
 * Who is calling, as proven by a verified token. Built only by the JWT verifier (or by tests);
 * everything downstream (authorisation, PIN, event metadata) reads this, never raw claims.
 */
export type PrincipalKind = 'user' | 'service';

export interface Principal {
  /** The token's `sub`: a user id (the owner id of that user's wallets) or a service name. */
  readonly subject: string;
  readonly kind: PrincipalKind;
  /** Parsed from the space-separated `scope` claim; empty when the claim is absent. */
  readonly scopes: readonly string[];
  /** The token's `jti`, when present: useful in audit metadata, never required. */
  readonly tokenId?: string;
}

/**
 * The claim layout the verifier reads and the dev-token issuer writes (README "Claim layout").
 * A production identity provider must be configured to emit the same names.
 */
export const Claims = {
  subject: 'sub',
  principalKind: 'principal_kind',
  scope: 'scope',
  tokenId: 'jti',
  issuer: 'iss',
  audience: 'aud',
  expiresAt: 'exp',
  issuedAt: 'iat',
  notBefore: 'nbf',
} as const;

/** Bounds on claim values, so a signed but absurd token cannot push huge strings downstream. */
export const MAX_SUBJECT_LENGTH = 200;
export const MAX_SCOPES = 32;
export const MAX_TOKEN_ID_LENGTH = 200;
/** A scope is a short token such as `ledger:admin`. */
export const SCOPE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$/;
