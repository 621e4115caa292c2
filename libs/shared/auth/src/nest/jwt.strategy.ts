import { InvariantViolationError } from '@ledger/errors';
import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { KeyObject } from 'node:crypto';
import { Strategy } from 'passport-jwt';
import { type AuthorizationValue, parseBearer } from '../bearer-token';
import type { JwtVerifier } from '../jwt-verifier';
import type { Principal } from '../principal';
import { JWT_STRATEGY, JWT_VERIFIER } from './auth.tokens';

interface RequestLike {
  readonly headers: Readonly<Record<string, AuthorizationValue | string | string[]>>;
}

/**
 * Per-request results the strategy hands to the guard and to validate(): the parse error of a
 * bad Authorization header (passport-jwt only knows "no token") and the verified principal.
 */
const headerErrors = new WeakMap<object, unknown>();
const verifiedPrincipals = new WeakMap<object, Principal>();

export function headerErrorOf(request: object): unknown {
  return headerErrors.get(request);
}

/**
 * passport-jwt hands the key straight to jsonwebtoken.verify, which takes a KeyObject as it is;
 * its types only say string | Buffer. Given bytes instead, jsonwebtoken would first try (and fail)
 * to parse them as a public key on every request, the costliest step of an HTTP call.
 */
function keyMaterial(key: KeyObject): string | Buffer {
  return key as unknown as Buffer;
}

/**
 * passport-jwt wired to the process's JwtVerifier, so HTTP and gRPC can never disagree:
 * - jwtFromRequest is parseBearer (the same parser gRPC metadata goes through);
 * - secretOrKeyProvider runs the full verifier.verifyWithKey (algorithm pinning, claim layout,
 *   every code) and hands passport-jwt the key that verified it;
 * - passport-jwt's own jsonwebtoken pass then re-checks with that key and the verifier's exact
 *   options (belt and braces; the guard maps its errors through the same function);
 * - validate() returns the principal the verifier built, not a re-interpretation of the payload.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, JWT_STRATEGY) {
  constructor(@Inject(JWT_VERIFIER) verifier: JwtVerifier) {
    const options = verifier.jsonWebTokenOptions;
    super({
      jwtFromRequest: (request: RequestLike) => {
        try {
          return parseBearer(request.headers['authorization']);
        } catch (error) {
          headerErrors.set(request, error);
          return null;
        }
      },
      secretOrKeyProvider: (request: object, rawJwtToken: unknown, done: (error: unknown, key?: string | Buffer) => void) => {
        verifier.verifyWithKey(String(rawJwtToken)).then(
          ({ principal, key }) => {
            verifiedPrincipals.set(request, principal);
            done(null, keyMaterial(key));
          },
          (error: unknown) => done(error),
        );
      },
      // Top-level too: passport-jwt copies these over jsonWebTokenOptions even when undefined.
      algorithms: options.algorithms,
      issuer: options.issuer as string,
      audience: options.audience as string,
      ignoreExpiration: false,
      jsonWebTokenOptions: { ...options },
      passReqToCallback: true,
    });
  }

  validate(request: object): Principal {
    const principal = verifiedPrincipals.get(request);
    if (principal === undefined) {
      throw new InvariantViolationError('PRINCIPAL_MISSING', 'passport-jwt accepted a token the verifier did not');
    }
    return principal;
  }
}
