import { ForbiddenError } from '@ledger/errors';
import { caught } from './auth-spec-kit';
import { assertCanActOnWallet, assertHasScope, canActOnWallet, requiresPin, Scopes } from './authorisation';
import type { Principal } from './principal';

const user = (subject: string, scopes: string[] = []): Principal => ({ subject, kind: 'user', scopes });
const service = (subject: string, scopes: string[] = []): Principal => ({ subject, kind: 'service', scopes });

describe('assertCanActOnWallet', () => {
  it('lets a user read and move their own wallets', () => {
    expect(() => assertCanActOnWallet(user('alice'), 'alice', 'read')).not.toThrow();
    expect(() => assertCanActOnWallet(user('alice'), 'alice', 'move')).not.toThrow();
  });

  it("refuses another user's wallet with WALLET_ACCESS_DENIED, without naming the owner", async () => {
    for (const action of ['read', 'move'] as const) {
      const error = await caught(() => assertCanActOnWallet(user('mallory', ['payouts:execute']), 'alice', action));
      expect(error).toBeInstanceOf(ForbiddenError);
      expect(error.code).toBe('WALLET_ACCESS_DENIED');
      expect(error.details).toEqual({ action });
      expect(error.message).not.toContain('alice');
    }
  });

  it('never treats a service subject as a wallet owner', () => {
    expect(canActOnWallet(service('alice'), 'alice', 'read')).toBe(false);
    expect(canActOnWallet(service('alice'), 'alice', 'move')).toBe(false);
  });

  it('lets ledger:service act on any wallet, for service tokens only', () => {
    expect(canActOnWallet(service('payouts', [Scopes.ledgerService]), 'alice', 'move')).toBe(true);
    expect(canActOnWallet(service('payouts', [Scopes.ledgerService]), 'alice', 'read')).toBe(true);
    expect(canActOnWallet(user('mallory', [Scopes.ledgerService]), 'alice', 'move')).toBe(false);
    expect(canActOnWallet(user('mallory', [Scopes.ledgerService]), 'alice', 'read')).toBe(false);
  });

  it('lets ledger:admin read and move any wallet', () => {
    expect(canActOnWallet(user('ops', [Scopes.ledgerAdmin]), 'alice', 'move')).toBe(true);
    expect(canActOnWallet(service('ops-tool', [Scopes.ledgerAdmin]), 'alice', 'read')).toBe(true);
  });

  it('lets ledger:audit read any wallet and move none', () => {
    expect(canActOnWallet(user('auditor', [Scopes.ledgerAudit]), 'alice', 'read')).toBe(true);
    expect(canActOnWallet(service('dashboard', [Scopes.ledgerAudit]), 'alice', 'read')).toBe(true);
    expect(canActOnWallet(user('auditor', [Scopes.ledgerAudit]), 'alice', 'move')).toBe(false);
  });

  it('matches subjects exactly', () => {
    expect(canActOnWallet(user('Alice'), 'alice', 'read')).toBe(false);
    expect(canActOnWallet(user('alice '), 'alice', 'read')).toBe(false);
  });
});

describe('requiresPin', () => {
  it('never for reads', () => {
    expect(requiresPin(user('alice'), 'read')).toBe(false);
    expect(requiresPin(service('x'), 'read')).toBe(false);
  });

  it('for every user moving money, admins included', () => {
    expect(requiresPin(user('alice'), 'move')).toBe(true);
    expect(requiresPin(user('ops', [Scopes.ledgerAdmin]), 'move')).toBe(true);
    expect(requiresPin(user('mallory', [Scopes.ledgerService]), 'move')).toBe(true);
  });

  it('not for a service with ledger:service; fails closed for other services', () => {
    expect(requiresPin(service('payouts', [Scopes.ledgerService]), 'move')).toBe(false);
    expect(requiresPin(service('ops-tool', [Scopes.ledgerAdmin]), 'move')).toBe(true);
    expect(requiresPin(service('anything'), 'move')).toBe(true);
  });
});

describe('assertHasScope', () => {
  it('refuses with SCOPE_REQUIRED naming the scope', async () => {
    expect(() => assertHasScope(service('payouts', [Scopes.payoutsExecute]), Scopes.payoutsExecute)).not.toThrow();
    const error = await caught(() => assertHasScope(user('alice'), Scopes.payoutsExecute));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error).toMatchObject({ code: 'SCOPE_REQUIRED', details: { scope: 'payouts:execute' } });
  });
});
