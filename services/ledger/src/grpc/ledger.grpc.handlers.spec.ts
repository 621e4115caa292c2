import { Metadata } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import type { JwtVerifier, Principal } from '@ledger/auth';
import { UnauthenticatedError, ValidationError } from '@ledger/errors';
import { CommandProcessor } from '@ledger/event-sourcing';
import { InMemoryEventStore } from '@ledger/event-store';
import { loadProtoFiles, type createGrpcHandlers, type GrpcCallContext, type UnaryHandler } from '@ledger/nest';
import { join } from 'node:path';
import { WalletCommandsService, type CommandResponse } from '../wallets/wallet-commands.service';
import { WalletQueriesService } from '../wallets/wallet-queries.service';
import type { WalletView } from '../wallets/wallet.view';
import { createLedgerGrpcImplementation, LEDGER_GRPC_SERVICE_NAME, PIN_USER_ONLY, type LedgerGrpcDependencies } from './ledger.grpc.handlers';

const LEDGER_PROTO = join(__dirname, '..', '..', '..', '..', 'proto', 'ledger', 'v1', 'ledger.proto');
const service = loadProtoFiles([LEDGER_PROTO])[LEDGER_GRPC_SERVICE_NAME] as ServiceDefinition;

const alice: Principal = { subject: 'alice', kind: 'user', scopes: [] };
const payouts: Principal = { subject: 'payouts', kind: 'service', scopes: ['ledger:service'] };
const TOKENS: Record<string, Principal> = { 'alice-token': alice, 'payouts-token': payouts };
const NOW = new Date('2030-01-01T12:00:00.000Z');

const WALLET_A = '11111111-1111-4111-8111-111111111111';
const WALLET_B = '22222222-2222-4222-8222-222222222222';
const HOLD = '33333333-3333-4333-8333-333333333333';
const TX = '44444444-4444-4444-8444-444444444444';

function walletView(overrides: Partial<WalletView> = {}): WalletView {
  return {
    walletId: WALLET_A,
    ownerId: 'alice',
    currency: 'USD',
    status: 'open',
    balance: '59.75',
    available: '49.75',
    held: '10.00',
    revision: '7',
    openHolds: [{ holdId: HOLD, amount: '10.00', expiresAt: '2030-01-02T03:04:05.678Z' }],
    ...overrides,
  };
}

const PROTO_WALLET_A = {
  wallet_id: WALLET_A,
  owner_id: 'alice',
  currency: 'USD',
  status: 'WALLET_STATUS_OPEN',
  balance: '59.75',
  available: '49.75',
  held: '10.00',
  revision: '7',
  open_holds: [{ hold_id: HOLD, amount: '10.00', expires_at: { seconds: String(Date.parse('2030-01-02T03:04:05Z') / 1000), nanos: 678_000_000 } }],
};

function commandResponse(overrides: Partial<CommandResponse> = {}): CommandResponse {
  return {
    position: '12345678901234567',
    replayed: false,
    transactionId: null,
    holdId: null,
    wallets: [walletView(), walletView({ walletId: WALLET_B, ownerId: 'bob', balance: '40.25', available: '40.25', held: '0.00', openHolds: [] })],
    ...overrides,
  };
}

type Call = { method: string; principal: Principal; input: unknown };

/** Records every call to the wallet services, the PIN service and the verifier, in order. */
function fakes(response: CommandResponse = commandResponse()) {
  const log: Array<Call | { method: 'verify'; token: string }> = [];
  const record = (method: string) => async (principal: Principal, input: unknown) => {
    log.push({ method, principal, input });
    return response;
  };
  const commands = {
    openWallet: record('openWallet'),
    freezeWallet: record('freezeWallet'),
    unfreezeWallet: record('unfreezeWallet'),
    closeWallet: record('closeWallet'),
    deposit: record('deposit'),
    withdraw: record('withdraw'),
    transfer: record('transfer'),
    placeHold: record('placeHold'),
    captureHold: record('captureHold'),
    releaseHold: record('releaseHold'),
  } as unknown as WalletCommandsService;
  const queries = {
    async getWallet(principal: Principal, walletId: unknown) {
      log.push({ method: 'getWallet', principal, input: walletId });
      return walletView();
    },
  } as unknown as WalletQueriesService;
  const pins = {
    async setPin(ownerId: string, newPin: string, now: Date, currentPin?: string) {
      log.push({ method: 'setPin', principal: alice, input: { ownerId, newPin, now, currentPin } });
    },
  };
  const verifier = {
    algorithm: 'HS256',
    jsonWebTokenOptions: {},
    async verify(token: string) {
      log.push({ method: 'verify', token });
      await new Promise((resolve) => setImmediate(resolve)); // verification is asynchronous: nothing may run before it settles
      const principal = TOKENS[token];
      if (!principal) throw new UnauthenticatedError(token === '' ? 'TOKEN_MISSING' : 'TOKEN_INVALID_SIGNATURE', 'refused');
      return principal;
    },
    async verifyWithKey() {
      throw new Error('not used');
    },
  } as unknown as JwtVerifier;
  return { log, commands, queries, pins, verifier };
}

/** `unary` that hands back the bare handler, so a spec can call it with a request and a context. */
const passThrough = {
  unary: (handler: UnaryHandler<unknown, unknown>) => handler,
  serverStream: () => {
    throw new Error('no streams in ledger.v1');
  },
} as unknown as ReturnType<typeof createGrpcHandlers>;

type Invoke = (method: string, request: Record<string, unknown>, token?: string) => Promise<Record<string, unknown>>;

function setup(deps: Partial<LedgerGrpcDependencies> = {}, response?: CommandResponse): ReturnType<typeof fakes> & { invoke: Invoke } {
  const f = fakes(response);
  const implementation = createLedgerGrpcImplementation({
    commands: f.commands,
    queries: f.queries,
    pins: f.pins,
    verifier: f.verifier,
    clock: () => NOW,
    handlers: passThrough,
    ...deps,
  }) as unknown as Record<string, UnaryHandler<Record<string, unknown>, Record<string, unknown>>>;
  const invoke: Invoke = async (method, request, token) => {
    const metadata = new Metadata();
    if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    const context: GrpcCallContext = { correlationId: 'corr-1', metadata, signal: new AbortController().signal, deadline: undefined, path: `/${LEDGER_GRPC_SERVICE_NAME}/${method}` };
    return implementation[method]!(request, context);
  };
  return { ...f, invoke };
}

/** What the proto-loader hands a handler for `message` (defaults: '' for absent strings, null for messages). */
function decoded(method: string, message: Record<string, unknown>): Record<string, unknown> {
  const definition = service[method]!;
  return definition.requestDeserialize(definition.requestSerialize(message)) as Record<string, unknown>;
}

/** A response through the wire and back, as a client sees it. */
function overTheWire(method: string, response: Record<string, unknown>): Record<string, unknown> {
  const definition = service[method]!;
  return definition.responseDeserialize(definition.responseSerialize(response)) as Record<string, unknown>;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(() => undefined, (error: { code?: string }) => error.code);
}

const ALL_METHODS = Object.keys(service).sort();

describe('createLedgerGrpcImplementation', () => {
  it('implements every rpc of ledger.v1.LedgerService, and nothing else', () => {
    const { commands, queries, pins, verifier } = fakes();
    const implementation = createLedgerGrpcImplementation({ commands, queries, pins, verifier, clock: () => NOW, handlers: passThrough });
    expect(ALL_METHODS).toHaveLength(12);
    expect(Object.keys(implementation).sort()).toEqual(ALL_METHODS);
  });

  describe('authentication comes first: no principal, no work', () => {
    it.each(ALL_METHODS)('%s without a token is refused before any service is called', async (method) => {
      const { invoke, log } = setup();
      expect(await codeOf(invoke(method, decoded(method, {})))).toBe('TOKEN_MISSING');
      expect(log.map((entry) => entry.method)).toEqual([]); // parseBearer refuses before the verifier
    });

    it.each(ALL_METHODS)('%s with a token the verifier refuses never reaches the service, even with a valid-looking request', async (method) => {
      const { invoke, log } = setup();
      const request = decoded(method, { wallet_id: WALLET_A, amount: '1.00', currency: 'USD', idempotency_key: 'key-00000001', new_pin: '1234' });
      expect(await codeOf(invoke(method, request, 'forged-token'))).toBe('TOKEN_INVALID_SIGNATURE');
      expect(log).toEqual([{ method: 'verify', token: 'forged-token' }]);
    });

    it('authenticates before validating: a bad request without a token is UNAUTHENTICATED, not INVALID_ARGUMENT', async () => {
      const { invoke } = setup();
      expect(await codeOf(invoke('Transfer', decoded('Transfer', { amount: '1e3' })))).toBe('TOKEN_MISSING');
    });

    it('hands the verified principal, and only it, to the service', async () => {
      const { invoke, log } = setup();
      await invoke('CloseWallet', decoded('CloseWallet', { wallet_id: WALLET_A, idempotency_key: 'key-00000001' }), 'alice-token');
      expect(log).toEqual([
        { method: 'verify', token: 'alice-token' },
        { method: 'closeWallet', principal: alice, input: { walletId: WALLET_A, idempotencyKey: 'key-00000001' } },
      ]);
    });
  });

  describe('requests → service inputs', () => {
    it('OpenWallet: an empty owner_id means the caller (no ownerId at all); a set one is passed', async () => {
      const { invoke, log } = setup();
      await invoke('OpenWallet', decoded('OpenWallet', { currency: 'USD', idempotency_key: 'key-00000001' }), 'alice-token');
      await invoke('OpenWallet', decoded('OpenWallet', { owner_id: 'bob', currency: 'EUR', idempotency_key: 'key-00000002' }), 'payouts-token');
      const calls = log.filter((entry): entry is Call => entry.method === 'openWallet');
      expect(calls[0]!.input).toStrictEqual({ currency: 'USD', idempotencyKey: 'key-00000001' });
      expect(calls[1]).toEqual({ method: 'openWallet', principal: payouts, input: { ownerId: 'bob', currency: 'EUR', idempotencyKey: 'key-00000002' } });
    });

    it('Transfer: snake_case to the service names; empty reference and PIN are absent', async () => {
      const { invoke, log } = setup();
      const base = { from_wallet_id: WALLET_A, to_wallet_id: WALLET_B, amount: '40.25', currency: 'USD', idempotency_key: 'key-00000001' };
      await invoke('Transfer', decoded('Transfer', { ...base, reference: 'rent', transaction_pin: '0123' }), 'alice-token');
      await invoke('Transfer', decoded('Transfer', base), 'alice-token');
      const inputs = log.filter((entry): entry is Call => entry.method === 'transfer').map((call) => call.input);
      expect(inputs).toEqual([
        { fromWalletId: WALLET_A, toWalletId: WALLET_B, amount: '40.25', currency: 'USD', reference: 'rent', idempotencyKey: 'key-00000001', pin: '0123' },
        { fromWalletId: WALLET_A, toWalletId: WALLET_B, amount: '40.25', currency: 'USD', reference: undefined, idempotencyKey: 'key-00000001', pin: undefined },
      ]);
    });

    it('passes empty required fields through unchanged, for the service to name', async () => {
      const { invoke, log } = setup();
      await invoke('Withdraw', decoded('Withdraw', {}), 'alice-token');
      expect(log.find((entry) => entry.method === 'withdraw')).toMatchObject({
        input: { walletId: '', amount: '', currency: '', idempotencyKey: '', reference: undefined, pin: undefined },
      });
    });

    it('Deposit: maps the money fields and reference; the service takes no PIN for deposits', async () => {
      const { invoke, log } = setup();
      await invoke('Deposit', decoded('Deposit', { wallet_id: WALLET_A, amount: '100.00', currency: 'USD', reference: 'wire 42', idempotency_key: 'key-00000001', transaction_pin: '1234' }), 'payouts-token');
      expect((log.find((entry) => entry.method === 'deposit') as Call).input).toStrictEqual({
        walletId: WALLET_A, amount: '100.00', currency: 'USD', reference: 'wire 42', idempotencyKey: 'key-00000001',
      });
    });

    it('Withdraw: maps every field, the PIN included', async () => {
      const { invoke, log } = setup();
      await invoke('Withdraw', decoded('Withdraw', { wallet_id: WALLET_A, amount: '5', currency: 'JPY', reference: 'atm', idempotency_key: 'key-00000001', transaction_pin: '9876' }), 'alice-token');
      expect((log.find((entry) => entry.method === 'withdraw') as Call).input).toEqual({
        walletId: WALLET_A, amount: '5', currency: 'JPY', reference: 'atm', idempotencyKey: 'key-00000001', pin: '9876',
      });
    });

    it('PlaceHold: the Timestamp becomes an ISO string with milliseconds; an absent one stays absent', async () => {
      const { invoke, log } = setup();
      const base = { wallet_id: WALLET_A, amount: '10.00', currency: 'USD', idempotency_key: 'key-00000001', transaction_pin: '1234' };
      await invoke('PlaceHold', decoded('PlaceHold', { ...base, expires_at: { seconds: String(Date.parse('2030-01-02T03:04:05Z') / 1000), nanos: 678_900_000 } }), 'alice-token');
      await invoke('PlaceHold', decoded('PlaceHold', base), 'alice-token');
      const inputs = log.filter((entry): entry is Call => entry.method === 'placeHold').map((call) => call.input);
      expect(inputs).toEqual([
        { walletId: WALLET_A, amount: '10.00', currency: 'USD', expiresAt: '2030-01-02T03:04:05.678Z', idempotencyKey: 'key-00000001', pin: '1234' },
        { walletId: WALLET_A, amount: '10.00', currency: 'USD', expiresAt: undefined, idempotencyKey: 'key-00000001', pin: '1234' },
      ]);
    });

    it('PlaceHold: a Timestamp outside the proto range is INVALID_TIMESTAMP', async () => {
      const { invoke } = setup();
      expect(await codeOf(invoke('PlaceHold', { wallet_id: WALLET_A, expires_at: { seconds: '999999999999', nanos: 0 } }, 'alice-token'))).toBe('INVALID_TIMESTAMP');
    });

    it.each([
      ['another wallet', { to_wallet_id: WALLET_B }, { toWalletId: WALLET_B }],
      ['external funding', { to_system_account: 'SYSTEM_ACCOUNT_EXTERNAL_FUNDING' }, { toSystemAccount: 'external-funding' }],
      ['payout settlement', { to_system_account: 'SYSTEM_ACCOUNT_PAYOUT_SETTLEMENT' }, { toSystemAccount: 'payout-settlement' }],
      ['UNSPECIFIED (for the service to refuse)', { to_system_account: 'SYSTEM_ACCOUNT_UNSPECIFIED' }, { toSystemAccount: 'SYSTEM_ACCOUNT_UNSPECIFIED' }],
      ['no destination', {}, {}],
    ])('CaptureHold into %s: oneof destination → toWalletId / toSystemAccount', async (_label, destination, expected) => {
      const { invoke, log } = setup();
      await invoke('CaptureHold', decoded('CaptureHold', { wallet_id: WALLET_A, hold_id: HOLD, ...destination, idempotency_key: 'key-00000001', transaction_pin: '1234' }), 'alice-token');
      expect((log.find((entry) => entry.method === 'captureHold') as Call).input).toStrictEqual({
        walletId: WALLET_A, holdId: HOLD, ...expected, reference: undefined, idempotencyKey: 'key-00000001', pin: '1234',
      });
    });

    it('CaptureHold: an empty amount captures the whole hold (no amount, no currency); a set one carries its currency', async () => {
      const { invoke, log } = setup();
      const base = { wallet_id: WALLET_A, hold_id: HOLD, to_wallet_id: WALLET_B, idempotency_key: 'key-00000001', transaction_pin: '1234', reference: 'order 7' };
      await invoke('CaptureHold', decoded('CaptureHold', { ...base, currency: 'USD' }), 'alice-token');
      await invoke('CaptureHold', decoded('CaptureHold', { ...base, amount: '2.50', currency: 'USD' }), 'alice-token');
      const inputs = log.filter((entry): entry is Call => entry.method === 'captureHold').map((call) => call.input as Record<string, unknown>);
      expect('amount' in inputs[0]! || 'currency' in inputs[0]!).toBe(false);
      expect(inputs[1]).toMatchObject({ amount: '2.50', currency: 'USD', toWalletId: WALLET_B, reference: 'order 7' });
    });

    it('FreezeWallet, UnfreezeWallet, ReleaseHold: fields by name', async () => {
      const { invoke, log } = setup();
      await invoke('FreezeWallet', decoded('FreezeWallet', { wallet_id: WALLET_A, reason: 'fraud review', idempotency_key: 'key-00000001' }), 'payouts-token');
      await invoke('UnfreezeWallet', decoded('UnfreezeWallet', { wallet_id: WALLET_A, idempotency_key: 'key-00000002' }), 'payouts-token');
      await invoke('ReleaseHold', decoded('ReleaseHold', { wallet_id: WALLET_A, hold_id: HOLD, idempotency_key: 'key-00000003' }), 'alice-token');
      expect(log.filter((entry): entry is Call => entry.method !== 'verify').map(({ method, input }) => ({ method, input }))).toEqual([
        { method: 'freezeWallet', input: { walletId: WALLET_A, reason: 'fraud review', idempotencyKey: 'key-00000001' } },
        { method: 'unfreezeWallet', input: { walletId: WALLET_A, idempotencyKey: 'key-00000002' } },
        { method: 'releaseHold', input: { walletId: WALLET_A, holdId: HOLD, idempotencyKey: 'key-00000003' } },
      ]);
    });

    it('GetWallet: asks the queries service with the principal and the wallet id', async () => {
      const { invoke, log } = setup();
      const response = await invoke('GetWallet', decoded('GetWallet', { wallet_id: WALLET_A }), 'alice-token');
      expect(log.at(-1)).toEqual({ method: 'getWallet', principal: alice, input: WALLET_A });
      expect(overTheWire('GetWallet', response)).toEqual({ wallet: PROTO_WALLET_A });
    });

    it("SetTransactionPin: the caller's own PIN, at the clock's now; an empty current_pin is absent", async () => {
      const { invoke, log } = setup();
      expect(await invoke('SetTransactionPin', decoded('SetTransactionPin', { new_pin: '0042' }), 'alice-token')).toEqual({});
      await invoke('SetTransactionPin', decoded('SetTransactionPin', { new_pin: '1111', current_pin: '0042' }), 'alice-token');
      expect(log.filter((entry): entry is Call => entry.method === 'setPin').map((call) => call.input)).toEqual([
        { ownerId: 'alice', newPin: '0042', now: NOW, currentPin: undefined },
        { ownerId: 'alice', newPin: '1111', now: NOW, currentPin: '0042' },
      ]);
    });

    it('SetTransactionPin: a service principal has no PIN to set', async () => {
      const { invoke, log } = setup();
      expect(await codeOf(invoke('SetTransactionPin', decoded('SetTransactionPin', { new_pin: '0042' }), 'payouts-token'))).toBe(PIN_USER_ONLY);
      expect(log.some((entry) => entry.method === 'setPin')).toBe(false);
    });
  });

  describe('service results → responses', () => {
    it('Transfer: position, replayed, transaction_id and the source wallet (the first one), as a client decodes them', async () => {
      const { invoke } = setup({}, commandResponse({ replayed: true, transactionId: TX }));
      const request = decoded('Transfer', { from_wallet_id: WALLET_A, to_wallet_id: WALLET_B, amount: '40.25', currency: 'USD', idempotency_key: 'key-00000001', transaction_pin: '1234' });
      const response = await invoke('Transfer', request, 'alice-token');
      expect(overTheWire('Transfer', response)).toEqual({ position: '12345678901234567', replayed: true, transaction_id: TX, wallet: PROTO_WALLET_A });
    });

    it('PlaceHold returns hold_id; OpenWallet has none of the movement ids', async () => {
      const held = setup({}, commandResponse({ holdId: HOLD, wallets: [walletView()] }));
      const placed = await held.invoke('PlaceHold', decoded('PlaceHold', { wallet_id: WALLET_A }), 'alice-token');
      expect(overTheWire('PlaceHold', placed)).toMatchObject({ hold_id: HOLD, position: '12345678901234567', replayed: false, wallet: PROTO_WALLET_A });

      const opened = await setup({}, commandResponse({ wallets: [walletView({ openHolds: [], held: '0.00', balance: '0.00', available: '0.00', revision: '0' })] }))
        .invoke('OpenWallet', decoded('OpenWallet', { currency: 'USD', idempotency_key: 'key-00000001' }), 'alice-token');
      expect(opened).toEqual({
        position: '12345678901234567',
        replayed: false,
        wallet: { ...PROTO_WALLET_A, balance: '0.00', available: '0.00', held: '0.00', revision: '0', open_holds: [] },
      });
    });

    it.each([
      ['frozen', 'WALLET_STATUS_FROZEN'],
      ['closed', 'WALLET_STATUS_CLOSED'],
    ] as const)('maps status %s to %s', async (status, name) => {
      const { invoke } = setup({}, commandResponse({ wallets: [walletView({ status })] }));
      const response = await invoke('FreezeWallet', decoded('FreezeWallet', { wallet_id: WALLET_A }), 'payouts-token');
      expect(overTheWire('FreezeWallet', response)).toMatchObject({ wallet: { status: name } });
    });

    it('CaptureHold, Deposit, Withdraw carry transaction_id ("" if the service had none)', async () => {
      for (const method of ['CaptureHold', 'Deposit', 'Withdraw']) {
        expect(await setup({}, commandResponse({ transactionId: TX })).invoke(method, decoded(method, {}), 'payouts-token')).toMatchObject({ transaction_id: TX });
      }
      expect(await setup().invoke('Deposit', decoded('Deposit', {}), 'payouts-token')).toMatchObject({ transaction_id: '' });
    });

    it('lets service errors through unchanged, for the unary wrapper to map', async () => {
      const refusal = new ValidationError('INVALID_AMOUNT', 'no');
      const commands = { transfer: async () => Promise.reject(refusal) } as unknown as WalletCommandsService;
      const { invoke } = setup({ commands });
      await expect(invoke('Transfer', decoded('Transfer', {}), 'alice-token')).rejects.toBe(refusal);
    });
  });

  describe('with the real WalletCommandsService (in-memory store)', () => {
    it.each([
      ['an empty idempotency key', { idempotency_key: '' }, 'IDEMPOTENCY_KEY_MISSING'],
      ['an empty from_wallet_id', { from_wallet_id: '' }, 'INVALID_WALLET_ID'],
      ['a float-like amount', { amount: '1e3' }, 'INVALID_AMOUNT'],
      ['an empty currency', { currency: '' }, 'INVALID_CURRENCY'],
      ['an empty PIN from a user', { transaction_pin: '' }, 'PIN_REQUIRED'],
    ])('%s meets the service\'s own named error', async (_label, override, code) => {
      const store = new InMemoryEventStore();
      const processor = new CommandProcessor(store, { maxBatchSize: 16, maxConflictRetries: 3, maxQueuedCommands: 100, cacheEntries: 100 });
      const pinGate = {
        async confirm(_principal: Principal, pin: string | undefined) {
          if (pin === undefined) throw new ValidationError('PIN_REQUIRED', 'PIN required');
        },
      };
      const { invoke } = setup({ commands: new WalletCommandsService(processor, pinGate), queries: new WalletQueriesService(store) });
      const request = { from_wallet_id: WALLET_A, to_wallet_id: WALLET_B, amount: '1.00', currency: 'USD', idempotency_key: 'key-00000001', transaction_pin: '1234', ...override };
      expect(await codeOf(invoke('Transfer', decoded('Transfer', request), 'alice-token'))).toBe(code);
      expect((await store.readAll({ fromPosition: 0n, maxCount: 10 })).events).toHaveLength(0);
      await processor.close();
    });
  });
});
