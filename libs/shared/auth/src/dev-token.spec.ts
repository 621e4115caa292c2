import { HS256_CONFIG, NOW, rsaKeys, BOUNDS, caught } from './auth-spec-kit';
import { issueDevToken } from './dev-token';
import { createJwtVerifier } from './jwt-verifier';

describe('issueDevToken', () => {
  it('issues a token the verifier accepts, in the documented claim layout', async () => {
    const token = issueDevToken({ subject: 'alice', kind: 'user', scopes: ['ledger:audit'], ttlSeconds: 600 }, HS256_CONFIG, NOW);
    const principal = await createJwtVerifier(HS256_CONFIG, { clock: () => NOW }).verify(token);
    expect(principal).toMatchObject({ subject: 'alice', kind: 'user', scopes: ['ledger:audit'] });
    expect(principal.tokenId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('issues service tokens without scopes', async () => {
    const token = issueDevToken({ subject: 'payouts', kind: 'service', scopes: [], ttlSeconds: 60 }, HS256_CONFIG, NOW);
    await expect(createJwtVerifier(HS256_CONFIG, { clock: () => NOW }).verify(token)).resolves.toMatchObject({ kind: 'service', scopes: [] });
  });

  it('expires after its ttl', async () => {
    const token = issueDevToken({ subject: 'alice', kind: 'user', scopes: [], ttlSeconds: 60 }, HS256_CONFIG, NOW);
    const later = new Date(NOW.getTime() + (60 + 30) * 1000);
    expect((await caught(() => createJwtVerifier(HS256_CONFIG, { clock: () => later }).verify(token))).code).toBe('TOKEN_EXPIRED');
  });

  it('refuses RS256 configs, ttls beyond the maximum token age and malformed scopes', () => {
    const request = { subject: 'alice', kind: 'user' as const, scopes: [], ttlSeconds: 60 };
    expect(() => issueDevToken(request, { algorithm: 'RS256', publicKeyPem: rsaKeys().publicKeyPem, ...BOUNDS })).toThrow(/HS256 only/);
    expect(() => issueDevToken({ ...request, ttlSeconds: 3_601 }, HS256_CONFIG)).toThrow(/ttlSeconds/);
    expect(() => issueDevToken({ ...request, scopes: ['a b'] }, HS256_CONFIG)).toThrow(/Malformed scope/);
  });
});
