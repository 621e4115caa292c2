import { type DynamicModule, Module } from '@nestjs/common';
import type { JwtVerifier } from '../jwt-verifier';
import { JWT_VERIFIER } from './auth.tokens';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtStrategy } from './jwt.strategy';

/**
 * Provides the process's JwtVerifier (JWT_VERIFIER), the passport strategy and JwtAuthGuard.
 * The service builds the verifier once from loadAuthConfig and passes it here; its gRPC
 * handlers inject JWT_VERIFIER for authenticateGrpcMetadata. Register the guard globally:
 * `{ provide: APP_GUARD, useExisting: JwtAuthGuard }`.
 */
@Module({})
export class AuthModule {
  static forVerifier(verifier: JwtVerifier): DynamicModule {
    return {
      module: AuthModule,
      providers: [{ provide: JWT_VERIFIER, useValue: verifier }, JwtStrategy, JwtAuthGuard],
      exports: [JWT_VERIFIER, JwtAuthGuard],
    };
  }
}
