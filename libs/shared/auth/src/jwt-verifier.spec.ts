import { UnauthenticatedError, UnavailableError } from '@ledger/errors';
import jwt from 'jsonwebtoken';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AUDIENCE,
  base64url,
  BOUNDS,
  caught,
  HS256_CONFIG,
  ISSUER,
  NOW,
  NOW_S,
  rsaKeys,
  SECRET,
  signHs256,
  signRs256,
  validClaims,
} from './auth-spec-kit';
import { createJwtVerifier, type JwtVerifier, mapJsonWebTokenError } from './jwt-verifier';

const clock = (): Date => NOW;
const hs256 = (): JwtVerifier => createJwtVerifier(HS256_CONFIG, { clock });
const rs256 = (): JwtVerifier => createJwtVerifier({ algorithm: 'RS256', publicKeyPem: rsaKeys().publicKeyPem, ...BOUNDS }, { clock });

async function refusal(verifier: JwtVerifier, token: string): Promise<{ code: string; details: unknown }> {
  const error = await caught(() => verifier.verify(token));
  expect(error).toBeInstanceOf(UnauthenticatedError);
  // Whatever went wrong, the token never comes back in the error.
  const signature = token.split('.')[2] ?? '';
  const text = `${error.message} ${JSON.stringify(error.details)}`;
  if (token !== '') expect(text).not.toContain(token);
  if (signature.length > 8) expect(text).not.toContain(signature);
  return { code: error.code, details: error.details };
}

describe('createJwtVerifier: accepted tokens', () => {
  it('maps the claim layout to a principal', async () => {
    const principal = await hs256().verify(signHs256(validClaims({ scope: 'ledger:admin payouts:execute' })));
    expect(principal).toEqual({ subject: 'alice', kind: 'user', scopes: ['ledger:admin', 'payouts:execute'], tokenId: 'token-1' });
  });

  it('parses scopes: extra spaces ignored, duplicates removed, absent means none', async () => {
    const verifier = hs256();
    expect((await verifier.verify(signHs256(validClaims({ scope: '  a:b   c:d a:b ' })))).scopes).toEqual(['a:b', 'c:d']);
    expect((await verifier.verify(signHs256(validClaims({ scope: undefined })))).scopes).toEqual([]);
    expect((await verifier.verify(signHs256(validClaims({ scope: '' })))).scopes).toEqual([]);
  });

  it('reads service principals and tokens without jti', async () => {
    const principal = await hs256().verify(signHs256(validClaims({ sub: 'payouts', principal_kind: 'service', jti: undefined, scope: 'ledger:service' })));
    expect(principal).toEqual({ subject: 'payouts', kind: 'service', scopes: ['ledger:service'] });
  });

  it('accepts an audience array that contains ours', async () => {
    await expect(hs256().verify(signHs256(validClaims({ aud: ['other', AUDIENCE] })))).resolves.toMatchObject({ subject: 'alice' });
  });

  it('allows the configured clock tolerance on exp and nbf, and not a second more', async () => {
    const verifier = hs256();
    await expect(verifier.verify(signHs256(validClaims({ exp: NOW_S - 29 })))).resolves.toBeDefined();
    await expect(verifier.verify(signHs256(validClaims({ nbf: NOW_S + 30 })))).resolves.toBeDefined();
    expect((await refusal(verifier, signHs256(validClaims({ exp: NOW_S - 30 })))).code).toBe('TOKEN_EXPIRED');
    expect((await refusal(verifier, signHs256(validClaims({ nbf: NOW_S + 31 })))).code).toBe('TOKEN_NOT_YET_VALID');
  });

  it('remembers a verified token only while it could still pass: expiry and max age still refuse it', async () => {
    let now = NOW;
    const verifier = createJwtVerifier(HS256_CONFIG, { clock: () => now });
    const token = signHs256(validClaims({ iat: NOW_S, exp: NOW_S + 60 }));
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    now = new Date((NOW_S + 89) * 1000); // exp + tolerance not reached: cached answer
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    now = new Date((NOW_S + 90) * 1000); // exp + 30 s tolerance reached: verified again, and refused
    expect((await refusal(verifier, token)).code).toBe('TOKEN_EXPIRED');
    const longLived = signHs256(validClaims({ iat: NOW_S, exp: NOW_S + 86_400 }));
    now = NOW;
    await expect(verifier.verify(longLived)).resolves.toBeDefined();
    now = new Date((NOW_S + 3_600 + 31) * 1000); // past max age (3600 s) + tolerance
    expect((await refusal(verifier, longLived)).code).toBe('TOKEN_EXPIRED');
  });

  it('never lets a tampered copy of a cached token through', async () => {
    const verifier = hs256();
    const token = signHs256(validClaims());
    await verifier.verify(token);
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify(validClaims({ sub: 'mallory' }))).toString('base64url')}.${signature}`;
    expect((await refusal(verifier, forged)).code).toBe('TOKEN_INVALID_SIGNATURE');
  });

  it('verifies RS256 with a PEM public key', async () => {
    await expect(rs256().verify(signRs256(validClaims()))).resolves.toMatchObject({ subject: 'alice', kind: 'user' });
  });
});

describe('createJwtVerifier: refused tokens, each with its code', () => {
  it('expired', async () => {
    expect(await refusal(hs256(), signHs256(validClaims({ iat: NOW_S - 1_000, exp: NOW_S - 100 })))).toEqual({
      code: 'TOKEN_EXPIRED',
      details: { reason: 'exp' },
    });
  });

  it('older than the maximum token age, even with a later exp', async () => {
    const token = signHs256(validClaims({ iat: NOW_S - 3_600 - 31, exp: NOW_S + 3_600 }));
    expect(await refusal(hs256(), token)).toEqual({ code: 'TOKEN_EXPIRED', details: { reason: 'max_age' } });
  });

  it('not yet valid (nbf in the future)', async () => {
    expect((await refusal(hs256(), signHs256(validClaims({ nbf: NOW_S + 300 })))).code).toBe('TOKEN_NOT_YET_VALID');
  });

  it('wrong or missing issuer', async () => {
    expect((await refusal(hs256(), signHs256(validClaims({ iss: 'https://evil.test' })))).code).toBe('TOKEN_WRONG_ISSUER');
    expect((await refusal(hs256(), signHs256(validClaims({ iss: undefined })))).code).toBe('TOKEN_WRONG_ISSUER');
  });

  it('wrong or missing audience', async () => {
    expect((await refusal(hs256(), signHs256(validClaims({ aud: 'payouts-api' })))).code).toBe('TOKEN_WRONG_AUDIENCE');
    expect((await refusal(hs256(), signHs256(validClaims({ aud: ['a', 'b'] })))).code).toBe('TOKEN_WRONG_AUDIENCE');
    expect((await refusal(hs256(), signHs256(validClaims({ aud: undefined })))).code).toBe('TOKEN_WRONG_AUDIENCE');
  });

  it('alg none, in any spelling, signed or not', async () => {
    const payload = base64url(validClaims());
    for (const alg of ['none', 'None', 'NONE']) {
      const header = base64url({ alg, typ: 'JWT' });
      expect((await refusal(hs256(), `${header}.${payload}.`)).code).toBe('TOKEN_ALGORITHM_NOT_ALLOWED');
      expect((await refusal(rs256(), `${header}.${payload}.`)).code).toBe('TOKEN_ALGORITHM_NOT_ALLOWED');
      const fakeSignature = createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url');
      expect((await refusal(hs256(), `${header}.${payload}.${fakeSignature}`)).code).toBe('TOKEN_ALGORITHM_NOT_ALLOWED');
    }
  });

  it('a tampered signature or payload', async () => {
    const token = signHs256(validClaims());
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BA' : 'AA'}`;
    expect((await refusal(hs256(), `${header}.${payload}.${flipped}`)).code).toBe('TOKEN_INVALID_SIGNATURE');
    const elevated = base64url(validClaims({ sub: 'mallory', scope: 'ledger:admin' }));
    expect((await refusal(hs256(), `${header}.${elevated}.${signature}`)).code).toBe('TOKEN_INVALID_SIGNATURE');
    expect((await refusal(hs256(), signHs256(validClaims(), 'another-secret-that-is-also-long-enough!!'))).code).toBe(
      'TOKEN_INVALID_SIGNATURE',
    );
    expect((await refusal(hs256(), `${header}.${payload}.`)).code).toBe('TOKEN_INVALID_SIGNATURE');
  });

  it('an HS256 token presented to an RS256 verifier, and the reverse', async () => {
    expect((await refusal(rs256(), signHs256(validClaims())))).toEqual({ code: 'TOKEN_ALGORITHM_NOT_ALLOWED', details: { allowed: 'RS256' } });
    expect((await refusal(hs256(), signRs256(validClaims())))).toEqual({ code: 'TOKEN_ALGORITHM_NOT_ALLOWED', details: { allowed: 'HS256' } });
  });

  it('key confusion: the RS256 public key used as an HMAC secret', async () => {
    const { publicKeyPem } = rsaKeys();
    const header = base64url({ alg: 'HS256', typ: 'JWT' });
    const payload = base64url(validClaims({ sub: 'mallory', scope: 'ledger:admin' }));
    const signature = createHmac('sha256', publicKeyPem).update(`${header}.${payload}`).digest('base64url');
    const forged = `${header}.${payload}.${signature}`;
    expect((await refusal(rs256(), forged)).code).toBe('TOKEN_ALGORITHM_NOT_ALLOWED');
    // Even had the header check been skipped, the library pass maps the same way.
    let libraryError: unknown;
    try {
      jwt.verify(forged, rsaKeys().publicKey, { algorithms: ['RS256'] });
    } catch (error) {
      libraryError = error;
    }
    expect(mapJsonWebTokenError(libraryError).code).toBe('TOKEN_ALGORITHM_NOT_ALLOWED');
  });

  it('an RS256 token signed by another key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2_048 });
    expect((await refusal(rs256(), signRs256(validClaims(), privateKey))).code).toBe('TOKEN_INVALID_SIGNATURE');
  });

  it('missing exp, missing or future iat', async () => {
    expect(await refusal(hs256(), signHs256(validClaims({ exp: undefined })))).toEqual({ code: 'TOKEN_CLAIMS_INVALID', details: { claim: 'exp' } });
    expect(await refusal(hs256(), signHs256(validClaims({ exp: 'tomorrow' })))).toEqual({ code: 'TOKEN_CLAIMS_INVALID', details: { claim: 'exp' } });
    expect(await refusal(hs256(), signHs256(validClaims({ iat: undefined })))).toEqual({ code: 'TOKEN_CLAIMS_INVALID', details: { claim: 'iat' } });
    expect(await refusal(hs256(), signHs256(validClaims({ iat: NOW_S + 120 })))).toEqual({ code: 'TOKEN_CLAIMS_INVALID', details: { claim: 'iat' } });
  });

  it('missing or malformed sub, principal_kind, scope, jti', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ sub: undefined }, 'sub'],
      [{ sub: '' }, 'sub'],
      [{ sub: 42 }, 'sub'],
      [{ sub: 'x'.repeat(201) }, 'sub'],
      [{ sub: 'alice\n' }, 'sub'],
      [{ principal_kind: undefined }, 'principal_kind'],
      [{ principal_kind: 'admin' }, 'principal_kind'],
      [{ scope: ['ledger:admin'] }, 'scope'],
      [{ scope: 'ledger:admin <script>' }, 'scope'],
      [{ scope: Array.from({ length: 33 }, (_, i) => `s${i}`).join(' ') }, 'scope'],
      [{ jti: 7 }, 'jti'],
    ];
    for (const [overrides, claim] of cases) {
      expect(await refusal(hs256(), signHs256(validClaims(overrides)))).toEqual({ code: 'TOKEN_CLAIMS_INVALID', details: { claim } });
    }
  });

  it('malformed tokens', async () => {
    const good = signHs256(validClaims());
    const [, payload, signature] = good.split('.') as [string, string, string];
    const malformed = [
      'not-a-jwt',
      'a.b',
      'a.b.c.d',
      `${base64url('not json')}.${payload}.${signature}`,
      `${base64url([1, 2])}.${payload}.${signature}`,
      `${base64url({ typ: 'JWT' })}.${payload}.${signature}`,
      `${base64url({ alg: 'HS256' })}.${base64url('"a string payload"')}.${signature}`,
      `${base64url({ alg: 'HS256' })}.${payload}.sig+nature`,
      `${base64url({ alg: 'HS256', crit: ['exp'] })}.${payload}.${signature}`,
      `${good}${'A'.repeat(9_000)}`,
    ];
    for (const token of malformed) expect((await refusal(hs256(), token)).code).toBe('TOKEN_MALFORMED');
    expect((await refusal(hs256(), '')).code).toBe('TOKEN_MISSING');
  });
});

describe('createJwtVerifier: configuration is refused at construction', () => {
  it('an HS256 secret shorter than 32 bytes', () => {
    expect(() => createJwtVerifier({ ...HS256_CONFIG, secret: 'short' })).toThrow(/at least 32 bytes/);
  });

  it('an RSA key under 2048 bits, a private key, or not a key', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1_024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => createJwtVerifier({ algorithm: 'RS256', publicKeyPem: small, ...BOUNDS })).toThrow(/2048 bits/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => createJwtVerifier({ algorithm: 'RS256', publicKeyPem: ec, ...BOUNDS })).toThrow(/RSA key/);
    expect(() => createJwtVerifier({ algorithm: 'RS256', publicKeyPem: 'nope', ...BOUNDS })).toThrow(/not a valid PEM/);
  });

  it('missing bounds', () => {
    expect(() => createJwtVerifier({ ...HS256_CONFIG, issuer: '' })).toThrow();
    expect(() => createJwtVerifier({ ...HS256_CONFIG, maxTokenAgeSeconds: 0 })).toThrow();
    expect(() => createJwtVerifier({ ...HS256_CONFIG, clockToleranceSeconds: -1 })).toThrow();
  });
});

describe('createJwtVerifier with a JWKS URI', () => {
  let server: Server;
  let jwksUri: string;
  let requests = 0;

  beforeAll(async () => {
    const jwk = { ...rsaKeys().publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };
    server = createServer((_request, response) => {
      requests += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const jwks = { cacheMaxAgeSeconds: 600, cacheMaxEntries: 4, requestTimeoutMs: 2_000, requestsPerMinute: 10 };

  it('verifies with the key matching kid, and caches it', async () => {
    const verifier = createJwtVerifier({ algorithm: 'RS256', jwksUri, jwks, ...BOUNDS }, { clock });
    const before = requests;
    await expect(verifier.verify(signRs256(validClaims(), undefined, 'key-1'))).resolves.toMatchObject({ subject: 'alice' });
    await expect(verifier.verify(signRs256(validClaims(), undefined, 'key-1'))).resolves.toMatchObject({ subject: 'alice' });
    expect(requests - before).toBe(1);
  });

  it('refuses an unknown kid and still pins the algorithm', async () => {
    const verifier = createJwtVerifier({ algorithm: 'RS256', jwksUri, jwks, ...BOUNDS }, { clock });
    expect((await refusal(verifier, signRs256(validClaims(), undefined, 'key-2'))).code).toBe('TOKEN_KEY_UNKNOWN');
    expect((await refusal(verifier, signHs256(validClaims(), SECRET, { kid: 'key-1' }))).code).toBe('TOKEN_ALGORITHM_NOT_ALLOWED');
  });

  it('reports an unreachable key set as unavailable (503), not as a bad token', async () => {
    const verifier = createJwtVerifier(
      { algorithm: 'RS256', jwksUri: 'http://127.0.0.1:1/jwks.json', jwks: { ...jwks, requestTimeoutMs: 500 }, ...BOUNDS },
      { clock },
    );
    const error = await caught(() => verifier.verify(signRs256(validClaims(), undefined, 'key-1')));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.code).toBe('AUTH_KEYS_UNAVAILABLE');
  });
});

describe('the real clock', () => {
  it('is used when none is injected', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = signHs256(validClaims({ iss: ISSUER, iat: now, exp: now + 60 }));
    await expect(createJwtVerifier(HS256_CONFIG).verify(token)).resolves.toMatchObject({ subject: 'alice' });
  });
});
