import { InvariantViolationError } from '@ledger/errors';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '../principal';

export function isPrincipal(value: unknown): value is Principal {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Principal>;
  return (
    typeof candidate.subject === 'string' &&
    (candidate.kind === 'user' || candidate.kind === 'service') &&
    Array.isArray(candidate.scopes)
  );
}

/**
 * The authenticated principal of an HTTP request (set by JwtAuthGuard). A route that asks for
 * it without the guard having run is a wiring bug: 500, never an anonymous caller.
 */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const request = context.switchToHttp().getRequest<{ user?: unknown }>();
  if (!isPrincipal(request.user)) {
    throw new InvariantViolationError('PRINCIPAL_MISSING', 'No authenticated principal on this request: is JwtAuthGuard applied?');
  }
  return request.user;
});
