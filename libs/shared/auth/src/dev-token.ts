import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import type { JwtVerifierConfig } from './jwt-verifier';
import { Claims, type PrincipalKind, SCOPE_PATTERN } from './principal';

export interface DevTokenRequest {
  readonly subject: string;
  readonly kind: PrincipalKind;
  readonly scopes: readonly string[];
  readonly ttlSeconds: number;
}

/**
 * A token for local development and tests, in the claim layout the verifier reads, signed with
 * the HS256 secret of `config` (normally the embedded default's). Refuses RS256 configs: this
 * process never holds an RS256 private key. Not for production use.
 */
export function issueDevToken(request: DevTokenRequest, config: JwtVerifierConfig, now: Date = new Date()): string {
  if (config.algorithm !== 'HS256') throw new Error('Dev tokens are HS256 only: set JWT_ALGORITHM=HS256 (the embedded default)');
  if (request.subject === '') throw new Error('A dev token needs a subject');
  if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < 1 || request.ttlSeconds > config.maxTokenAgeSeconds) {
    // Longer would only be refused later, as too old (JWT_MAX_TOKEN_AGE_S).
    throw new Error(`ttlSeconds must be from 1 to ${config.maxTokenAgeSeconds} (JWT_MAX_TOKEN_AGE_S)`);
  }
  const bad = request.scopes.find((scope) => !SCOPE_PATTERN.test(scope));
  if (bad !== undefined) throw new Error(`Malformed scope '${bad.slice(0, 64)}'`);
  const issuedAt = Math.floor(now.getTime() / 1000);
  const claims: Record<string, unknown> = {
    [Claims.subject]: request.subject,
    [Claims.principalKind]: request.kind,
    [Claims.issuer]: config.issuer,
    [Claims.audience]: config.audience,
    [Claims.issuedAt]: issuedAt,
    [Claims.expiresAt]: issuedAt + request.ttlSeconds,
    [Claims.tokenId]: randomUUID(),
  };
  if (request.scopes.length > 0) claims[Claims.scope] = request.scopes.join(' ');
  // iat is in the claims, so jsonwebtoken keeps it rather than reading its own clock.
  return jwt.sign(claims, config.secret, { algorithm: 'HS256' });
}
