import { isApplicationError, InvariantViolationError, UnauthenticatedError } from '@ledger/errors';
import { type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { TokenErrorCodes } from '../auth-errors';
import { mapJsonWebTokenError } from '../jwt-verifier';
import type { Principal } from '../principal';
import { IS_PUBLIC_ROUTE, JWT_STRATEGY } from './auth.tokens';
import { headerErrorOf } from './jwt.strategy';

/** Marks a route (or controller) that needs no token: health probes, metrics, /docs. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_ROUTE, true);

/**
 * HTTP guard: every route needs a valid bearer token unless marked @Public(). Register it as
 * APP_GUARD so a new controller cannot forget it. Failures are the verifier's
 * UnauthenticatedError codes (TOKEN_*), never Nest's generic UnauthorizedException, so the one
 * error filter maps them like every other ApplicationError.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard(JWT_STRATEGY) {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') {
      // gRPC handlers authenticate with authenticateGrpcMetadata; refusing here fails closed.
      throw new InvariantViolationError('AUTH_GUARD_MISUSED', 'JwtAuthGuard guards HTTP routes only');
    }
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic === true) return Promise.resolve(true);
    return super.canActivate(context) as Promise<boolean>;
  }

  override handleRequest<TUser = Principal>(error: unknown, user: unknown, info: unknown, context: ExecutionContext): TUser {
    if (error) throw isApplicationError(error) ? error : mapJsonWebTokenError(error);
    if (user) return user as TUser;
    if (isApplicationError(info)) throw info;
    // passport-jwt reports a missing or unparsable header as "No auth token": say which it was.
    const headerError = headerErrorOf(context.switchToHttp().getRequest<object>());
    if (isApplicationError(headerError)) throw headerError;
    if (info instanceof Error && info.message === 'No auth token') {
      throw new UnauthenticatedError(TokenErrorCodes.missing, 'A bearer token is required');
    }
    throw mapJsonWebTokenError(info);
  }
}
