import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import {
  createJwtVerifier,
  issueDevToken,
  migratePinStore,
  PinService,
  PostgresPinStore,
  type Hs256VerifierConfig,
  type PrincipalKind,
} from '@ledger/auth';
import { CommandProcessor } from '@ledger/event-sourcing';
import { migrateEventStore, PostgresEventStore } from '@ledger/event-store-postgres';
import { createGrpcHandlers, JsonLogger, loadProtoFiles, startGrpcServer, type RunningGrpcServer } from '@ledger/nest';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import { PinServiceGate } from '../wallets/pin-gate';
import { WalletCommandsService } from '../wallets/wallet-commands.service';
import { WalletQueriesService } from '../wallets/wallet-queries.service';
import { createLedgerGrpcImplementation, LEDGER_GRPC_SERVICE_NAME } from './ledger.grpc.handlers';

/**
 * ledger.v1.LedgerService end to end: a real gRPC server on 127.0.0.1 and a @grpc/grpc-js client
 * loaded from the same proto, over the real stack (PostgresEventStore + CommandProcessor,
 * WalletCommandsService, PinService on PostgresPinStore with production scrypt parameters, the
 * HS256 JwtVerifier), each in fresh schemas of the integration PostgreSQL.
 */

const LEDGER_PROTO = join(__dirname, '..', '..', '..', '..', 'proto', 'ledger', 'v1', 'ledger.proto');
const REFLECTION_PROTO = join(require.resolve('@grpc/reflection'), '..', '..', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');
const CALL_TIMEOUT_MS = 20_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const JWT: Hs256VerifierConfig = {
  algorithm: 'HS256',
  secret: randomBytes(32).toString('hex'),
  issuer: 'ledger-grpc-e2e',
  audience: 'ledger-api',
  clockToleranceSeconds: 5,
  maxTokenAgeSeconds: 3_600,
};

function databaseUrl(): string {
  const url = process.env['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is not set: run through jest so the integration global setup starts PostgreSQL');
  return url;
}

type GenericClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
type ClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => GenericClient;

function clientFor(protoFile: string, serviceName: string, address: string): GenericClient {
  const service = loadProtoFiles([protoFile])[serviceName] as grpc.ServiceDefinition;
  const Client = grpc.makeGenericClientConstructor(service, serviceName) as unknown as ClientConstructor;
  return new Client(address, grpc.credentials.createInsecure());
}

interface Outcome<T> {
  readonly response: T | undefined;
  readonly error: grpc.ServiceError | null;
}

/** One unary call with a deadline: every wait in this file is bounded. */
function invoke<T = Record<string, unknown>>(client: GenericClient, method: string, request: unknown, token?: string): Promise<Outcome<T>> {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client[method]!(request, metadata, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error: grpc.ServiceError | null, response: T) => resolve({ error, response }));
  });
}

function reasonCode(error: grpc.ServiceError | null): string | undefined {
  const [code] = error?.metadata.get('reason-code') ?? [];
  return code === undefined ? undefined : String(code);
}

function reasonDetails(error: grpc.ServiceError | null): Record<string, unknown> {
  const [details] = error?.metadata.get('reason-details') ?? [];
  return details === undefined ? {} : (JSON.parse(String(details)) as Record<string, unknown>);
}

/** The gRPC status name and reason code of a failed call ('OK' when it succeeded). */
function refusal(outcome: Outcome<unknown>): { status: string; code: string | undefined } {
  if (!outcome.error) return { status: 'OK', code: undefined };
  return { status: grpc.status[outcome.error.code], code: reasonCode(outcome.error) };
}

/** A successful call's response; fails the test with the status and reason code otherwise. */
async function ok<T = Record<string, unknown>>(pending: Promise<Outcome<T>>): Promise<T> {
  const outcome = await pending;
  if (outcome.error) throw new Error(`expected OK, got ${grpc.status[outcome.error.code]} ${reasonCode(outcome.error) ?? ''}: ${outcome.error.details}`);
  return outcome.response as T;
}

function tokenFor(subject: string, options: { kind?: PrincipalKind; scopes?: string[]; config?: Hs256VerifierConfig; now?: Date } = {}): string {
  return issueDevToken({ subject, kind: options.kind ?? 'user', scopes: options.scopes ?? [], ttlSeconds: 600 }, options.config ?? JWT, options.now);
}

interface ProtoWallet {
  wallet_id: string;
  owner_id: string;
  currency: string;
  status: string;
  balance: string;
  available: string;
  held: string;
  revision: string;
  open_holds: Array<{ hold_id: string; amount: string; expires_at: { seconds: string; nanos: number } }>;
}
interface CommandReply {
  position: string;
  replayed: boolean;
  wallet: ProtoWallet;
  transaction_id?: string;
  hold_id?: string;
}

const schema = `ledger_grpc_${randomBytes(5).toString('hex')}`;
const authSchema = `auth_grpc_${randomBytes(5).toString('hex')}`;
const serverFaults: string[] = [];
let pool: Pool;
let processor: CommandProcessor;
let server: RunningGrpcServer;
let ledger: GenericClient;
/** An operator: deposits need ledger:admin (or a ledger:service service token). */
let operatorToken: string;

beforeAll(async () => {
  pool = new Pool({ connectionString: databaseUrl(), max: 10, connectionTimeoutMillis: 10_000 });
  await migrateEventStore(pool, schema);
  await migratePinStore(pool, authSchema);
  const store = new PostgresEventStore({ pool, schema });
  processor = new CommandProcessor(store, { maxBatchSize: 64, maxConflictRetries: 5, maxQueuedCommands: 1_000, cacheEntries: 1_000 });
  const pins = new PinService(new PostgresPinStore({ pool, schema: authSchema, lockWaitTimeoutMs: 10_000 }), { maxAttempts: 5, lockSeconds: 900 });
  const logger = new JsonLogger('ledger-grpc-e2e', 'warn', (line, isError) => {
    if (isError) serverFaults.push(line);
  });
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    protoFiles: [LEDGER_PROTO],
    limits: {
      maxReceiveMessageBytes: 65_536,
      maxSendMessageBytes: 4_194_304,
      keepaliveTimeMs: 30_000,
      keepaliveTimeoutMs: 10_000,
      maxConcurrentStreams: 100,
      maxConnectionIdleMs: 60_000,
    },
    services: [
      {
        name: LEDGER_GRPC_SERVICE_NAME,
        implementation: createLedgerGrpcImplementation({
          commands: new WalletCommandsService(processor, new PinServiceGate(pins)),
          queries: new WalletQueriesService(store),
          pins,
          verifier: createJwtVerifier(JWT),
          clock: () => new Date(),
          handlers: createGrpcHandlers({ logger }),
        }),
      },
    ],
  });
  ledger = clientFor(LEDGER_PROTO, LEDGER_GRPC_SERVICE_NAME, server.address);
  operatorToken = tokenFor(`ops-${randomUUID()}`, { scopes: ['ledger:admin'] });
});

afterEach(() => {
  // No call may have ended as a server fault (INTERNAL / UNAVAILABLE): those are logged as errors.
  expect(serverFaults).toEqual([]);
});

afterAll(async () => {
  ledger?.close();
  await server?.stop(5_000);
  await processor?.close();
  if (pool) {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await pool.query(`DROP SCHEMA IF EXISTS ${authSchema} CASCADE`).catch(() => undefined);
    await pool.end();
  }
});

/** A fresh user with a token; every test makes its own, so tests share no state. */
function user(name: string): { subject: string; token: string } {
  const subject = `${name}-${randomUUID()}`;
  return { subject, token: tokenFor(subject) };
}

async function openWallet(token: string): Promise<CommandReply> {
  return ok<CommandReply>(invoke(ledger, 'OpenWallet', { currency: 'USD', idempotency_key: randomUUID() }, token));
}

async function deposit(walletId: string, amount: string): Promise<CommandReply> {
  return ok<CommandReply>(invoke(ledger, 'Deposit', { wallet_id: walletId, amount, currency: 'USD', reference: 'e2e funding', idempotency_key: randomUUID() }, operatorToken));
}

async function balanceOf(walletId: string, token: string): Promise<string> {
  return (await ok<{ wallet: ProtoWallet }>(invoke(ledger, 'GetWallet', { wallet_id: walletId }, token))).wallet.balance;
}

/** alice (PIN 2580) with 100.00 USD, and bob with an empty wallet. */
async function aliceAndBob() {
  const alice = user('alice');
  const bob = user('bob');
  const aliceWallet = (await openWallet(alice.token)).wallet.wallet_id;
  const bobWallet = (await openWallet(bob.token)).wallet.wallet_id;
  await deposit(aliceWallet, '100.00');
  await ok(invoke(ledger, 'SetTransactionPin', { new_pin: '2580' }, alice.token));
  return { alice, bob, aliceWallet, bobWallet };
}

describe('ledger.v1.LedgerService over gRPC (real PostgreSQL)', () => {
  it('journey: two users open wallets, an operator deposits, alice sets her PIN and transfers to bob', async () => {
    const alice = user('alice');
    const bob = user('bob');

    const opened = await ok<CommandReply>(invoke(ledger, 'OpenWallet', { currency: 'USD', idempotency_key: randomUUID() }, alice.token));
    expect(opened).toMatchObject({ replayed: false, wallet: { owner_id: alice.subject, currency: 'USD', status: 'WALLET_STATUS_OPEN', balance: '0.00', revision: '0', open_holds: [] } });
    expect(opened.wallet.wallet_id).toMatch(UUID);
    expect(BigInt(opened.position)).toBeGreaterThan(0n);
    const aliceWallet = opened.wallet.wallet_id;
    const bobWallet = (await openWallet(bob.token)).wallet.wallet_id;

    const funded = await deposit(aliceWallet, '100.00');
    expect(funded).toMatchObject({ replayed: false, wallet: { wallet_id: aliceWallet, balance: '100.00', available: '100.00', revision: '1' } });
    expect(funded.transaction_id).toMatch(UUID);
    expect(BigInt(funded.position)).toBeGreaterThan(BigInt(opened.position));

    expect(await ok(invoke(ledger, 'SetTransactionPin', { new_pin: '2580' }, alice.token))).toEqual({});
    const moved = await ok<CommandReply>(
      invoke(ledger, 'Transfer', { from_wallet_id: aliceWallet, to_wallet_id: bobWallet, amount: '40.25', currency: 'USD', idempotency_key: randomUUID(), transaction_pin: '2580' }, alice.token),
    );
    // `wallet` is the source: bob's wallet is not alice's to see.
    expect(moved).toMatchObject({ replayed: false, wallet: { wallet_id: aliceWallet, owner_id: alice.subject, balance: '59.75', available: '59.75', held: '0.00', revision: '2' } });
    expect(moved.transaction_id).toMatch(UUID);

    expect((await ok<{ wallet: ProtoWallet }>(invoke(ledger, 'GetWallet', { wallet_id: aliceWallet }, alice.token))).wallet).toMatchObject({
      wallet_id: aliceWallet, owner_id: alice.subject, status: 'WALLET_STATUS_OPEN', balance: '59.75', available: '59.75', revision: '2',
    });
    expect((await ok<{ wallet: ProtoWallet }>(invoke(ledger, 'GetWallet', { wallet_id: bobWallet }, bob.token))).wallet).toMatchObject({
      wallet_id: bobWallet, owner_id: bob.subject, balance: '40.25', revision: '1',
    });
  });

  it('replays a transfer retried with the same idempotency key, and refuses the key for a different request', async () => {
    const { alice, bob, aliceWallet, bobWallet } = await aliceAndBob();
    const request = { from_wallet_id: aliceWallet, to_wallet_id: bobWallet, amount: '40.25', currency: 'USD', idempotency_key: randomUUID(), transaction_pin: '2580' };
    const first = await ok<CommandReply>(invoke(ledger, 'Transfer', request, alice.token));
    const again = await ok<CommandReply>(invoke(ledger, 'Transfer', request, alice.token));
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.transaction_id).toBe(first.transaction_id);
    expect(again.wallet).toEqual(first.wallet);

    const reused = await invoke(ledger, 'Transfer', { ...request, amount: '1.00' }, alice.token);
    expect(refusal(reused)).toEqual({ status: 'ALREADY_EXISTS', code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(reused.error?.metadata.get('correlation-id')[0]).toBeTruthy();

    expect(await balanceOf(aliceWallet, alice.token)).toBe('59.75');
    expect(await balanceOf(bobWallet, bob.token)).toBe('40.25');
  });

  it("refuses another user's wallet: bob cannot read alice's", async () => {
    const { bob, aliceWallet } = await aliceAndBob();
    const outcome = await invoke(ledger, 'GetWallet', { wallet_id: aliceWallet }, bob.token);
    expect(refusal(outcome)).toEqual({ status: 'PERMISSION_DENIED', code: 'WALLET_ACCESS_DENIED' });
    expect(reasonDetails(outcome.error)).toEqual({ action: 'read' });
    expect(outcome.error?.details).not.toContain('alice');
  });

  describe('authentication', () => {
    function noneToken(subject: string): string {
      const now = Math.floor(Date.now() / 1000);
      const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
      const claims = { sub: subject, principal_kind: 'user', iss: JWT.issuer, aud: JWT.audience, iat: now, exp: now + 600 };
      return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
    }

    function forgedToken(subject: string): string {
      const [header, payload] = tokenFor(subject).split('.');
      const signature = createHmac('sha256', 'not-the-secret-not-the-secret-not-the-secret').update(`${header}.${payload}`).digest('base64url');
      return `${header}.${payload}.${signature}`;
    }

    it.each([
      ['no token', () => undefined, 'TOKEN_MISSING'],
      ['an expired token', (s: string) => tokenFor(s, { now: new Date(Date.now() - 2 * 3_600_000) }), 'TOKEN_EXPIRED'],
      ['a token from another issuer', (s: string) => tokenFor(s, { config: { ...JWT, issuer: 'https://evil.example' } }), 'TOKEN_WRONG_ISSUER'],
      ['a token for another audience', (s: string) => tokenFor(s, { config: { ...JWT, audience: 'payouts-api' } }), 'TOKEN_WRONG_AUDIENCE'],
      ['an alg: none token', (s: string) => noneToken(s), 'TOKEN_ALGORITHM_NOT_ALLOWED'],
      ['a token signed with another key', (s: string) => forgedToken(s), 'TOKEN_INVALID_SIGNATURE'],
      ['a token that is not a JWS', () => 'not-a-jwt', 'TOKEN_MALFORMED'],
    ] as const)('refuses %s with UNAUTHENTICATED, and nothing moves', async (_label, makeToken, code) => {
      const { alice, aliceWallet, bobWallet } = await aliceAndBob();
      const badToken = makeToken(alice.subject);
      const transfer = { from_wallet_id: aliceWallet, to_wallet_id: bobWallet, amount: '1.00', currency: 'USD', idempotency_key: randomUUID(), transaction_pin: '2580' };

      expect(refusal(await invoke(ledger, 'Transfer', transfer, badToken))).toEqual({ status: 'UNAUTHENTICATED', code });
      expect(refusal(await invoke(ledger, 'GetWallet', { wallet_id: aliceWallet }, badToken))).toEqual({ status: 'UNAUTHENTICATED', code });
      expect(refusal(await invoke(ledger, 'SetTransactionPin', { new_pin: '0000', current_pin: '2580' }, badToken))).toEqual({ status: 'UNAUTHENTICATED', code });
      expect(await balanceOf(aliceWallet, alice.token)).toBe('100.00');
      // The PIN was neither changed nor counted: the real one still works.
      await ok(invoke(ledger, 'Transfer', transfer, alice.token));
      expect(await balanceOf(aliceWallet, alice.token)).toBe('99.00');
    });
  });

  describe('bad input', () => {
    it('refuses a float-like amount "1e3" with INVALID_ARGUMENT INVALID_AMOUNT, and appends nothing', async () => {
      const { alice, aliceWallet, bobWallet } = await aliceAndBob();
      const transfer = await invoke(ledger, 'Transfer', { from_wallet_id: aliceWallet, to_wallet_id: bobWallet, amount: '1e3', currency: 'USD', idempotency_key: randomUUID(), transaction_pin: '2580' }, alice.token);
      expect(refusal(transfer)).toEqual({ status: 'INVALID_ARGUMENT', code: 'INVALID_AMOUNT' });
      const depositOutcome = await invoke(ledger, 'Deposit', { wallet_id: aliceWallet, amount: '1e3', currency: 'USD', idempotency_key: randomUUID() }, operatorToken);
      expect(refusal(depositOutcome)).toEqual({ status: 'INVALID_ARGUMENT', code: 'INVALID_AMOUNT' });
      expect((await ok<{ wallet: ProtoWallet }>(invoke(ledger, 'GetWallet', { wallet_id: aliceWallet }, alice.token))).wallet).toMatchObject({ balance: '100.00', revision: '1' });
    });

    it.each([
      ['a missing idempotency key', { idempotency_key: '' }, 'IDEMPOTENCY_KEY_MISSING'],
      ['a malformed idempotency key', { idempotency_key: 'short' }, 'IDEMPOTENCY_KEY_INVALID'],
      ['a missing source wallet id', { from_wallet_id: '' }, 'INVALID_WALLET_ID'],
      ['too many decimals', { amount: '1.001' }, 'AMOUNT_PRECISION'],
      ['an unknown currency', { currency: 'XYZ' }, 'UNKNOWN_CURRENCY'],
      ['a missing PIN', { transaction_pin: '' }, 'PIN_REQUIRED'],
    ])('refuses %s with INVALID_ARGUMENT and its named code', async (_label, override, code) => {
      const { alice, aliceWallet, bobWallet } = await aliceAndBob();
      const request = { from_wallet_id: aliceWallet, to_wallet_id: bobWallet, amount: '1.00', currency: 'USD', idempotency_key: randomUUID(), transaction_pin: '2580', ...override };
      expect(refusal(await invoke(ledger, 'Transfer', request, alice.token))).toEqual({ status: 'INVALID_ARGUMENT', code });
      expect(await balanceOf(aliceWallet, alice.token)).toBe('100.00');
    });

    it('refuses deposits by users (SCOPE_REQUIRED)', async () => {
      const { alice, aliceWallet } = await aliceAndBob();
      const outcome = await invoke(ledger, 'Deposit', { wallet_id: aliceWallet, amount: '5.00', currency: 'USD', idempotency_key: randomUUID() }, alice.token);
      expect(refusal(outcome)).toEqual({ status: 'PERMISSION_DENIED', code: 'SCOPE_REQUIRED' });
    });
  });

  it('locks the PIN after 5 wrong PINs (RESOURCE_EXHAUSTED PIN_LOCKED), then refuses the right one too', async () => {
    const { alice, aliceWallet, bobWallet } = await aliceAndBob();
    const transfer = (pin: string) =>
      invoke(ledger, 'Transfer', { from_wallet_id: aliceWallet, to_wallet_id: bobWallet, amount: '1.00', currency: 'USD', idempotency_key: randomUUID(), transaction_pin: pin }, alice.token);

    for (const remaining of [4, 3, 2, 1]) {
      const wrong = await transfer('1111');
      expect(refusal(wrong)).toEqual({ status: 'PERMISSION_DENIED', code: 'PIN_INVALID' });
      expect(reasonDetails(wrong.error)).toEqual({ attemptsRemaining: remaining });
    }
    const fifth = await transfer('1111');
    expect(refusal(fifth)).toEqual({ status: 'RESOURCE_EXHAUSTED', code: 'PIN_LOCKED' });
    expect(reasonDetails(fifth.error)).toMatchObject({ attemptsRemaining: 0, retryAfterSeconds: 900 });

    expect(refusal(await transfer('2580'))).toEqual({ status: 'RESOURCE_EXHAUSTED', code: 'PIN_LOCKED' });
    expect(refusal(await invoke(ledger, 'SetTransactionPin', { new_pin: '1357', current_pin: '2580' }, alice.token))).toEqual({ status: 'RESOURCE_EXHAUSTED', code: 'PIN_LOCKED' });
    expect(await balanceOf(aliceWallet, alice.token)).toBe('100.00');
    // Neither the PIN nor anything about it but the counters goes back in the trailers.
    expect(JSON.stringify(fifth.error?.metadata.getMap())).not.toContain('1111');
  });

  it('places a hold with a Timestamp deadline and captures part of it out through a system account', async () => {
    const { alice, aliceWallet } = await aliceAndBob();
    const expiresAt = new Date(Date.now() + 3_600_000);
    expiresAt.setUTCMilliseconds(250);
    const seconds = Math.floor(expiresAt.getTime() / 1000);
    const placed = await ok<CommandReply>(
      invoke(ledger, 'PlaceHold', { wallet_id: aliceWallet, amount: '10.00', currency: 'USD', expires_at: { seconds: String(seconds), nanos: 250_000_000 }, idempotency_key: randomUUID(), transaction_pin: '2580' }, alice.token),
    );
    expect(placed.hold_id).toMatch(UUID);
    expect(placed.wallet).toMatchObject({ balance: '100.00', available: '90.00', held: '10.00' });
    expect(placed.wallet.open_holds).toEqual([{ hold_id: placed.hold_id, amount: '10.00', expires_at: { seconds: String(seconds), nanos: 250_000_000 } }]);

    const captured = await ok<CommandReply>(
      invoke(ledger, 'CaptureHold', {
        wallet_id: aliceWallet, hold_id: placed.hold_id, amount: '4.00', currency: 'USD', to_system_account: 'SYSTEM_ACCOUNT_PAYOUT_SETTLEMENT', idempotency_key: randomUUID(), transaction_pin: '2580',
      }, alice.token),
    );
    expect(captured.transaction_id).toMatch(UUID);
    expect(captured.wallet).toMatchObject({ wallet_id: aliceWallet, balance: '96.00', available: '96.00', held: '0.00', open_holds: [] });

    const unspecified = await invoke(ledger, 'CaptureHold', { wallet_id: aliceWallet, hold_id: placed.hold_id, to_system_account: 'SYSTEM_ACCOUNT_UNSPECIFIED', idempotency_key: randomUUID(), transaction_pin: '2580' }, alice.token);
    expect(refusal(unspecified)).toEqual({ status: 'INVALID_ARGUMENT', code: 'UNKNOWN_SYSTEM_ACCOUNT' });
  });

  it('answers gRPC health checks with SERVING', async () => {
    const health = clientFor(healthProtoPath, 'grpc.health.v1.Health', server.address);
    try {
      expect(await ok(invoke(health, 'Check', { service: '' }))).toEqual({ status: 'SERVING' });
      expect(await ok(invoke(health, 'Check', { service: LEDGER_GRPC_SERVICE_NAME }))).toEqual({ status: 'SERVING' });
    } finally {
      health.close();
    }
  });

  it('lists ledger.v1.LedgerService through server reflection, with the proto field names', async () => {
    const reflection = clientFor(REFLECTION_PROTO, 'grpc.reflection.v1.ServerReflection', server.address);
    try {
      const listed = await reflect(reflection, { list_services: '*' });
      const names = (listed['list_services_response'] as { service: Array<{ name: string }> }).service.map((s) => s.name);
      expect(names).toEqual(expect.arrayContaining([LEDGER_GRPC_SERVICE_NAME, 'grpc.health.v1.Health']));
      const files = await reflect(reflection, { file_containing_symbol: LEDGER_GRPC_SERVICE_NAME });
      const encoded = (files['file_descriptor_response'] as { file_descriptor_proto: Buffer[] }).file_descriptor_proto;
      expect(Buffer.concat(encoded).toString('latin1')).toContain('idempotency_key');
      // The served methods are the proto's: a client built from reflection would see all of them.
      const methods = Object.keys(loadProtoFiles([LEDGER_PROTO])[LEDGER_GRPC_SERVICE_NAME] as ServiceDefinition);
      for (const method of methods) expect(Buffer.concat(encoded).toString('latin1')).toContain(method);
    } finally {
      reflection.close();
    }
  });
});

function reflect(client: GenericClient, request: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const call = client['ServerReflectionInfo']!(new grpc.Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }) as grpc.ClientDuplexStream<unknown, Record<string, unknown>>;
    call.on('data', (response: Record<string, unknown>) => {
      resolve(response);
      call.end();
    });
    call.on('error', reject);
    call.write(request);
  });
}
