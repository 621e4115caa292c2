import { parseBearer } from '../bearer-token';
import type { JwtVerifier } from '../jwt-verifier';
import type { Principal } from '../principal';

/** The part of @grpc/grpc-js Metadata this needs (keys are lower-case in gRPC). */
export interface MetadataLike {
  get(key: string): Array<string | Buffer>;
}

/**
 * Authenticates a gRPC call from its `authorization: Bearer <token>` metadata, with the same
 * parser and verifier as HTTP. Map the error with the shared error mapping (UNAUTHENTICATED,
 * reason code in trailing metadata).
 *
 * @throws UnauthenticatedError TOKEN_* codes; UnavailableError AUTH_KEYS_UNAVAILABLE (JWKS)
 */
export async function authenticateGrpcMetadata(metadata: MetadataLike, verifier: JwtVerifier): Promise<Principal> {
  return verifier.verify(parseBearer(metadata.get('authorization')));
}
