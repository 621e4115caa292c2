import { ForbiddenError } from '@ledger/errors';
import type { Principal } from './principal';

/**
 * The scopes this platform honours (README "Scopes"). A scope grants power over other people's
 * wallets, so each is explicit, and the ones meant for machines are ignored on user tokens.
 */
export const Scopes = {
  /** Operators: read and move any wallet. A user admin still confirms moves with their own PIN. */
  ledgerAdmin: 'ledger:admin',
  /** Internal services (payouts saga, relays): read and move any wallet, no PIN. Service tokens only. */
  ledgerService: 'ledger:service',
  /** Auditors and dashboards: read any wallet, never move money. */
  ledgerAudit: 'ledger:audit',
  /** Upload, execute, cancel and compensate payout batches. */
  payoutsExecute: 'payouts:execute',
} as const;

export type Scope = (typeof Scopes)[keyof typeof Scopes];

export type WalletAction = 'read' | 'move';

export const WALLET_ACCESS_DENIED = 'WALLET_ACCESS_DENIED';
export const SCOPE_REQUIRED = 'SCOPE_REQUIRED';

export function hasScope(principal: Principal, scope: Scope): boolean {
  // ledger:service is a machine scope: a user token carrying it (a mis-issued token) gains nothing.
  if (scope === Scopes.ledgerService && principal.kind !== 'service') return false;
  return principal.scopes.includes(scope);
}

/** Whether the principal may `action` a wallet owned by `walletOwnerId`. Pure; see assertCanActOnWallet. */
export function canActOnWallet(principal: Principal, walletOwnerId: string, action: WalletAction): boolean {
  if (principal.kind === 'user' && principal.subject === walletOwnerId) return true;
  if (hasScope(principal, Scopes.ledgerAdmin) || hasScope(principal, Scopes.ledgerService)) return true;
  return action === 'read' && hasScope(principal, Scopes.ledgerAudit);
}

/**
 * Object-level authorisation: a user acts only on their own wallets; anything else needs an
 * explicit scope. Service principals never own wallets through their subject.
 *
 * @throws ForbiddenError WALLET_ACCESS_DENIED (details: action; never the owner id)
 */
export function assertCanActOnWallet(principal: Principal, walletOwnerId: string, action: WalletAction): void {
  if (!canActOnWallet(principal, walletOwnerId, action)) {
    throw new ForbiddenError(WALLET_ACCESS_DENIED, `Not allowed to ${action} this wallet`, { action });
  }
}

/** @throws ForbiddenError SCOPE_REQUIRED (details: the scope) */
export function assertHasScope(principal: Principal, scope: Scope): void {
  if (!hasScope(principal, scope)) {
    throw new ForbiddenError(SCOPE_REQUIRED, `This action needs the ${scope} scope`, { scope });
  }
}

/**
 * Whether the action must be confirmed with the acting principal's transaction PIN. Reads never;
 * moving money always for users (owners and admins alike, each with their own PIN); services
 * only skip it with ledger:service (any other service token fails closed: it has no PIN to give).
 */
export function requiresPin(principal: Principal, action: WalletAction): boolean {
  if (action === 'read') return false;
  return !(principal.kind === 'service' && hasScope(principal, Scopes.ledgerService));
}
