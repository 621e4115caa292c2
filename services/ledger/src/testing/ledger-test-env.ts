import { randomBytes } from 'node:crypto';

/** JWT settings for tests that run the service against an external (test) PostgreSQL. */
export function testJwtEnv(): { JWT_SECRET: string; JWT_ISSUER: string; JWT_AUDIENCE: string } {
  return { JWT_SECRET: randomBytes(32).toString('hex'), JWT_ISSUER: 'ledger-test', JWT_AUDIENCE: 'ledger-test-api' };
}
