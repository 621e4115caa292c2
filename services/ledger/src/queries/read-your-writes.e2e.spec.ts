import { issueDevToken, Scopes } from '@ledger/auth';
import { JsonLogger } from '@ledger/nest';
import { randomBytes, randomUUID } from 'node:crypto';
import { loadLedgerConfig, type LedgerConfig } from '../config/ledger.config';
import { startLedgerApp, type LedgerApp } from '../ledger.app';
import { testJwtEnv } from '../testing/ledger-test-env';

/**
 * Embedded mode end to end: the wallet projection runs inside the ledger's process
 * (PROJECTION_IN_PROCESS=true), so a command's position, passed back as minPosition, makes the
 * query wait until the read model holds that write, and never answer from before it.
 */

let ledger: LedgerApp;
let config: LedgerConfig;

beforeAll(async () => {
  config = loadLedgerConfig({
    DATABASE_URL: process.env['DATABASE_URL'],
    ...testJwtEnv(),
    HTTP_PORT: '0',
    GRPC_PORT: '0',
    EVENT_STORE_SCHEMA: `es_${randomBytes(5).toString('hex')}`,
    AUTH_SCHEMA: `auth_${randomBytes(5).toString('hex')}`,
    READ_MODELS_SCHEMA: `rm_${randomBytes(5).toString('hex')}`,
    PROJECTION_IN_PROCESS: 'true',
    HOLD_EXPIRY_ENABLED: 'false',
  });
  ledger = await startLedgerApp(config, new JsonLogger('ledger-test', 'fatal', () => undefined));
});

afterAll(async () => {
  await ledger?.close();
});

const adminToken = (): string => issueDevToken({ subject: 'ops', kind: 'service', scopes: [Scopes.ledgerAdmin, Scopes.ledgerService], ttlSeconds: 600 }, config.auth.jwt);

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${ledger.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken()}`, 'content-type': 'application/json', ...(method === 'POST' ? { 'idempotency-key': randomUUID() } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

it('a query given the position of a write answers with that write applied, every time', async () => {
  const opened = await call('POST', '/v1/wallets', { currency: 'EUR', ownerId: 'alice' });
  expect(opened.status).toBe(201);
  const walletId = (opened.body['wallets'] as Array<{ walletId: string }>)[0]!.walletId;
  let expectedMinor = 0n;
  for (let i = 1; i <= 20; i += 1) {
    const deposit = await call('POST', `/v1/wallets/${walletId}/deposits`, { amount: `${i}.05`, currency: 'EUR' });
    expect(deposit.status).toBe(201);
    expectedMinor += BigInt(i) * 100n + 5n;
    // Immediately after the write: the answer must already include it (it waited if needed).
    const read = await call('GET', `/v1/queries/wallets/${walletId}/balance?minPosition=${deposit.body['position'] as string}`);
    expect(read.status).toBe(200);
    expect(read.body['balance']).toBe(`${expectedMinor / 100n}.${String(expectedMinor % 100n).padStart(2, '0')}`);
    expect(BigInt(read.body['watermark'] as string)).toBeGreaterThanOrEqual(BigInt(deposit.body['position'] as string));
  }
});
