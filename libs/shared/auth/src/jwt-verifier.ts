import { type ApplicationError, UnauthenticatedError, UnavailableError } from '@ledger/errors';
import jwt, { JsonWebTokenError, NotBeforeError, TokenExpiredError, type VerifyOptions } from 'jsonwebtoken';
import { JwksClient, type SigningKey } from 'jwks-rsa';
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { AUTH_KEYS_UNAVAILABLE, type TokenErrorCode, TokenErrorCodes } from './auth-errors';
import { MAX_TOKEN_LENGTH_CHARS } from './bearer-token';
import {
  Claims,
  MAX_SCOPES,
  MAX_SUBJECT_LENGTH,
  MAX_TOKEN_ID_LENGTH,
  type Principal,
  type PrincipalKind,
  SCOPE_PATTERN,
} from './principal';

export type JwtAlgorithm = 'HS256' | 'RS256';

/** HS256 secrets shorter than this are refused: RFC 7518 §3.2 asks for at least the hash size. */
export const MIN_HS256_SECRET_BYTES = 32;
/** RSA keys shorter than this are refused. */
export const MIN_RSA_MODULUS_BITS = 2_048;

/** JWKS fetching is bounded explicitly instead of trusting jwks-rsa's defaults. */
export interface JwksLimits {
  /** How long a fetched key stays cached. */
  readonly cacheMaxAgeSeconds: number;
  /** How many keys (by kid) the cache holds. */
  readonly cacheMaxEntries: number;
  /** Bound on one JWKS HTTP request. */
  readonly requestTimeoutMs: number;
  /** Cache misses (unknown kids) may fetch the JWKS at most this often. */
  readonly requestsPerMinute: number;
}

/** Where the verification key comes from: exactly one algorithm per deployment. */
export type JwtKeyConfig =
  | { readonly algorithm: 'HS256'; readonly secret: string }
  | { readonly algorithm: 'RS256'; readonly publicKeyPem: string }
  | { readonly algorithm: 'RS256'; readonly jwksUri: string; readonly jwks: JwksLimits };

/** Every field is required: no library default decides anything on this path. */
export type JwtVerifierConfig = JwtKeyConfig & {
  /** Exact `iss` required. */
  readonly issuer: string;
  /** `aud` (string or array) must contain exactly this value. */
  readonly audience: string;
  /** Allowed clock skew when checking exp, nbf, iat and max age. */
  readonly clockToleranceSeconds: number;
  /** Tokens whose `iat` is older than this are refused even if `exp` is later. */
  readonly maxTokenAgeSeconds: number;
};

export type Hs256VerifierConfig = Extract<JwtVerifierConfig, { readonly algorithm: 'HS256' }>;

export interface VerifiedToken {
  readonly principal: Principal;
  /** The key the signature verified with (a secret or public KeyObject; never leaves the process). */
  readonly key: KeyObject;
}

export interface JwtVerifier {
  readonly algorithm: JwtAlgorithm;
  /**
   * The verified principal of a compact JWS (no `Bearer ` prefix: see parseBearer).
   *
   * @throws UnauthenticatedError with a TokenErrorCodes code; the token is never echoed
   * @throws UnavailableError AUTH_KEYS_UNAVAILABLE when the JWKS endpoint cannot be read
   */
  verify(token: string): Promise<Principal>;
  /** verify, also returning the key used: lets the passport-jwt strategy re-check with the same key. */
  verifyWithKey(token: string): Promise<VerifiedToken>;
  /** The jsonwebtoken options verify uses (minus the clock), for the same second check. */
  readonly jsonWebTokenOptions: Readonly<VerifyOptions>;
}

export interface JwtVerifierDependencies {
  /** Injected in tests; production uses the system clock. */
  readonly clock?: () => Date;
}

const BASE64URL_PART = /^[A-Za-z0-9_-]*$/;
const MAX_KID_LENGTH = 256;

function fail(code: TokenErrorCode, message: string, details: Record<string, string | number> = {}): never {
  throw new UnauthenticatedError(code, message, details);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodePart(part: string, what: 'header' | 'payload'): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    fail(TokenErrorCodes.malformed, `The token ${what} is not JSON`, { reason: `${what}_not_json` });
  }
  if (!isPlainObject(parsed)) fail(TokenErrorCodes.malformed, `The token ${what} is not a JSON object`, { reason: `${what}_not_object` });
  return parsed;
}

export function createJwtVerifier(config: JwtVerifierConfig, dependencies: JwtVerifierDependencies = {}): JwtVerifier {
  assertVerifierConfig(config);
  const clock = dependencies.clock ?? (() => new Date());
  const resolveKey = keyResolver(config);
  const jsonWebTokenOptions: Readonly<VerifyOptions> = Object.freeze({
    algorithms: [config.algorithm],
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: config.clockToleranceSeconds,
    maxAge: config.maxTokenAgeSeconds,
    ignoreExpiration: false,
    ignoreNotBefore: false,
    allowInvalidAsymmetricKeyTypes: false,
  });

  async function verifyInFull(token: string): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token === '') fail(TokenErrorCodes.missing, 'A bearer token is required');
    if (token.length > MAX_TOKEN_LENGTH_CHARS) {
      fail(TokenErrorCodes.malformed, 'The token is too long', { reason: 'too_long', maxLengthChars: MAX_TOKEN_LENGTH_CHARS });
    }
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((part) => BASE64URL_PART.test(part)) || parts[0] === '' || parts[1] === '') {
      fail(TokenErrorCodes.malformed, 'The token is not a compact JWS (three base64url parts)', { reason: 'not_jws' });
    }
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = decodePart(headerPart, 'header');
    decodePart(payloadPart, 'payload');
    if (typeof header['alg'] !== 'string') fail(TokenErrorCodes.malformed, 'The token header has no alg', { reason: 'no_alg' });
    // Checked before any key is touched: `none`, HS256 against an RS256 deployment (key
    // confusion) and the reverse all stop here, whatever the library would do.
    if (header['alg'] !== config.algorithm) {
      fail(TokenErrorCodes.algorithmNotAllowed, `Only ${config.algorithm} tokens are accepted`, { allowed: config.algorithm });
    }
    // RFC 7515 §4.1.11: extensions we do not understand must make the token invalid.
    if (header['crit'] !== undefined) fail(TokenErrorCodes.malformed, 'Critical header extensions are not supported', { reason: 'crit' });
    if (signaturePart === '') fail(TokenErrorCodes.invalidSignature, 'The token is not signed');

    const key = await resolveKey(header);
    const nowSeconds = Math.floor(clock().getTime() / 1000);
    let payload: unknown;
    try {
      payload = jwt.verify(token, key, { ...jsonWebTokenOptions, clockTimestamp: nowSeconds, complete: false });
    } catch (error) {
      throw mapJsonWebTokenError(error);
    }
    if (!isPlainObject(payload)) fail(TokenErrorCodes.malformed, 'The token payload is not a JSON object', { reason: 'payload_not_object' });
    return { principal: principalFromClaims(payload, nowSeconds, config.clockToleranceSeconds), key };
  }

  // Verified tokens, remembered until they could no longer pass (exp, max age): a client sending
  // the same token on every call is verified once. Only successes are kept; bounded, oldest first.
  const verified = new Map<string, VerifiedToken & { readonly validUntilSeconds: number }>();
  async function verifyWithKey(token: string): Promise<VerifiedToken> {
    const nowSeconds = Math.floor(clock().getTime() / 1000);
    const hit = typeof token === 'string' ? verified.get(token) : undefined;
    if (hit && nowSeconds < hit.validUntilSeconds) return hit;
    const result = await verifyInFull(token);
    const claims = decodePart(token.split('.')[1] as string, 'payload');
    const exp = Number(claims[Claims.expiresAt]);
    const iat = Number(claims[Claims.issuedAt]);
    // jsonwebtoken refuses at now >= exp + tolerance, and at now - iat > maxAge + tolerance.
    const validUntilSeconds = Math.min(exp + config.clockToleranceSeconds, iat + config.maxTokenAgeSeconds + config.clockToleranceSeconds + 1);
    if (Number.isFinite(validUntilSeconds)) {
      verified.delete(token);
      verified.set(token, { ...result, validUntilSeconds });
      if (verified.size > VERIFIED_TOKEN_CACHE_ENTRIES) verified.delete(verified.keys().next().value as string);
    }
    return result;
  }

  return {
    algorithm: config.algorithm,
    jsonWebTokenOptions,
    verifyWithKey,
    verify: async (token) => (await verifyWithKey(token)).principal,
  };
}

/** Verified tokens remembered per verifier (each at most ~8 KiB): a bound on memory, not on correctness. */
export const VERIFIED_TOKEN_CACHE_ENTRIES = 10_000;

/**
 * Maps jsonwebtoken's errors to our stable codes. Shared with the passport strategy, so a
 * rejection reads the same whichever check caught it. Unknown failures stay refusals.
 */
export function mapJsonWebTokenError(error: unknown): ApplicationError {
  if (error instanceof UnauthenticatedError || error instanceof UnavailableError) return error;
  if (error instanceof TokenExpiredError) {
    const reason = error.message.startsWith('maxAge') ? 'max_age' : 'exp';
    return new UnauthenticatedError(TokenErrorCodes.expired, 'The token has expired', { reason });
  }
  if (error instanceof NotBeforeError) return new UnauthenticatedError(TokenErrorCodes.notYetValid, 'The token is not valid yet');
  const message = error instanceof JsonWebTokenError ? error.message : '';
  if (message === 'invalid signature' || message === 'jwt signature is required') {
    return new UnauthenticatedError(TokenErrorCodes.invalidSignature, 'The token signature is invalid');
  }
  if (message === 'invalid algorithm' || message.startsWith('secretOrPublicKey must be')) {
    return new UnauthenticatedError(TokenErrorCodes.algorithmNotAllowed, 'The token algorithm is not accepted');
  }
  if (message.startsWith('jwt audience invalid')) return new UnauthenticatedError(TokenErrorCodes.wrongAudience, 'The token is not for this audience');
  if (message.startsWith('jwt issuer invalid')) return new UnauthenticatedError(TokenErrorCodes.wrongIssuer, 'The token issuer is not trusted');
  if (message === 'invalid exp value' || message === 'invalid nbf value' || message.startsWith('iat required')) {
    return new UnauthenticatedError(TokenErrorCodes.claimsInvalid, 'The token claims are invalid', { claim: claimOf(message) });
  }
  if (message === 'jwt must be provided') return new UnauthenticatedError(TokenErrorCodes.missing, 'A bearer token is required');
  return new UnauthenticatedError(TokenErrorCodes.malformed, 'The token was refused', { reason: 'rejected' });
}

function claimOf(message: string): string {
  if (message.includes('exp')) return 'exp';
  if (message.includes('nbf')) return 'nbf';
  return 'iat';
}

function invalidClaim(claim: string, problem: string): never {
  fail(TokenErrorCodes.claimsInvalid, `The token claim ${claim} ${problem}`, { claim });
}

/** The claim layout (README "Claim layout"); runs only on a token whose signature verified. */
function principalFromClaims(claims: Record<string, unknown>, nowSeconds: number, toleranceSeconds: number): Principal {
  const exp = claims[Claims.expiresAt];
  if (typeof exp !== 'number' || !Number.isFinite(exp)) invalidClaim(Claims.expiresAt, 'is required (a number of seconds)');
  const iat = claims[Claims.issuedAt];
  if (typeof iat !== 'number' || !Number.isFinite(iat)) invalidClaim(Claims.issuedAt, 'is required (a number of seconds)');
  // jsonwebtoken's maxAge measures age from iat but never refuses an iat in the future.
  if (iat > nowSeconds + toleranceSeconds) invalidClaim(Claims.issuedAt, 'is in the future');

  const subject = claims[Claims.subject];
  if (typeof subject !== 'string' || subject === '' || subject.length > MAX_SUBJECT_LENGTH || /\p{Cc}/u.test(subject)) {
    invalidClaim(Claims.subject, `must be 1 to ${MAX_SUBJECT_LENGTH} printable characters`);
  }
  const kind = claims[Claims.principalKind];
  if (kind !== 'user' && kind !== 'service') invalidClaim(Claims.principalKind, "must be 'user' or 'service'");

  const scopeClaim = claims[Claims.scope];
  let scopes: readonly string[] = [];
  if (scopeClaim !== undefined) {
    if (typeof scopeClaim !== 'string') invalidClaim(Claims.scope, 'must be a space-separated string');
    const parsed = scopeClaim.split(' ').filter((scope) => scope !== '');
    if (parsed.length > MAX_SCOPES) invalidClaim(Claims.scope, `may hold at most ${MAX_SCOPES} scopes`);
    if (!parsed.every((scope) => SCOPE_PATTERN.test(scope))) invalidClaim(Claims.scope, 'holds a malformed scope');
    scopes = Object.freeze([...new Set(parsed)]);
  }

  const tokenId = claims[Claims.tokenId];
  if (tokenId !== undefined && (typeof tokenId !== 'string' || tokenId === '' || tokenId.length > MAX_TOKEN_ID_LENGTH)) {
    invalidClaim(Claims.tokenId, `must be 1 to ${MAX_TOKEN_ID_LENGTH} characters`);
  }
  const principal: Principal = { subject, kind: kind as PrincipalKind, scopes };
  return Object.freeze(tokenId === undefined ? principal : { ...principal, tokenId });
}

/** Programmer or deployment errors: plain Errors at construction, never at request time. */
function assertVerifierConfig(config: JwtVerifierConfig): void {
  if (config.issuer === '' || config.audience === '') throw new Error('JWT issuer and audience must be non-empty');
  if (!Number.isInteger(config.clockToleranceSeconds) || config.clockToleranceSeconds < 0) {
    throw new Error('clockToleranceSeconds must be a non-negative integer');
  }
  if (!Number.isInteger(config.maxTokenAgeSeconds) || config.maxTokenAgeSeconds <= 0) {
    throw new Error('maxTokenAgeSeconds must be a positive integer');
  }
  if (config.algorithm !== 'HS256' && config.algorithm !== 'RS256') {
    throw new Error(`Unsupported JWT algorithm '${String((config as { algorithm: unknown }).algorithm)}'`);
  }
}

type KeyResolver = (header: Record<string, unknown>) => Promise<KeyObject>;

function keyResolver(config: JwtKeyConfig): KeyResolver {
  if (config.algorithm === 'HS256') {
    if (Buffer.byteLength(config.secret, 'utf8') < MIN_HS256_SECRET_BYTES) {
      throw new Error(`The HS256 secret must be at least ${MIN_HS256_SECRET_BYTES} bytes`);
    }
    const key = createSecretKey(Buffer.from(config.secret, 'utf8'));
    return async () => key;
  }
  if ('publicKeyPem' in config) {
    const key = rsaPublicKey(config.publicKeyPem);
    return async () => key;
  }
  return jwksResolver(config.jwksUri, config.jwks);
}

/** An RSA public key of at least MIN_RSA_MODULUS_BITS; refuses private keys and other types. */
export function rsaPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('The RS256 public key is not a valid PEM public key');
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error('The RS256 public key must be an RSA key');
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_MODULUS_BITS) throw new Error(`The RS256 public key must have at least ${MIN_RSA_MODULUS_BITS} bits`);
  return key;
}

function jwksResolver(jwksUri: string, limits: JwksLimits): KeyResolver {
  const client = new JwksClient({
    jwksUri,
    cache: true,
    cacheMaxEntries: limits.cacheMaxEntries,
    cacheMaxAge: limits.cacheMaxAgeSeconds * 1000,
    rateLimit: true,
    jwksRequestsPerMinute: limits.requestsPerMinute,
    timeout: limits.requestTimeoutMs,
  });
  return async (header) => {
    const kid = header['kid'];
    if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID_LENGTH)) {
      fail(TokenErrorCodes.malformed, 'The token kid is malformed', { reason: 'kid' });
    }
    let signingKey: SigningKey;
    try {
      signingKey = await client.getSigningKey(kid);
    } catch (error) {
      if (error instanceof Error && error.name === 'SigningKeyNotFoundError') {
        fail(TokenErrorCodes.keyUnknown, 'No trusted key matches the token kid');
      }
      // The key set could not be read (network, rate limit, bad document): not the caller's
      // fault, so 503 rather than 401, and the client should retry rather than re-login.
      throw new UnavailableError(AUTH_KEYS_UNAVAILABLE, 'The token signing keys are unavailable', {}, { cause: error });
    }
    if (signingKey.alg !== undefined && signingKey.alg !== 'RS256') {
      fail(TokenErrorCodes.algorithmNotAllowed, 'The key for this token is not an RS256 key', { allowed: 'RS256' });
    }
    try {
      return rsaPublicKey(signingKey.getPublicKey());
    } catch (error) {
      throw new UnavailableError(AUTH_KEYS_UNAVAILABLE, 'The JWKS key is unusable', {}, { cause: error });
    }
  };
}
