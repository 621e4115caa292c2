import { InvariantViolationError } from '@ledger/errors';
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt parameters, stored beside every hash so they can be raised later without a reset. */
export interface ScryptParams {
  /** N: CPU/memory cost, a power of two. Memory per hash ≈ 128 × N × r bytes. */
  readonly cost: number;
  /** r */
  readonly blockSize: number;
  /** p */
  readonly parallelization: number;
  readonly keyLengthBytes: number;
}

/**
 * N = 2^14, r = 8, p = 1, 32-byte key: 16 MiB and ~40 ms per hash or verification on the 2-core
 * build machine (measured with node:crypto scrypt, see README "Transaction PIN"). Slow enough that
 * a leaked table costs real work per PIN, fast enough that a PIN check is not the bottleneck of a
 * transfer. The real defence of a 4-digit PIN is the online lockout; see README.
 */
export const PIN_SCRYPT_PARAMS: ScryptParams = Object.freeze({
  cost: 16_384,
  blockSize: 8,
  parallelization: 1,
  keyLengthBytes: 32,
});

/** A fresh random salt per PIN set. */
export const PIN_SALT_BYTES = 16;

/** Limits on parameters read back from storage, so a corrupted row cannot ask for gigabytes. */
const MAX_COST = 1 << 20;
const MAX_BLOCK_SIZE = 32;
const MAX_PARALLELIZATION = 16;

export interface PinHash {
  readonly hash: Buffer;
  readonly salt: Buffer;
  readonly params: ScryptParams;
}

export interface PinHasher {
  /** The parameters new hashes use; a stored hash with others is rehashed after a success. */
  readonly params: ScryptParams;
  hash(pin: string): Promise<PinHash>;
  /** Constant-time comparison of the derived key with the stored one. */
  matches(pin: string, stored: PinHash): Promise<boolean>;
}

export function sameScryptParams(a: ScryptParams, b: ScryptParams): boolean {
  return (
    a.cost === b.cost &&
    a.blockSize === b.blockSize &&
    a.parallelization === b.parallelization &&
    a.keyLengthBytes === b.keyLengthBytes
  );
}

function assertParams(params: ScryptParams): void {
  const { cost, blockSize, parallelization, keyLengthBytes } = params;
  const ok =
    Number.isInteger(cost) && cost >= 2 && cost <= MAX_COST && (cost & (cost - 1)) === 0 &&
    Number.isInteger(blockSize) && blockSize >= 1 && blockSize <= MAX_BLOCK_SIZE &&
    Number.isInteger(parallelization) && parallelization >= 1 && parallelization <= MAX_PARALLELIZATION &&
    Number.isInteger(keyLengthBytes) && keyLengthBytes >= 16 && keyLengthBytes <= 64;
  if (!ok) throw new InvariantViolationError('PIN_HASH_PARAMS_INVALID', 'Stored or configured scrypt parameters are out of bounds');
}

function derive(pin: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  assertParams(params);
  const { cost, blockSize, parallelization, keyLengthBytes } = params;
  // Node refuses when 128 × N × r × p exceeds maxmem; allow exactly what these parameters need plus headroom.
  const maxmem = 128 * cost * blockSize * parallelization + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(pin, salt, keyLengthBytes, { cost, blockSize, parallelization, maxmem }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export class ScryptPinHasher implements PinHasher {
  constructor(readonly params: ScryptParams = PIN_SCRYPT_PARAMS) {
    assertParams(params);
  }

  async hash(pin: string): Promise<PinHash> {
    const salt = randomBytes(PIN_SALT_BYTES);
    return { hash: await derive(pin, salt, this.params), salt, params: this.params };
  }

  async matches(pin: string, stored: PinHash): Promise<boolean> {
    if (stored.hash.length !== stored.params.keyLengthBytes) {
      throw new InvariantViolationError('PIN_HASH_CORRUPT', 'A stored PIN hash has the wrong length');
    }
    const derived = await derive(pin, stored.salt, stored.params);
    return timingSafeEqual(derived, stored.hash);
  }
}
