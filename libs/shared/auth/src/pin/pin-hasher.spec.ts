import { InvariantViolationError } from '@ledger/errors';
import { scryptSync } from 'node:crypto';
import { PIN_SALT_BYTES, PIN_SCRYPT_PARAMS, ScryptPinHasher } from './pin-hasher';

describe('ScryptPinHasher', () => {
  it('hashes with the named parameters and a fresh 16-byte salt; the hash is scrypt of the PIN', async () => {
    const hasher = new ScryptPinHasher();
    const first = await hasher.hash('7391');
    const second = await hasher.hash('7391');
    expect(first.params).toEqual({ cost: 16_384, blockSize: 8, parallelization: 1, keyLengthBytes: 32 });
    expect(first.salt).toHaveLength(PIN_SALT_BYTES);
    expect(first.salt.equals(second.salt)).toBe(false);
    expect(first.hash.equals(second.hash)).toBe(false);
    expect(first.hash.includes(Buffer.from('7391'))).toBe(false);
    const expected = scryptSync('7391', first.salt, 32, { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    expect(first.hash.equals(expected)).toBe(true);
  });

  it('matches the right PIN only, with the parameters stored beside the hash', async () => {
    const oldParams = { cost: 1_024, blockSize: 8, parallelization: 1, keyLengthBytes: 32 };
    const stored = await new ScryptPinHasher(oldParams).hash('0042');
    const current = new ScryptPinHasher(PIN_SCRYPT_PARAMS);
    await expect(current.matches('0042', stored)).resolves.toBe(true);
    await expect(current.matches('0043', stored)).resolves.toBe(false);
    await expect(current.matches('42', stored)).resolves.toBe(false);
  });

  it('refuses out-of-bounds parameters, from config or from a corrupted row', async () => {
    expect(() => new ScryptPinHasher({ ...PIN_SCRYPT_PARAMS, cost: 1_000 })).toThrow(InvariantViolationError);
    expect(() => new ScryptPinHasher({ ...PIN_SCRYPT_PARAMS, cost: 1 << 22 })).toThrow(InvariantViolationError);
    const stored = await new ScryptPinHasher({ ...PIN_SCRYPT_PARAMS, cost: 1_024 }).hash('1111');
    const hasher = new ScryptPinHasher();
    await expect(hasher.matches('1111', { ...stored, params: { ...stored.params, blockSize: 1_000 } })).rejects.toThrow(InvariantViolationError);
    await expect(hasher.matches('1111', { ...stored, hash: stored.hash.subarray(0, 16) })).rejects.toThrow(InvariantViolationError);
  });
});
