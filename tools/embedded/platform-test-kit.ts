import { issueDevToken, Scopes, type Principal } from '@ledger/auth';
import { JsonLogger } from '@ledger/nest';
import { randomBytes, randomUUID } from 'node:crypto';
import { loadLedgerConfig, type LedgerConfig } from '../../services/ledger/src/config/ledger.config';
import { startLedgerApp, type LedgerApp } from '../../services/ledger/src/ledger.app';
import { loadPayoutsConfig, type PayoutsConfig } from '../../services/payouts/src/config/payouts.config';
import { startPayoutsApp, type PayoutsApp } from '../../services/payouts/src/payouts.app';

/**
 * The embedded platform for tests: the ledger (with its in-process wallet projection and payout
 * command consumer on the embedded bus) and the payouts service, on the test PostgreSQL from the
 * integration global setup, in fresh schemas. Both share one JWT secret.
 */
export interface PayoutsTestPlatform {
  readonly ledger: LedgerApp;
  readonly payouts: PayoutsApp;
  readonly ledgerConfig: LedgerConfig;
  readonly payoutsConfig: PayoutsConfig;
  readonly env: Record<string, string>;
  token(principal: { subject: string; kind: 'user' | 'service'; scopes?: string[] }): string;
  /** Admin REST call on the ledger (service token with ledger:admin + ledger:service). */
  ledgerCall(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Opens a wallet for `ownerId` (optionally funded) and returns its id. */
  openWallet(ownerId: string, currency: string, deposit?: string): Promise<string>;
  close(): Promise<void>;
}

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  const suffix = randomBytes(5).toString('hex');
  return {
    DATABASE_URL: process.env['DATABASE_URL'] as string,
    JWT_SECRET: randomBytes(32).toString('hex'),
    JWT_ISSUER: 'ledger-test',
    JWT_AUDIENCE: 'ledger-test-api',
    HTTP_PORT: '0',
    GRPC_PORT: '0',
    PAYOUTS_HTTP_PORT: '0',
    PAYOUTS_GRPC_PORT: '0',
    EVENT_STORE_SCHEMA: `es_${suffix}`,
    AUTH_SCHEMA: `auth_${suffix}`,
    READ_MODELS_SCHEMA: `rm_${suffix}`,
    PAYOUTS_SCHEMA: `po_${suffix}`,
    PROJECTION_IN_PROCESS: 'true',
    HOLD_EXPIRY_ENABLED: 'false',
    PAYOUT_SAGA_POLL_MS: '200',
    ...overrides,
  };
}

export async function startPayoutsTestPlatform(overrides: Record<string, string> = {}): Promise<PayoutsTestPlatform> {
  const env = testEnv(overrides);
  const quiet = (name: string): JsonLogger => new JsonLogger(name, 'fatal', () => undefined);
  const ledgerConfig = loadLedgerConfig(env);
  const ledger = await startLedgerApp(ledgerConfig, quiet('ledger-test'));
  let payouts: PayoutsApp;
  const payoutsConfig = loadPayoutsConfig(env);
  try {
    payouts = await startPayoutsApp(payoutsConfig, quiet('payouts-test'));
  } catch (error) {
    await ledger.close();
    throw error;
  }
  const token = (principal: { subject: string; kind: 'user' | 'service'; scopes?: string[] }): string =>
    issueDevToken({ subject: principal.subject, kind: principal.kind, scopes: principal.scopes ?? [], ttlSeconds: 600 }, ledgerConfig.auth.jwt);
  const admin = token({ subject: 'ops', kind: 'service', scopes: [Scopes.ledgerAdmin, Scopes.ledgerService] });
  const ledgerCall = async (method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, bearer = admin) => {
    const response = await fetch(`${ledger.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...(method === 'POST' ? { 'idempotency-key': randomUUID() } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const openWallet = async (ownerId: string, currency: string, deposit?: string): Promise<string> => {
    const opened = await ledgerCall('POST', '/v1/wallets', { currency, ownerId });
    if (opened.status !== 201) throw new Error(`open wallet: ${opened.status} ${JSON.stringify(opened.body)}`);
    const walletId = (opened.body['wallets'] as Array<{ walletId: string }>)[0]?.walletId;
    if (!walletId) throw new Error(`open wallet: no wallet in ${JSON.stringify(opened.body)}`);
    if (deposit) {
      const deposited = await ledgerCall('POST', `/v1/wallets/${walletId}/deposits`, { amount: deposit, currency });
      if (deposited.status !== 201) throw new Error(`deposit: ${deposited.status} ${JSON.stringify(deposited.body)}`);
    }
    return walletId;
  };
  return {
    ledger,
    payouts,
    ledgerConfig,
    payoutsConfig,
    env,
    token,
    ledgerCall,
    openWallet,
    close: async () => {
      await payouts.close();
      await ledger.close();
    },
  };
}

export function userPrincipal(subject: string): Principal {
  return { subject, kind: 'user', scopes: [] };
}

export function servicePrincipal(subject = 'payroll'): Principal {
  return { subject, kind: 'service', scopes: [Scopes.ledgerService] };
}

/** A byte stream of text in pieces, as an HTTP body or gRPC chunks would arrive. */
export async function* textStream(text: string, pieceBytes = 4_096): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < bytes.length; offset += pieceBytes) yield bytes.subarray(offset, offset + pieceBytes);
}
