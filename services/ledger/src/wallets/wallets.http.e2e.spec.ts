import { issueDevToken } from '@ledger/auth';
import { JsonLogger } from '@ledger/nest';
import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { loadLedgerConfig, type LedgerConfig } from '../config/ledger.config';
import { startLedgerApp, type LedgerApp } from '../ledger.app';
import { testJwtEnv } from '../testing/ledger-test-env';

/** The REST surface end to end: real PostgreSQL, real HTTP, real tokens, real PINs. */
describe('ledger REST API', () => {
  let ledger: LedgerApp;
  let config: LedgerConfig;
  const token = (subject: string, scopes: string[] = [], kind: 'user' | 'service' = 'user'): string =>
    issueDevToken({ subject, kind, scopes, ttlSeconds: 600 }, config.auth.jwt);

  beforeAll(async () => {
    config = loadLedgerConfig({
      DATABASE_URL: process.env['DATABASE_URL'],
      ...testJwtEnv(),
      HTTP_PORT: '0',
      GRPC_PORT: '0',
      EVENT_STORE_SCHEMA: `es_${randomBytes(5).toString('hex')}`,
      AUTH_SCHEMA: `auth_${randomBytes(5).toString('hex')}`,
      HTTP_BODY_LIMIT_BYTES: '4096',
    });
    ledger = await startLedgerApp(config, new JsonLogger('ledger-test', 'fatal', () => undefined));
  });
  afterAll(() => ledger?.app.close());

  async function call(method: string, path: string, options: { token?: string; body?: unknown; rawBody?: string; key?: string } = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    if (options.key) headers['idempotency-key'] = options.key;
    const response = await fetch(`${ledger.url}${path}`, {
      method,
      headers,
      ...(options.rawBody !== undefined ? { body: options.rawBody } : options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }
  const key = (): string => `k-${randomUUID()}`;

  async function openWallet(owner: string): Promise<string> {
    const opened = await call('POST', '/v1/wallets', { token: token(owner), body: { currency: 'USD' }, key: key() });
    expect(opened.status).toBe(201);
    return (opened.body['wallets'] as Array<{ walletId: string }>)[0]!.walletId;
  }

  it('opens two wallets, deposits, transfers with the PIN, and shows exact balances', async () => {
    const alice = `alice-${randomUUID()}`;
    const bob = `bob-${randomUUID()}`;
    const a = await openWallet(alice);
    const b = await openWallet(bob);
    const deposit = await call('POST', `/v1/wallets/${a}/deposits`, { token: token('ops', ['ledger:admin']), body: { amount: '100.00', currency: 'USD' }, key: key() });
    expect(deposit.status).toBe(201);
    expect(await call('PUT', '/v1/me/transaction-pin', { token: token(alice), body: { newPin: '4821' } })).toMatchObject({ status: 204 });

    const transferKey = key();
    const request = { fromWalletId: a, toWalletId: b, amount: '40.25', currency: 'USD', transactionPin: '4821' };
    const moved = await call('POST', '/v1/transfers', { token: token(alice), body: request, key: transferKey });
    expect(moved.status).toBe(201);
    expect(BigInt(moved.body['position'] as string)).toBeGreaterThan(0n);
    const replay = await call('POST', '/v1/transfers', { token: token(alice), body: request, key: transferKey });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body['transactionId']).toBe(moved.body['transactionId']);

    const aliceView = await call('GET', `/v1/wallets/${a}`, { token: token(alice) });
    expect(aliceView.body).toMatchObject({ balance: '59.75', available: '59.75', held: '0.00', currency: 'USD', status: 'open' });
    expect(aliceView.headers.get('etag')).toBe(`"${aliceView.body['revision'] as string}"`);
    expect((await call('GET', `/v1/wallets/${b}`, { token: token(bob) })).body).toMatchObject({ balance: '40.25' });
    const denied = await call('GET', `/v1/wallets/${a}`, { token: token(bob) });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 'WALLET_ACCESS_DENIED', type: 'urn:ledger:problem:WALLET_ACCESS_DENIED' });
  });

  it.each([
    ['a float amount', { amount: 12.5, currency: 'USD' }, 400, 'AMOUNT_NOT_A_STRING'],
    ['too many decimals', { amount: '1.001', currency: 'USD' }, 400, 'AMOUNT_PRECISION'],
    ['an exponent', { amount: '1e3', currency: 'USD' }, 400, 'INVALID_AMOUNT'],
    ['an unknown currency', { amount: '1.00', currency: 'ABC' }, 400, 'UNKNOWN_CURRENCY'],
  ])('answers %s with problem details and moves nothing', async (_label, body, status, code) => {
    const a = await openWallet(`carol-${randomUUID()}`);
    const response = await call('POST', `/v1/wallets/${a}/deposits`, { token: token('ops', ['ledger:admin']), body, key: key() });
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(response.body).toMatchObject({ code, status });
    expect((await call('GET', `/v1/wallets/${a}`, { token: token('ops', ['ledger:admin']) })).body).toMatchObject({ balance: '0.00', revision: '0' });
  });

  it('refuses malformed JSON, oversized bodies, missing idempotency keys and malformed ids by name', async () => {
    const ops = token('ops', ['ledger:admin']);
    expect((await call('POST', '/v1/wallets', { token: ops, rawBody: '{"currency": ', key: key() })).body).toMatchObject({ code: 'MALFORMED_JSON', status: 400 });
    expect((await call('POST', '/v1/wallets', { token: ops, body: { currency: 'USD', pad: 'x'.repeat(5_000) }, key: key() })).body).toMatchObject({ code: 'BODY_TOO_LARGE', status: 413 });
    expect((await call('POST', '/v1/wallets', { token: ops, body: { currency: 'USD' } })).body).toMatchObject({ code: 'IDEMPOTENCY_KEY_MISSING' });
    expect((await call('GET', '/v1/wallets/not-a-uuid', { token: ops })).body).toMatchObject({ code: 'INVALID_WALLET_ID', status: 400 });
  });

  it('refuses expired, wrong-issuer, wrong-audience, unsigned and missing tokens with 401 and a code', async () => {
    const secret = (config.auth.jwt as { secret: string }).secret;
    const claims = { sub: 'mallory', principal_kind: 'user' };
    const now = Math.floor(Date.now() / 1000);
    const sign = (overrides: Record<string, unknown>) =>
      jwt.sign({ ...claims, iss: config.auth.jwt.issuer, aud: config.auth.jwt.audience, iat: now, exp: now + 300, ...overrides }, secret, { algorithm: 'HS256' });
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, iss: config.auth.jwt.issuer, aud: config.auth.jwt.audience, iat: now, exp: now + 300 })).toString('base64url')}.`;
    const cases: Array<[string | undefined, string]> = [
      [sign({ iat: now - 4_000, exp: now - 3_000 }), 'TOKEN_EXPIRED'],
      [sign({ iss: 'someone-else' }), 'TOKEN_WRONG_ISSUER'],
      [sign({ aud: 'another-api' }), 'TOKEN_WRONG_AUDIENCE'],
      [unsigned, 'TOKEN_ALGORITHM_NOT_ALLOWED'],
      [undefined, 'TOKEN_MISSING'],
    ];
    for (const [bearer, code] of cases) {
      const response = await call('POST', '/v1/wallets', { ...(bearer ? { token: bearer } : {}), body: { currency: 'USD' }, key: key() });
      expect([response.status, response.body['code']]).toEqual([401, code]);
    }
  });

  it('locks the PIN after 5 wrong attempts; then even the right PIN is refused', async () => {
    const dave = `dave-${randomUUID()}`;
    const a = await openWallet(dave);
    const b = await openWallet(`erin-${randomUUID()}`);
    await call('POST', `/v1/wallets/${a}/deposits`, { token: token('ops', ['ledger:admin']), body: { amount: '10.00', currency: 'USD' }, key: key() });
    await call('PUT', '/v1/me/transaction-pin', { token: token(dave), body: { newPin: '1357' } });
    const attempt = (pin: string) => call('POST', '/v1/transfers', { token: token(dave), body: { fromWalletId: a, toWalletId: b, amount: '1.00', currency: 'USD', transactionPin: pin }, key: key() });
    const codes: unknown[] = [];
    for (let i = 0; i < 5; i += 1) codes.push((await attempt('0000')).body['code']);
    expect(codes).toEqual(['PIN_INVALID', 'PIN_INVALID', 'PIN_INVALID', 'PIN_INVALID', 'PIN_LOCKED']);
    const locked = await attempt('1357');
    expect([locked.status, locked.body['code']]).toEqual([429, 'PIN_LOCKED']);
    expect((await call('GET', `/v1/wallets/${a}`, { token: token(dave) })).body).toMatchObject({ balance: '10.00' });
  });

  it('serves OpenAPI docs at /docs without a token', async () => {
    const docs = await fetch(`${ledger.url}/docs/openapi.json`);
    expect(docs.status).toBe(200);
    const spec = (await docs.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/v1/transfers', '/v1/wallets/{walletId}']));
  });
});
