import { EnvReader } from '@ledger/nest';
import { readFileSync } from 'node:fs';
import { type JwtVerifierConfig, MIN_HS256_SECRET_BYTES, rsaPublicKey } from './jwt-verifier';
import type { PinPolicy } from './pin/pin-policy';

/**
 * The documented development secret for the embedded default. Public by design (it is in this
 * repository), so it is used only when the caller passes `allowDevSecret` (embedded mode) and no
 * JWT_SECRET is set, and the caller must log a warning when `usedDevSecret` comes back true.
 */
export const DEV_JWT_SECRET = 'ledger-embedded-development-secret-NOT-FOR-PRODUCTION';
/** Issuer and audience the embedded default uses when JWT_ISSUER / JWT_AUDIENCE are unset. */
export const DEV_JWT_ISSUER = 'ledger-embedded';
export const DEV_JWT_AUDIENCE = 'ledger-api';

export const AUTH_CONFIG_DEFAULTS = {
  clockToleranceSeconds: 30,
  maxTokenAgeSeconds: 86_400,
  jwksCacheMaxAgeSeconds: 600,
  jwksCacheMaxEntries: 16,
  jwksRequestTimeoutMs: 5_000,
  jwksRequestsPerMinute: 10,
  pinMaxAttempts: 5,
  pinLockSeconds: 900,
  pinStoreSchema: 'auth',
  pinStoreLockWaitTimeoutMs: 5_000,
} as const;

/** Where and how the PostgreSQL PIN store runs (constructor options of PostgresPinStore, minus the pool). */
export interface PinStoreConfig {
  readonly schema: string;
  readonly lockWaitTimeoutMs: number;
}

export interface AuthConfig {
  readonly jwt: JwtVerifierConfig;
  readonly pin: PinPolicy;
  readonly pinStore: PinStoreConfig;
  /** True when DEV_JWT_SECRET is in use: the caller logs a warning saying so. */
  readonly usedDevSecret: boolean;
}

export interface LoadAuthConfigOptions {
  /**
   * Embedded mode only: with no JWT_SECRET, use DEV_JWT_SECRET (and DEV_JWT_ISSUER /
   * DEV_JWT_AUDIENCE when those are unset). Without it every one of them is required.
   */
  readonly allowDevSecret: boolean;
}

const JWKS_HOSTS_ALLOWED_OVER_HTTP = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Authentication and PIN configuration from the environment (names, units and bounds in
 * libs/shared/auth/README.md). Every problem is reported at once as an InvalidConfigError.
 * Secrets are never echoed into problems.
 */
export function loadAuthConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: LoadAuthConfigOptions,
): AuthConfig {
  const read = new EnvReader(env);
  const algorithm = read.oneOf('JWT_ALGORITHM', ['HS256', 'RS256'] as const, 'HS256');
  const devDefaults = options.allowDevSecret;
  const issuer = devDefaults ? read.string('JWT_ISSUER', DEV_JWT_ISSUER) : read.string('JWT_ISSUER');
  const audience = devDefaults ? read.string('JWT_AUDIENCE', DEV_JWT_AUDIENCE) : read.string('JWT_AUDIENCE');
  const common = {
    issuer,
    audience,
    clockToleranceSeconds: read.integer('JWT_CLOCK_TOLERANCE_S', AUTH_CONFIG_DEFAULTS.clockToleranceSeconds, 0, 300),
    maxTokenAgeSeconds: read.integer('JWT_MAX_TOKEN_AGE_S', AUTH_CONFIG_DEFAULTS.maxTokenAgeSeconds, 60, 604_800),
  };
  const pin: PinPolicy = {
    maxAttempts: read.integer('PIN_MAX_ATTEMPTS', AUTH_CONFIG_DEFAULTS.pinMaxAttempts, 1, 20),
    lockSeconds: read.integer('PIN_LOCK_SECONDS', AUTH_CONFIG_DEFAULTS.pinLockSeconds, 1, 86_400),
  };

  const pinStore: PinStoreConfig = {
    schema: read.string('AUTH_SCHEMA', AUTH_CONFIG_DEFAULTS.pinStoreSchema),
    lockWaitTimeoutMs: read.integer('PIN_LOCK_WAIT_TIMEOUT_MS', AUTH_CONFIG_DEFAULTS.pinStoreLockWaitTimeoutMs, 100, 60_000),
  };
  read.check('AUTH_SCHEMA', /^[a-z_][a-z0-9_]{0,62}$/.test(pinStore.schema), 'must be lower-case letters, digits and _');

  const secret = read.optionalString('JWT_SECRET');
  const publicKeyFile = read.optionalString('JWT_PUBLIC_KEY_FILE');
  const jwksUri = read.optionalString('JWT_JWKS_URI');
  let usedDevSecret = false;
  let jwt: JwtVerifierConfig;

  if (algorithm === 'HS256') {
    read.check('JWT_PUBLIC_KEY_FILE', publicKeyFile === undefined, 'is only for JWT_ALGORITHM=RS256');
    read.check('JWT_JWKS_URI', jwksUri === undefined, 'is only for JWT_ALGORITHM=RS256');
    let key = secret;
    if (key === undefined && options.allowDevSecret) {
      key = DEV_JWT_SECRET;
      usedDevSecret = true;
    }
    read.check('JWT_SECRET', key !== undefined, 'is required for JWT_ALGORITHM=HS256');
    if (key !== undefined) {
      read.check('JWT_SECRET', Buffer.byteLength(key, 'utf8') >= MIN_HS256_SECRET_BYTES, `must be at least ${MIN_HS256_SECRET_BYTES} bytes`);
      read.check('JWT_SECRET', options.allowDevSecret || key !== DEV_JWT_SECRET, 'must not be the published development secret');
    }
    jwt = { algorithm: 'HS256', secret: key ?? '', ...common };
  } else {
    read.check('JWT_SECRET', secret === undefined, 'is only for JWT_ALGORITHM=HS256');
    read.check(
      'JWT_PUBLIC_KEY_FILE / JWT_JWKS_URI',
      (publicKeyFile === undefined) !== (jwksUri === undefined),
      'exactly one is required for JWT_ALGORITHM=RS256',
    );
    if (jwksUri !== undefined) {
      read.check('JWT_JWKS_URI', isAcceptableJwksUri(jwksUri), 'must be an https:// URL (http:// only for localhost)');
      jwt = {
        algorithm: 'RS256',
        jwksUri,
        jwks: {
          cacheMaxAgeSeconds: read.integer('JWT_JWKS_CACHE_MAX_AGE_S', AUTH_CONFIG_DEFAULTS.jwksCacheMaxAgeSeconds, 0, 86_400),
          cacheMaxEntries: read.integer('JWT_JWKS_CACHE_MAX_ENTRIES', AUTH_CONFIG_DEFAULTS.jwksCacheMaxEntries, 1, 1_000),
          requestTimeoutMs: read.integer('JWT_JWKS_TIMEOUT_MS', AUTH_CONFIG_DEFAULTS.jwksRequestTimeoutMs, 100, 60_000),
          requestsPerMinute: read.integer('JWT_JWKS_REQUESTS_PER_MINUTE', AUTH_CONFIG_DEFAULTS.jwksRequestsPerMinute, 1, 600),
        },
        ...common,
      };
    } else {
      let publicKeyPem = '';
      if (publicKeyFile !== undefined) {
        try {
          publicKeyPem = readFileSync(publicKeyFile, 'utf8');
          rsaPublicKey(publicKeyPem);
        } catch (error) {
          read.check('JWT_PUBLIC_KEY_FILE', false, `is unusable: ${(error as Error).message}`);
        }
      }
      jwt = { algorithm: 'RS256', publicKeyPem, ...common };
    }
  }
  return read.done<AuthConfig>({ jwt, pin, pinStore, usedDevSecret });
}

function isAcceptableJwksUri(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return url.protocol === 'https:' || (url.protocol === 'http:' && JWKS_HOSTS_ALLOWED_OVER_HTTP.has(url.hostname));
}
