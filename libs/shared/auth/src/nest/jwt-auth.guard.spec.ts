import 'reflect-metadata';
import { Metadata } from '@grpc/grpc-js';
import { type ApplicationError, type ErrorKind, isApplicationError } from '@ledger/errors';
import { type ArgumentsHost, Catch, Controller, type ExceptionFilter, Get, type INestApplication, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import type { Response } from 'express';
import type { AddressInfo } from 'node:net';
import { AUDIENCE, base64url, HS256_CONFIG, ISSUER, SECRET, signHs256 } from '../auth-spec-kit';
import { issueDevToken } from '../dev-token';
import { createJwtVerifier } from '../jwt-verifier';
import type { Principal } from '../principal';
import { AuthModule } from './auth.module';
import { CurrentPrincipal } from './current-principal.decorator';
import { authenticateGrpcMetadata } from './grpc-auth';
import { JwtAuthGuard, Public } from './jwt-auth.guard';

const verifier = createJwtVerifier(HS256_CONFIG);

@Controller()
class ProbeController {
  @Get('me')
  me(@CurrentPrincipal() principal: Principal): Principal {
    return principal;
  }

  @Public()
  @Get('health')
  health(): { ok: boolean } {
    return { ok: true };
  }
}

const STATUS: Partial<Record<ErrorKind, number>> = { unauthenticated: 401, forbidden: 403, unavailable: 503 };

/** Stand-in for the service's problem-details filter: status by kind, the code in the body. */
@Catch()
class CodeFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (isApplicationError(error)) {
      response.status(STATUS[error.kind] ?? 500).json({ code: error.code, details: error.details });
    } else {
      response.status(500).json({ code: 'UNEXPECTED', message: String((error as Error).message) });
    }
  }
}

@Module({
  imports: [AuthModule.forVerifier(verifier)],
  controllers: [ProbeController],
  providers: [
    { provide: APP_GUARD, useExisting: JwtAuthGuard },
    { provide: APP_FILTER, useClass: CodeFilter },
  ],
})
class ProbeModule {}

let app: INestApplication;
let baseUrl: string;

beforeAll(async () => {
  app = await NestFactory.create(ProbeModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app.close();
});

async function get(path: string, authorization?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${baseUrl}${path}`, { headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function grpcCode(authorization?: string | string[]): Promise<string> {
  const metadata = new Metadata();
  for (const value of [authorization ?? []].flat()) metadata.add('authorization', value);
  try {
    await authenticateGrpcMetadata(metadata, verifier);
    return 'OK';
  } catch (error) {
    return (error as ApplicationError).code;
  }
}

const nowS = (): number => Math.floor(Date.now() / 1000);
const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
  const base: Record<string, unknown> = { sub: 'alice', principal_kind: 'user', scope: 'ledger:audit', iss: ISSUER, aud: AUDIENCE, iat: nowS() - 5, exp: nowS() + 300 };
  const merged = { ...base, ...overrides };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return merged;
};

describe('JwtAuthGuard over HTTP', () => {
  it('lets @Public() routes through without a token', async () => {
    expect(await get('/health')).toEqual({ status: 200, body: { ok: true } });
  });

  it('hands the verified principal to @CurrentPrincipal()', async () => {
    const token = issueDevToken({ subject: 'alice', kind: 'user', scopes: ['ledger:audit'], ttlSeconds: 60 }, HS256_CONFIG);
    const { status, body } = await get('/me', `Bearer ${token}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ subject: 'alice', kind: 'user', scopes: ['ledger:audit'] });
  });

  it('answers 401 with the verifier codes', async () => {
    expect(await get('/me')).toMatchObject({ status: 401, body: { code: 'TOKEN_MISSING' } });
    expect(await get('/me', 'Basic YWxpY2U6c2VjcmV0')).toMatchObject({ status: 401, body: { code: 'TOKEN_MALFORMED' } });
    expect(await get('/me', `Bearer ${signHs256(claims({ exp: nowS() - 60, iat: nowS() - 120 }))}`)).toMatchObject({
      status: 401,
      body: { code: 'TOKEN_EXPIRED' },
    });
  });
});

describe('HTTP and gRPC never disagree', () => {
  const header = signHs256(claims()).split('.')[0]!;
  const cases: Array<[string, () => string | undefined, string]> = [
    ['valid', () => `Bearer ${signHs256(claims())}`, 'OK'],
    ['missing', () => undefined, 'TOKEN_MISSING'],
    ['not bearer', () => 'Token abc', 'TOKEN_MALFORMED'],
    ['not a JWT', () => 'Bearer abc', 'TOKEN_MALFORMED'],
    ['expired', () => `Bearer ${signHs256(claims({ exp: nowS() - 60, iat: nowS() - 120 }))}`, 'TOKEN_EXPIRED'],
    ['not yet valid', () => `Bearer ${signHs256(claims({ nbf: nowS() + 600 }))}`, 'TOKEN_NOT_YET_VALID'],
    ['wrong issuer', () => `Bearer ${signHs256(claims({ iss: 'https://evil.test' }))}`, 'TOKEN_WRONG_ISSUER'],
    ['wrong audience', () => `Bearer ${signHs256(claims({ aud: 'elsewhere' }))}`, 'TOKEN_WRONG_AUDIENCE'],
    ['alg none', () => `Bearer ${base64url({ alg: 'none' })}.${base64url(claims())}.`, 'TOKEN_ALGORITHM_NOT_ALLOWED'],
    ['tampered', () => `Bearer ${header}.${base64url(claims({ sub: 'mallory' }))}.${signHs256(claims()).split('.')[2]}`, 'TOKEN_INVALID_SIGNATURE'],
    ['other secret', () => `Bearer ${signHs256(claims(), `${SECRET}-but-another-one`)}`, 'TOKEN_INVALID_SIGNATURE'],
    ['no exp', () => `Bearer ${signHs256(claims({ exp: undefined }))}`, 'TOKEN_CLAIMS_INVALID'],
    ['no principal kind', () => `Bearer ${signHs256(claims({ principal_kind: undefined }))}`, 'TOKEN_CLAIMS_INVALID'],
  ];

  it.each(cases)('%s', async (_name, authorization, expected) => {
    const value = authorization();
    const http = await get('/me', value);
    const httpCode = http.status === 200 ? 'OK' : http.body['code'];
    expect(httpCode).toBe(expected);
    expect(await grpcCode(value)).toBe(expected);
    if (expected !== 'OK') expect(http.status).toBe(401);
  });

  it('gRPC refuses several authorization values', async () => {
    const token = `Bearer ${signHs256(claims())}`;
    expect(await grpcCode([token, token])).toBe('TOKEN_MALFORMED');
  });
});
