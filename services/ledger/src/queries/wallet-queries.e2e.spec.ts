import * as grpc from '@grpc/grpc-js';
import { issueDevToken } from '@ledger/auth';
import { JsonLogger, loadProtoFiles } from '@ledger/nest';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import { loadLedgerConfig, type LedgerConfig } from '../config/ledger.config';
import { startLedgerApp, type LedgerApp } from '../ledger.app';
import { testJwtEnv } from '../testing/ledger-test-env';
import { fixtureTime, WalletReadModelFixture } from './testing/wallet-read-model.fixture';
import { WALLET_QUERY_GRPC_SERVICE_NAME } from './wallet-queries.grpc.handlers';

/**
 * The query API end to end through the running ledger service (startLedgerApp): REST under
 * /v1/queries and gRPC ledger.v1.WalletQueryService on the same server as LedgerService, real
 * tokens, real PostgreSQL. Read-model rows come from the fixture (the projector is wired later);
 * the event store is the service's own, so its head is real.
 */

const PROTO_ROOT = join(__dirname, '..', '..', '..', '..', 'proto');
const WALLET_QUERIES_PROTO = join(PROTO_ROOT, 'ledger', 'v1', 'wallet_queries.proto');
const CALL_TIMEOUT_MS = 20_000;
const MAX_WAIT_MS = 400;

type GenericClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => GenericClient;
interface Outcome {
  readonly response: Record<string, unknown> | undefined;
  readonly error: grpc.ServiceError | null;
}

let ledger: LedgerApp;
let config: LedgerConfig;
let pool: Pool;
let client: GenericClient;
const readModelsSchema = `rm_e2e_${randomBytes(5).toString('hex')}`;

const token = (subject: string, scopes: string[] = [], kind: 'user' | 'service' = 'user'): string => issueDevToken({ subject, kind, scopes, ttlSeconds: 600 }, config.auth.jwt);

beforeAll(async () => {
  config = loadLedgerConfig({
    DATABASE_URL: process.env['DATABASE_URL'],
    ...testJwtEnv(),
    HTTP_PORT: '0',
    GRPC_PORT: '0',
    EVENT_STORE_SCHEMA: `es_${randomBytes(5).toString('hex')}`,
    AUTH_SCHEMA: `auth_${randomBytes(5).toString('hex')}`,
    READ_MODELS_SCHEMA: readModelsSchema,
    QUERY_MAX_WAIT_MS: String(MAX_WAIT_MS),
    HOLD_EXPIRY_ENABLED: 'false',
  });
  ledger = await startLedgerApp(config, new JsonLogger('ledger-test', 'fatal', () => undefined));
  pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 4 });
  const service = loadProtoFiles([WALLET_QUERIES_PROTO], [PROTO_ROOT])[WALLET_QUERY_GRPC_SERVICE_NAME] as grpc.ServiceDefinition;
  const Client = grpc.makeGenericClientConstructor(service, WALLET_QUERY_GRPC_SERVICE_NAME) as unknown as ClientConstructor;
  client = new Client(ledger.grpcAddress, grpc.credentials.createInsecure());
});

afterAll(async () => {
  client?.close();
  await ledger?.close();
  await pool?.query(`DROP SCHEMA IF EXISTS ${readModelsSchema} CASCADE`).catch(() => undefined);
  await pool?.end();
});

async function http(path: string, bearer?: string): Promise<{ status: number; contentType: string | null; body: Record<string, unknown> }> {
  const response = await fetch(`${ledger.url}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function rpc(method: string, request: unknown, bearer?: string): Promise<Outcome> {
  const metadata = new grpc.Metadata();
  if (bearer !== undefined) metadata.set('authorization', `Bearer ${bearer}`);
  return new Promise((resolve) => {
    client[method]!(request, metadata, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error: grpc.ServiceError | null, response: Record<string, unknown>) => resolve({ error, response }));
  });
}

/** [gRPC status name, reason code], or ['OK', undefined]. */
function refusal(outcome: Outcome): [string, string | undefined] {
  if (!outcome.error) return ['OK', undefined];
  const [code] = outcome.error.metadata.get('reason-code');
  return [grpc.status[outcome.error.code], code === undefined ? undefined : String(code)];
}

async function ok(pending: Promise<Outcome>): Promise<Record<string, unknown>> {
  const outcome = await pending;
  if (outcome.error) throw new Error(`expected OK, got ${refusal(outcome).join(' ')}: ${outcome.error.details}`);
  return outcome.response as Record<string, unknown>;
}

it('answers READ_MODEL_NOT_READY before any projection has started (HTTP 503, gRPC UNAVAILABLE)', async () => {
  const me = token(`early-${randomUUID()}`);
  const problem = await http(`/v1/queries/wallets/${randomUUID()}/balance`, me);
  expect(problem.status).toBe(503);
  expect(problem.contentType).toMatch(/application\/problem\+json/);
  expect(problem.body).toMatchObject({ code: 'READ_MODEL_NOT_READY', type: 'urn:ledger:problem:READ_MODEL_NOT_READY' });
  expect(refusal(await rpc('ListWallets', {}, me))).toEqual(['UNAVAILABLE', 'READ_MODEL_NOT_READY']);
});

describe('with read models', () => {
  let fixture: WalletReadModelFixture;
  let head: bigint;
  const alice = `alice-${randomUUID()}`;
  const bob = `bob-${randomUUID()}`;
  const a = randomUUID();
  const b = randomUUID();

  beforeAll(async () => {
    // One real command gives the event store a head far above the fixture's small positions.
    const opened = await fetch(`${ledger.url}/v1/wallets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token(alice)}`, 'idempotency-key': `k-${randomUUID()}` },
      body: JSON.stringify({ currency: 'USD' }),
    });
    expect(opened.status).toBe(201);
    head = BigInt(((await opened.json()) as { position: string }).position);
    expect(head).toBeGreaterThan(1_000n);

    fixture = await WalletReadModelFixture.create(pool, readModelsSchema);
    await fixture.open(a, alice, { position: 10 });
    await fixture.open(b, bob, { position: 11 });
    await fixture.apply(a, { type: 'FundsDeposited', position: 20, amountMinor: 10_000n, counterparty: 'system:external-funding' });
    await fixture.apply(a, { type: 'TransferDebited', position: 40, amountMinor: -2_500n, counterparty: `wallet:${b}` });
    await fixture.apply(b, { type: 'TransferCredited', position: 41, amountMinor: 2_500n, counterparty: `wallet:${a}` });
    // A partition has not got past 30: the transfer (40, 41) is not yet part of the watermark.
    await fixture.setWatermark(41, 'p0');
    await fixture.setWatermark(30, 'p1');
  });

  const ops = (): string => token('ops', ['ledger:admin']);

  /** Every query endpoint, for alice's wallet a. */
  const endpoints = (): Array<{ name: string; path: string; rpc: string; request: Record<string, unknown> }> => [
    { name: 'balance', path: `/v1/queries/wallets/${a}/balance`, rpc: 'GetBalance', request: { wallet_id: a } },
    { name: 'balances', path: `/v1/queries/balances?walletIds=${a}`, rpc: 'GetBalances', request: { wallet_ids: [a] } },
    { name: 'history', path: `/v1/queries/wallets/${a}/history`, rpc: 'ListHistory', request: { wallet_id: a } },
    { name: 'balance-at', path: `/v1/queries/wallets/${a}/balance-at?atPosition=20`, rpc: 'GetBalanceAt', request: { wallet_id: a, at_position: '20' } },
    { name: 'wallets', path: `/v1/queries/wallets?ownerId=${alice}`, rpc: 'ListWallets', request: { owner_id: alice } },
  ];

  describe('REST /v1/queries', () => {
    it('serves every query to the owner', async () => {
      expect((await http(`/v1/queries/wallets/${a}/balance`, token(alice))).body).toMatchObject({
        walletId: a, ownerId: alice, currency: 'USD', status: 'open', balance: '75.00', available: '75.00', held: '0.00', revision: '2', position: '40', watermark: '30',
      });
      const balances = await http(`/v1/queries/balances?walletIds=${a}&walletIds=${b}`, ops());
      expect(balances.status).toBe(200);
      expect(balances.body).toMatchObject({ watermark: '30', balances: [{ walletId: a, balance: '100.00' }, { walletId: b, balance: '0.00' }] });
      const history = await http(`/v1/queries/wallets/${a}/history?pageSize=2&types=FundsDeposited,TransferDebited`, token(alice));
      expect(history.body).toMatchObject({ watermark: '30', nextCursor: null });
      expect((history.body['entries'] as Array<Record<string, unknown>>).map((e) => [e['type'], e['amount']])).toEqual([
        ['TransferDebited', '-25.00'],
        ['FundsDeposited', '100.00'],
      ]);
      expect((await http(`/v1/queries/wallets/${a}/balance-at?atTime=${fixtureTime(39).toISOString()}`, token(alice))).body).toMatchObject({ balance: '100.00', position: '20' });
      const mine = await http('/v1/queries/wallets', token(alice));
      expect(mine.body).toMatchObject({ ownerId: alice, wallets: [{ walletId: a, status: 'open', currency: 'USD' }], nextCursor: null });
    });

    it('refuses another user on every endpoint (403 WALLET_ACCESS_DENIED) and a missing token (401)', async () => {
      for (const endpoint of endpoints()) {
        const denied = await http(endpoint.path, token(bob));
        expect([endpoint.name, denied.status, denied.body['code']]).toEqual([endpoint.name, 403, 'WALLET_ACCESS_DENIED']);
        expect(JSON.stringify(denied.body)).not.toContain(alice);
        const anonymous = await http(endpoint.path);
        expect([endpoint.name, anonymous.status, anonymous.body['code']]).toEqual([endpoint.name, 401, 'TOKEN_MISSING']);
        // A service token without a scope reads nothing; ledger:audit reads everything.
        expect([endpoint.name, (await http(endpoint.path, token('reports', [], 'service'))).status]).toEqual([endpoint.name, 403]);
        expect([endpoint.name, (await http(endpoint.path, token('auditor', ['ledger:audit']))).status]).toEqual([endpoint.name, 200]);
      }
    });

    it.each([
      ['a malformed wallet id', 'INVALID_WALLET_ID', () => `/v1/queries/wallets/nope/balance`],
      ['no wallet ids', 'WALLET_IDS_REQUIRED', () => `/v1/queries/balances`],
      ['101 wallet ids', 'TOO_MANY_WALLETS', () => `/v1/queries/balances?walletIds=${Array.from({ length: 101 }, () => randomUUID()).join(',')}`],
      ['a malformed cursor', 'INVALID_CURSOR', () => `/v1/queries/wallets/${a}/history?cursor=xyz`],
      ['a page size over 500', 'PAGE_SIZE_TOO_LARGE', () => `/v1/queries/wallets/${a}/history?pageSize=501`],
      ['a page size of zero', 'INVALID_PAGE_SIZE', () => `/v1/queries/wallets?pageSize=0`],
      ['from after to', 'INVALID_TIME_RANGE', () => `/v1/queries/wallets/${a}/history?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`],
      ['a malformed time', 'INVALID_TIMESTAMP', () => `/v1/queries/wallets/${a}/history?from=yesterday`],
      ['an unknown event type', 'INVALID_EVENT_TYPE', () => `/v1/queries/wallets/${a}/history?types=Bogus`],
      ['a position that is not a decimal integer', 'INVALID_POSITION', () => `/v1/queries/wallets/${a}/balance?minPosition=1e5`],
      ['a repeated minPosition', 'INVALID_POSITION', () => `/v1/queries/wallets/${a}/balance?minPosition=1&minPosition=2`],
      ['neither atTime nor atPosition', 'INVALID_BALANCE_POINT', () => `/v1/queries/wallets/${a}/balance-at`],
      ['a future minPosition', 'POSITION_FROM_FUTURE', () => `/v1/queries/wallets/${a}/balance?minPosition=${head + 1_000_000_000n}`],
      ['a future atPosition', 'POSITION_FROM_FUTURE', () => `/v1/queries/wallets/${a}/balance-at?atPosition=${head + 1_000_000_000n}`],
    ])('answers %s with 400 problem details %s', async (_label, code, path) => {
      const response = await http(path(), token(alice));
      expect(response.status).toBe(400);
      expect(response.contentType).toMatch(/application\/problem\+json/);
      expect(response.body).toMatchObject({ code, status: 400, type: `urn:ledger:problem:${code}` });
      expect(response.body['correlationId']).toBeTruthy();
    });

    it('answers 504 READ_MODEL_NOT_CAUGHT_UP after QUERY_MAX_WAIT_MS, and WALLET_NOT_YET_OPENED before the first event', async () => {
      const started = Date.now();
      const late = await http(`/v1/queries/wallets/${a}/balance?minPosition=31`, token(alice));
      expect(Date.now() - started).toBeGreaterThanOrEqual(MAX_WAIT_MS - 50);
      expect(late.status).toBe(504);
      expect(late.body).toMatchObject({ code: 'READ_MODEL_NOT_CAUGHT_UP', minPosition: '31', watermark: '30' });
      const early = await http(`/v1/queries/wallets/${a}/balance-at?atPosition=5`, token(alice));
      expect([early.status, early.body['code']]).toEqual([404, 'WALLET_NOT_YET_OPENED']);
    });

    it('documents the query routes in OpenAPI', async () => {
      const spec = (await (await fetch(`${ledger.url}/docs/openapi.json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(spec.paths)).toEqual(
        expect.arrayContaining([
          '/v1/queries/wallets/{walletId}/balance',
          '/v1/queries/balances',
          '/v1/queries/wallets/{walletId}/history',
          '/v1/queries/wallets/{walletId}/balance-at',
          '/v1/queries/wallets',
        ]),
      );
    });
  });

  describe('gRPC ledger.v1.WalletQueryService', () => {
    it('serves every rpc to the owner, with proto enums, timestamps and the watermark', async () => {
      const balance = await ok(rpc('GetBalance', { wallet_id: a }, token(alice)));
      expect(balance).toMatchObject({ status: 'WALLET_STATUS_OPEN', watermark: '30', balance: { wallet_id: a, owner_id: alice, balance: '75.00', revision: '2', position: '40' } });
      expect((balance['balance'] as { as_of: { seconds: string } }).as_of.seconds).toBe(String(fixtureTime(40).getTime() / 1000));
      expect(await ok(rpc('GetBalances', { wallet_ids: [b, a] }, ops()))).toMatchObject({ watermark: '30', balances: [{ wallet_id: b, balance: '0.00' }, { wallet_id: a, balance: '100.00' }] });
      const history = await ok(rpc('ListHistory', { wallet_id: a, order: 'HISTORY_ORDER_OLDEST_FIRST', page_size: 2 }, token(alice)));
      expect((history['entries'] as Array<{ type: string }>).map((e) => e.type)).toEqual(['WalletOpened', 'FundsDeposited']);
      const rest = await ok(rpc('ListHistory', { wallet_id: a, order: 'HISTORY_ORDER_OLDEST_FIRST', page_size: 2, cursor: history['next_cursor'] }, token(alice)));
      expect(rest).toMatchObject({ next_cursor: '', entries: [{ type: 'TransferDebited', amount: '-25.00', counterparty: `wallet:${b}` }] });
      expect(await ok(rpc('GetBalanceAt', { wallet_id: a, at_time: { seconds: String(fixtureTime(20).getTime() / 1000), nanos: 0 } }, token(alice)))).toMatchObject({ balance: { balance: '100.00', position: '20' } });
      expect(await ok(rpc('ListWallets', {}, token(alice)))).toMatchObject({ owner_id: alice, wallets: [{ wallet_id: a, status: 'WALLET_STATUS_OPEN' }] });
    });

    it('refuses another user on every rpc (PERMISSION_DENIED WALLET_ACCESS_DENIED) and a missing token (UNAUTHENTICATED)', async () => {
      for (const endpoint of endpoints()) {
        expect([endpoint.rpc, ...refusal(await rpc(endpoint.rpc, endpoint.request, token(bob)))]).toEqual([endpoint.rpc, 'PERMISSION_DENIED', 'WALLET_ACCESS_DENIED']);
        expect([endpoint.rpc, ...refusal(await rpc(endpoint.rpc, endpoint.request))]).toEqual([endpoint.rpc, 'UNAUTHENTICATED', 'TOKEN_MISSING']);
        expect([endpoint.rpc, ...refusal(await rpc(endpoint.rpc, endpoint.request, token('reports', [], 'service')))]).toEqual([endpoint.rpc, 'PERMISSION_DENIED', 'WALLET_ACCESS_DENIED']);
        expect([endpoint.rpc, ...refusal(await rpc(endpoint.rpc, endpoint.request, token('auditor', ['ledger:audit'])))]).toEqual([endpoint.rpc, 'OK', undefined]);
      }
    });

    it.each([
      ['GetBalance', 'INVALID_ARGUMENT', 'INVALID_WALLET_ID', () => ({ wallet_id: 'nope' })],
      ['GetBalance', 'INVALID_ARGUMENT', 'INVALID_POSITION', () => ({ wallet_id: a, min_position: 'abc' })],
      ['GetBalance', 'INVALID_ARGUMENT', 'POSITION_FROM_FUTURE', () => ({ wallet_id: a, min_position: String(head + 1_000_000_000n) })],
      ['GetBalance', 'DEADLINE_EXCEEDED', 'READ_MODEL_NOT_CAUGHT_UP', () => ({ wallet_id: a, min_position: '31' })],
      ['GetBalances', 'INVALID_ARGUMENT', 'WALLET_IDS_REQUIRED', () => ({ wallet_ids: [] })],
      ['GetBalances', 'INVALID_ARGUMENT', 'TOO_MANY_WALLETS', () => ({ wallet_ids: Array.from({ length: 101 }, () => randomUUID()) })],
      ['ListHistory', 'INVALID_ARGUMENT', 'INVALID_CURSOR', () => ({ wallet_id: a, cursor: 'c1.e30' })],
      ['ListHistory', 'INVALID_ARGUMENT', 'PAGE_SIZE_TOO_LARGE', () => ({ wallet_id: a, page_size: 501 })],
      ['ListHistory', 'INVALID_ARGUMENT', 'INVALID_PAGE_SIZE', () => ({ wallet_id: a, page_size: -3 })],
      ['ListHistory', 'INVALID_ARGUMENT', 'INVALID_TIME_RANGE', () => ({ wallet_id: a, from_time: { seconds: '1800000000' }, to_time: { seconds: '1700000000' } })],
      ['ListHistory', 'INVALID_ARGUMENT', 'INVALID_EVENT_TYPE', () => ({ wallet_id: a, types: ['FundsDeposited', 'Nope'] })],
      ['ListHistory', 'INVALID_ARGUMENT', 'INVALID_ORDER', () => ({ wallet_id: a, order: 7 })],
      ['GetBalanceAt', 'INVALID_ARGUMENT', 'INVALID_BALANCE_POINT', () => ({ wallet_id: a })],
      ['GetBalanceAt', 'NOT_FOUND', 'WALLET_NOT_YET_OPENED', () => ({ wallet_id: a, at_position: '5' })],
      ['ListWallets', 'INVALID_ARGUMENT', 'INVALID_OWNER_ID', () => ({ owner_id: 'bad owner!' })],
    ])('%s: refuses bad input with %s %s', async (method, status, code, request) => {
      expect(refusal(await rpc(method, request(), token(alice)))).toEqual([status, code]);
    });
  });
});
