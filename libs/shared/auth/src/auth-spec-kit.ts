import { ApplicationError } from '@ledger/errors';
import jwt from 'jsonwebtoken';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Hs256VerifierConfig } from './jwt-verifier';

/** Shared by this library's specs only (not exported from index.ts). */

export const NOW = new Date('2030-01-01T12:00:00.000Z');
export const NOW_S = Math.floor(NOW.getTime() / 1000);
export const SECRET = 'a-test-secret-that-is-long-enough-for-hs256!';
export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'ledger-api';

export const BOUNDS = { issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 30, maxTokenAgeSeconds: 3_600 } as const;
export const HS256_CONFIG: Hs256VerifierConfig = { algorithm: 'HS256', secret: SECRET, ...BOUNDS };

let rsa: { publicKey: KeyObject; privateKey: KeyObject; publicKeyPem: string } | undefined;
/** One 2048-bit pair per test file (generation takes ~100 ms). */
export function rsaKeys(): { publicKey: KeyObject; privateKey: KeyObject; publicKeyPem: string } {
  if (!rsa) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2_048 });
    rsa = { publicKey, privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }
  return rsa;
}

export function validClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: 'alice',
    principal_kind: 'user',
    scope: 'ledger:audit',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: NOW_S - 60,
    exp: NOW_S + 600,
    jti: 'token-1',
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims;
}

/**
 * Signs exactly these claims with HMAC-SHA256, bypassing jsonwebtoken's sign-side validation
 * (which would add iat and refuse odd claim types we want to present to the verifier).
 */
export function signHs256(claims: Record<string, unknown>, secret = SECRET, header: Record<string, unknown> = {}): string {
  const signingInput = `${base64url({ alg: 'HS256', typ: 'JWT', ...header })}.${base64url(claims)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

/** jsonwebtoken only adds iat when the claims lack it; noTimestamp keeps a missing iat missing. */
export function signRs256(claims: Record<string, unknown>, privateKey: KeyObject = rsaKeys().privateKey, kid?: string): string {
  return jwt.sign(claims, privateKey, { algorithm: 'RS256', noTimestamp: !('iat' in claims), ...(kid ? { keyid: kid } : {}) });
}

export function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** Runs `action` and returns the ApplicationError it throws (fails the test otherwise). */
export async function caught(action: () => unknown): Promise<ApplicationError> {
  try {
    await action();
  } catch (error) {
    if (error instanceof ApplicationError) return error;
    throw error;
  }
  throw new Error('expected an ApplicationError, nothing was thrown');
}
