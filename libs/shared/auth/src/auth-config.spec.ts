import { InvalidConfigError } from '@ledger/nest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rsaKeys } from './auth-spec-kit';
import { DEV_JWT_AUDIENCE, DEV_JWT_ISSUER, DEV_JWT_SECRET, loadAuthConfig } from './auth-config';

function problemsOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return (error as InvalidConfigError).problems.join('\n');
  }
  throw new Error('expected an InvalidConfigError');
}

const SECRET = 'x'.repeat(32);

describe('loadAuthConfig', () => {
  it('embedded mode: the dev secret, issuer and audience, flagged for a warning', () => {
    expect(loadAuthConfig({}, { allowDevSecret: true })).toEqual({
      jwt: {
        algorithm: 'HS256',
        secret: DEV_JWT_SECRET,
        issuer: DEV_JWT_ISSUER,
        audience: DEV_JWT_AUDIENCE,
        clockToleranceSeconds: 30,
        maxTokenAgeSeconds: 86_400,
      },
      pin: { maxAttempts: 5, lockSeconds: 900 },
      pinStore: { schema: 'auth', lockWaitTimeoutMs: 5_000 },
      usedDevSecret: true,
    });
  });

  it('without allowDevSecret every key setting is required', () => {
    const problems = problemsOf(() => loadAuthConfig({}, { allowDevSecret: false }));
    expect(problems).toMatch(/JWT_SECRET is required/);
    expect(problems).toMatch(/JWT_ISSUER is required/);
    expect(problems).toMatch(/JWT_AUDIENCE is required/);
  });

  it('uses a given secret and bounds, and refuses the published dev secret outside embedded mode', () => {
    const env = {
      JWT_SECRET: SECRET,
      JWT_ISSUER: 'iss',
      JWT_AUDIENCE: 'aud',
      JWT_CLOCK_TOLERANCE_S: '5',
      JWT_MAX_TOKEN_AGE_S: '600',
      PIN_MAX_ATTEMPTS: '3',
      PIN_LOCK_SECONDS: '60',
      AUTH_SCHEMA: 'ledger_auth',
      PIN_LOCK_WAIT_TIMEOUT_MS: '250',
    };
    expect(loadAuthConfig(env, { allowDevSecret: false })).toEqual({
      jwt: { algorithm: 'HS256', secret: SECRET, issuer: 'iss', audience: 'aud', clockToleranceSeconds: 5, maxTokenAgeSeconds: 600 },
      pin: { maxAttempts: 3, lockSeconds: 60 },
      pinStore: { schema: 'ledger_auth', lockWaitTimeoutMs: 250 },
      usedDevSecret: false,
    });
    expect(loadAuthConfig(env, { allowDevSecret: true }).usedDevSecret).toBe(false);
    expect(problemsOf(() => loadAuthConfig({ ...env, JWT_SECRET: DEV_JWT_SECRET }, { allowDevSecret: false }))).toMatch(/development secret/);
  });

  it('refuses short secrets without echoing them, and out-of-bounds numbers', () => {
    const problems = problemsOf(() =>
      loadAuthConfig(
        {
          JWT_SECRET: 'hunter2-too-short',
          JWT_CLOCK_TOLERANCE_S: '301',
          JWT_MAX_TOKEN_AGE_S: '10',
          PIN_MAX_ATTEMPTS: '0',
          PIN_LOCK_SECONDS: 'soon',
          JWT_ALGORITHM: 'HS256',
          AUTH_SCHEMA: 'Auth-Schema',
          PIN_LOCK_WAIT_TIMEOUT_MS: '99',
        },
        { allowDevSecret: true },
      ),
    );
    expect(problems).toMatch(/JWT_SECRET must be at least 32 bytes/);
    expect(problems).not.toContain('hunter2');
    expect(problems).toMatch(/JWT_CLOCK_TOLERANCE_S must be from 0 to 300/);
    expect(problems).toMatch(/JWT_MAX_TOKEN_AGE_S must be from 60/);
    expect(problems).toMatch(/PIN_MAX_ATTEMPTS must be from 1 to 20/);
    expect(problems).toMatch(/PIN_LOCK_SECONDS must be an integer/);
    expect(problems).toMatch(/AUTH_SCHEMA must be lower-case/);
    expect(problems).toMatch(/PIN_LOCK_WAIT_TIMEOUT_MS must be from 100 to 60000/);
  });

  it('refuses unknown algorithms and key settings of the other algorithm', () => {
    expect(problemsOf(() => loadAuthConfig({ JWT_ALGORITHM: 'none' }, { allowDevSecret: true }))).toMatch(/JWT_ALGORITHM must be one of HS256, RS256/);
    expect(problemsOf(() => loadAuthConfig({ JWT_JWKS_URI: 'https://idp/jwks' }, { allowDevSecret: true }))).toMatch(/JWT_JWKS_URI is only for/);
    expect(
      problemsOf(() => loadAuthConfig({ JWT_ALGORITHM: 'RS256', JWT_SECRET: SECRET, JWT_JWKS_URI: 'https://idp/jwks' }, { allowDevSecret: true })),
    ).toMatch(/JWT_SECRET is only for/);
  });

  it('RS256 needs exactly one of a public key file or a JWKS URI; never the dev secret', () => {
    const base = { JWT_ALGORITHM: 'RS256', JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' };
    expect(problemsOf(() => loadAuthConfig(base, { allowDevSecret: true }))).toMatch(/exactly one is required/);
    expect(
      problemsOf(() => loadAuthConfig({ ...base, JWT_JWKS_URI: 'https://idp/jwks', JWT_PUBLIC_KEY_FILE: '/k.pem' }, { allowDevSecret: true })),
    ).toMatch(/exactly one is required/);
  });

  it('RS256 from a PEM file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'auth-config-')), 'public.pem');
    writeFileSync(file, rsaKeys().publicKeyPem);
    const config = loadAuthConfig({ JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY_FILE: file, JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' }, { allowDevSecret: false });
    expect(config.jwt).toMatchObject({ algorithm: 'RS256', publicKeyPem: rsaKeys().publicKeyPem });
    expect(config.usedDevSecret).toBe(false);
    expect(problemsOf(() => loadAuthConfig({ JWT_ALGORITHM: 'RS256', JWT_PUBLIC_KEY_FILE: '/nonexistent.pem', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' }, { allowDevSecret: false }))).toMatch(
      /JWT_PUBLIC_KEY_FILE is unusable/,
    );
  });

  it('RS256 from JWKS: https only (http for localhost), bounded fetching', () => {
    const base = { JWT_ALGORITHM: 'RS256', JWT_ISSUER: 'iss', JWT_AUDIENCE: 'aud' };
    expect(loadAuthConfig({ ...base, JWT_JWKS_URI: 'https://idp.example/jwks.json', JWT_JWKS_TIMEOUT_MS: '2000' }, { allowDevSecret: false }).jwt).toEqual({
      algorithm: 'RS256',
      jwksUri: 'https://idp.example/jwks.json',
      jwks: { cacheMaxAgeSeconds: 600, cacheMaxEntries: 16, requestTimeoutMs: 2_000, requestsPerMinute: 10 },
      issuer: 'iss',
      audience: 'aud',
      clockToleranceSeconds: 30,
      maxTokenAgeSeconds: 86_400,
    });
    expect(loadAuthConfig({ ...base, JWT_JWKS_URI: 'http://localhost:8080/jwks' }, { allowDevSecret: false }).jwt.algorithm).toBe('RS256');
    expect(problemsOf(() => loadAuthConfig({ ...base, JWT_JWKS_URI: 'http://idp.example/jwks' }, { allowDevSecret: false }))).toMatch(/must be an https/);
  });
});
