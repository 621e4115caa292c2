import { UnauthenticatedError } from '@ledger/errors';
import { TokenErrorCodes } from './auth-errors';

/** Longest token accepted (characters). Real JWTs here are a few hundred; this bounds parsing work. */
export const MAX_TOKEN_LENGTH_CHARS = 8_192;

/** RFC 6750 b64token, which every JWS compact serialisation satisfies. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** What an HTTP `Authorization` header or gRPC `authorization` metadata can hold. */
export type AuthorizationValue = string | Buffer | ReadonlyArray<string | Buffer> | undefined | null;

/**
 * The token from `Authorization: Bearer <token>`, for HTTP headers (string) and gRPC metadata
 * (`metadata.get('authorization')`, an array) alike. Several values are refused rather than
 * guessed between. Errors never echo the value.
 *
 * @throws UnauthenticatedError TOKEN_MISSING (absent or empty), TOKEN_MALFORMED (anything else)
 */
export function parseBearer(value: AuthorizationValue): string {
  let single: string | Buffer | undefined | null;
  if (Array.isArray(value)) {
    const values = value as ReadonlyArray<string | Buffer>;
    if (values.length > 1) {
      throw new UnauthenticatedError(TokenErrorCodes.malformed, 'Send exactly one authorization value', {
        reason: 'multiple_values',
      });
    }
    single = values[0];
  } else {
    single = value as string | Buffer | undefined | null;
  }
  if (single === undefined || single === null || (typeof single === 'string' && single.trim() === '')) {
    throw new UnauthenticatedError(TokenErrorCodes.missing, 'A bearer token is required');
  }
  if (typeof single !== 'string') {
    throw new UnauthenticatedError(TokenErrorCodes.malformed, "Authorization must be 'Bearer <token>'", {
      reason: 'not_text',
    });
  }
  if (single.length > MAX_TOKEN_LENGTH_CHARS + 'Bearer '.length + 2) {
    throw new UnauthenticatedError(TokenErrorCodes.malformed, 'The bearer token is too long', {
      reason: 'too_long',
      maxLengthChars: MAX_TOKEN_LENGTH_CHARS,
    });
  }
  const match = BEARER.exec(single);
  if (!match || match[1] === undefined) {
    throw new UnauthenticatedError(TokenErrorCodes.malformed, "Authorization must be 'Bearer <token>'", {
      reason: 'not_bearer',
    });
  }
  return match[1];
}
